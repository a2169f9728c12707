//! `/api/projects`: import (xlsx or csv), list, record acceptance outcomes.

use axum::Json;
use axum::extract::{Path, Request, State};
use axum::http::header::CONTENT_TYPE;
use chengguo_domain::Role;
use chengguo_domain::project::AcceptanceStatus;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::auth::CurrentUser;
use crate::error::{ApiError, ApiResult};
use crate::extract::{JsonBody, read_body};
use crate::projects;
use crate::state::AppState;
use crate::views;

/// `POST /api/projects/import`: an xlsx workbook or a CSV body (UTF-8), each with the Chinese
/// header row; answers the row report. The format is told by the body's first bytes (an xlsx
/// is a zip archive) and by `Content-Type`: the xlsx media type, or `text/csv` (or none) for
/// CSV; any other type is refused with 400.
pub async fn import_projects(
    State(state): State<AppState>,
    current: CurrentUser,
    req: Request,
) -> ApiResult<Json<Value>> {
    if current.user.role != Role::Admin {
        return Err(ApiError::forbidden("只有系统管理员可以导入项目。"));
    }
    let content_type = req
        .headers()
        .get(CONTENT_TYPE)
        .map(|v| v.to_str().unwrap_or("invalid").to_owned());
    let bytes = read_body(req, state.config.max_import_body).await?;
    let format = projects::ImportFormat::detect(content_type.as_deref(), &bytes)
        .map_err(ApiError::bad_request)?;
    let rows = projects::parse_file(&bytes, format).map_err(|m| ApiError::invalid("file", m))?;
    let report = projects::import(&state, &rows).await?;
    Ok(Json(serde_json::to_value(report).unwrap_or_default()))
}

/// `GET /api/projects`: the projects the caller may see.
pub async fn list_projects(
    State(state): State<AppState>,
    current: CurrentUser,
) -> ApiResult<Json<Value>> {
    let user = &current.user;
    let unit = match user.role {
        Role::Unit | Role::Leader => user.unit_id.as_deref(),
        _ => None,
    };
    let items: Vec<Value> = state
        .store
        .list_projects(unit)
        .await?
        .iter()
        .filter(|p| projects::can_see(user, p))
        .map(views::project)
        .collect();
    Ok(Json(json!({"items": items})))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AcceptanceBody {
    status: String,
    opinion: Option<String>,
}

/// `POST /api/projects/{id}/acceptance`.
pub async fn record_acceptance(
    State(state): State<AppState>,
    current: CurrentUser,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<AcceptanceBody>,
) -> ApiResult<Json<Value>> {
    let status = AcceptanceStatus::parse(&body.status).ok_or_else(|| {
        ApiError::invalid(
            "status",
            "验收状态应为 review_completed、doc_submitted、passed 或 failed。",
        )
    })?;
    let opinion = body
        .opinion
        .map(|o| o.trim().to_owned())
        .filter(|o| !o.is_empty());
    if opinion.as_ref().is_some_and(|o| o.chars().count() > 2000) {
        return Err(ApiError::invalid("opinion", "验收意见不能超过2000个字。"));
    }
    let p = projects::record_acceptance(&state, &current.user, &id, status, opinion).await?;
    Ok(Json(views::project(&p)))
}
