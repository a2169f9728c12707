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
            ..WriteSet::default()
        };
        match state.store.commit(write).await {
            Ok(()) => return Ok(next),
            Err(StoreError::Conflict) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(DomainError::StaleVersion.into())
}
