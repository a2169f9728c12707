//! The registration form (登记表) as a page: every field of `fields.rs` described once — label,
//! widget, value type, inline help — and used three ways: to render the form (with values and
//! errors next to the fields), to read a submitted form back into a `PATCH` of the fields, and
//! to show the form read-only (summary before submitting, the record page).
//!
//! Every input's `name` and `id` is its field path (`contact.mobile`, `completers[1].name`), the
//! same path the checks and the API's 422 details use, so a problem links straight to its field.
//! The script (`app.js`) reads the form the same way for the autosave `PATCH`.

use std::collections::{BTreeMap, HashMap};

use chengguo_domain::Problem;
use chengguo_domain::codes::{
    AppliedAttribute, AppliedStage, BasicForm, EvaluationMethod, Gender, Kind, Level, SoftForm,
    Source,
};
use chengguo_domain::org::Authority;
use serde::Serialize;
use serde_json::{Map, Value};

/// How a field's text becomes JSON.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ValueType {
    Text,
    /// A non-negative whole number.
    Int,
    /// A number (万元).
    Float,
    /// A checkbox.
    Bool,
    /// One item per line: a list of strings.
    Lines,
}

/// One choice of a select or radio group.
#[derive(Debug, Clone, Serialize)]
pub struct Choice {
    pub value: String,
    pub label: String,
    pub selected: bool,
}

/// One input with its label, value, help and errors.
#[derive(Debug, Clone, Serialize)]
pub struct FieldView {
    /// The field path: `name` and `id` of the input.
    pub id: String,
    pub label: String,
    /// `text`, `textarea`, `select`, `radio`, `checkbox`, `lines`.
    pub widget: &'static str,
    /// The value type, for the script (`data-f`).
    pub t: ValueType,
    pub value: String,
    /// The value as shown read-only (the label of a chosen code).
    pub display: String,
    pub choices: Vec<Choice>,
    /// A short format hint under the label.
    pub hint: Option<String>,
    /// Guidance from the city's instructions.
    pub help: Option<String>,
    pub errors: Vec<String>,
    /// Marked as required for submitting (a draft may still be saved without it).
    pub required: bool,
    pub maxlength: Option<usize>,
    pub placeholder: Option<String>,
    pub inputmode: Option<&'static str>,
    pub autocomplete: Option<&'static str>,
}

/// A fieldset of fields (a nested object such as `contact`).
#[derive(Debug, Clone, Serialize)]
pub struct GroupView {
    pub id: String,
    pub legend: String,
    pub help: Option<String>,
    pub errors: Vec<String>,
    pub fields: Vec<FieldView>,
}

/// One row of a repeating list.
#[derive(Debug, Clone, Serialize)]
pub struct RowView {
    pub index: usize,
    pub id: String,
    pub title: String,
    pub fields: Vec<FieldView>,
    pub errors: Vec<String>,
}

/// A repeating list (completing units, completers, papers) with add and remove buttons.
#[derive(Debug, Clone, Serialize)]
pub struct RowsView {
    pub id: String,
    pub legend: String,
    /// What one row is called (“完成单位”).
    pub item: String,
    pub help: Option<String>,
    pub errors: Vec<String>,
    pub rows: Vec<RowView>,
}

/// One entry of a section.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Item {
    Field(FieldView),
    Group(GroupView),
    Rows(RowsView),
}

/// A section of the form with its heading.
#[derive(Debug, Clone, Serialize)]
pub struct SectionView {
    pub id: String,
    pub title: String,
    pub help: Option<String>,
    pub errors: Vec<String>,
    pub items: Vec<Item>,
}

/// The whole form.
#[derive(Debug, Clone, Serialize)]
pub struct FormView {
    pub sections: Vec<SectionView>,
    /// The top-level keys this form edits, in order (the `PATCH` replaces each).
    pub keys: Vec<String>,
    /// Errors whose field is not on the form.
    pub other_errors: Vec<String>,
}

/// The lists that have add/remove buttons.
pub const LISTS: &[&str] = &["units", "completers", "basic.papers"];

/// Reads `add=units,units,completers` (a list named once per extra empty row).
pub fn parse_add(q: Option<&str>) -> HashMap<String, usize> {
    let mut out: HashMap<String, usize> = HashMap::new();
    for name in q.unwrap_or("").split(',') {
        if let Some(l) = LISTS.iter().find(|l| **l == name) {
            let n = out.entry((*l).to_owned()).or_default();
            *n = (*n + 1).min(10);
        }
    }
    out
}

/// Writes the extra rows back as `add=` text.
pub fn format_add(add: &HashMap<String, usize>) -> String {
    let mut parts = Vec::new();
    for l in LISTS {
        for _ in 0..add.get(*l).copied().unwrap_or(0) {
            parts.push(*l);
        }
    }
    parts.join(",")
}

/// Where the values shown come from.
pub enum Values<'a> {
    /// The stored fields as JSON.
    Stored(&'a Value),
    /// What the browser sent, by field path.
    Submitted(&'a HashMap<String, String>),
}

/// One segment of a field path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Seg {
    Key(String),
    Index(usize),
}

/// Splits `a.b[2].c` into segments; `None` when malformed.
pub fn parse_path(path: &str) -> Option<Vec<Seg>> {
    let mut out = Vec::new();
    for part in path.split('.') {
        let (key, mut rest) = match part.find('[') {
            Some(i) => (&part[..i], &part[i..]),
            None => (part, ""),
        };
        if key.is_empty() {
            return None;
        }
        out.push(Seg::Key(key.to_owned()));
        while !rest.is_empty() {
            let close = rest.find(']')?;
            if !rest.starts_with('[') {
                return None;
            }
            let n: usize = rest[1..close].parse().ok()?;
            if n >= 1000 {
                return None;
            }
            out.push(Seg::Index(n));
            rest = &rest[close + 1..];
        }
    }
    Some(out)
}

/// The value at `path` in `v`.
pub fn lookup<'a>(v: &'a Value, path: &str) -> Option<&'a Value> {
    let mut cur = v;
    for seg in parse_path(path)? {
        cur = match seg {
            Seg::Key(k) => cur.get(&k)?,
            Seg::Index(i) => cur.get(i)?,
        };
    }
    Some(cur)
}

impl Values<'_> {
    fn get(&self, path: &str) -> String {
        match self {
            Values::Stored(v) => match lookup(v, path) {
                None | Some(Value::Null) => String::new(),
                Some(Value::String(s)) => s.clone(),
                Some(Value::Bool(b)) => {
                    if *b {
                        "true".into()
                    } else {
                        String::new()
                    }
                }
                Some(Value::Number(n)) => n.to_string(),
                Some(Value::Array(items)) => items
                    .iter()
                    .filter_map(Value::as_str)
                    .collect::<Vec<_>>()
                    .join("\n"),
                Some(other) => other.to_string(),
            },
            Values::Submitted(m) => m.get(path).cloned().unwrap_or_default(),
        }
    }

    /// How many rows the list at `path` has.
    pub fn rows(&self, path: &str) -> usize {
        match self {
            Values::Stored(v) => lookup(v, path)
                .and_then(Value::as_array)
                .map_or(0, Vec::len),
            Values::Submitted(m) => {
                let prefix = format!("{path}[");
                m.keys()
                    .filter_map(|k| k.strip_prefix(&prefix))
                    .filter_map(|rest| rest.split(']').next()?.parse::<usize>().ok())
                    .map(|i| i + 1)
                    .max()
                    .unwrap_or(0)
            }
        }
    }
}

fn choices<T: Copy>(
    all: &[T],
    code: fn(T) -> &'static str,
    label: fn(T) -> &'static str,
) -> Vec<Choice> {
    all.iter()
        .map(|v| Choice {
            value: code(*v).to_owned(),
            label: label(*v).to_owned(),
            selected: false,
        })
        .collect()
}

/// Builds fields with their current values.
struct B<'a> {
    values: &'a Values<'a>,
}

impl B<'_> {
    fn field(&self, id: &str, label: &str, widget: &'static str, t: ValueType) -> FieldView {
        let value = self.values.get(id);
        FieldView {
            id: id.to_owned(),
            label: label.to_owned(),
            widget,
            t,
            display: value.clone(),
            value,
            choices: Vec::new(),
            hint: None,
            help: None,
            errors: Vec::new(),
            required: true,
            maxlength: None,
            placeholder: None,
            inputmode: None,
            autocomplete: None,
        }
    }

    fn text(&self, id: &str, label: &str, max: usize) -> FieldView {
        let mut f = self.field(id, label, "text", ValueType::Text);
        f.maxlength = Some(max);
        f
    }

    fn textarea(&self, id: &str, label: &str, max: usize) -> FieldView {
        let mut f = self.field(id, label, "textarea", ValueType::Text);
        f.maxlength = Some(max);
        f
    }

    fn int(&self, id: &str, label: &str) -> FieldView {
        let mut f = self.field(id, label, "text", ValueType::Int);
        f.inputmode = Some("numeric");
        f.maxlength = Some(9);
        f
    }

    fn float(&self, id: &str, label: &str) -> FieldView {
        let mut f = self.field(id, label, "text", ValueType::Float);
        f.inputmode = Some("decimal");
        f.maxlength = Some(15);
        f
    }

    fn pick(
        &self,
        id: &str,
        label: &str,
        widget: &'static str,
        mut options: Vec<Choice>,
    ) -> FieldView {
        let mut f = self.field(id, label, widget, ValueType::Text);
        for c in &mut options {
            c.selected = c.value == f.value;
            if c.selected {
                f.display = c.label.clone();
            }
        }
        f.choices = options;
        f
    }

    fn select(&self, id: &str, label: &str, options: Vec<Choice>) -> FieldView {
        self.pick(id, label, "select", options)
    }

    fn radio(&self, id: &str, label: &str, options: Vec<Choice>) -> FieldView {
        self.pick(id, label, "radio", options)
    }
}

trait Fluent: Sized {
    fn hint(self, s: &str) -> Self;
    fn help(self, s: &str) -> Self;
    fn optional(self) -> Self;
    fn placeholder(self, s: &str) -> Self;
    fn autocomplete(self, s: &'static str) -> Self;
}

impl Fluent for FieldView {
    fn hint(mut self, s: &str) -> Self {
        self.hint = Some(s.to_owned());
        self
    }
    fn help(mut self, s: &str) -> Self {
        self.help = Some(s.to_owned());
        self
    }
    fn optional(mut self) -> Self {
        self.required = false;
        self
    }
    fn placeholder(mut self, s: &str) -> Self {
        self.placeholder = Some(s.to_owned());
        self
    }
    fn autocomplete(mut self, s: &'static str) -> Self {
        self.autocomplete = Some(s);
        self
    }
}

fn group(id: &str, legend: &str, help: Option<&str>, fields: Vec<FieldView>) -> Item {
    Item::Group(GroupView {
        id: id.to_owned(),
        legend: legend.to_owned(),
        help: help.map(str::to_owned),
        errors: Vec::new(),
        fields,
    })
}

fn section(id: &str, title: &str, help: Option<&str>, items: Vec<Item>) -> SectionView {
    SectionView {
        id: id.to_owned(),
        title: title.to_owned(),
        help: help.map(str::to_owned),
        errors: Vec::new(),
        items,
    }
}

/// Chinese ordinal of a row: 第一, 第二 … (plain digits past ten).
pub fn ordinal(i: usize) -> String {
    const DIGITS: [&str; 10] = ["一", "二", "三", "四", "五", "六", "七", "八", "九", "十"];
    match DIGITS.get(i) {
        Some(d) => format!("第{d}"),
        None => format!("第{}", i + 1),
    }
}

/// What the form needs to know besides the values.
pub struct FormContext<'a> {
    pub kind: Kind,
    pub source: Source,
    pub authorities: &'a [Authority],
    /// Extra empty rows to show at the end of lists (after 「添加一行」), by list.
    pub add: &'a HashMap<String, usize>,
}

/// What a repeating list is called and how many rows it shows at least.
struct ListSpec<'a> {
    id: &'a str,
    legend: &'a str,
    item: &'a str,
    help: Option<&'a str>,
    min: usize,
}

fn rows(
    b: &B,
    ctx: &FormContext,
    spec: ListSpec,
    title: impl Fn(usize) -> String,
    fields: impl Fn(&B, &str) -> Vec<FieldView>,
) -> Item {
    let ListSpec {
        id,
        legend,
        item,
        help,
        min,
    } = spec;
    let mut n = b.values.rows(id).max(min);
    n += ctx.add.get(id).copied().unwrap_or(0);
    let rows = (0..n.min(chengguo_domain::check::LIST_MAX))
        .map(|i| {
            let row_id = format!("{id}[{i}]");
            RowView {
                index: i,
                title: title(i),
                fields: fields(b, &row_id),
                id: row_id,
                errors: Vec::new(),
            }
        })
        .collect();
    Item::Rows(RowsView {
        id: id.to_owned(),
        legend: legend.to_owned(),
        item: item.to_owned(),
        help: help.map(str::to_owned),
        errors: Vec::new(),
        rows,
    })
}

/// Describes the form of `ctx.kind` with the values given.
pub fn build(ctx: &FormContext, values: &Values) -> FormView {
    let b = B { values };
    let mut keys: Vec<&str> = vec!["title"];
    let mut sections = Vec::new();

    // 基本信息
    let mut items = vec![Item::Field(
        b.text("title", "成果名称", chengguo_domain::check::TITLE_MAX)
            .hint("不超过100个字")
            .help("填写能概括成果主要内容的名称。系统中项目的成果名称默认取项目名称，可按实际成果修改。"),
    )];
    if ctx.source != Source::ProvincialPlan {
        keys.push("project");
        items.push(group(
            "project",
            "项目信息（计划外项目）",
            Some("填写产生本成果的项目。计划外项目指不在本系统中立项管理的项目。"),
            vec![
                b.text("project.name", "项目名称", 200),
                b.text("project.number", "项目编号", 50)
                    .optional()
                    .hint("没有编号可不填"),
                b.text("project.funding", "经费来源", 200)
                    .hint("如：中山市科技计划项目市级财政资金、企业自筹"),
            ],
        ));
    }
    keys.push("authority_id");
    items.push(Item::Field(
        b.select(
            "authority_id",
            "批准登记单位",
            ctx.authorities
                .iter()
                .map(|a| Choice {
                    value: a.id.clone(),
                    label: a.name.clone(),
                    selected: false,
                })
                .collect(),
        )
        .help("中山市的科技成果请选择“中山市科学技术局”。"),
    ));
    keys.extend(["recommender", "secrecy", "research_start", "research_end"]);
    items.push(Item::Field(
        b.text("recommender", "推荐单位", 200)
            .optional()
            .hint("可不填"),
    ));
    items.push(Item::Field(
        b.select(
            "secrecy",
            "成果密级",
            vec![
                Choice {
                    value: "none".into(),
                    label: "非密".into(),
                    selected: false,
                },
                Choice {
                    value: "classified".into(),
                    label: "涉密（秘密、机密、绝密）".into(),
                    selected: false,
                },
            ],
        )
        .help("涉密成果不在科技成果登记范围内，只有“非密”成果可以登记。"),
    ));
    items.push(Item::Field(
        b.text("research_start", "研究起始日期", 7)
            .hint("格式：年-月，如 2023-03")
            .placeholder("2023-03"),
    ));
    items.push(Item::Field(
        b.text("research_end", "研究截止日期", 7)
            .hint("格式：年-月，不能晚于当前月份")
            .placeholder("2025-12"),
    ));
    sections.push(section("sec-basic", "基本信息", None, items));

    // 完成单位
    keys.push("units");
    let local_rule = matches!(ctx.source, Source::OtherFiscal | Source::NonFiscal);
    sections.push(section(
        "sec-units",
        "完成单位",
        None,
        vec![rows(
            &b,
            ctx,
            ListSpec {
                id: "units",
                legend: "完成单位",
                item: "完成单位",
                help: Some(if local_rule {
                "按贡献大小排序，第一行为第一完成单位。其他财政投入和非财政投入产生的科技成果，第一完成单位必须是在广东省内注册的独立法人（统一社会信用代码第3、4位为“44”）。"
            } else {
                "按贡献大小排序，第一行为第一完成单位。"
            }),
                min: 1,
            },
            |i| format!("{}完成单位", ordinal(i)),
            |b, row| {
                vec![
                    b.text(&format!("{row}.name"), "单位名称", 200)
                        .autocomplete("organization"),
                    b.text(&format!("{row}.uscc"), "统一社会信用代码", 18)
                        .hint("18位，见营业执照或法人登记证书"),
                ]
            },
        )],
    ));

    // 完成人员
    keys.push("completers");
    sections.push(section(
        "sec-completers",
        "完成人员",
        None,
        vec![rows(
            &b,
            ctx,
            ListSpec {
                id: "completers",
                legend: "完成人员",
                item: "完成人员",
                help: Some("按对成果的贡献大小排序，至少填写一人。"),
                min: 1,
            },
            |i| format!("{}完成人", ordinal(i)),
            |b, row| {
                vec![
                    b.text(&format!("{row}.name"), "姓名", 50),
                    b.radio(
                        &format!("{row}.gender"),
                        "性别",
                        choices(Gender::ALL, Gender::code, Gender::label),
                    ),
                    b.text(&format!("{row}.title"), "技术职称", 50)
                        .hint("如：高级工程师、副研究员"),
                    b.text(&format!("{row}.degree"), "学历学位", 50)
                        .hint("如：硕士研究生"),
                    b.text(&format!("{row}.work_unit"), "工作单位", 200),
                    b.textarea(&format!("{row}.contribution"), "对成果的贡献", 2000),
                ]
            },
        )],
    ));

    // 成果内容
    keys.extend(["keywords", "discipline", "summary", "level"]);
    let keywords = (0..3)
        .map(|i| {
            let f = b.text(&format!("keywords[{i}]"), &format!("关键词{}", i + 1), 30);
            if i == 0 { f } else { f.optional() }
        })
        .collect();
    sections.push(section(
        "sec-content",
        "成果内容",
        None,
        vec![
            group(
                "keywords",
                "关键词",
                Some("填写1至3个关键词，每个不超过30个字。"),
                keywords,
            ),
            group(
                "discipline",
                "学科分类",
                Some("按国家标准《学科分类与代码》（GB/T 13745）填写。"),
                vec![
                    b.text("discipline.code", "学科分类代码", 7)
                        .hint("3、5或7位数字，如 520")
                        .placeholder("520"),
                    b.text("discipline.name", "学科名称", 50)
                        .hint("如：计算机科学技术"),
                ],
            ),
            Item::Field(
                b.textarea("summary", "成果简介", chengguo_domain::check::SUMMARY_MAX)
                    .hint("不超过2000个字")
                    .help("简要说明成果针对的问题、主要技术内容、创新点、技术指标以及应用情况。公示时将公开本段内容。"),
            ),
            Item::Field(
                b.select(
                    "level",
                    "成果水平",
                    choices(Level::ALL, Level::code, Level::label),
                )
                .help("依据评价结论（验收、鉴定或评价报告）中的水平填写；结论中没有水平评价的，选择“未评价”。"),
            ),
        ],
    ));

    // 评价情况
    keys.push("evaluation");
    let eval_help = match ctx.source {
        Source::OtherFiscal => {
            "其他财政投入产生的科技成果必须已通过验收：评价方式选择“验收”，并在材料中上传验收报告或验收书。"
        }
        Source::NonFiscal => {
            "非财政投入产生的科技成果必须已通过第三方评价：评价方式选择第三方出具的评价、评估、鉴定或评审，并在材料中上传相应证明。"
        }
        Source::ProvincialPlan => {
            "省科技计划项目产生的科技成果须已通过验收、鉴定、评估等成果评价。"
        }
    };
    sections.push(section(
        "sec-evaluation",
        "评价情况",
        None,
        vec![group(
            "evaluation",
            "成果评价",
            Some(eval_help),
            vec![
                b.select(
                    "evaluation.method",
                    "评价方式",
                    choices(
                        EvaluationMethod::allowed_for(ctx.kind),
                        EvaluationMethod::code,
                        EvaluationMethod::label,
                    ),
                ),
                b.text("evaluation.body", "评价机构", 200)
                    .hint("组织验收、鉴定或出具评价报告的单位"),
                b.text("evaluation.date", "评价日期", 10)
                    .hint("格式：年-月-日，如 2026-03-20")
                    .placeholder("2026-03-20"),
            ],
        )],
    ));

    // The kind's own fields.
    match ctx.kind {
        Kind::Applied => {
            keys.push("applied");
            sections.push(section(
                "applied",
                "应用技术成果信息",
                Some("应用技术成果是可以用于生产或指导生产的成果，如新技术、新产品、新工艺、新材料、新装置等。"),
                vec![
                    Item::Field(b.radio(
                        "applied.attribute",
                        "成果属性",
                        choices(AppliedAttribute::ALL, AppliedAttribute::code, AppliedAttribute::label),
                    )),
                    Item::Field(b.radio(
                        "applied.stage",
                        "成果所处阶段",
                        choices(AppliedStage::ALL, AppliedStage::code, AppliedStage::label),
                    )),
                    Item::Field(
                        b.text("applied.industry_code", "应用行业代码", 5)
                            .hint("《国民经济行业分类》（GB/T 4754）代码，如 C3872"),
                    ),
                    group(
                        "applied.ip",
                        "知识产权",
                        Some("填写已授权的数量，没有的填0；有授权的，请逐行填写专利号或登记号，并在材料中上传专利授权证书或软件著作权证书。"),
                        vec![
                            b.int("applied.ip.invention_patents", "授权发明专利（件）"),
                            b.int("applied.ip.utility_patents", "授权实用新型专利（件）"),
                            b.int("applied.ip.software_copyrights", "软件著作权（件）"),
                            {
                                let mut f = b.field("applied.ip.numbers", "专利号或登记号", "lines", ValueType::Lines);
                                f.hint = Some("每行一个，如 ZL202310512345.6".into());
                                f.required = false;
                                f
                            },
                        ],
                    ),
                    group(
                        "applied.benefits",
                        "经济效益（万元）",
                        Some("成果应用以来新增的产值、利润和税收，单位万元，没有的填0。"),
                        vec![
                            b.float("applied.benefits.output", "新增产值（万元）"),
                            b.float("applied.benefits.profit", "新增利润（万元）"),
                            b.float("applied.benefits.tax", "新增税收（万元）"),
                        ],
                    ),
                    Item::Field(b.textarea("applied.application", "推广应用情况", 2000)),
                ],
            ));
        }
        Kind::Basic => {
            keys.push("basic");
            sections.push(section(
                "basic",
                "基础理论成果信息",
                Some("基础理论成果是阐明自然现象、特征、规律及其内在联系的研究成果，主要以科学论文、专著等形式体现。"),
                vec![
                    Item::Field(b.radio(
                        "basic.form",
                        "成果体现形式",
                        choices(BasicForm::ALL, BasicForm::code, BasicForm::label),
                    )),
                    Item::Field(
                        b.text("basic.form_other", "其他体现形式", 200)
                            .optional()
                            .hint("选择“其他”时填写"),
                    ),
                    rows(
                        &b,
                        ctx,
                        ListSpec {
                            id: "basic.papers",
                            legend: "已发表论文",
                            item: "论文",
                            help: Some("成果体现形式为论文时至少填写一篇；没有可留空。"),
                            min: 1,
                        },
                        |i| format!("论文{}", i + 1),
                        |b, row| {
                            vec![
                                b.text(&format!("{row}.title"), "论文题目", 200),
                                b.text(&format!("{row}.journal"), "刊物名称", 200),
                                b.int(&format!("{row}.year"), "发表年份").placeholder("2024"),
                                b.text(&format!("{row}.indexed_in"), "收录情况", 100)
                                    .hint("如：SCI、EI、CSCD"),
                            ]
                        },
                    ),
                    Item::Field(
                        b.int("basic.citations", "他引次数")
                            .hint("以论文引文检索证明为准，没有的填0"),
                    ),
                ],
            ));
        }
        Kind::Soft => {
            keys.push("soft");
            sections.push(section(
                "soft",
                "软科学研究成果信息",
                Some("软科学研究成果是为决策科学化和管理现代化开展的发展战略、政策、规划、评价、预测、科技立法及管理科学研究成果。"),
                vec![
                    Item::Field(b.radio(
                        "soft.form",
                        "成果体现形式",
                        choices(SoftForm::ALL, SoftForm::code, SoftForm::label),
                    )),
                    Item::Field(
                        b.text("soft.form_other", "其他体现形式", 200)
                            .optional()
                            .hint("选择“其他”时填写"),
                    ),
                    Item::Field(
                        b.text("soft.adopted_by", "采纳情况", 200)
                            .hint("被哪个决策部门或单位采纳"),
                    ),
                    Item::Field(b.textarea("soft.social_benefit", "社会效益", 2000)),
                ],
            ));
        }
    }

    // 联系人 and the waiver.
    keys.extend(["contact", "contract_has_lists"]);
    let mut waiver = b.field(
        "contract_has_lists",
        "项目合同已包含成果完成单位名单及完成人员名单，且合同已提交",
        "checkbox",
        ValueType::Bool,
    );
    waiver.required = false;
    waiver.display = if waiver.value == "true" {
        "是".into()
    } else {
        "否".into()
    };
    waiver.help = Some("勾选后，材料中的“成果完成单位名单及完成人员名单”可不重复提交。".into());
    sections.push(section(
        "sec-contact",
        "联系人与材料声明",
        None,
        vec![
            group(
                "contact",
                "联系人",
                Some("联系人信息仅用于登记工作联系，不对外公示。"),
                vec![
                    b.text("contact.name", "联系人姓名", 50)
                        .autocomplete("name"),
                    {
                        let mut f = b
                            .text("contact.mobile", "手机号码", 11)
                            .hint("11位手机号码")
                            .autocomplete("tel");
                        f.inputmode = Some("tel");
                        f
                    },
                    {
                        let mut f = b
                            .text("contact.email", "电子邮箱", 254)
                            .autocomplete("email");
                        f.inputmode = Some("email");
                        f
                    },
                ],
            ),
            Item::Field(waiver),
        ],
    ));

    FormView {
        sections,
        keys: keys.into_iter().map(str::to_owned).collect(),
        other_errors: Vec::new(),
    }
}

impl FormView {
    /// Every field, with its section title, in order.
    pub fn fields(&self) -> Vec<(&SectionView, &FieldView)> {
        let mut out = Vec::new();
        for s in &self.sections {
            for item in &s.items {
                match item {
                    Item::Field(f) => out.push((s, f)),
                    Item::Group(g) => out.extend(g.fields.iter().map(|f| (s, f))),
                    Item::Rows(r) => {
                        for row in &r.rows {
                            out.extend(row.fields.iter().map(|f| (s, f)));
                        }
                    }
                }
            }
        }
        out
    }

    /// Every anchor id on the form (fields, groups, rows, sections) with a readable name.
    pub fn anchors(&self) -> BTreeMap<String, String> {
        let mut out = BTreeMap::new();
        for s in &self.sections {
            out.insert(s.id.clone(), s.title.clone());
            for item in &s.items {
                match item {
                    Item::Field(f) => {
                        out.insert(f.id.clone(), format!("{} · {}", s.title, f.label));
                    }
                    Item::Group(g) => {
                        out.insert(g.id.clone(), format!("{} · {}", s.title, g.legend));
                        for f in &g.fields {
                            out.insert(f.id.clone(), format!("{} · {}", g.legend, f.label));
                        }
                    }
                    Item::Rows(r) => {
                        out.insert(r.id.clone(), r.legend.clone());
                        for row in &r.rows {
                            out.insert(row.id.clone(), row.title.clone());
                            for f in &row.fields {
                                out.insert(f.id.clone(), format!("{} · {}", row.title, f.label));
                            }
                        }
                    }
                }
            }
        }
        out
    }

    /// The type of each field by path.
    pub fn types(&self) -> HashMap<String, ValueType> {
        self.fields()
            .into_iter()
            .map(|(_, f)| (f.id.clone(), f.t))
            .collect()
    }

    /// Puts each problem next to its field, or the nearest enclosing group, row or section;
    /// what fits nowhere goes to `other_errors`.
    pub fn attach(&mut self, problems: &[Problem]) {
        let anchors = self.anchors();
        let mut by_anchor: HashMap<String, Vec<String>> = HashMap::new();
        for p in problems {
            match nearest_anchor(&anchors, &p.field) {
                Some(a) => by_anchor.entry(a).or_default().push(p.message.clone()),
                None => self.other_errors.push(p.message.clone()),
            }
        }
        let mut take = |id: &str| by_anchor.remove(id).unwrap_or_default();
        for s in &mut self.sections {
            s.errors = take(&s.id);
            for item in &mut s.items {
                match item {
                    Item::Field(f) => f.errors = take(&f.id),
                    Item::Group(g) => {
                        g.errors = take(&g.id);
                        for f in &mut g.fields {
                            f.errors = take(&f.id);
                        }
                    }
                    Item::Rows(r) => {
                        r.errors = take(&r.id);
                        for row in &mut r.rows {
                            row.errors = take(&row.id);
                            for f in &mut row.fields {
                                f.errors = take(&f.id);
                            }
                        }
                    }
                }
            }
        }
        for (_, msgs) in by_anchor {
            self.other_errors.extend(msgs);
        }
    }

    /// Whether any field, group, row or section shows an error.
    pub fn has_errors(&self) -> bool {
        !self.other_errors.is_empty()
            || self.sections.iter().any(|s| {
                !s.errors.is_empty()
                    || s.items.iter().any(|i| match i {
                        Item::Field(f) => !f.errors.is_empty(),
                        Item::Group(g) => {
                            !g.errors.is_empty() || g.fields.iter().any(|f| !f.errors.is_empty())
                        }
                        Item::Rows(r) => {
                            !r.errors.is_empty()
                                || r.rows.iter().any(|row| {
                                    !row.errors.is_empty()
                                        || row.fields.iter().any(|f| !f.errors.is_empty())
                                })
                        }
                    })
            })
    }
}

/// The anchor a field path belongs to: itself, or the closest enclosing path on the form
/// (`applied.ip.numbers[7]` → `applied.ip.numbers`, `keywords` for `keywords[5]`).
pub fn nearest_anchor(anchors: &BTreeMap<String, String>, path: &str) -> Option<String> {
    let mut p = path.to_owned();
    loop {
        if anchors.contains_key(&p) {
            return Some(p);
        }
        let cut = p.rfind(['.', '['])?;
        p.truncate(cut);
        if p.is_empty() {
            return None;
        }
    }
}

/// Reads a submitted form into a `PATCH` of the fields: each key the form edits, with `null`
/// for a key left empty. Wrong numbers are reported by field instead.
pub fn to_patch(
    form: &FormView,
    submitted: &HashMap<String, String>,
) -> Result<Map<String, Value>, Vec<Problem>> {
    let types = form.types();
    let mut root = Value::Object(Map::new());
    let mut problems = Vec::new();
    let mut names: Vec<&String> = submitted.keys().collect();
    names.sort();
    for name in names {
        let Some(t) = types.get(name) else { continue };
        let raw = submitted[name].trim();
        if raw.is_empty() {
            continue;
        }
        let value = match t {
            ValueType::Text => Value::String(raw.replace("\r\n", "\n")),
            ValueType::Bool => Value::Bool(true),
            ValueType::Int => {
                if raw.len() <= 9 && raw.bytes().all(|b| b.is_ascii_digit()) {
                    Value::from(raw.parse::<u64>().unwrap_or(0))
                } else {
                    problems.push(Problem::invalid(name.clone(), "请填写不小于0的整数。"));
                    continue;
                }
            }
            ValueType::Float => match raw.parse::<f64>() {
                Ok(x)
                    if x.is_finite()
                        && raw
                            .bytes()
                            .all(|b| b.is_ascii_digit() || b"+-.eE".contains(&b)) =>
                {
                    serde_json::Number::from_f64(x).map_or(Value::Null, Value::Number)
                }
                _ => {
                    problems.push(Problem::invalid(
                        name.clone(),
                        "请填写数字（单位万元），如 120.5。",
                    ));
                    continue;
                }
            },
            ValueType::Lines => Value::Array(
                raw.lines()
                    .map(str::trim)
                    .filter(|l| !l.is_empty())
                    .map(|l| Value::String(l.to_owned()))
                    .collect(),
            ),
        };
        if let Some(path) = parse_path(name) {
            insert(&mut root, &path, value);
        }
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    prune(&mut root);
    let mut patch = Map::new();
    for key in &form.keys {
        let v = root.get(key.as_str()).cloned().unwrap_or(Value::Null);
        let v = if key == "contract_has_lists" && v.is_null() {
            Value::Bool(false)
        } else {
            v
        };
        patch.insert(key.clone(), v);
    }
    Ok(patch)
}

fn insert(cur: &mut Value, path: &[Seg], value: Value) {
    let Some((first, rest)) = path.split_first() else {
        *cur = value;
        return;
    };
    match first {
        Seg::Key(k) => {
            if !cur.is_object() {
                *cur = Value::Object(Map::new());
            }
            let map = cur.as_object_mut().expect("object");
            let next = map.entry(k.clone()).or_insert(Value::Null);
            insert(next, rest, value);
        }
        Seg::Index(i) => {
            if !cur.is_array() {
                *cur = Value::Array(Vec::new());
            }
            let arr = cur.as_array_mut().expect("array");
            while arr.len() <= *i {
                arr.push(Value::Null);
            }
            insert(&mut arr[*i], rest, value);
        }
    }
}

/// Removes empty rows and empty objects; `true` when `v` itself is empty.
fn prune(v: &mut Value) -> bool {
    match v {
        Value::Null => true,
        Value::Object(map) => {
            map.retain(|_, child| !prune(child));
            map.is_empty()
        }
        Value::Array(items) => {
            items.retain_mut(|child| !prune(child));
            // An empty list still means "no rows" rather than "not given", except for
            // `Lines` values, which are only ever inside objects.
            false
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx(kind: Kind) -> (Vec<Authority>, Kind) {
        (
            vec![Authority {
                id: "zs-kjj".into(),
                name: "中山市科学技术局".into(),
                code: "442".into(),
            }],
            kind,
        )
    }

    #[test]
    fn paths_parse_and_look_up() {
        assert_eq!(
            parse_path("completers[1].name"),
            Some(vec![
                Seg::Key("completers".into()),
                Seg::Index(1),
                Seg::Key("name".into())
            ])
        );
        assert_eq!(parse_path("a..b"), None);
        assert_eq!(parse_path("a[x]"), None);
        let v = serde_json::json!({"units": [{"name": "甲"}]});
        assert_eq!(
            lookup(&v, "units[0].name"),
            Some(&Value::String("甲".into()))
        );
    }

    #[test]
    fn a_submitted_form_becomes_a_patch_of_every_key() {
        let (auths, kind) = ctx(Kind::Applied);
        let fc = FormContext {
            kind,
            source: Source::OtherFiscal,
            authorities: &auths,
            add: &HashMap::new(),
        };
        let mut sub = HashMap::new();
        for (k, v) in [
            ("title", " 成果 "),
            ("units[0].name", "甲"),
            ("units[0].uscc", ""),
            ("units[1].name", ""),
            ("completers[0].gender", "male"),
            ("keywords[0]", ""),
            ("keywords[1]", "视觉"),
            ("applied.ip.invention_patents", "2"),
            ("applied.ip.numbers", "ZL1\r\n\r\n ZL2 "),
            ("applied.benefits.output", "12.5"),
            ("csrf", "x"),
        ] {
            sub.insert(k.to_owned(), v.to_owned());
        }
        let form = build(&fc, &Values::Submitted(&sub));
        let patch = to_patch(&form, &sub).unwrap();
        assert_eq!(patch["title"], "成果");
        assert_eq!(patch["units"], serde_json::json!([{"name": "甲"}]));
        assert_eq!(patch["completers"], serde_json::json!([{"gender": "male"}]));
        assert_eq!(patch["keywords"], serde_json::json!(["视觉"]));
        assert_eq!(patch["summary"], Value::Null);
        assert_eq!(patch["contract_has_lists"], Value::Bool(false));
        assert_eq!(
            patch["applied"],
            serde_json::json!({"ip": {"invention_patents": 2, "numbers": ["ZL1", "ZL2"]}, "benefits": {"output": 12.5}})
        );
        assert!(!patch.contains_key("csrf"));
        assert!(!patch.contains_key("basic"));
        // The patch has the form's shape.
        chengguo_domain::fields::Fields::default()
            .patched(&patch)
            .unwrap();
    }

    #[test]
    fn wrong_numbers_are_reported_by_field() {
        let (auths, kind) = ctx(Kind::Basic);
        let fc = FormContext {
            kind,
            source: Source::NonFiscal,
            authorities: &auths,
            add: &HashMap::new(),
        };
        let mut sub = HashMap::new();
        sub.insert("basic.citations".to_owned(), "-3".to_owned());
        sub.insert("basic.papers[0].year".to_owned(), "二〇二四".to_owned());
        let form = build(&fc, &Values::Submitted(&sub));
        let err = to_patch(&form, &sub).unwrap_err();
        let fields: Vec<&str> = err.iter().map(|p| p.field.as_str()).collect();
        assert_eq!(fields, vec!["basic.citations", "basic.papers[0].year"]);
    }

    #[test]
    fn problems_go_to_the_nearest_anchor() {
        let (auths, kind) = ctx(Kind::Applied);
        let fc = FormContext {
            kind,
            source: Source::OtherFiscal,
            authorities: &auths,
            add: &HashMap::from([("completers".to_owned(), 1)]),
        };
        let stored = serde_json::json!({"completers": [{"name": "甲"}]});
        let mut form = build(&fc, &Values::Stored(&stored));
        let anchors = form.anchors();
        assert!(anchors.contains_key("completers[1].name"), "added row");
        assert_eq!(
            nearest_anchor(&anchors, "applied.ip.numbers[7]").as_deref(),
            Some("applied.ip.numbers")
        );
        form.attach(&[
            Problem::invalid("contact.mobile", "手机号码格式不正确"),
            Problem::invalid("nowhere", "别处"),
        ]);
        assert!(form.has_errors());
        assert_eq!(form.other_errors, vec!["别处".to_string()]);
    }
}
