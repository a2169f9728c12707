//! 统一社会信用代码 (GB 32100-2015): format, check digit and administrative-division code.

/// The 31 characters a USCC may use, in the order of their values.
const CHARSET: &str = "0123456789ABCDEFGHJKLMNPQRTUWXY";
const WEIGHTS: [u32; 17] = [
    1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28,
];

/// Why a code is not a valid USCC, as a Chinese message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UsccError {
    Length,
    Character,
    Region,
    CheckDigit,
}

impl UsccError {
    pub fn message(self) -> &'static str {
        match self {
            UsccError::Length => "统一社会信用代码应为18位。",
            UsccError::Character => {
                "统一社会信用代码含有无效字符（只能是数字和除 I、O、Z、S、V 以外的大写字母）。"
            }
            UsccError::Region => "统一社会信用代码第3至8位应为6位数字的行政区划码。",
            UsccError::CheckDigit => "统一社会信用代码校验位不正确，请核对。",
        }
    }
}

fn value(c: char) -> Option<u32> {
    CHARSET.find(c).map(|i| i as u32)
}

/// The check character for the first 17 characters, or `None` if one is not allowed.
pub fn check_char(first17: &str) -> Option<char> {
    let mut sum = 0;
    for (c, w) in first17.chars().zip(WEIGHTS) {
        sum += value(c)? * w;
    }
    let v = (31 - sum % 31) % 31;
    CHARSET.chars().nth(v as usize)
}

/// Validates a USCC: 18 characters of the charset, a numeric division code, a right check digit.
pub fn validate(code: &str) -> Result<(), UsccError> {
    let chars: Vec<char> = code.chars().collect();
    if chars.len() != 18 {
        return Err(UsccError::Length);
    }
    if chars.iter().any(|c| value(*c).is_none()) {
        return Err(UsccError::Character);
    }
    if !chars[2..8].iter().all(|c| c.is_ascii_digit()) {
        return Err(UsccError::Region);
    }
    let first17: String = chars[..17].iter().collect();
    if check_char(&first17) != Some(chars[17]) {
        return Err(UsccError::CheckDigit);
    }
    Ok(())
}

/// Whether a valid USCC was registered in Guangdong (division code starting with 44).
pub fn is_guangdong(code: &str) -> bool {
    validate(code).is_ok() && code[2..4] == *"44"
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Builds a valid code from 17 characters, for tests and demo data.
    fn complete(first17: &str) -> String {
        format!("{first17}{}", check_char(first17).unwrap())
    }

    #[test]
    fn accepts_known_valid_codes() {
        // Published codes of well-known Guangdong organisations.
        for code in ["91440300708461136T", "91440101231245152Y"] {
            assert_eq!(validate(code), Ok(()), "{code}");
        }
        assert!(is_guangdong("91440300708461136T"));
    }

    #[test]
    fn refuses_wrong_check_digit_length_and_characters() {
        assert_eq!(validate("91440300708461136A"), Err(UsccError::CheckDigit));
        assert_eq!(validate("9144030070846113"), Err(UsccError::Length));
        assert_eq!(validate("91440300708461136I"), Err(UsccError::Character));
        assert_eq!(validate("91AB0300708461136T"), Err(UsccError::Region));
    }

    #[test]
    fn guangdong_means_division_code_44() {
        let gd = complete("12442000MB2C07821");
        let bj = complete("12110000MB2C07821");
        assert_eq!(validate(&gd), Ok(()));
        assert_eq!(validate(&bj), Ok(()));
        assert!(is_guangdong(&gd));
        assert!(!is_guangdong(&bj));
    }
}
