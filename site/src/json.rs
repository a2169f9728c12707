//! JSON that is safe to embed in HTML: `<`, `>`, `&` and the JavaScript line separators are
//! written as `\u` escapes, so no string can close a `<script>` element or start markup.

use serde::Serialize;

/// Serializes `value` as compact JSON safe to place inside a `<script>` element or an HTML
/// attribute.
pub fn to_safe_json<T: Serialize + ?Sized>(value: &T) -> serde_json::Result<String> {
    let text = serde_json::to_string(value)?;
    Ok(escape_for_html(&text))
}

/// Escapes the characters of JSON text that HTML or JavaScript parsers treat specially. They
/// can only occur inside JSON strings, where a `\u` escape means the same character.
pub fn escape_for_html(json: &str) -> String {
    let mut out = String::with_capacity(json.len());
    for c in json.chars() {
        match c {
            '<' => out.push_str("\\u003c"),
            '>' => out.push_str("\\u003e"),
            '&' => out.push_str("\\u0026"),
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markup_characters_become_unicode_escapes_and_parse_back() {
        let v = serde_json::json!({"t": "</script><b>&'\"\u{2028}"});
        let s = to_safe_json(&v).unwrap();
        assert!(!s.contains('<') && !s.contains('>') && !s.contains('&'));
        let back: serde_json::Value = serde_json::from_str(&s).unwrap();
        assert_eq!(back, v);
    }
}
