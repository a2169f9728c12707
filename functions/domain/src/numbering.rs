//! 成果登记号: authority code (3) + year (4) + kind flag (1) + serial (4), e.g. `4422026Y0007`.

use crate::codes::Kind;

/// The first eight characters shared by all numbers of an authority, year and kind.
pub fn prefix(authority_code: &str, year: i32, kind: Kind) -> String {
    format!("{authority_code}{year:04}{}", kind.flag())
}

/// The number after the highest serial already used under `prefix`.
pub fn next(prefix: &str, max_serial: Option<u32>) -> String {
    format!("{prefix}{:04}", max_serial.unwrap_or(0) + 1)
}

/// Splits a well-formed number into its prefix and serial.
pub fn split(number: &str) -> Option<(&str, u32)> {
    if number.len() != 12 || !number.is_ascii() {
        return None;
    }
    let (prefix, serial) = number.split_at(8);
    let b = prefix.as_bytes();
    let digits = |s: &[u8]| s.iter().all(u8::is_ascii_digit);
    if !digits(&b[..7]) || !matches!(b[7], b'J' | b'Y' | b'R') || !digits(serial.as_bytes()) {
        return None;
    }
    let serial: u32 = serial.parse().ok()?;
    (serial > 0).then_some((prefix, serial))
}

/// Checks a number the point typed: well formed, of this authority and of this kind.
pub fn validate(number: &str, authority_code: &str, kind: Kind) -> Result<(), String> {
    let Some((prefix, _)) = split(number) else {
        return Err(
            "成果登记号应为12位：登记机构代码3位 + 年份4位 + 成果类型标识1位 + 流水号4位，如 4422026Y0007。"
                .into(),
        );
    };
    if &prefix[..3] != authority_code {
        return Err(format!(
            "成果登记号应以本登记机构代码 {authority_code} 开头。"
        ));
    }
    if !prefix.ends_with(kind.flag()) {
        return Err(format!(
            "{}的成果登记号第8位应为 {}。",
            kind.label(),
            kind.flag()
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proposes_highest_serial_plus_one() {
        let p = prefix("442", 2026, Kind::Applied);
        assert_eq!(p, "4422026Y");
        assert_eq!(next(&p, None), "4422026Y0001");
        assert_eq!(next(&p, Some(6)), "4422026Y0007");
    }

    #[test]
    fn validates_shape_authority_and_kind() {
        assert_eq!(split("4422026Y0007"), Some(("4422026Y", 7)));
        assert_eq!(split("4422026Y0000"), None);
        assert_eq!(split("4422026X0007"), None);
        assert!(validate("4422026Y0007", "442", Kind::Applied).is_ok());
        assert!(validate("4432026Y0007", "442", Kind::Applied).is_err());
        assert!(validate("4422026J0007", "442", Kind::Applied).is_err());
        assert!(validate("442", "442", Kind::Applied).is_err());
    }
}
