//! The xlsx exports (domain.md §8): the 科技成果登记信息表 of one record as a printable sheet,
//! the 公示信息 of many records as one workbook (one row per record), and the staff list.
//!
//! Only the public fields of a record (domain.md §7) are written: never the contact, never the
//! attachments. Codes are written as their Chinese labels and dates as real Excel dates.
//!
//! Every value that comes from people is written with `write_string*`, so text such as
//! `=HYPERLINK(...)`, `+1` or `@SUM(A1)` stays text; text starting with such a character also
//! gets Excel's quote prefix, so it stays text even when someone edits the cell later.
//!
//! The batch and list workbooks use a constant-memory worksheet: each row is flushed to a
//! temporary file as soon as the next one starts, so 100,000 rows stream in bounded memory.
//! Rows must therefore be written strictly in order, which the iterators given here ensure.

use std::collections::HashMap;

use chengguo_domain::codes::{EvaluationMethod, Level};
use chengguo_domain::ports::CHINA;
use chengguo_domain::project::Project;
use chengguo_domain::record::{Notice, Registration};
use rust_xlsxwriter::{
    ColNum, ExcelDateTime, Format, FormatAlign, FormatBorder, RowNum, Workbook, Worksheet,
    XlsxError,
};
use time::{Date, OffsetDateTime};

/// The media type of an xlsx file.
pub const XLSX_CONTENT_TYPE: &str =
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";

/// Title of the sheet of one record, and the first part of export file names.
pub const NOTICE_TITLE: &str = "科技成果登记信息表";

/// What an export needs besides the records: names of authorities, in-system projects and
/// where objections go.
#[derive(Debug, Clone, Default)]
pub struct ExportContext {
    /// 批准登记单位 names by authority id.
    pub authorities: HashMap<String, String>,
    /// In-system projects by id, for records linked to one.
    pub projects: HashMap<String, Project>,
    /// How objections reach the point besides its name, e.g. an address, a phone or the
    /// public site (one sentence in Chinese; may be empty).
    pub objection_contact: String,
    /// When the export is made (shown on the sheet).
    pub generated_at: Option<OffsetDateTime>,
}

impl ExportContext {
    /// The name of a record's approving authority.
    pub fn authority_name(&self, reg: &Registration) -> String {
        self.authorities
            .get(&reg.authority_id)
            .cloned()
            .unwrap_or_else(|| "成果登记点".to_owned())
    }

    /// Where and how objections to `reg` are filed (异议).
    pub fn objection_text(&self, reg: &Registration) -> String {
        let mut text = format!(
            "公示期内，任何单位或个人对公示内容有异议的，可以实名方式（写明姓名、工作单位、联系电话、\
             电子邮箱及异议内容）向成果登记点（{}）提出；匿名或逾期提出的异议不予受理。",
            self.authority_name(reg)
        );
        let contact = self.objection_contact.trim();
        if !contact.is_empty() {
            text.push_str(contact);
        }
        text
    }
}

/// The public fields of a record as text, in the order they are shown.
#[derive(Debug, Clone, PartialEq)]
pub struct PublicFields {
    pub title: String,
    pub registration_number: String,
    pub kind: String,
    pub source: String,
    pub authority: String,
    pub first_unit: String,
    pub units: String,
    pub completers: String,
    pub project_name: String,
    pub project_number: String,
    /// 经费来源 of a 计划外 project, or the plan (计划类别) of an in-system project.
    pub project_funding: String,
    pub keywords: String,
    pub discipline: String,
    pub level: String,
    pub evaluation_method: String,
    pub evaluation_body: String,
    /// The evaluation date as entered ("YYYY-MM-DD").
    pub evaluation_date: String,
    pub summary: String,
}

fn text(s: &Option<String>) -> String {
    s.as_deref().map(str::trim).unwrap_or("").to_owned()
}

/// Joins the non-empty parts with 、.
fn joined<'a>(parts: impl Iterator<Item = &'a str>) -> String {
    parts
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join("、")
}

impl PublicFields {
    /// The public fields of `reg`: never its contact, recommender or attachments.
    pub fn of(reg: &Registration, ctx: &ExportContext) -> PublicFields {
        let f = &reg.fields;
        let completers = f
            .completers
            .iter()
            .map(|c| {
                let name = text(&c.name);
                let unit = text(&c.work_unit);
                match (name.is_empty(), unit.is_empty()) {
                    (true, _) => String::new(),
                    (false, true) => name,
                    (false, false) => format!("{name}（{unit}）"),
                }
            })
            .collect::<Vec<_>>();
        let (project_name, project_number, project_funding) =
            match reg.project_id.as_ref().and_then(|id| ctx.projects.get(id)) {
                Some(p) => (p.name.clone(), p.number.clone(), p.plan.clone()),
                None => match &f.project {
                    Some(p) => (text(&p.name), text(&p.number), text(&p.funding)),
                    None => Default::default(),
                },
            };
        let discipline = match &f.discipline {
            Some(d) => match (text(&d.name), text(&d.code)) {
                (n, c) if n.is_empty() => c,
                (n, c) if c.is_empty() => n,
                (n, c) => format!("{n}（{c}）"),
            },
            None => String::new(),
        };
        let level = text(&f.level);
        let eval = f.evaluation.clone().unwrap_or_default();
        let method = text(&eval.method);
        PublicFields {
            title: text(&f.title),
            registration_number: reg.registration_number.clone().unwrap_or_default(),
            kind: reg.kind.map(|k| k.label().to_owned()).unwrap_or_default(),
            source: reg.source.label().to_owned(),
            authority: ctx.authority_name(reg),
            first_unit: f.first_unit().map(|u| text(&u.name)).unwrap_or_default(),
            units: joined(f.units.iter().filter_map(|u| u.name.as_deref())),
            completers: joined(completers.iter().map(String::as_str)),
            project_name,
            project_number,
            project_funding,
            keywords: joined(f.keywords.iter().map(String::as_str)),
            discipline,
            level: Level::parse(&level)
                .map(|l| l.label().to_owned())
                .unwrap_or(level),
            evaluation_method: EvaluationMethod::parse(&method)
                .map(|m| m.label().to_owned())
                .unwrap_or(method),
            evaluation_body: text(&eval.body),
            evaluation_date: text(&eval.date),
            summary: text(&f.summary),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Values

/// An Excel date of a calendar date.
fn excel_date(d: Date) -> Result<ExcelDateTime, XlsxError> {
    ExcelDateTime::from_ymd(
        u16::try_from(d.year()).map_err(|_| XlsxError::DateTimeRangeError(d.to_string()))?,
        u8::from(d.month()),
        d.day(),
    )
}

/// An Excel date-time of an instant, in China time.
fn excel_datetime(t: OffsetDateTime) -> Result<ExcelDateTime, XlsxError> {
    let t = t.to_offset(CHINA);
    excel_date(t.date())?.and_hms(u16::from(t.hour()), t.minute(), t.second())
}

/// A `YYYY-MM-DD` text as a date.
pub fn parse_date(s: &str) -> Option<Date> {
    Date::parse(
        s.trim(),
        time::macros::format_description!("[year]-[month]-[day]"),
    )
    .ok()
}

/// `2026-11-28`.
pub fn date_text(d: Date) -> String {
    format!("{:04}-{:02}-{:02}", d.year(), u8::from(d.month()), d.day())
}

/// Whether Excel would take text starting like this for a formula or a number when typed.
fn looks_like_formula(s: &str) -> bool {
    s.starts_with(['=', '+', '-', '@', '\t', '\r'])
}

/// Excel's longest cell text, in UTF-16 units.
const MAX_CELL_TEXT: usize = 32_767;

/// Text shortened to what a cell holds.
fn cell_text(s: &str) -> std::borrow::Cow<'_, str> {
    if s.encode_utf16().count() <= MAX_CELL_TEXT {
        return s.into();
    }
    let mut units = 0;
    let end = s
        .char_indices()
        .find(|(_, c)| {
            units += c.len_utf16();
            units > MAX_CELL_TEXT - 1
        })
        .map(|(i, _)| i)
        .unwrap_or(s.len());
    format!("{}…", &s[..end]).into()
}

/// A text format and the same with the quote prefix.
struct TextFormat {
    plain: Format,
    quoted: Format,
}

impl TextFormat {
    fn new(f: Format) -> Self {
        TextFormat {
            quoted: f.clone().set_quote_prefix(),
            plain: f,
        }
    }

    fn for_value(&self, s: &str) -> &Format {
        if looks_like_formula(s) {
            &self.quoted
        } else {
            &self.plain
        }
    }
}

/// Writes people's text as a string cell, never as a formula or number.
fn put_text(
    ws: &mut Worksheet,
    row: RowNum,
    col: ColNum,
    s: &str,
    f: &TextFormat,
) -> Result<(), XlsxError> {
    let s = cell_text(s);
    ws.write_string_with_format(row, col, s.as_ref(), f.for_value(&s))?;
    Ok(())
}

fn put_date(
    ws: &mut Worksheet,
    row: RowNum,
    col: ColNum,
    d: Option<Date>,
    date: &Format,
) -> Result<(), XlsxError> {
    match d {
        Some(d) => ws.write_datetime_with_format(row, col, excel_date(d)?, date)?,
        None => ws.write_blank(row, col, date)?,
    };
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Layout of wrapped text

/// Width of a character in Excel's column units: East Asian wide characters take two.
fn char_width(c: char) -> usize {
    let u = c as u32;
    let wide = matches!(u,
        0x1100..=0x115F
        | 0x2E80..=0x303E
        | 0x3041..=0x33FF
        | 0x3400..=0x4DBF
        | 0x4E00..=0x9FFF
        | 0xA000..=0xA4CF
        | 0xAC00..=0xD7A3
        | 0xF900..=0xFAFF
        | 0xFE30..=0xFE4F
        | 0xFF00..=0xFF60
        | 0xFFE0..=0xFFE6
        | 0x20000..=0x3FFFD);
    if wide { 2 } else { 1 }
}

/// Lines `s` takes when wrapped at `capacity` column units.
pub fn wrapped_lines(s: &str, capacity: usize) -> usize {
    s.split('\n')
        .map(|para| {
            let w: usize = para.chars().map(char_width).sum();
            w.div_ceil(capacity.max(1)).max(1)
        })
        .sum()
}

/// Splits long text into pieces of at most `max_lines` wrapped lines each, at sentence ends
/// where possible, so each piece fits in one row (Excel rows are at most 409 points high).
pub fn split_text(s: &str, capacity: usize, max_lines: usize) -> Vec<String> {
    // Sentences, each keeping its final punctuation or line break.
    let mut sentences: Vec<String> = Vec::new();
    let mut cur = String::new();
    for c in s.chars() {
        cur.push(c);
        if matches!(c, '。' | '！' | '？' | '；' | '\n') {
            sentences.push(std::mem::take(&mut cur));
        }
    }
    if !cur.is_empty() {
        sentences.push(cur);
    }
    // A sentence too long for one piece is cut by width.
    let most = capacity * max_lines;
    let mut parts: Vec<String> = Vec::new();
    for sentence in sentences {
        let mut piece = String::new();
        let mut width = 0;
        for c in sentence.chars() {
            let w = char_width(c);
            if width + w > most {
                parts.push(std::mem::take(&mut piece));
                width = 0;
            }
            piece.push(c);
            width += w;
        }
        if !piece.is_empty() {
            parts.push(piece);
        }
    }
    let mut out: Vec<String> = Vec::new();
    let mut chunk = String::new();
    for part in parts {
        let joined = format!("{chunk}{part}");
        if !chunk.is_empty() && wrapped_lines(joined.trim_end(), capacity) > max_lines {
            out.push(chunk.trim_end().to_owned());
            chunk = part.trim_start_matches('\n').to_owned();
        } else {
            chunk = joined;
        }
    }
    if !chunk.trim().is_empty() || out.is_empty() {
        out.push(chunk.trim_end().to_owned());
    }
    out
}

// ---------------------------------------------------------------------------------------------
// The sheet of one record

/// Columns of the sheet of one record: label and value, in Excel width units.
const LABEL_WIDTH: f64 = 16.0;
const VALUE_WIDTH: f64 = 66.0;
/// Column units one line of the value column holds, with room for font differences.
const VALUE_CAPACITY: usize = 60;
/// Points per wrapped line and around the text.
const LINE_HEIGHT: f64 = 15.0;
const ROW_PADDING: f64 = 6.0;
/// Lines in one row at most (Excel's limit is 409 points).
const MAX_ROW_LINES: usize = 24;

fn row_height(lines: usize) -> f64 {
    (lines.max(1) as f64 * LINE_HEIGHT + ROW_PADDING).min(409.0)
}

/// The rows of label and value of one record, in order (values as text, dates as `Date`).
enum Value {
    Text(String),
    Date(Option<Date>),
    DateRange(Date, Date),
}

fn notice_rows(reg: &Registration, ctx: &ExportContext) -> Vec<(&'static str, Value)> {
    let p = PublicFields::of(reg, ctx);
    let mut rows = vec![("成果名称", Value::Text(p.title))];
    if !p.registration_number.is_empty() {
        rows.push(("成果登记号", Value::Text(p.registration_number)));
    }
    rows.extend([
        ("成果类型", Value::Text(p.kind)),
        ("登记对象", Value::Text(p.source)),
        ("批准登记单位", Value::Text(p.authority)),
        ("第一完成单位", Value::Text(p.first_unit)),
        ("完成单位", Value::Text(p.units)),
        ("完成人员", Value::Text(p.completers)),
        ("项目名称", Value::Text(p.project_name)),
        ("项目编号", Value::Text(p.project_number)),
        (
            if reg.project_id.is_some() {
                "计划类别"
            } else {
                "经费来源"
            },
            Value::Text(p.project_funding),
        ),
        ("关键词", Value::Text(p.keywords)),
        ("学科分类", Value::Text(p.discipline)),
        ("成果水平", Value::Text(p.level)),
        ("评价方式", Value::Text(p.evaluation_method)),
        ("评价机构", Value::Text(p.evaluation_body)),
        ("评价日期", Value::Text(p.evaluation_date)),
        ("成果简介", Value::Text(p.summary)),
    ]);
    let n: Option<&Notice> = reg.notice.as_ref();
    rows.push((
        "接收纸质材料日期",
        Value::Date(n.map(|n| n.paper_received_on)),
    ));
    match n {
        Some(n) => {
            rows.push(("单位公示期", Value::DateRange(n.unit_from, n.unit_to)));
            rows.push(("网站公示期", Value::DateRange(n.website_from, n.website_to)));
        }
        None => {
            rows.push(("单位公示期", Value::Text(String::new())));
            rows.push(("网站公示期", Value::Text(String::new())));
        }
    }
    rows
}

/// A new workbook, zipped at deflate level 3 (the level Excel itself writes) instead of the
/// library's 6: about 30% less time to pack a big export for a file about 5% larger.
fn workbook() -> Workbook {
    let mut wb = Workbook::new();
    wb.set_zip_compression_level(3);
    wb
}

/// The 科技成果登记信息表 of one record: a titled A4 sheet of labels and values with the notice
/// windows and where objections go, printable on one page wide.
pub fn notice_sheet(reg: &Registration, ctx: &ExportContext) -> Result<Vec<u8>, XlsxError> {
    let mut wb = workbook();
    let ws = wb.add_worksheet();
    ws.set_name("登记信息表")?;
    write_notice_sheet(ws, reg, ctx)?;
    wb.save_to_buffer()
}

fn write_notice_sheet(
    ws: &mut Worksheet,
    reg: &Registration,
    ctx: &ExportContext,
) -> Result<(), XlsxError> {
    let border = |f: Format| f.set_border(FormatBorder::Thin);
    let title_f = Format::new()
        .set_bold()
        .set_font_size(18)
        .set_align(FormatAlign::Center)
        .set_align(FormatAlign::VerticalCenter);
    let sub_f = Format::new()
        .set_font_size(10)
        .set_align(FormatAlign::Right)
        .set_align(FormatAlign::VerticalCenter);
    let label_f = border(
        Format::new()
            .set_bold()
            .set_align(FormatAlign::Center)
            .set_align(FormatAlign::VerticalCenter)
            .set_text_wrap()
            .set_background_color(0xF2F2F2),
    );
    let value_base = border(
        Format::new()
            .set_align(FormatAlign::Left)
            .set_align(FormatAlign::VerticalCenter)
            .set_text_wrap(),
    );
    let value_f = TextFormat::new(value_base.clone());
    // Text of several lines starts at the top of its cell.
    let long_f = TextFormat::new(value_base.clone().set_align(FormatAlign::Top));
    let date_f = value_base.clone().set_num_format("yyyy-mm-dd");
    let note_f = Format::new()
        .set_align(FormatAlign::Left)
        .set_align(FormatAlign::Top)
        .set_text_wrap()
        .set_font_size(10);

    ws.set_column_width(0, LABEL_WIDTH)?;
    ws.set_column_width(1, VALUE_WIDTH)?;
    ws.merge_range(0, 0, 0, 1, NOTICE_TITLE, &title_f)?;
    ws.set_row_height(0, 36)?;
    let generated = ctx
        .generated_at
        .map(|t| format!("导出日期：{}", date_text(t.to_offset(CHINA).date())))
        .unwrap_or_default();
    ws.merge_range(1, 0, 1, 1, &generated, &sub_f)?;
    ws.set_row_height(1, 18)?;

    let mut row: RowNum = 2;
    for (label, value) in notice_rows(reg, ctx) {
        match value {
            Value::Text(s) => {
                let pieces = split_text(&s, VALUE_CAPACITY, MAX_ROW_LINES);
                let first = row;
                for piece in &pieces {
                    let lines = wrapped_lines(piece, VALUE_CAPACITY);
                    let f = if lines > 1 { &long_f } else { &value_f };
                    put_text(ws, row, 1, piece, f)?;
                    ws.set_row_height(row, row_height(lines))?;
                    row += 1;
                }
                if row - first > 1 {
                    ws.merge_range(first, 0, row - 1, 0, label, &label_f)?;
                } else {
                    ws.write_string_with_format(first, 0, label, &label_f)?;
                }
            }
            Value::Date(d) => {
                ws.write_string_with_format(row, 0, label, &label_f)?;
                put_date(ws, row, 1, d, &date_f)?;
                ws.set_row_height(row, row_height(1))?;
                row += 1;
            }
            Value::DateRange(from, to) => {
                ws.write_string_with_format(row, 0, label, &label_f)?;
                let s = format!("{} 至 {}", date_text(from), date_text(to));
                put_text(ws, row, 1, &s, &value_f)?;
                ws.set_row_height(row, row_height(1))?;
                row += 1;
            }
        }
    }

    // Where objections go, across both columns.
    row += 1;
    let note = format!("异议：{}", ctx.objection_text(reg));
    ws.merge_range(row, 0, row, 1, &note, &note_f)?;
    let capacity = ((LABEL_WIDTH + VALUE_WIDTH) as usize).saturating_sub(8);
    ws.set_row_height(row, row_height(wrapped_lines(&note, capacity)))?;

    // Print: A4 portrait, one page wide, centred, nothing repeated.
    ws.set_paper_size(9);
    ws.set_portrait();
    ws.set_margins(0.6, 0.6, 0.7, 0.7, 0.3, 0.3);
    ws.set_print_center_horizontally(true);
    ws.set_print_fit_to_pages(1, 0);
    ws.set_print_area(0, 0, row, 1)?;
    ws.set_footer("&C第 &P 页，共 &N 页");
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// The batch of many records

/// What the cells of a table column hold, which decides the column's format.
#[derive(Clone, Copy)]
enum Holds {
    Text,
    Date,
    DateTime,
}

/// One column of a table export: header, width and what its cells hold.
struct Column {
    header: &'static str,
    width: f64,
    holds: Holds,
}

const fn col(header: &'static str, width: f64) -> Column {
    Column {
        header,
        width,
        holds: Holds::Text,
    }
}

const fn date_col(header: &'static str, width: f64) -> Column {
    Column {
        header,
        width,
        holds: Holds::Date,
    }
}

const fn datetime_col(header: &'static str, width: f64) -> Column {
    Column {
        header,
        width,
        holds: Holds::DateTime,
    }
}

/// The columns of the batch workbook, one row per record.
const BATCH_COLUMNS: &[Column] = &[
    col("成果登记号", 16.0),
    col("成果名称", 36.0),
    col("成果类型", 14.0),
    col("登记对象", 28.0),
    col("批准登记单位", 18.0),
    col("第一完成单位", 28.0),
    col("完成单位", 36.0),
    col("完成人员", 40.0),
    col("项目名称", 30.0),
    col("项目编号", 16.0),
    col("经费来源/计划类别", 22.0),
    col("关键词", 22.0),
    col("学科分类", 22.0),
    col("成果水平", 10.0),
    col("评价方式", 14.0),
    col("评价机构", 24.0),
    date_col("评价日期", 12.0),
    col("成果简介", 60.0),
    date_col("接收纸质材料日期", 16.0),
    date_col("单位公示开始", 13.0),
    date_col("单位公示结束", 13.0),
    date_col("网站公示开始", 13.0),
    date_col("网站公示结束", 13.0),
];

/// The column names of the batch workbook, in order.
pub fn batch_headers() -> Vec<&'static str> {
    BATCH_COLUMNS.iter().map(|c| c.header).collect()
}

/// The formats of a table export.
struct TableFormats {
    header: Format,
    text: TextFormat,
    date: Format,
    datetime: Format,
}

impl TableFormats {
    fn new() -> Self {
        TableFormats {
            header: Format::new()
                .set_bold()
                .set_align(FormatAlign::Center)
                .set_align(FormatAlign::VerticalCenter)
                .set_background_color(0xDDEBF7)
                .set_border(FormatBorder::Thin),
            text: TextFormat::new(Format::new().set_align(FormatAlign::VerticalCenter)),
            date: Format::new()
                .set_num_format("yyyy-mm-dd")
                .set_align(FormatAlign::Left),
            datetime: Format::new()
                .set_num_format("yyyy-mm-dd hh:mm")
                .set_align(FormatAlign::Left),
        }
    }
}

/// Writes the header row and the sheet settings of a table; returns the last column.
fn start_table(
    ws: &mut Worksheet,
    name: &str,
    columns: &[Column],
    f: &TableFormats,
) -> Result<ColNum, XlsxError> {
    ws.set_name(name)?;
    for (i, c) in columns.iter().enumerate() {
        let i = ColNum::try_from(i).map_err(|_| XlsxError::RowColumnLimitError)?;
        ws.set_column_width(i, c.width)?;
        let format = match c.holds {
            Holds::Text => &f.text.plain,
            Holds::Date => &f.date,
            Holds::DateTime => &f.datetime,
        };
        ws.set_column_format(i, format)?;
        ws.write_string_with_format(0, i, c.header, &f.header)?;
    }
    ws.set_row_height(0, 22)?;
    ws.set_freeze_panes(1, 0)?;
    // Printed on A4 landscape pages, the header repeated on each.
    ws.set_landscape();
    ws.set_paper_size(9);
    ws.set_repeat_rows(0, 0)?;
    Ok(ColNum::try_from(columns.len().saturating_sub(1)).unwrap_or(0))
}

/// Ends a table of `rows` data rows: the filter on the header.
fn end_table(ws: &mut Worksheet, rows: RowNum, last_col: ColNum) -> Result<(), XlsxError> {
    if rows > 0 {
        ws.autofilter(0, 0, rows, last_col)?;
    }
    Ok(())
}

// The data cells of a table carry no format of their own: each gets its column's (set by
// `start_table`), which spares hashing a format per cell. Only text that Excel would read as a
// formula gets its own, quote-prefixed, format.

/// Writes people's text in a table cell, as a string, never as a formula or number.
fn table_text(
    ws: &mut Worksheet,
    row: RowNum,
    col: ColNum,
    s: &str,
    f: &TextFormat,
) -> Result<(), XlsxError> {
    let s = cell_text(s);
    if looks_like_formula(&s) {
        ws.write_string_with_format(row, col, s.as_ref(), &f.quoted)?;
    } else {
        ws.write_string(row, col, s.as_ref())?;
    }
    Ok(())
}

/// Writes a date or date-time in a table cell of a date column; nothing when there is none.
fn table_date(
    ws: &mut Worksheet,
    row: RowNum,
    col: ColNum,
    d: Option<ExcelDateTime>,
) -> Result<(), XlsxError> {
    if let Some(d) = d {
        ws.write_number(row, col, d.to_excel())?;
    }
    Ok(())
}

/// Excel's last row index.
const MAX_ROW: u64 = 1_048_575;

fn next_row(row: RowNum) -> Result<RowNum, XlsxError> {
    if u64::from(row) >= MAX_ROW {
        return Err(XlsxError::RowColumnLimitError);
    }
    Ok(row + 1)
}

/// The 公示信息 of many records in one workbook: one row per record with the public fields as
/// columns (dates as dates), a frozen header, and a second sheet on objections. The records are
/// consumed one at a time and written in constant memory.
pub fn batch_workbook(
    records: impl Iterator<Item = Registration>,
    ctx: &ExportContext,
) -> Result<Vec<u8>, XlsxError> {
    let mut wb = workbook();
    let f = TableFormats::new();
    let authorities = {
        let ws = wb.add_worksheet_with_constant_memory()?;
        let last_col = start_table(ws, "公示信息", BATCH_COLUMNS, &f)?;
        let mut row: RowNum = 0;
        let mut authorities: Vec<String> = Vec::new();
        for reg in records {
            row = next_row(row)?;
            write_batch_row(ws, row, &reg, ctx, &f)?;
            let a = ctx.authority_name(&reg);
            if !authorities.contains(&a) && authorities.len() < 20 {
                authorities.push(a);
            }
        }
        end_table(ws, row, last_col)?;
        authorities
    };
    let notes = wb.add_worksheet();
    write_notes(notes, &authorities, ctx)?;
    wb.save_to_buffer()
}

fn write_batch_row(
    ws: &mut Worksheet,
    row: RowNum,
    reg: &Registration,
    ctx: &ExportContext,
    f: &TableFormats,
) -> Result<(), XlsxError> {
    let p = PublicFields::of(reg, ctx);
    let texts = [
        &p.registration_number,
        &p.title,
        &p.kind,
        &p.source,
        &p.authority,
        &p.first_unit,
        &p.units,
        &p.completers,
        &p.project_name,
        &p.project_number,
        &p.project_funding,
        &p.keywords,
        &p.discipline,
        &p.level,
        &p.evaluation_method,
        &p.evaluation_body,
    ];
    let mut c: ColNum = 0;
    for t in texts {
        table_text(ws, row, c, t, &f.text)?;
        c += 1;
    }
    // The evaluation date is a date when it reads as one, else its text as given.
    match parse_date(&p.evaluation_date).map(excel_date) {
        Some(d) => table_date(ws, row, c, Some(d?))?,
        None => table_text(ws, row, c, &p.evaluation_date, &f.text)?,
    }
    table_text(ws, row, c + 1, &p.summary, &f.text)?;
    let n = reg.notice.as_ref();
    let dates = n.map(|n| {
        [
            n.paper_received_on,
            n.unit_from,
            n.unit_to,
            n.website_from,
            n.website_to,
        ]
    });
    for (k, d) in dates.into_iter().flatten().enumerate() {
        let k = ColNum::try_from(k).map_err(|_| XlsxError::RowColumnLimitError)?;
        table_date(ws, row, c + 2 + k, Some(excel_date(d)?))?;
    }
    Ok(())
}

/// The sheet 「说明」 of the batch workbook: what it is and where objections go.
fn write_notes(
    ws: &mut Worksheet,
    authorities: &[String],
    ctx: &ExportContext,
) -> Result<(), XlsxError> {
    ws.set_name("说明")?;
    ws.set_column_width(0, 100)?;
    let title = Format::new().set_bold().set_font_size(14);
    let body = TextFormat::new(Format::new().set_text_wrap().set_align(FormatAlign::Top));
    ws.write_string_with_format(0, 0, NOTICE_TITLE, &title)?;
    ws.set_row_height(0, 24)?;
    let mut lines = vec![
        "本表列出所选科技成果登记的公示信息，每行一项成果；日期列为日期格式。".to_owned(),
        "单位公示期、网站公示期为起止日期（含首尾两日）。".to_owned(),
    ];
    let names = if authorities.is_empty() {
        "成果登记点".to_owned()
    } else {
        authorities.join("、")
    };
    let mut objection = format!(
        "异议：公示期内，任何单位或个人对公示内容有异议的，可以实名方式（写明姓名、工作单位、\
         联系电话、电子邮箱及异议内容）向成果登记点（{names}）提出；匿名或逾期提出的异议不予受理。"
    );
    objection.push_str(ctx.objection_contact.trim());
    lines.push(objection);
    if let Some(t) = ctx.generated_at {
        lines.push(format!(
            "导出日期：{}",
            date_text(t.to_offset(CHINA).date())
        ));
    }
    for (i, line) in lines.iter().enumerate() {
        let r = RowNum::try_from(i + 2).unwrap_or(2);
        put_text(ws, r, 0, line, &body)?;
        ws.set_row_height(r, row_height(wrapped_lines(line, 90)))?;
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// The staff list

const LIST_COLUMNS: &[Column] = &[
    col("编号", 38.0),
    col("成果名称", 36.0),
    col("成果类型", 14.0),
    col("登记对象", 28.0),
    col("状态", 14.0),
    col("待处理方", 12.0),
    col("第一完成单位", 28.0),
    col("成果登记号", 16.0),
    col("批复结果", 10.0),
    datetime_col("批复时间", 17.0),
    datetime_col("创建时间", 17.0),
    datetime_col("更新时间", 17.0),
];

/// The column names of the list workbook, in order.
pub fn list_headers() -> Vec<&'static str> {
    LIST_COLUMNS.iter().map(|c| c.header).collect()
}

/// The list of records as staff and leaders see it (状态, 待处理方, …), one row per record,
/// times as date-times in China time. The records are consumed one at a time.
pub fn list_workbook(records: impl Iterator<Item = Registration>) -> Result<Vec<u8>, XlsxError> {
    let mut wb = workbook();
    let f = TableFormats::new();
    let ws = wb.add_worksheet_with_constant_memory()?;
    let last_col = start_table(ws, "成果登记列表", LIST_COLUMNS, &f)?;
    let mut row: RowNum = 0;
    for reg in records {
        row = next_row(row)?;
        let texts = [
            reg.id.clone(),
            text(&reg.fields.title),
            reg.kind.map(|k| k.label().to_owned()).unwrap_or_default(),
            reg.source.label().to_owned(),
            reg.state.label().to_owned(),
            reg.state.waiting_for().to_owned(),
            reg.fields
                .first_unit()
                .map(|u| text(&u.name))
                .unwrap_or_default(),
            reg.registration_number.clone().unwrap_or_default(),
            reg.decision
                .as_ref()
                .map(|d| d.result.label().to_owned())
                .unwrap_or_default(),
        ];
        let mut c: ColNum = 0;
        for t in &texts {
            table_text(ws, row, c, t, &f.text)?;
            c += 1;
        }
        let times = [
            reg.decision.as_ref().map(|d| d.at),
            Some(reg.created_at),
            Some(reg.updated_at),
        ];
        for t in times {
            table_date(ws, row, c, t.map(excel_datetime).transpose()?)?;
            c += 1;
        }
    }
    end_table(ws, row, last_col)?;
    wb.save_to_buffer()
}

// ---------------------------------------------------------------------------------------------
// File names

/// A file name from people's text: no path or reserved characters, at most 60 characters.
pub fn safe_file_stem(s: &str) -> String {
    let cleaned: String = s
        .chars()
        .map(|c| {
            if c.is_control() || matches!(c, '/' | '\\' | ':' | '*' | '?' | '"' | '<' | '>' | '|') {
                '_'
            } else {
                c
            }
        })
        .collect();
    let cleaned = cleaned.trim().trim_matches('.').trim();
    cleaned.chars().take(60).collect()
}

/// `Content-Disposition` of an attachment named `name` (UTF-8, RFC 6266/5987), with a plain
/// ASCII fallback for old clients.
pub fn content_disposition(name: &str, fallback: &str) -> String {
    let mut encoded = String::new();
    for b in name.as_bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            encoded.push(char::from(*b));
        } else {
            encoded.push_str(&format!("%{b:02X}"));
        }
    }
    format!("attachment; filename=\"{fallback}\"; filename*=UTF-8''{encoded}")
}

/// The file name of the sheet of one record: 科技成果登记信息表-<number or title>.xlsx.
pub fn notice_file_name(reg: &Registration) -> String {
    let by = reg
        .registration_number
        .clone()
        .filter(|n| !n.trim().is_empty())
        .or_else(|| reg.fields.title.clone())
        .map(|s| safe_file_stem(&s))
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| reg.id.clone());
    format!("{NOTICE_TITLE}-{by}.xlsx")
}

#[cfg(test)]
mod tests {
    use super::*;
    use calamine::{Data, Reader, Xlsx};
    use chengguo_domain::codes::{Kind, Source, State};
    use chengguo_domain::fields::{
        Completer, Contact, Discipline, Evaluation, Fields, ProjectInfo, UnitEntry,
    };
    use std::io::Cursor;
    use time::macros::{date, datetime};

    fn record(title: &str) -> Registration {
        Registration {
            id: "r-1".into(),
            kind: Some(Kind::Applied),
            consent: true,
            source: Source::OtherFiscal,
            state: State::DecisionPending,
            version: 7,
            owner_id: "u-leader".into(),
            unit_id: "unit-1".into(),
            department_id: None,
            authority_id: "a-442".into(),
            project_id: None,
            fields: Fields {
                title: Some(title.into()),
                project: Some(ProjectInfo {
                    name: Some("智能制造关键技术研究".into()),
                    number: Some("ZS2024-018".into()),
                    funding: Some("中山市财政科技经费".into()),
                }),
                units: vec![
                    UnitEntry {
                        name: Some("中山市示范科技有限公司".into()),
                        uscc: Some("91442000MA4UJ8K30D".into()),
                    },
                    UnitEntry {
                        name: Some("中山大学".into()),
                        uscc: None,
                    },
                ],
                completers: vec![
                    Completer {
                        name: Some("张三".into()),
                        work_unit: Some("中山市示范科技有限公司".into()),
                        ..Completer::default()
                    },
                    Completer {
                        name: Some("李四".into()),
                        ..Completer::default()
                    },
                ],
                keywords: vec!["伺服".into(), "驱动".into()],
                discipline: Some(Discipline {
                    code: Some("460".into()),
                    name: Some("电子与通信技术".into()),
                }),
                summary: Some("本成果研究高精度伺服驱动。".repeat(200)),
                level: Some("domestic_leading".into()),
                evaluation: Some(Evaluation {
                    method: Some("appraisal".into()),
                    body: Some("广东省科技评价中心".into()),
                    date: Some("2026-06-30".into()),
                }),
                contact: Some(Contact {
                    name: Some("王五".into()),
                    mobile: Some("13800138000".into()),
                    email: Some("wangwu@example.com".into()),
                }),
                ..Fields::default()
            },
            registration_number: None,
            decision: None,
            notice: Some(Notice::open(date!(2026 - 11 - 28), 7, 30)),
            return_opinion: None,
            submitted_at: None,
            event_count: 9,
            created_at: datetime!(2026-11-01 02:00 UTC),
            updated_at: datetime!(2026-11-28 02:00 UTC),
        }
    }

    fn ctx() -> ExportContext {
        ExportContext {
            authorities: HashMap::from([("a-442".into(), "中山市科学技术局".into())]),
            projects: HashMap::new(),
            objection_contact: "联系电话：0760-12345678。".into(),
            generated_at: Some(datetime!(2026-11-28 02:00 UTC)),
        }
    }

    fn open(bytes: Vec<u8>) -> Xlsx<Cursor<Vec<u8>>> {
        Xlsx::new(Cursor::new(bytes)).expect("a valid xlsx")
    }

    fn all_text(range: &calamine::Range<Data>) -> String {
        range
            .rows()
            .flat_map(|r| r.iter().map(|c| c.to_string()))
            .collect::<Vec<_>>()
            .join("\n")
    }

    #[test]
    fn public_fields_use_labels_and_never_the_contact() {
        let p = PublicFields::of(&record("高精度伺服驱动"), &ctx());
        assert_eq!(p.kind, "应用技术成果");
        assert_eq!(p.source, "其他财政投入产生的科技成果");
        assert_eq!(p.level, "国内领先");
        assert_eq!(p.evaluation_method, "鉴定");
        assert_eq!(p.units, "中山市示范科技有限公司、中山大学");
        assert_eq!(p.completers, "张三（中山市示范科技有限公司）、李四");
        assert_eq!(p.discipline, "电子与通信技术（460）");
        assert_eq!(p.authority, "中山市科学技术局");
        let all = format!("{p:?}");
        assert!(!all.contains("13800138000") && !all.contains("wangwu@example.com"));
    }

    #[test]
    fn in_system_projects_come_from_the_context() {
        let mut reg = record("x");
        reg.project_id = Some("p-1".into());
        reg.fields.project = None;
        let mut c = ctx();
        c.projects.insert(
            "p-1".into(),
            Project {
                id: "p-1".into(),
                number: "2024B0101001".into(),
                name: "新型储能材料关键技术研究".into(),
                plan: "广东省重点领域研发计划".into(),
                leader_username: "leader".into(),
                unit_id: "unit-1".into(),
                acceptance: chengguo_domain::project::AcceptanceStatus::Passed,
                acceptance_opinion: None,
                registration_id: Some("r-1".into()),
                version: 3,
                created_at: datetime!(2026-01-01 0:00 UTC),
                updated_at: datetime!(2026-01-01 0:00 UTC),
            },
        );
        let p = PublicFields::of(&reg, &c);
        assert_eq!(p.project_number, "2024B0101001");
        assert_eq!(p.project_funding, "广东省重点领域研发计划");
    }

    #[test]
    fn notice_sheet_has_the_title_fields_and_dates() {
        let bytes = notice_sheet(&record("高精度伺服驱动控制技术"), &ctx()).unwrap();
        let mut wb = open(bytes);
        let range = wb.worksheet_range_at(0).unwrap().unwrap();
        assert_eq!(
            range.get_value((0, 0)),
            Some(&Data::String(NOTICE_TITLE.into()))
        );
        let text = all_text(&range);
        for want in [
            "成果名称",
            "高精度伺服驱动控制技术",
            "国内领先",
            "2026-11-28 至 2026-12-04",
            "2026-11-28 至 2026-12-27",
            "中山市科学技术局",
            "0760-12345678",
        ] {
            assert!(text.contains(want), "missing {want}");
        }
        assert!(!text.contains("13800138000") && !text.contains("wangwu"));
        // The paper date is a real date.
        let dates = range
            .used_cells()
            .filter(|(_, _, c)| matches!(c, Data::DateTime(_)))
            .count();
        assert_eq!(dates, 1);
    }

    #[test]
    fn long_summaries_are_split_into_rows_that_fit() {
        let s = "本成果研究高精度伺服驱动。".repeat(200);
        let parts = split_text(&s, VALUE_CAPACITY, MAX_ROW_LINES);
        assert!(parts.len() > 1);
        assert_eq!(parts.concat(), s);
        for p in &parts {
            assert!(wrapped_lines(p, VALUE_CAPACITY) <= MAX_ROW_LINES);
        }
        assert_eq!(split_text("短", 10, 3), vec!["短".to_owned()]);
        assert_eq!(split_text("", 10, 3), vec![String::new()]);
        // One unbroken sentence longer than a row.
        let long = "字".repeat(2000);
        let parts = split_text(&long, VALUE_CAPACITY, MAX_ROW_LINES);
        assert_eq!(parts.concat(), long);
        assert!(
            parts
                .iter()
                .all(|p| wrapped_lines(p, VALUE_CAPACITY) <= MAX_ROW_LINES)
        );
    }

    #[test]
    fn formula_looking_text_stays_text() {
        let evil = ["=HYPERLINK(\"http://evil\",\"x\")", "+1", "-2", "@SUM(A1)"];
        let regs = evil.iter().map(|t| record(t)).collect::<Vec<_>>();
        let bytes = batch_workbook(regs.clone().into_iter(), &ctx()).unwrap();
        let mut wb = open(bytes);
        let range = wb.worksheet_range("公示信息").unwrap();
        for (i, t) in evil.iter().enumerate() {
            assert_eq!(
                range.get_value((i as u32 + 1, 1)),
                Some(&Data::String((*t).into()))
            );
        }
        let formulas = wb.worksheet_formula("公示信息").unwrap();
        assert!(formulas.used_cells().all(|(_, _, f)| f.is_empty()));

        let bytes = notice_sheet(&regs[0], &ctx()).unwrap();
        let mut wb = open(bytes);
        let range = wb.worksheet_range_at(0).unwrap().unwrap();
        assert_eq!(range.get_value((2, 1)), Some(&Data::String(evil[0].into())));
        let formulas = wb.worksheet_formula("登记信息表").unwrap();
        assert!(formulas.used_cells().all(|(_, _, f)| f.is_empty()));
    }

    #[test]
    fn batch_has_a_header_and_one_row_per_record_with_real_dates() {
        let regs = (0..3).map(|i| record(&format!("成果{i}")));
        let bytes = batch_workbook(regs, &ctx()).unwrap();
        let mut wb = open(bytes);
        assert_eq!(wb.sheet_names(), vec!["公示信息", "说明"]);
        let range = wb.worksheet_range("公示信息").unwrap();
        assert_eq!(range.height(), 4);
        let header: Vec<String> = range
            .rows()
            .next()
            .unwrap()
            .iter()
            .map(|c| c.to_string())
            .collect();
        assert_eq!(header, batch_headers());
        let col = |h: &str| batch_headers().iter().position(|x| *x == h).unwrap() as u32;
        for r in 1..=3 {
            for h in ["评价日期", "接收纸质材料日期", "网站公示结束"] {
                assert!(
                    matches!(range.get_value((r, col(h))), Some(Data::DateTime(_))),
                    "{h} of row {r}"
                );
            }
        }
        let Some(Data::DateTime(d)) = range.get_value((1, col("网站公示结束"))) else {
            unreachable!()
        };
        let (y, m, day, ..) = d.to_ymd_hms_milli();
        assert_eq!((y, m, day), (2026, 12, 27));
        assert_eq!(
            range.get_value((2, col("成果名称"))),
            Some(&Data::String("成果1".into()))
        );
        let text = all_text(&range);
        assert!(!text.contains("13800138000"));
    }

    #[test]
    fn list_has_state_labels_and_date_times() {
        let bytes = list_workbook([record("甲")].into_iter()).unwrap();
        let mut wb = open(bytes);
        let range = wb.worksheet_range_at(0).unwrap().unwrap();
        assert_eq!(range.height(), 2);
        assert_eq!(
            range.get_value((1, 4)),
            Some(&Data::String("待批复".into()))
        );
        assert_eq!(
            range.get_value((1, 5)),
            Some(&Data::String("成果登记点".into()))
        );
        let Some(Data::DateTime(t)) = range.get_value((1, 10)) else {
            panic!("created_at is a date-time")
        };
        // 2026-11-01 02:00 UTC is 10:00 in China.
        assert_eq!(t.to_ymd_hms_milli(), (2026, 11, 1, 10, 0, 0, 0));
    }

    #[test]
    fn empty_batches_still_make_a_workbook() {
        let bytes = batch_workbook(std::iter::empty(), &ctx()).unwrap();
        let mut wb = open(bytes);
        let range = wb.worksheet_range("公示信息").unwrap();
        assert_eq!(range.height(), 1);
    }

    #[test]
    fn file_names_are_percent_encoded() {
        let mut reg = record("a/b:c");
        assert_eq!(notice_file_name(&reg), "科技成果登记信息表-a_b_c.xlsx");
        reg.registration_number = Some("4422026Y0001".into());
        assert_eq!(
            notice_file_name(&reg),
            "科技成果登记信息表-4422026Y0001.xlsx"
        );
        let d = content_disposition("表 1.xlsx", "export.xlsx");
        assert_eq!(
            d,
            "attachment; filename=\"export.xlsx\"; filename*=UTF-8''%E8%A1%A8%201.xlsx"
        );
    }
}
