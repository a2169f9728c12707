//! 「填写检查」: every problem of a registration at once, each with its field and a Chinese message.
//!
//! [`check_form`] looks at the form alone; [`check_materials`] at the attachments; [`check`] at
//! everything submitting needs. A problem is either `missing` (a draft may be saved without the
//! value) or invalid (never stored: see [`invalid_in`]).

use time::{Date, Month};

use crate::codes::{
    AppliedAttribute, AppliedStage, BasicForm, EvaluationMethod, Gender, Kind, Level, SoftForm,
    Source,
};
use crate::error::Problem;
use crate::fields::Fields;
use crate::materials;
use crate::org::Authority;
use crate::record::{Attachment, AttachmentStatus, Registration};
use crate::uscc;

/// Longest 成果名称, in characters.
pub const TITLE_MAX: usize = 100;
/// Longest 成果简介, in characters.
pub const SUMMARY_MAX: usize = 2000;
/// Longest free text of other fields, in characters.
pub const TEXT_MAX: usize = 200;
/// Longest long text (推广应用情况, 社会效益, contribution), in characters.
pub const LONG_TEXT_MAX: usize = 2000;
/// Longest keyword, in characters.
pub const KEYWORD_MAX: usize = 30;
/// Most completing units, completers or papers in one form.
pub const LIST_MAX: usize = 50;

/// What checks need to know besides the record.
pub struct CheckContext<'a> {
    /// Today's date in China.
    pub today: Date,
    pub authorities: &'a [Authority],
}

/// Every problem that stops `reg` from being submitted.
pub fn check(reg: &Registration, attachments: &[Attachment], ctx: &CheckContext) -> Vec<Problem> {
    let mut problems = Vec::new();
    if reg.kind.is_none() || !reg.consent {
        problems.push(Problem::missing(
            "kind",
            "请先选择成果类型并同意《科技成果登记与信息公开知情同意书》。",
        ));
    }
    problems.extend(check_form(reg, ctx));
    problems.extend(check_materials(reg, attachments));
    problems
}

/// Problems that are invalid (not merely missing) in the given top-level keys: a patch touching
/// those keys must be refused.
pub fn invalid_in<'a>(problems: &'a [Problem], keys: &[&str]) -> Vec<&'a Problem> {
    problems
        .iter()
        .filter(|p| !p.missing && keys.contains(&p.top_key()))
        .collect()
}

/// The required materials that have no confirmed attachment.
pub fn check_materials(reg: &Registration, attachments: &[Attachment]) -> Vec<Problem> {
    let Some(kind) = reg.kind else {
        return Vec::new();
    };
    materials::required(kind, reg.fields.contract_has_lists)
        .filter(|m| {
            !attachments
                .iter()
                .any(|a| a.category == m.category && a.status == AttachmentStatus::Ready)
        })
        .map(|m| {
            Problem::missing(
                format!("materials.{}", m.category),
                format!("请上传“{}”。", m.label),
            )
        })
        .collect()
}

struct Checker<'a> {
    problems: Vec<Problem>,
    ctx: &'a CheckContext<'a>,
}

impl Checker<'_> {
    fn missing(&mut self, field: impl Into<String>, label: &str) {
        self.problems
            .push(Problem::missing(field, format!("请填写“{label}”。")));
    }

    fn invalid(&mut self, field: impl Into<String>, message: impl Into<String>) {
        self.problems.push(Problem::invalid(field, message));
    }

    /// A required text: present, not blank, at most `max` characters.
    fn text(&mut self, field: &str, label: &str, value: &Option<String>, max: usize) {
        match value.as_deref().map(str::trim) {
            None | Some("") => self.missing(field, label),
            Some(v) => self.length(field, label, v, max),
        }
    }

    /// An optional text: at most `max` characters when present.
    fn optional_text(&mut self, field: &str, label: &str, value: &Option<String>, max: usize) {
        if let Some(v) = value {
            self.length(field, label, v, max);
        }
    }

    fn length(&mut self, field: &str, label: &str, v: &str, max: usize) {
        let n = v.chars().count();
        if n > max {
            self.invalid(field, format!("“{label}”不能超过{max}个字，当前{n}个字。"));
        }
        if v.chars()
            .any(|c| c.is_control() && c != '\n' && c != '\r' && c != '\t')
        {
            self.invalid(field, format!("“{label}”含有不可见的控制字符。"));
        }
    }

    /// A required code of a closed set.
    fn code<T>(
        &mut self,
        field: &str,
        label: &str,
        value: &Option<String>,
        parse: fn(&str) -> Option<T>,
        all: &[&str],
    ) -> Option<T> {
        match value.as_deref() {
            None | Some("") => {
                self.problems
                    .push(Problem::missing(field, format!("请选择“{label}”。")));
                None
            }
            Some(v) => {
                let parsed = parse(v);
                if parsed.is_none() {
                    self.invalid(
                        field,
                        format!("“{label}”的取值无效，应为：{}。", all.join("、")),
                    );
                }
                parsed
            }
        }
    }

    fn year_month(
        &mut self,
        field: &str,
        label: &str,
        value: &Option<String>,
    ) -> Option<(i32, u8)> {
        let v = match value.as_deref() {
            None | Some("") => {
                self.missing(field, label);
                return None;
            }
            Some(v) => v,
        };
        let parsed = parse_year_month(v);
        if parsed.is_none() {
            self.invalid(field, format!("“{label}”应为“年-月”格式，如 2024-06。"));
        }
        parsed
    }
}

fn labels<T: Copy>(all: &[T], label: fn(T) -> &'static str) -> Vec<&'static str> {
    all.iter().map(|v| label(*v)).collect()
}

fn all_digits(s: &str) -> bool {
    s.bytes().all(|b| b.is_ascii_digit())
}

/// Parses "YYYY-MM".
pub fn parse_year_month(v: &str) -> Option<(i32, u8)> {
    let (y, m) = v.split_once('-')?;
    // Digits only: `str::parse` alone would also accept a sign, as in "2024-+6".
    if y.len() != 4 || m.len() != 2 || !all_digits(y) || !all_digits(m) {
        return None;
    }
    let y: i32 = y.parse().ok()?;
    let m: u8 = m.parse().ok()?;
    ((1900..=9999).contains(&y) && (1..=12).contains(&m)).then_some((y, m))
}

/// Parses "YYYY-MM-DD".
pub fn parse_date(v: &str) -> Option<Date> {
    let mut it = v.splitn(3, '-');
    let (y, m, d) = (it.next()?, it.next()?, it.next()?);
    if y.len() != 4 || m.len() != 2 || d.len() != 2 || ![y, m, d].into_iter().all(all_digits) {
        return None;
    }
    let month = Month::try_from(m.parse::<u8>().ok()?).ok()?;
    Date::from_calendar_date(y.parse().ok()?, month, d.parse().ok()?).ok()
}

/// A mainland mobile number: 11 digits starting with 1[3-9].
pub fn is_mobile(v: &str) -> bool {
    let b = v.as_bytes();
    b.len() == 11
        && b[0] == b'1'
        && (b'3'..=b'9').contains(&b[1])
        && b.iter().all(u8::is_ascii_digit)
}

/// A plain email address: one `@`, a local part, a dotted domain, no spaces.
pub fn is_email(v: &str) -> bool {
    if v.len() > 254 || v.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return false;
    }
    let Some((local, domain)) = v.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && !domain.contains('@')
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !domain.contains("..")
}

/// Checks the form of `reg` (not its materials).
pub fn check_form(reg: &Registration, ctx: &CheckContext) -> Vec<Problem> {
    let f: &Fields = &reg.fields;
    let mut c = Checker {
        problems: Vec::new(),
        ctx,
    };

    c.text("title", "成果名称", &f.title, TITLE_MAX);

    if reg.source == Source::ProvincialPlan {
        if reg.project_id.is_none() {
            c.invalid("project", "省科技计划产生的科技成果必须关联系统中的项目。");
        }
    } else {
        match &f.project {
            None => c.missing("project", "项目信息"),
            Some(p) => {
                c.text("project.name", "项目名称", &p.name, TEXT_MAX);
                c.optional_text("project.number", "项目编号", &p.number, 50);
                c.text("project.funding", "经费来源", &p.funding, TEXT_MAX);
            }
        }
    }

    match f.authority_id.as_deref() {
        None | Some("") => c.missing("authority_id", "批准登记单位"),
        Some(id) if !ctx.authorities.iter().any(|a| a.id == id) => {
            c.invalid("authority_id", "批准登记单位不在可选范围内。")
        }
        Some(_) => {}
    }

    check_units(&mut c, reg);
    check_completers(&mut c, f);

    let start = c.year_month("research_start", "研究起始日期", &f.research_start);
    let end = c.year_month("research_end", "研究截止日期", &f.research_end);
    if let (Some(s), Some(e)) = (start, end)
        && s > e
    {
        c.invalid("research_start", "研究起始日期不能晚于截止日期。");
    }
    if let Some(e) = end {
        let today = c.ctx.today;
        if e > (today.year(), u8::from(today.month())) {
            c.invalid("research_end", "研究截止日期不能晚于当前月份。");
        }
    }

    c.optional_text("recommender", "推荐单位", &f.recommender, TEXT_MAX);

    match f.secrecy.as_deref() {
        None | Some("") => c
            .problems
            .push(Problem::missing("secrecy", "请选择“成果密级”。")),
        Some("none") => {}
        Some(_) => c.invalid(
            "secrecy",
            "涉密成果不在科技成果登记范围内，成果密级必须为“非密”。",
        ),
    }

    if f.keywords.is_empty() {
        c.problems
            .push(Problem::missing("keywords", "请填写1至3个关键词。"));
    } else if f.keywords.len() > 3 {
        c.invalid(
            "keywords",
            format!("关键词最多3个，当前{}个。", f.keywords.len()),
        );
    }
    for (i, k) in f.keywords.iter().enumerate() {
        let field = format!("keywords[{i}]");
        if k.trim().is_empty() {
            c.invalid(field, "关键词不能为空。");
        } else {
            c.length(&field, "关键词", k, KEYWORD_MAX);
        }
    }

    match &f.discipline {
        None => c.missing("discipline", "学科分类"),
        Some(d) => {
            match d.code.as_deref() {
                None | Some("") => c.missing("discipline.code", "学科分类代码"),
                Some(code)
                    if !(code.len() == 3 || code.len() == 5 || code.len() == 7)
                        || !code.bytes().all(|b| b.is_ascii_digit()) =>
                {
                    c.invalid(
                        "discipline.code",
                        "学科分类代码应为GB/T 13745的3、5或7位数字代码。",
                    )
                }
                Some(_) => {}
            }
            c.text("discipline.name", "学科分类名称", &d.name, 50);
        }
    }

    c.text("summary", "成果简介", &f.summary, SUMMARY_MAX);
    c.code(
        "level",
        "成果水平",
        &f.level,
        Level::parse,
        &labels(Level::ALL, Level::label),
    );

    check_evaluation(&mut c, reg);

    match &f.contact {
        None => c.missing("contact", "联系人"),
        Some(ct) => {
            c.text("contact.name", "联系人姓名", &ct.name, 50);
            match ct.mobile.as_deref() {
                None | Some("") => c.missing("contact.mobile", "联系人手机"),
                Some(m) if !is_mobile(m) => {
                    c.invalid("contact.mobile", "手机号码格式不正确，应为11位数字。")
                }
                Some(_) => {}
            }
            match ct.email.as_deref() {
                None | Some("") => c.missing("contact.email", "联系人电子邮箱"),
                Some(e) if !is_email(e) => c.invalid("contact.email", "电子邮箱格式不正确。"),
                Some(_) => {}
            }
        }
    }

    check_kind_specific(&mut c, reg);
    c.problems
}

fn check_units(c: &mut Checker, reg: &Registration) {
    let f = &reg.fields;
    if f.units.is_empty() {
        c.missing("units", "第一完成单位");
        return;
    }
    if f.units.len() > LIST_MAX {
        c.invalid("units", format!("完成单位最多{LIST_MAX}个。"));
    }
    for (i, u) in f.units.iter().enumerate() {
        c.text(
            &format!("units[{i}].name"),
            "完成单位名称",
            &u.name,
            TEXT_MAX,
        );
        let field = format!("units[{i}].uscc");
        match u.uscc.as_deref() {
            None | Some("") => c.missing(field, "统一社会信用代码"),
            Some(code) => match uscc::validate(code) {
                Err(e) => c.invalid(field, e.message()),
                Ok(()) => {
                    let must_be_local =
                        i == 0 && matches!(reg.source, Source::OtherFiscal | Source::NonFiscal);
                    if must_be_local && !uscc::is_guangdong(code) {
                        c.invalid(
                            field,
                            "第一完成单位必须是在广东省辖区内注册的独立法人（统一社会信用代码第3、4位应为44）。",
                        );
                    }
                }
            },
        }
    }
}

fn check_completers(c: &mut Checker, f: &Fields) {
    if f.completers.is_empty() {
        c.missing("completers", "完成人员");
        return;
    }
    if f.completers.len() > LIST_MAX {
        c.invalid("completers", format!("完成人员最多{LIST_MAX}人。"));
    }
    for (i, p) in f.completers.iter().enumerate() {
        let at = |k: &str| format!("completers[{i}].{k}");
        c.text(&at("name"), "姓名", &p.name, 50);
        c.code(
            &at("gender"),
            "性别",
            &p.gender,
            Gender::parse,
            &labels(Gender::ALL, Gender::label),
        );
        c.text(&at("title"), "技术职称", &p.title, 50);
        c.text(&at("degree"), "学历学位", &p.degree, 50);
        c.text(&at("work_unit"), "工作单位", &p.work_unit, TEXT_MAX);
        c.text(
            &at("contribution"),
            "对成果的贡献",
            &p.contribution,
            LONG_TEXT_MAX,
        );
    }
}

fn check_evaluation(c: &mut Checker, reg: &Registration) {
    let Some(e) = &reg.fields.evaluation else {
        c.missing("evaluation", "评价方式");
        return;
    };
    let method = c.code(
        "evaluation.method",
        "评价方式",
        &e.method,
        EvaluationMethod::parse,
        &labels(EvaluationMethod::ALL, EvaluationMethod::label),
    );
    if let (Some(m), Some(kind)) = (method, reg.kind) {
        let allowed = EvaluationMethod::allowed_for(kind);
        if !allowed.contains(&m) {
            c.invalid(
                "evaluation.method",
                format!(
                    "{}的评价证明应为：{}。",
                    kind.label(),
                    labels(allowed, EvaluationMethod::label).join("、")
                ),
            );
        } else if reg.source == Source::OtherFiscal && m != EvaluationMethod::Acceptance {
            c.invalid(
                "evaluation.method",
                "其他财政投入产生的科技成果必须已通过验收，评价方式应为“验收”。",
            );
        } else if reg.source == Source::NonFiscal && !m.is_third_party() {
            c.invalid(
                "evaluation.method",
                "非财政投入产生的科技成果必须已通过第三方评价。",
            );
        }
    }
    c.text("evaluation.body", "评价机构", &e.body, TEXT_MAX);
    match e.date.as_deref() {
        None | Some("") => c.missing("evaluation.date", "评价日期"),
        Some(d) => match parse_date(d) {
            None => c.invalid(
                "evaluation.date",
                "评价日期应为“年-月-日”格式，如 2024-06-30。",
            ),
            Some(d) if d > c.ctx.today => c.invalid("evaluation.date", "评价日期不能晚于今天。"),
            Some(_) => {}
        },
    }
}

fn check_kind_specific(c: &mut Checker, reg: &Registration) {
    let f = &reg.fields;
    let Some(kind) = reg.kind else { return };
    let foreign = [
        ("applied", f.applied.is_some(), Kind::Applied),
        ("basic", f.basic.is_some(), Kind::Basic),
        ("soft", f.soft.is_some(), Kind::Soft),
    ];
    for (key, present, k) in foreign {
        if present && k != kind {
            c.invalid(
                key,
                format!("本成果为{}，不填写{}的内容。", kind.label(), k.label()),
            );
        }
    }
    match kind {
        Kind::Applied => match &f.applied {
            None => c.missing("applied", "应用技术成果信息"),
            Some(a) => {
                c.code(
                    "applied.attribute",
                    "成果属性",
                    &a.attribute,
                    AppliedAttribute::parse,
                    &labels(AppliedAttribute::ALL, AppliedAttribute::label),
                );
                c.code(
                    "applied.stage",
                    "成果所处阶段",
                    &a.stage,
                    AppliedStage::parse,
                    &labels(AppliedStage::ALL, AppliedStage::label),
                );
                match a.industry_code.as_deref() {
                    None | Some("") => c.missing("applied.industry_code", "应用行业代码"),
                    Some(code) if !is_industry_code(code) => c.invalid(
                        "applied.industry_code",
                        "应用行业代码应为GB/T 4754代码，如 C3911 或 3911。",
                    ),
                    Some(_) => {}
                }
                match &a.ip {
                    None => c.missing("applied.ip", "知识产权"),
                    Some(ip) => {
                        let counts = [
                            ("invention_patents", "授权发明专利数", ip.invention_patents),
                            ("utility_patents", "授权实用新型专利数", ip.utility_patents),
                            (
                                "software_copyrights",
                                "软件著作权数",
                                ip.software_copyrights,
                            ),
                        ];
                        let mut total = 0u64;
                        for (k, label, v) in counts {
                            match v {
                                None => c.missing(format!("applied.ip.{k}"), label),
                                Some(n) => total += u64::from(n),
                            }
                        }
                        if total > 0 && ip.numbers.iter().all(|n| n.trim().is_empty()) {
                            c.missing("applied.ip.numbers", "知识产权编号");
                        }
                        if ip.numbers.len() > 200 {
                            c.invalid("applied.ip.numbers", "知识产权编号最多200个。");
                        }
                        for (i, n) in ip.numbers.iter().enumerate() {
                            c.length(&format!("applied.ip.numbers[{i}]"), "知识产权编号", n, 50);
                        }
                    }
                }
                match &a.benefits {
                    None => c.missing("applied.benefits", "经济效益"),
                    Some(b) => {
                        for (k, label, v) in [
                            ("output", "新增产值", b.output),
                            ("profit", "新增利润", b.profit),
                            ("tax", "新增税收", b.tax),
                        ] {
                            let field = format!("applied.benefits.{k}");
                            match v {
                                None => c.missing(field, label),
                                Some(x) if !x.is_finite() || x < 0.0 => {
                                    c.invalid(field, format!("“{label}”应为不小于0的数（万元）。"))
                                }
                                Some(x) if x > 1.0e9 => {
                                    c.invalid(field, format!("“{label}”数值过大。"))
                                }
                                Some(_) => {}
                            }
                        }
                    }
                }
                c.text(
                    "applied.application",
                    "推广应用情况",
                    &a.application,
                    LONG_TEXT_MAX,
                );
            }
        },
        Kind::Basic => match &f.basic {
            None => c.missing("basic", "基础理论成果信息"),
            Some(b) => {
                let form = c.code(
                    "basic.form",
                    "成果体现形式",
                    &b.form,
                    BasicForm::parse,
                    &labels(BasicForm::ALL, BasicForm::label),
                );
                if form == Some(BasicForm::Other) {
                    c.text("basic.form_other", "其他体现形式", &b.form_other, TEXT_MAX);
                }
                if form == Some(BasicForm::Paper) && b.papers.is_empty() {
                    c.missing("basic.papers", "已发表论文");
                }
                if b.papers.len() > LIST_MAX {
                    c.invalid("basic.papers", format!("论文最多{LIST_MAX}篇。"));
                }
                let this_year = c.ctx.today.year();
                for (i, p) in b.papers.iter().enumerate() {
                    let at = |k: &str| format!("basic.papers[{i}].{k}");
                    c.text(&at("title"), "论文题目", &p.title, TEXT_MAX);
                    c.text(&at("journal"), "刊物名称", &p.journal, TEXT_MAX);
                    match p.year {
                        None => c.missing(at("year"), "发表年份"),
                        Some(y) if !(1900..=this_year).contains(&y) => {
                            c.invalid(at("year"), format!("发表年份应在1900至{this_year}之间。"))
                        }
                        Some(_) => {}
                    }
                    c.text(&at("indexed_in"), "收录情况", &p.indexed_in, 100);
                }
                if b.citations.is_none() {
                    c.missing("basic.citations", "他引次数");
                }
            }
        },
        Kind::Soft => match &f.soft {
            None => c.missing("soft", "软科学研究成果信息"),
            Some(s) => {
                let form = c.code(
                    "soft.form",
                    "成果体现形式",
                    &s.form,
                    SoftForm::parse,
                    &labels(SoftForm::ALL, SoftForm::label),
                );
                if form == Some(SoftForm::Other) {
                    c.text("soft.form_other", "其他体现形式", &s.form_other, TEXT_MAX);
                }
                c.text("soft.adopted_by", "采纳情况", &s.adopted_by, TEXT_MAX);
                c.text(
                    "soft.social_benefit",
                    "社会效益",
                    &s.social_benefit,
                    LONG_TEXT_MAX,
                );
            }
        },
    }
}

/// A GB/T 4754 code: a section letter A–T, optionally followed by 2–4 digits, or 2–4 digits.
fn is_industry_code(code: &str) -> bool {
    let b = code.as_bytes();
    let (letter, digits) = match b.first() {
        Some(l) if l.is_ascii_uppercase() => (Some(*l), &b[1..]),
        _ => (None, b),
    };
    if letter.is_some_and(|l| l > b'T') {
        return false;
    }
    let digits_ok = (2..=4).contains(&digits.len()) && digits.iter().all(u8::is_ascii_digit);
    (letter.is_some() && digits.is_empty()) || digits_ok
}

#[cfg(test)]
mod tests;
