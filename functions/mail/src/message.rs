//! The MIME message of a notification.

use chengguo_domain::ports::{MailError, OutgoingMail};
use lettre::Message;
use lettre::message::header::{ContentTransferEncoding, ContentType, MIME_VERSION_1_0};
use lettre::message::{Body, Mailbox};

/// The longest mail id accepted (ids are UUIDs in practice).
const MAX_ID_LEN: usize = 128;

/// Checks that a mail id is 1 to 128 characters of `[A-Za-z0-9_-]`, so that it is safe both as
/// a file name and inside a `Message-ID`.
pub fn check_id(id: &str) -> Result<(), MailError> {
    let ok = !id.is_empty()
        && id.len() <= MAX_ID_LEN
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if ok {
        Ok(())
    } else {
        Err(MailError(format!(
            "邮件编号无效（只能包含字母、数字、下划线和连字符）：{:?}",
            id.chars().take(MAX_ID_LEN).collect::<String>()
        )))
    }
}

/// The `Message-ID` of a mail: `<{id}@chengguo>`, the same for every attempt.
pub fn message_id(id: &str) -> String {
    format!("<{id}@chengguo>")
}

/// Builds the message of `mail` sent by `from` (`addr@example.org` or `名称 <addr@example.org>`):
/// a single UTF-8 `text/plain` part in base64, the subject encoded as RFC 2047 words when it is
/// not plain ASCII, `Message-ID` [`message_id`], the current `Date`, and one `To` per distinct
/// recipient.
///
/// Refuses an invalid id, an invalid sender, no recipients, or an invalid recipient address.
pub fn build_message(mail: &OutgoingMail, from: &str) -> Result<Message, MailError> {
    check_id(&mail.id)?;
    let sender: Mailbox = from
        .trim()
        .parse()
        .map_err(|e| MailError(format!("发件人地址无效：{from:?}（{e}）")))?;

    let mut recipients: Vec<&str> = Vec::new();
    for addr in mail.to.iter().map(|a| a.trim()) {
        if !recipients.contains(&addr) {
            recipients.push(addr);
        }
    }
    if recipients.is_empty() {
        return Err(MailError("没有收件人".into()));
    }

    let mut builder = Message::builder()
        .from(sender)
        .subject(one_line(&mail.subject))
        .message_id(Some(message_id(&mail.id)))
        .date_now()
        .header(MIME_VERSION_1_0)
        .header(ContentType::TEXT_PLAIN);
    for addr in recipients {
        let mailbox: Mailbox = addr
            .parse()
            .map_err(|e| MailError(format!("收件人地址无效：{addr:?}（{e}）")))?;
        builder = builder.to(mailbox);
    }

    let body = Body::new_with_encoding(mail.body.clone(), ContentTransferEncoding::Base64)
        .map_err(|_| MailError("邮件正文无法编码".into()))?;
    builder
        .body(body)
        .map_err(|e| MailError(format!("邮件生成失败：{e}")))
}

/// A header text on one line: control characters (line breaks included) become spaces, runs of
/// white space one space.
fn one_line(s: &str) -> String {
    s.split(|c: char| c.is_control() || c.is_whitespace())
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use base64::Engine;
    use base64::engine::general_purpose::STANDARD;

    /// A parsed message: unfolded headers in order, and the raw body.
    pub(crate) struct Parsed {
        pub headers: Vec<(String, String)>,
        pub body: Vec<u8>,
    }

    impl Parsed {
        pub fn header(&self, name: &str) -> Option<&str> {
            self.headers
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.as_str())
        }

        pub fn all(&self, name: &str) -> Vec<&str> {
            self.headers
                .iter()
                .filter(|(n, _)| n.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.as_str())
                .collect()
        }

        /// The body decoded from its transfer encoding (base64 or 7bit only).
        pub fn text(&self) -> String {
            let raw = String::from_utf8(self.body.clone()).expect("ascii body");
            let bytes = match self.header("Content-Transfer-Encoding") {
                Some(e) if e.eq_ignore_ascii_case("base64") => STANDARD
                    .decode(raw.split_whitespace().collect::<String>())
                    .expect("base64 body"),
                Some(e) if e.eq_ignore_ascii_case("7bit") => raw.into_bytes(),
                other => panic!("unexpected transfer encoding {other:?}"),
            };
            String::from_utf8(bytes).expect("utf-8 body")
        }
    }

    /// Splits a message at the first empty line and unfolds its headers.
    pub(crate) fn parse(raw: &[u8]) -> Parsed {
        let text = std::str::from_utf8(raw).expect("a formatted message is ASCII");
        assert!(text.is_ascii(), "non-ASCII byte in the message:\n{text}");
        let (head, body) = text.split_once("\r\n\r\n").expect("header/body separator");
        let mut headers: Vec<(String, String)> = Vec::new();
        for line in head.split("\r\n") {
            if line.starts_with([' ', '\t']) {
                let last = headers.last_mut().expect("continuation after a header");
                last.1.push_str(line);
            } else {
                let (name, value) = line.split_once(':').expect("name: value");
                headers.push((name.to_string(), value.trim_start().to_string()));
            }
        }
        Parsed {
            headers,
            body: body.as_bytes().to_vec(),
        }
    }

    /// Decodes RFC 2047 encoded words (`=?utf-8?b?...?=` and `=?utf-8?q?...?=`); white space
    /// between two encoded words is dropped, as the RFC says.
    pub(crate) fn decode_words(value: &str) -> String {
        let mut out = Vec::<u8>::new();
        let mut pending_space = String::new();
        let mut last_was_word = false;
        for token in value.split_inclusive([' ', '\t']) {
            let word = token.trim_end_matches([' ', '\t']);
            let trailing = &token[word.len()..];
            if let Some(decoded) = decode_word(word) {
                if !last_was_word {
                    out.extend_from_slice(pending_space.as_bytes());
                }
                out.extend(decoded);
                last_was_word = true;
            } else {
                out.extend_from_slice(pending_space.as_bytes());
                out.extend_from_slice(word.as_bytes());
                last_was_word = false;
            }
            pending_space = trailing.to_string();
        }
        String::from_utf8(out).expect("utf-8 header")
    }

    fn decode_word(word: &str) -> Option<Vec<u8>> {
        let inner = word.strip_prefix("=?")?.strip_suffix("?=")?;
        let mut parts = inner.splitn(3, '?');
        let charset = parts.next()?;
        let enc = parts.next()?;
        let data = parts.next()?;
        assert!(charset.eq_ignore_ascii_case("utf-8"), "charset {charset}");
        match enc {
            "b" | "B" => Some(STANDARD.decode(data).expect("base64 word")),
            "q" | "Q" => {
                let mut out = Vec::new();
                let bytes = data.as_bytes();
                let mut i = 0;
                while i < bytes.len() {
                    match bytes[i] {
                        b'_' => out.push(b' '),
                        b'=' => {
                            let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok()?;
                            out.push(u8::from_str_radix(hex, 16).ok()?);
                            i += 2;
                        }
                        b => out.push(b),
                    }
                    i += 1;
                }
                Some(out)
            }
            _ => None,
        }
    }

    fn mail() -> OutgoingMail {
        OutgoingMail {
            id: "6f1c2a0e-8b7d-4e7f-9a51-0c3d2b1a9e88".into(),
            to: vec!["leader@example.org".into(), "unit-admin@example.org".into()],
            subject: "【科技成果登记】“新型智能灯具控制系统”纸质材料已接收，请下载并发布公示信息".into(),
            body: "您好！\n\n科技成果“新型智能灯具控制系统”的纸质材料已接收。\n单位内部公示期：2026年5月11日 至 2026年5月17日\n".into(),
        }
    }

    #[test]
    fn message_round_trips_chinese_subject_body_recipients_and_id() {
        let m = mail();
        let msg = build_message(&m, "科技成果登记系统 <noreply@chengguo.example.org>").unwrap();
        let raw = msg.formatted();
        let p = parse(&raw);

        assert_eq!(decode_words(p.header("Subject").unwrap()), m.subject);
        assert!(
            p.header("Subject").unwrap().contains("=?utf-8?"),
            "subject must be RFC 2047 encoded: {}",
            p.header("Subject").unwrap()
        );
        assert_eq!(
            p.header("Message-ID"),
            Some("<6f1c2a0e-8b7d-4e7f-9a51-0c3d2b1a9e88@chengguo>")
        );
        let to = p.all("To").join(", ");
        assert!(to.contains("leader@example.org"), "{to}");
        assert!(to.contains("unit-admin@example.org"), "{to}");
        let from = decode_words(p.header("From").unwrap());
        assert!(from.contains("科技成果登记系统"), "{from}");
        assert!(from.contains("<noreply@chengguo.example.org>"), "{from}");
        assert!(p.header("Date").is_some_and(|d| !d.is_empty()));
        assert_eq!(p.header("MIME-Version"), Some("1.0"));
        assert_eq!(
            p.header("Content-Type")
                .map(str::to_ascii_lowercase)
                .as_deref(),
            Some("text/plain; charset=utf-8")
        );
        assert_eq!(p.header("Content-Transfer-Encoding"), Some("base64"));
        assert_eq!(p.text(), m.body.replace('\n', "\r\n"));

        // The envelope carries every recipient.
        let env: Vec<String> = msg.envelope().to().iter().map(|a| a.to_string()).collect();
        assert_eq!(env, ["leader@example.org", "unit-admin@example.org"]);
    }

    #[test]
    fn the_same_id_gives_the_same_message_id() {
        let a = parse(
            &build_message(&mail(), "noreply@example.org")
                .unwrap()
                .formatted(),
        );
        let b = parse(
            &build_message(&mail(), "noreply@example.org")
                .unwrap()
                .formatted(),
        );
        assert_eq!(a.header("Message-ID"), b.header("Message-ID"));
    }

    #[test]
    fn duplicate_recipients_are_sent_once() {
        let mut m = mail();
        m.to = vec!["a@example.org".into(), " a@example.org ".into()];
        let msg = build_message(&m, "noreply@example.org").unwrap();
        assert_eq!(msg.envelope().to().len(), 1);
    }

    #[test]
    fn line_breaks_in_the_subject_cannot_add_headers() {
        let mut m = mail();
        m.subject = "通知\r\nBcc: evil@example.org".into();
        let p = parse(
            &build_message(&m, "noreply@example.org")
                .unwrap()
                .formatted(),
        );
        assert!(p.header("Bcc").is_none());
        assert_eq!(
            decode_words(p.header("Subject").unwrap()),
            "通知 Bcc: evil@example.org"
        );
    }

    #[test]
    fn refuses_no_recipient_bad_address_bad_sender_and_bad_id() {
        let mut m = mail();
        m.to.clear();
        assert!(build_message(&m, "noreply@example.org").is_err());

        let mut m = mail();
        m.to = vec!["leader@example.org".into(), "not an address".into()];
        let err = build_message(&m, "noreply@example.org").unwrap_err();
        assert!(err.0.contains("收件人地址无效"), "{err}");

        let m = mail();
        assert!(build_message(&m, "nobody").is_err());

        for bad in ["", "../x", "a b", "a@b", "x.y", "邮件", &"a".repeat(129)] {
            let mut m = mail();
            m.id = bad.to_string();
            assert!(build_message(&m, "noreply@example.org").is_err(), "{bad:?}");
        }
    }
}
