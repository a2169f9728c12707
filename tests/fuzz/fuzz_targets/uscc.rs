//! The small text parsers of the domain: USCC, registration numbers, dates, phone and email.
//! None may panic, whatever the text.

#![no_main]

use chengguo_domain::{Kind, check, numbering, uscc};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let code = text.as_ref();
    if uscc::validate(code).is_ok() {
        // A valid code has a check character that reproduces it.
        let first17: String = code.chars().take(17).collect();
        assert_eq!(uscc::check_char(&first17), code.chars().nth(17));
    }
    let _ = uscc::is_guangdong(code);
    let _ = uscc::check_char(code);
    if let Some((prefix, serial)) = numbering::split(code) {
        assert_eq!(prefix.len(), 8);
        assert!(serial > 0);
    }
    for kind in [Kind::Applied, Kind::Basic, Kind::Soft] {
        let _ = numbering::validate(code, "442", kind);
    }
    let _ = check::parse_year_month(code);
    let _ = check::parse_date(code);
    let _ = check::is_mobile(code);
    let _ = check::is_email(code);
});
