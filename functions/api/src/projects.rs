//! In-system projects: import from a table of rows, and acceptance changes with their effects
//! on the project's registration.

use chengguo_domain::codes::Source;
use chengguo_domain::org::User;
use chengguo_domain::ports::{ProjectWrite, RegistrationWrite, StoreError, WriteSet};
use chengguo_domain::project::{AcceptanceStatus, Project};
use chengguo_domain::workflow;
use chengguo_domain::{DomainError, Role};
use serde::Serialize;

use crate::error::{ApiError, ApiResult};
use crate::service;
use crate::state::AppState;

/// The Chinese header names of an import file, in order, with accepted alternatives.
pub const COLUMNS: &[(&str, &[&str])] = &[
    ("number", &["项目编号"]),
    ("name", &["项目名称"]),
    ("plan", &["计划类别", "计划名称"]),
    ("leader", &["项目负责人账号", "负责人账号"]),
    (
        "unit",
        &["承担单位", "承担单位名称", "承担单位统一社会信用代码"],
    ),
];

/// One data row of an import file, by column.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ImportRow {
    /// 1-based row number in the file, the header being row 1.
    pub row: usize,
    pub number: String,
    pub name: String,
    pub plan: String,
    pub leader: String,
    pub unit: String,
}

/// A refused row and why.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RowProblem {
    pub row: usize,
    pub reason: String,
}

/// What an import did.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ImportReport {
    pub created: Vec<String>,
    pub updated: Vec<String>,
    pub unchanged: Vec<String>,
    pub refused: Vec<RowProblem>,
}

/// Maps a header row to column positions, or says which column is missing.
pub fn header_positions(header: &[String]) -> Result<[usize; 5], String> {
    let mut pos = [0usize; 5];
    for (i, (_, names)) in COLUMNS.iter().enumerate() {
        pos[i] = header
            .iter()
            .position(|h| names.contains(&h.trim().trim_start_matches('\u{feff}')))
            .ok_or_else(|| format!("缺少“{}”列。", names[0]))?;
    }
    Ok(pos)
}

/// Reads the rows of a CSV file (UTF-8, header row in Chinese).
pub fn parse_csv(bytes: &[u8]) -> Result<Vec<ImportRow>, String> {
    let text = std::str::from_utf8(bytes).map_err(|_| "文件不是 UTF-8 编码的 CSV。".to_owned())?;
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(text.as_bytes());
    let mut records = reader.records();
    let header: Vec<String> = match records.next() {
        Some(Ok(h)) => h.iter().map(str::to_owned).collect(),
        Some(Err(e)) => return Err(format!("无法读取表头：{e}")),
        None => return Err("文件为空。".into()),
    };
    let pos = header_positions(&header)?;
    let mut rows = Vec::new();
    for (i, rec) in records.enumerate() {
        let rec = rec.map_err(|e| format!("第 {} 行无法读取：{e}", i + 2))?;
        if rec.iter().all(|c| c.trim().is_empty()) {
            continue;
        }
        let cell = |p: usize| rec.get(p).unwrap_or("").trim().to_owned();
        rows.push(ImportRow {
            row: i + 2,
            number: cell(pos[0]),
            name: cell(pos[1]),
            plan: cell(pos[2]),
            leader: cell(pos[3]),
            unit: cell(pos[4]),
        });
    }
    Ok(rows)
}

/// The formats an import file may come in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImportFormat {
    /// UTF-8 CSV with the Chinese header row.
    Csv,
    /// An xlsx workbook whose first worksheet has the Chinese header row.
    Xlsx,
}

/// The media type of an xlsx workbook.
pub const XLSX_MEDIA_TYPE: &str =
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";

/// The first bytes of a zip archive, which every xlsx workbook is.
const ZIP_MAGIC: &[u8] = b"PK\x03\x04";
/// The first bytes of an old binary Excel file (.xls).
const XLS_MAGIC: &[u8] = &[0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1];

const OLD_XLS: &str =
    "不支持旧版 Excel 文件（.xls），请另存为 .xlsx 或 UTF-8 编码的 CSV 后再导入。";

impl ImportFormat {
    /// The format of an uploaded body: a zip archive is xlsx whatever its `Content-Type`;
    /// otherwise the xlsx media type means xlsx, `text/csv` or none means CSV, and anything
    /// else is refused.
    pub fn detect(content_type: Option<&str>, bytes: &[u8]) -> Result<ImportFormat, String> {
        if bytes.starts_with(ZIP_MAGIC) {
            return Ok(ImportFormat::Xlsx);
        }
        let media = content_type
            .map(|v| {
                v.split(';')
                    .next()
                    .unwrap_or("")
                    .trim()
                    .to_ascii_lowercase()
            })
            .filter(|v| !v.is_empty());
        match media.as_deref() {
            Some(XLSX_MEDIA_TYPE) => Ok(ImportFormat::Xlsx),
            None | Some("text/csv") => Ok(ImportFormat::Csv),
            Some(other) => Err(format!(
                "不支持的文件类型“{other}”：请上传 xlsx 工作簿（Content-Type: {XLSX_MEDIA_TYPE}）\
                 或 UTF-8 编码的 CSV 文件（Content-Type: text/csv）。"
            )),
        }
    }

    /// The format of a file by its extension (`.xlsx`, `.csv`); by its first bytes otherwise.
    pub fn of_path(path: &std::path::Path, bytes: &[u8]) -> Result<ImportFormat, String> {
        let ext = path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase);
        match ext.as_deref() {
            Some("xlsx" | "xlsm") => Ok(ImportFormat::Xlsx),
            Some("csv") => Ok(ImportFormat::Csv),
            Some("xls") => Err(OLD_XLS.to_owned()),
            _ if bytes.starts_with(ZIP_MAGIC) => Ok(ImportFormat::Xlsx),
            _ => Ok(ImportFormat::Csv),
        }
    }
}

/// Reads the rows of an import file in `format`.
pub fn parse_file(bytes: &[u8], format: ImportFormat) -> Result<Vec<ImportRow>, String> {
    if bytes.starts_with(XLS_MAGIC) {
        return Err(OLD_XLS.to_owned());
    }
    match format {
        ImportFormat::Csv => parse_csv(bytes),
        ImportFormat::Xlsx => parse_xlsx(bytes),
    }
}

/// The text of a cell as the import reads it: numbers without a trailing `.0`, dates as
/// `YYYY-MM-DD`, surrounding spaces trimmed.
pub fn xlsx_cell_text(cell: &calamine::Data) -> String {
    use calamine::Data;
    match cell {
        Data::Empty => String::new(),
        Data::String(s) | Data::DateTimeIso(s) | Data::DurationIso(s) => s.trim().to_owned(),
        Data::Int(i) => i.to_string(),
        Data::Float(f) => {
            if f.fract() == 0.0 && f.abs() < 1e15 {
                format!("{}", *f as i64)
            } else {
                format!("{f}")
            }
        }
        Data::Bool(b) => if *b { "TRUE" } else { "FALSE" }.to_owned(),
        Data::DateTime(d) => {
            let (y, m, day, h, min, s, _) = d.to_ymd_hms_milli();
            if (h, min, s) == (0, 0, 0) {
                format!("{y:04}-{m:02}-{day:02}")
            } else {
                format!("{y:04}-{m:02}-{day:02} {h:02}:{min:02}:{s:02}")
            }
        }
        Data::Error(e) => e.to_string(),
    }
}

/// Rows searched for the header row (a title may stand above it).
const HEADER_SEARCH_ROWS: usize = 10;

/// Reads the rows of an xlsx workbook: the first worksheet, with the same Chinese header row
/// as the CSV (possibly below a title). Empty rows are skipped; row numbers are those Excel
/// shows, so with the header in the first row it is row 1, as in a CSV file.
pub fn parse_xlsx(bytes: &[u8]) -> Result<Vec<ImportRow>, String> {
    // calamine panics on some malformed sheets (an arithmetic overflow on a cell reference of
    // many letters, found by fuzzing): such a file is refused like any other unreadable one
    // instead of failing the request.
    std::panic::catch_unwind(|| read_xlsx(bytes)).unwrap_or_else(|_| {
        tracing::debug!("xlsx reader panicked on an import");
        Err(UNREADABLE_XLSX.to_owned())
    })
}

/// The answer to a file that is no readable xlsx workbook.
const UNREADABLE_XLSX: &str =
    "文件不是有效的 xlsx 工作簿，请用 Excel 或 WPS 另存为 .xlsx 后再导入。";

fn read_xlsx(bytes: &[u8]) -> Result<Vec<ImportRow>, String> {
    use calamine::Reader;
    let mut book = calamine::Xlsx::new(std::io::Cursor::new(bytes)).map_err(|e| {
        tracing::debug!(error = %e, "unreadable xlsx import");
        UNREADABLE_XLSX.to_owned()
    })?;
    let range = match book.worksheet_range_at(0) {
        None => return Err("工作簿中没有工作表。".into()),
        Some(Err(e)) => {
            tracing::debug!(error = %e, "unreadable first worksheet");
            return Err("无法读取工作簿的第一个工作表。".into());
        }
        Some(Ok(r)) => r,
    };
    let first_row = range.start().map(|(r, _)| r as usize).unwrap_or(0);
    let texts = |cells: &[calamine::Data]| cells.iter().map(xlsx_cell_text).collect::<Vec<_>>();
    let mut rows = range.rows().enumerate();
    // The header: the first row, among the first few non-empty ones, naming every column.
    let mut first_error = None;
    let mut pos = None;
    for (i, cells) in rows.by_ref() {
        let header = texts(cells);
        if header.iter().all(|c| c.is_empty()) {
            continue;
        }
        match header_positions(&header) {
            Ok(p) => {
                pos = Some(p);
                break;
            }
            Err(e) => {
                first_error.get_or_insert(e);
                if i + 1 >= HEADER_SEARCH_ROWS {
                    break;
                }
            }
        }
    }
    let Some(pos) = pos else {
        return Err(first_error.unwrap_or_else(|| "文件为空。".into()));
    };
    let mut out = Vec::new();
    for (i, cells) in rows {
        let values = texts(cells);
        if values.iter().all(|c| c.is_empty()) {
            continue;
        }
        let cell = |p: usize| values.get(p).cloned().unwrap_or_default();
        out.push(ImportRow {
            row: first_row + i + 1,
            number: cell(pos[0]),
            name: cell(pos[1]),
            plan: cell(pos[2]),
            leader: cell(pos[3]),
            unit: cell(pos[4]),
        });
    }
    Ok(out)
}

/// Imports rows: creates new projects, updates changed names and plans, refuses bad rows.
/// Importing the same rows again changes nothing.
pub async fn import(state: &AppState, rows: &[ImportRow]) -> ApiResult<ImportReport> {
    let mut report = ImportReport::default();
    let units = state.store.list_units().await?;
    let mut seen = std::collections::HashSet::new();
    for r in rows {
        let refuse = |reason: String| RowProblem { row: r.row, reason };
        let problem = if r.number.is_empty() || r.number.chars().count() > 50 {
            Some("项目编号不能为空，且不超过50个字符。".to_owned())
        } else if r.name.is_empty() || r.name.chars().count() > 100 {
            Some("项目名称不能为空，且不超过100个字。".to_owned())
        } else if r.plan.is_empty() || r.plan.chars().count() > 100 {
            Some("计划类别不能为空，且不超过100个字。".to_owned())
        } else if !seen.insert(r.number.clone()) {
            Some(format!("项目编号 {} 在文件中重复。", r.number))
        } else {
            None
        };
        if let Some(p) = problem {
            report.refused.push(refuse(p));
            continue;
        }
        let Some(unit) = units.iter().find(|u| u.name == r.unit || u.uscc == r.unit) else {
            report
                .refused
                .push(refuse(format!("承担单位“{}”不存在。", r.unit)));
            continue;
        };
        let leader = state.store.find_user(&r.leader).await?;
        match leader {
            Some(u) if u.role == Role::Leader && u.unit_id.as_deref() == Some(unit.id.as_str()) => {
            }
            Some(_) => {
                report.refused.push(refuse(format!(
                    "账号“{}”不是承担单位“{}”的项目负责人。",
                    r.leader, unit.name
                )));
                continue;
            }
            None => {
                report
                    .refused
                    .push(refuse(format!("项目负责人账号“{}”不存在。", r.leader)));
                continue;
            }
        }
        let now = state.clock.now();
        match state.store.find_project(&r.number).await? {
            Some(p)
                if p.name == r.name
                    && p.plan == r.plan
                    && p.leader_username == r.leader
                    && p.unit_id == unit.id =>
            {
                report.unchanged.push(r.number.clone());
            }
            Some(p) => {
                if p.acceptance != AcceptanceStatus::Pending
                    && (p.leader_username != r.leader || p.unit_id != unit.id)
                {
                    report.refused.push(refuse(
                        "项目已进入验收流程，不能更改项目负责人或承担单位。".into(),
                    ));
                    continue;
                }
                let mut next = p.clone();
                next.name = r.name.clone();
                next.plan = r.plan.clone();
                next.leader_username = r.leader.clone();
                next.unit_id = unit.id.clone();
                next.version += 1;
                next.updated_at = now;
                state
                    .store
                    .commit(WriteSet {
                        project: Some(ProjectWrite {
                            record: next,
                            expected_version: Some(p.version),
                        }),
                        ..WriteSet::default()
                    })
                    .await?;
                report.updated.push(r.number.clone());
            }
            None => {
                let project = Project {
                    id: uuid::Uuid::new_v4().to_string(),
                    number: r.number.clone(),
                    name: r.name.clone(),
                    plan: r.plan.clone(),
                    leader_username: r.leader.clone(),
                    unit_id: unit.id.clone(),
                    acceptance: AcceptanceStatus::Pending,
                    acceptance_opinion: None,
                    registration_id: None,
                    version: 1,
                    created_at: now,
                    updated_at: now,
                };
                match state
                    .store
                    .commit(WriteSet {
                        project: Some(ProjectWrite {
                            record: project,
                            expected_version: None,
                        }),
                        ..WriteSet::default()
                    })
                    .await
                {
                    Ok(()) => report.created.push(r.number.clone()),
                    Err(StoreError::AlreadyExists(_)) | Err(StoreError::Conflict) => {
                        report.unchanged.push(r.number.clone())
                    }
                    Err(e) => return Err(e.into()),
                }
            }
        }
    }
    Ok(report)
}

/// Whether `user` may see project `p`.
pub fn can_see(user: &User, p: &Project) -> bool {
    match user.role {
        Role::Admin | Role::Office | Role::Point => true,
        Role::Unit => user.unit_id.as_deref() == Some(p.unit_id.as_str()),
        Role::Supervisor => user.supervised_unit_ids.contains(&p.unit_id),
        Role::Leader => p.leader_username == user.username,
        Role::Department => false,
    }
}

/// Records an acceptance change (业务处室) with its effects, atomically:
/// - `review_completed` creates the registration draft for the project's leader;
/// - `doc_submitted` is refused until that registration has been submitted;
/// - `failed` returns the registration if it is submitted and not yet decided.
pub async fn record_acceptance(
    state: &AppState,
    user: &User,
    id: &str,
    to: AcceptanceStatus,
    opinion: Option<String>,
) -> ApiResult<Project> {
    if !matches!(user.role, Role::Office | Role::Admin) {
        return Err(ApiError::forbidden("只有业务处室可以记录项目验收结果。"));
    }
    // A concurrent change of the registration makes the guarded write fail; read again and
    // retry a few times, since the effect must follow the acceptance outcome.
    for _ in 0..5 {
        let p = state
            .store
            .get_project(id)
            .await?
            .ok_or_else(ApiError::not_found)?;
        p.check_move(to)?;
        let now = state.clock.now();
        let mut next = p.clone();
        next.acceptance = to;
        next.acceptance_opinion = opinion.clone();
        next.version += 1;
        next.updated_at = now;
        let mut regs = Vec::new();
        let mut mails = Vec::new();
        match to {
            AcceptanceStatus::ReviewCompleted => {
                let leader = state
                    .store
                    .find_user(&p.leader_username)
                    .await?
                    .ok_or_else(|| {
                        ApiError::invalid("leader", "项目负责人账号不存在，无法生成成果登记。")
                    })?;
                let unit = state.store.get_unit(&p.unit_id).await?;
                let authority = service::authorities(state)
                    .await?
                    .into_iter()
                    .next()
                    .ok_or_else(|| ApiError::internal("no authority configured"))?;
                let (mut reg, mut event) = service::new_draft(
                    uuid::Uuid::new_v4().to_string(),
                    &leader,
                    unit.as_ref(),
                    &authority.id,
                    Source::ProvincialPlan,
                    None,
                    now,
                );
                reg.project_id = Some(p.id.clone());
                reg.fields.title = Some(p.name.clone());
                event.actor = "system".into();
                event.role = None;
                event.opinion = Some(format!(
                    "项目“{}”已完成验收评审，系统自动生成成果登记。",
                    p.name
                ));
                next.registration_id = Some(reg.id.clone());
                regs.push(RegistrationWrite {
                    record: reg,
                    expected_version: None,
                    event: Some(event),
                });
            }
            AcceptanceStatus::DocSubmitted => {
                let submitted = match &p.registration_id {
                    Some(rid) => state
                        .store
                        .get_registration(rid)
                        .await?
                        .is_some_and(|r| r.submitted_at.is_some()),
                    None => false,
                };
                if !submitted {
                    return Err(DomainError::invalid(
                        "status",
                        "须先提交成果登记表，才可以提交项目验收书。",
                    )
                    .into());
                }
            }
            AcceptanceStatus::Failed => {
                for reg in state.store.registrations_of_project(&p.id).await? {
                    if let Some((r, e)) = workflow::return_for_failed_acceptance(&reg, &p, now) {
                        mails.extend(crate::notify::mail_for(state, &r, &e).await?);
                        regs.push(RegistrationWrite {
                            record: r,
                            expected_version: Some(reg.version),
                            event: Some(e),
                        });
                    }
                }
            }
            AcceptanceStatus::Passed | AcceptanceStatus::Pending => {}
        }
        let write = WriteSet {
            registrations: regs,
            project: Some(ProjectWrite {
                record: next.clone(),
                expected_version: Some(p.version),
            }),
            mails: mails.clone(),
            ..WriteSet::default()
        };
        match state.store.commit(write).await {
            Ok(()) => {
                crate::notify::after_commit(state, mails).await;
                return Ok(next);
            }
            Err(StoreError::Conflict) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(DomainError::StaleVersion.into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_xlsxwriter::Workbook;

    /// A workbook whose first sheet has `rows` (numbers where a cell parses as one), starting
    /// at `first_row` (0-based).
    fn xlsx(first_row: u32, rows: &[&[&str]]) -> Vec<u8> {
        let mut wb = Workbook::new();
        let ws = wb.add_worksheet();
        for (r, cells) in rows.iter().enumerate() {
            for (c, v) in cells.iter().enumerate() {
                let (r, c) = (first_row + r as u32, c as u16);
                match v.parse::<f64>() {
                    Ok(n) => ws.write_number(r, c, n).map(|_| ()),
                    Err(_) => ws.write_string(r, c, *v).map(|_| ()),
                }
                .unwrap();
            }
        }
        wb.add_worksheet()
            .write_string(0, 0, "second sheet")
            .unwrap();
        wb.save_to_buffer().unwrap()
    }

    #[test]
    fn a_cell_reference_overflowing_the_column_number_is_refused_not_a_panic() {
        // Found by the `import` fuzz target: calamine computes the column of
        // `ZZZZZZZZZZZZZZZZ1` with an overflowing multiplication.
        let bytes = include_bytes!("../../../tests/fixtures/import-cell-reference-overflow.xlsx");
        assert_eq!(parse_xlsx(bytes), Err(UNREADABLE_XLSX.to_owned()));
        assert_eq!(
            parse_file(bytes, ImportFormat::detect(None, bytes).unwrap()),
            Err(UNREADABLE_XLSX.to_owned())
        );
    }

    const HEADER: &[&str] = &[
        "项目编号",
        "项目名称",
        "计划类别",
        "项目负责人账号",
        "承担单位",
    ];

    #[test]
    fn reads_the_first_sheet_like_a_csv() {
        let bytes = xlsx(
            0,
            &[
                HEADER,
                &[
                    "2024B0101001",
                    "新型储能材料",
                    "重点领域研发计划",
                    "leader",
                    "示范科技",
                ],
                &["", "", "", "", ""],
                &[
                    "20240101",
                    "整数编号",
                    "计划",
                    "leader",
                    "91442000MA4UJ8K30D",
                ],
                &["1.5", "小数", "计划", "leader", "单位"],
            ],
        );
        let rows = parse_xlsx(&bytes).unwrap();
        assert_eq!(rows.len(), 3);
        assert_eq!(rows[0].row, 2);
        assert_eq!(rows[0].name, "新型储能材料");
        assert_eq!(
            rows[1].row, 4,
            "the empty row 3 is skipped, numbering is kept"
        );
        assert_eq!(rows[1].number, "20240101");
        assert_eq!(rows[2].number, "1.5");
        assert_eq!(parse_file(&bytes, ImportFormat::Xlsx).unwrap(), rows);
    }

    #[test]
    fn the_header_may_sit_below_a_title_and_columns_may_be_reordered() {
        let bytes = xlsx(
            1,
            &[
                &["项目导入表"],
                &[
                    "承担单位",
                    "项目负责人账号",
                    "计划名称",
                    "项目名称",
                    "项目编号",
                ],
                &["示范科技", "leader", "计划", "名称", "N-1"],
            ],
        );
        let rows = parse_xlsx(&bytes).unwrap();
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].row, 4, "Excel's row number");
        assert_eq!(rows[0].number, "N-1");
        assert_eq!(rows[0].unit, "示范科技");
    }

    #[test]
    fn refuses_missing_columns_and_non_workbooks() {
        let bytes = xlsx(0, &[&["项目编号", "项目名称"], &["1", "x"]]);
        assert_eq!(parse_xlsx(&bytes).unwrap_err(), "缺少“计划类别”列。");
        assert!(parse_xlsx(b"PK\x03\x04 not really").is_err());
        assert!(parse_xlsx(&xlsx(0, &[])).is_err());
        let xls = [0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1, 0, 0];
        assert!(
            parse_file(&xls, ImportFormat::Csv)
                .unwrap_err()
                .contains(".xls")
        );
    }

    #[test]
    fn detects_the_format() {
        let zip = b"PK\x03\x04....";
        assert_eq!(ImportFormat::detect(None, zip), Ok(ImportFormat::Xlsx));
        assert_eq!(
            ImportFormat::detect(Some("text/csv"), zip),
            Ok(ImportFormat::Xlsx)
        );
        assert_eq!(ImportFormat::detect(None, b"a,b"), Ok(ImportFormat::Csv));
        assert_eq!(
            ImportFormat::detect(Some("text/csv; charset=utf-8"), b"a,b"),
            Ok(ImportFormat::Csv)
        );
        assert_eq!(
            ImportFormat::detect(Some(XLSX_MEDIA_TYPE), b"a,b"),
            Ok(ImportFormat::Xlsx)
        );
        assert!(ImportFormat::detect(Some("application/json"), b"{}").is_err());
        let p = std::path::Path::new;
        assert_eq!(
            ImportFormat::of_path(p("a.XLSX"), b""),
            Ok(ImportFormat::Xlsx)
        );
        assert_eq!(
            ImportFormat::of_path(p("a.csv"), zip),
            Ok(ImportFormat::Csv)
        );
        assert_eq!(ImportFormat::of_path(p("a"), zip), Ok(ImportFormat::Xlsx));
        assert!(ImportFormat::of_path(p("a.xls"), b"").is_err());
    }
}
