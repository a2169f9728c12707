//! In-system projects (系统中项目): the system administrator imports them from an xlsx or CSV
//! file and sees the row report; the 业务处室 (or the administrator) records acceptance
//! outcomes and sees their effects on the project's registration.

use std::collections::HashMap;

use axum::extract::{Path, Request, State};
use axum::http::StatusCode;
use axum::response::Response;
use chengguo_api::ApiError;
use chengguo_api::error::ApiResult;
use chengguo_api::projects::{self, ImportFormat, ImportReport};
use chengguo_domain::Role;
use chengguo_domain::project::{AcceptanceStatus, Project};
use serde_json::{Value, json};

use super::forms::read_form;
use super::view::time_text;
use super::{form_errors, page_context, staff_only};
use crate::PageState;
use crate::guard::{PageUser, check_form_token, error_page};

fn may_record(role: Role) -> bool {
    matches!(role, Role::Office | Role::Admin)
}

/// The statuses a project may move to next.
fn next_statuses(p: &Project) -> Vec<Value> {
    AcceptanceStatus::ALL
        .iter()
        .filter(|s| p.acceptance.can_move_to(**s))
        .map(|s| json!({"code": s.code(), "label": s.label()}))
        .collect()
}

/// What the page shows besides the list: the import report, an acceptance result, an error.
#[derive(Default)]
struct Outcome {
    status: Option<StatusCode>,
    report: Option<Value>,
    effects: Option<Value>,
    error: Option<String>,
    error_project: Option<String>,
}

async fn projects_page(state: &PageState, who: &PageUser, outcome: Outcome) -> Response {
    match projects_context(state, who, &outcome).await {
        Ok(ctx) => state.pages.render(
            outcome.status.unwrap_or(StatusCode::OK),
            "admin/projects.html",
            &ctx,
        ),
        Err(e) => error_page(state, Some(who), &e),
    }
}

async fn projects_context(
    state: &PageState,
    who: &PageUser,
    outcome: &Outcome,
) -> ApiResult<tera::Context> {
    let user = &who.user;
    let app = &state.app;
    let unit = match user.role {
        Role::Unit => user.unit_id.as_deref(),
        _ => None,
    };
    let units: HashMap<String, String> = app
        .store
        .list_units()
        .await?
        .into_iter()
        .map(|u| (u.id, u.name))
        .collect();
    let rows: Vec<Value> = app
        .store
        .list_projects(unit)
        .await?
        .iter()
        .filter(|p| projects::can_see(user, p))
        .map(|p| {
            json!({
                "id": p.id,
                "number": p.number,
                "name": p.name,
                "plan": p.plan,
                "leader": p.leader_username,
                "unit": units.get(&p.unit_id).cloned().unwrap_or_else(|| p.unit_id.clone()),
                "acceptance": p.acceptance.label(),
                "opinion": p.acceptance_opinion,
                "registration_id": p.registration_id,
                "updated": time_text(p.updated_at),
                "next": next_statuses(p),
            })
        })
        .collect();
    let mut ctx = page_context(who, "系统中项目");
    ctx.insert("rows", &rows);
    ctx.insert("may_import", &(user.role == Role::Admin));
    ctx.insert("may_record", &may_record(user.role));
    ctx.insert(
        "columns",
        &projects::COLUMNS
            .iter()
            .map(|(_, names)| names[0])
            .collect::<Vec<_>>(),
    );
    if let Some(r) = &outcome.report {
        ctx.insert("report", r);
    }
    if let Some(e) = &outcome.effects {
        ctx.insert("effects", e);
    }
    if let Some(e) = &outcome.error {
        ctx.insert("error", e);
    }
    ctx.insert("error_project", &outcome.error_project);
    Ok(ctx)
}

/// `GET /admin/projects`.
pub async fn show_projects(State(state): State<PageState>, who: PageUser) -> Response {
    if let Err(r) = staff_only(&who) {
        return r;
    }
    if matches!(who.user.role, Role::Department) {
        return super::refuse(
            &state,
            &who,
            StatusCode::FORBIDDEN,
            "二级部门账号不能查看系统中项目。",
        );
    }
    projects_page(&state, &who, Outcome::default()).await
}

fn report_view(r: &ImportReport) -> Value {
    json!({
        "created": r.created,
        "updated": r.updated,
        "unchanged": r.unchanged,
        "refused": r.refused,
    })
}

/// `POST /admin/projects/import` (multipart: `csrf`, `file`): the row report.
pub async fn submit_import(
    State(state): State<PageState>,
    who: PageUser,
    req: Request,
) -> Response {
    if let Err(r) = staff_only(&who) {
        return r;
    }
    let limit = state.app.config.max_import_body + 64 * 1024;
    let form = match read_form(req, &state, limit).await {
        Ok(f) => f,
        Err(e) => {
            let outcome = Outcome {
                status: Some(StatusCode::BAD_REQUEST),
                error: Some(e.message(state.app.config.max_import_body)),
                ..Outcome::default()
            };
            return projects_page(&state, &who, outcome).await;
        }
    };
    if let Err(r) = check_form_token(&state, &who, form.get("csrf")) {
        return r;
    }
    if who.user.role != Role::Admin {
        return super::refuse(
            &state,
            &who,
            StatusCode::FORBIDDEN,
            "只有系统管理员可以导入项目。",
        );
    }
    let result: Result<ImportReport, ApiError> = async {
        let file = form
            .file("file")
            .ok_or_else(|| ApiError::invalid("file", "请选择要导入的 xlsx 或 CSV 文件。"))?;
        let format = ImportFormat::of_path(std::path::Path::new(&file.filename), &file.bytes)
            .map_err(|m| ApiError::invalid("file", m))?;
        let rows =
            projects::parse_file(&file.bytes, format).map_err(|m| ApiError::invalid("file", m))?;
        projects::import(&state.app, &rows).await
    }
    .await;
    let outcome = match result {
        Ok(report) => Outcome {
            report: Some(report_view(&report)),
            ..Outcome::default()
        },
        Err(e) => Outcome {
            status: Some(e.status_code().0),
            error: Some(form_errors(&e).0),
            ..Outcome::default()
        },
    };
    projects_page(&state, &who, outcome).await
}

/// `POST /admin/projects/{id}/acceptance` (`status`, `opinion`): records the outcome and
/// reports its effects (a registration draft created, registrations returned).
pub async fn submit_acceptance(
    State(state): State<PageState>,
    who: PageUser,
    Path(id): Path<String>,
    axum::Form(fields): axum::Form<Vec<(String, String)>>,
) -> Response {
    if let Err(r) = staff_only(&who) {
        return r;
    }
    let form = super::forms::FormData {
        fields,
        files: Vec::new(),
    };
    if let Err(r) = check_form_token(&state, &who, form.get("csrf")) {
        return r;
    }
    let app = &state.app;
    let result: Result<Value, ApiError> = async {
        let status = AcceptanceStatus::parse(form.get("status"))
            .ok_or_else(|| ApiError::invalid("status", "请选择验收状态。"))?;
        let opinion = form.opt("opinion");
        if opinion.as_ref().is_some_and(|o| o.chars().count() > 2000) {
            return Err(ApiError::invalid("opinion", "验收意见不能超过2000个字。"));
        }
        let before: HashMap<String, String> = app
            .store
            .registrations_of_project(&id)
            .await?
            .into_iter()
            .map(|r| (r.id, r.state.code().to_owned()))
            .collect();
        let p = projects::record_acceptance(app, &who.user, &id, status, opinion).await?;
        let after = app.store.registrations_of_project(&id).await?;
        let mut effects = Vec::new();
        for r in &after {
            let title = r
                .fields
                .title
                .clone()
                .unwrap_or_else(|| "（未填写成果名称）".to_owned());
            match before.get(&r.id) {
                None => effects.push(json!({
                    "id": r.id,
                    "text": format!("已为项目负责人“{}”生成成果登记草稿“{title}”。", p.leader_username),
                })),
                Some(s) if s != r.state.code() => effects.push(json!({
                    "id": r.id,
                    "text": format!("成果登记“{title}”已退回项目负责人（{}）。", r.state.label()),
                })),
                Some(_) => {}
            }
        }
        Ok(json!({
            "project": format!("{}（{}）", p.name, p.number),
            "status": p.acceptance.label(),
            "items": effects,
        }))
    }
    .await;
    let outcome = match result {
        Ok(effects) => Outcome {
            effects: Some(effects),
            ..Outcome::default()
        },
        Err(e) => Outcome {
            status: Some(e.status_code().0),
            error: Some(form_errors(&e).0),
            error_project: Some(id.clone()),
            ..Outcome::default()
        },
    };
    projects_page(&state, &who, outcome).await
}
