//! The texts of the notifications, from the tera templates in `templates/mail/`.
//!
//! Each template file starts with `Subject: ...` on its first line, then an empty line, then the
//! body. They are plain text: nothing is HTML-escaped, but every value inserted from the context
//! has its control characters removed (line breaks kept in the body, turned into spaces in the
//! subject), so a value cannot forge headers or hide text.

use std::error::Error as _;

use chengguo_domain::ports::MailError;
use tera::{Context, Tera, Value};

/// The templates, embedded at compile time: the Lambda function has no repository to read.
const SOURCES: &[(&str, &str)] = &[
    (
        "receive_paper",
        include_str!("../../../templates/mail/receive_paper.txt"),
    ),
    ("return", include_str!("../../../templates/mail/return.txt")),
    ("decide", include_str!("../../../templates/mail/decide.txt")),
    ("reopen", include_str!("../../../templates/mail/reopen.txt")),
];

/// The rendered notification texts.
pub struct Templates {
    tera: Tera,
}

impl std::fmt::Debug for Templates {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Templates")
            .field("names", &Self::NAMES)
            .finish()
    }
}

impl Templates {
    /// The notifications, named like the actions that cause them.
    pub const NAMES: &'static [&'static str] = &["receive_paper", "return", "decide", "reopen"];

    /// Parses the embedded templates.
    pub fn new() -> Result<Templates, MailError> {
        let mut tera = Tera::default();
        // Plain text: never HTML-escape (values are cleaned in `render` instead).
        tera.autoescape_on(Vec::new());
        for (name, source) in SOURCES {
            let (subject, body) = split_source(name, source)?;
            tera.add_raw_templates([(subject_key(name), subject), (body_key(name), body)])
                .map_err(|e| MailError(format!("邮件模板 {name} 有误：{}", chain(&e))))?;
        }
        Ok(Templates { tera })
    }

    /// Renders the notification `name` (`receive_paper` or `receive_paper.txt`) into its subject
    /// (one line) and its body (ending with one line break). A variable the template needs but
    /// `ctx` lacks is an error naming it.
    pub fn render(&self, name: &str, ctx: &Context) -> Result<(String, String), MailError> {
        let base = name.strip_suffix(".txt").unwrap_or(name);
        if !Self::NAMES.contains(&base) {
            return Err(MailError(format!("没有名为 {name:?} 的邮件模板")));
        }
        let mut values = ctx.clone().into_json();
        clean_value(&mut values);
        let ctx = Context::from_value(values)
            .map_err(|e| MailError(format!("邮件模板 {base} 的变量有误：{}", chain(&e))))?;
        let render = |key: String| {
            self.tera
                .render(&key, &ctx)
                .map_err(|e| MailError(format!("邮件模板 {base} 无法生成：{}", chain(&e))))
        };
        let subject = render(subject_key(base))?;
        let subject = subject.split_whitespace().collect::<Vec<_>>().join(" ");
        if subject.is_empty() {
            return Err(MailError(format!("邮件模板 {base} 生成的主题为空")));
        }
        let body = tidy_body(&render(body_key(base))?);
        Ok((subject, body))
    }
}

fn subject_key(name: &str) -> String {
    format!("{name}/subject.txt")
}

fn body_key(name: &str) -> String {
    format!("{name}/body.txt")
}

/// Splits a template file into its subject line and its body.
fn split_source<'a>(name: &str, source: &'a str) -> Result<(&'a str, &'a str), MailError> {
    let bad = || {
        MailError(format!(
            "邮件模板 {name} 的格式有误：第一行应为 “Subject: …”，第二行应为空行"
        ))
    };
    let (first, rest) = source.split_once('\n').ok_or_else(bad)?;
    let subject = first
        .trim_end_matches('\r')
        .strip_prefix("Subject:")
        .ok_or_else(bad)?
        .trim();
    let body = rest
        .strip_prefix("\r\n")
        .or_else(|| rest.strip_prefix('\n'))
        .ok_or_else(bad)?;
    if subject.is_empty() {
        return Err(bad());
    }
    Ok((subject, body))
}

/// Whether a character may come from a value into the text: no control characters except the
/// line break, and no invisible bidirectional controls that could reorder what is shown.
fn allowed(c: char) -> bool {
    c == '\n'
        || !(c.is_control()
            || matches!(c, '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}'))
}

/// Removes what [`allowed`] refuses from every string in a value; a tab becomes a space and a
/// carriage return ending a line disappears.
fn clean_value(v: &mut Value) {
    match v {
        Value::String(s) => {
            if !s.chars().all(allowed) {
                *s = s
                    .chars()
                    .map(|c| if c == '\t' { ' ' } else { c })
                    .filter(|&c| allowed(c))
                    .collect();
            }
        }
        Value::Array(items) => items.iter_mut().for_each(clean_value),
        Value::Object(map) => map.values_mut().for_each(clean_value),
        Value::Null | Value::Bool(_) | Value::Number(_) => {}
    }
}

/// Trailing spaces off every line, at most one empty line in a row, no empty lines at the start,
/// exactly one line break at the end.
fn tidy_body(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut empty_run = 0;
    for line in s.lines().map(str::trim_end) {
        if line.is_empty() {
            empty_run += 1;
            continue;
        }
        if !out.is_empty() {
            out.push_str(if empty_run > 0 { "\n\n" } else { "\n" });
        }
        empty_run = 0;
        out.push_str(line);
    }
    out.push('\n');
    out
}

/// A tera error with its causes, which say what actually went wrong.
fn chain(e: &tera::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        text.push('：');
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn full() -> Context {
        let mut c = Context::new();
        c.insert("title", "新型智能灯具控制系统");
        c.insert("state", "待批复");
        c.insert("stage", "单位审核");
        c.insert("opinion", "请补充第三方应用证明。\n并核对完成人员名单。");
        c.insert("result", "registered");
        c.insert("registration_number", "4422026Y0007");
        c.insert("paper_received_on", "2026年5月11日");
        c.insert("unit_from", "2026年5月11日");
        c.insert("unit_to", "2026年5月17日");
        c.insert("website_from", "2026年5月11日");
        c.insert("website_to", "2026年6月9日");
        c.insert("authority", "中山市科学技术局");
        c.insert("base_url", "https://chengguo.example.org");
        c
    }

    #[test]
    fn every_template_renders_with_a_full_context() {
        let t = Templates::new().unwrap();
        for name in Templates::NAMES {
            let (subject, body) = t.render(name, &full()).unwrap();
            assert!(subject.contains("【科技成果登记】"), "{name}: {subject}");
            assert!(
                subject.contains("新型智能灯具控制系统"),
                "{name}: {subject}"
            );
            assert!(!subject.contains('\n'));
            assert!(body.starts_with("您好！\n"), "{name}: {body}");
            assert!(body.contains("“新型智能灯具控制系统”"), "{name}: {body}");
            assert!(body.contains("科技成果登记系统"), "{name}: {body}");
            assert!(
                body.contains("https://chengguo.example.org"),
                "{name}: {body}"
            );
            assert!(body.ends_with("科技成果登记系统\n"), "{name}: {body:?}");
            assert!(!body.contains("\n\n\n"), "{name}: {body:?}");
            assert!(
                !body.contains("{{") && !body.contains("{%"),
                "{name}: {body}"
            );
            // The same template also answers to its file name.
            assert_eq!(
                t.render(&format!("{name}.txt"), &full()).unwrap(),
                (subject, body)
            );
        }
    }

    #[test]
    fn receive_paper_gives_both_notice_windows() {
        let (subject, body) = Templates::new()
            .unwrap()
            .render("receive_paper", &full())
            .unwrap();
        assert_eq!(
            subject,
            "【科技成果登记】“新型智能灯具控制系统”纸质材料已接收，请下载并发布公示信息"
        );
        for want in [
            "纸质材料已于2026年5月11日由中山市科学技术局接收",
            "当前状态为“待批复”",
            "公示信息（科技成果登记信息表）",
            "单位内部公示期：2026年5月11日 至 2026年5月17日",
            "网站公示期：2026年5月11日 至 2026年6月9日",
            "详细信息请登录科技成果登记系统查看：https://chengguo.example.org。",
        ] {
            assert!(body.contains(want), "missing {want:?} in\n{body}");
        }
    }

    #[test]
    fn return_gives_the_stage_and_the_opinion() {
        let mut c = full();
        c.insert("state", "退回修改");
        let (subject, body) = Templates::new().unwrap().render("return", &c).unwrap();
        assert_eq!(
            subject,
            "【科技成果登记】“新型智能灯具控制系统”已被退回修改"
        );
        assert!(
            body.contains("在“单位审核”环节被退回修改，当前状态为“退回修改”"),
            "{body}"
        );
        assert!(
            body.contains("退回意见：\n请补充第三方应用证明。\n并核对完成人员名单。\n"),
            "{body}"
        );
    }

    #[test]
    fn decide_registered_and_rejected() {
        let t = Templates::new().unwrap();
        let mut c = full();
        c.insert("state", "已批复");
        c.insert("opinion", "材料齐全，予以登记。");
        let (subject, body) = t.render("decide", &c).unwrap();
        assert_eq!(
            subject,
            "【科技成果登记】“新型智能灯具控制系统”已批复：予以登记"
        );
        assert!(
            body.contains("批复结果：予以登记\n成果登记号：4422026Y0007\n"),
            "{body}"
        );
        assert!(body.contains("批复意见：\n材料齐全，予以登记。"), "{body}");
        assert!(body.contains("科技成果库"), "{body}");

        c.insert("result", "rejected");
        c.remove("registration_number");
        c.insert("opinion", "评价证明不符合要求。");
        let (subject, body) = t.render("decide", &c).unwrap();
        assert_eq!(
            subject,
            "【科技成果登记】“新型智能灯具控制系统”已批复：不予登记"
        );
        assert!(
            body.contains("批复结果：不予登记\n\n批复意见：\n评价证明不符合要求。"),
            "{body}"
        );
        assert!(!body.contains("成果登记号"), "{body}");

        c.insert("result", "maybe");
        assert!(t.render("decide", &c).is_err());
    }

    #[test]
    fn reopen_mentions_the_kept_number_only_when_there_is_one() {
        let t = Templates::new().unwrap();
        let (subject, body) = t.render("reopen", &full()).unwrap();
        assert_eq!(
            subject,
            "【科技成果登记】“新型智能灯具控制系统”已退回到未批复"
        );
        assert!(body.contains("暂保留原成果登记号 4422026Y0007"), "{body}");
        assert!(
            body.contains("退回意见：\n请补充第三方应用证明。"),
            "{body}"
        );
        let mut c = full();
        c.remove("registration_number");
        let (_, body) = t.render("reopen", &c).unwrap();
        assert!(!body.contains("成果登记号"), "{body}");
    }

    #[test]
    fn optional_values_may_be_left_out() {
        let t = Templates::new().unwrap();
        let mut c = full();
        c.remove("base_url");
        c.remove("authority");
        for name in Templates::NAMES {
            let (_, body) = t.render(name, &c).unwrap();
            assert!(body.contains("详细信息") || body.contains("审核记录及详细信息"));
            assert!(body.contains("科技成果登记系统查看。"), "{name}: {body}");
        }
        let (_, body) = t.render("receive_paper", &c).unwrap();
        assert!(body.contains("由成果登记点接收"), "{body}");
    }

    #[test]
    fn a_missing_variable_is_named() {
        let mut c = full();
        c.remove("opinion");
        let err = Templates::new().unwrap().render("return", &c).unwrap_err();
        assert!(err.0.contains("opinion"), "{err}");
        let err = Templates::new().unwrap().render("nope", &c).unwrap_err();
        assert!(err.0.contains("nope"), "{err}");
    }

    #[test]
    fn values_lose_control_characters_but_keep_line_breaks_and_are_not_escaped() {
        let mut c = full();
        c.insert("title", "A&B <测试>\r\n\u{7}第二行\u{202e}");
        c.insert("opinion", "第一行\r\n第二行\t结束\u{0}");
        let (subject, body) = Templates::new().unwrap().render("return", &c).unwrap();
        assert_eq!(subject, "【科技成果登记】“A&B <测试> 第二行”已被退回修改");
        assert!(body.contains("“A&B <测试>\n第二行”"), "{body}");
        assert!(body.contains("退回意见：\n第一行\n第二行 结束\n"), "{body}");
        assert!(!body.contains("&amp;") && !body.contains("&lt;"));
        assert!(!body.chars().any(|ch| ch != '\n' && ch.is_control()));
    }

    #[test]
    fn template_files_have_a_subject_line_then_an_empty_line() {
        for (name, source) in SOURCES {
            let (subject, body) = split_source(name, source).unwrap();
            assert!(!subject.is_empty() && !body.starts_with('\n'), "{name}");
        }
        assert!(split_source("x", "Subject: a\nbody").is_err());
        assert!(split_source("x", "Title: a\n\nbody").is_err());
        assert!(split_source("x", "Subject:\n\nbody").is_err());
    }
}
