//! `/api/registrations`: create, choose kind, list, read, patch, check, actions, next number,
//! history.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use chengguo_domain::codes::{Action, DecisionResult, Kind, State as RegState};
use chengguo_domain::ports::ListFilter;
use chengguo_domain::scope::ListScope;
use chengguo_domain::workflow::ActionRequest;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use crate::auth::CurrentUser;
use crate::error::{ApiError, ApiResult};
use crate::extract::{JsonBody, QueryParams};
use crate::service::{self, CreateRequest, RecordView};
use crate::state::AppState;
use crate::views;

/// `POST /api/registrations`: 「新增计划外项目成果登记」.
pub async fn create_registration(
    State(state): State<AppState>,
    current: CurrentUser,
    JsonBody(req): JsonBody<CreateRequest>,
) -> ApiResult<(StatusCode, RecordView)> {
    let reg = service::create_registration(&state, &current.user, req).await?;
    let view = service::record_view(&state, &current.user, &reg).await?;
    Ok((StatusCode::CREATED, view))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KindRequest {
    kind: String,
    #[serde(default)]
    consent: bool,
}

/// `POST /api/registrations/{id}/kind`.
pub async fn choose_kind(
    State(state): State<AppState>,
    current: CurrentUser,
    Path(id): Path<String>,
    JsonBody(req): JsonBody<KindRequest>,
) -> ApiResult<RecordView> {
    let reg = service::choose_kind(&state, &current.user, &id, &req.kind, req.consent).await?;
    service::record_view(&state, &current.user, &reg).await
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    state: Option<String>,
    kind: Option<String>,
    q: Option<String>,
    limit: Option<String>,
    cursor: Option<String>,
}

/// Largest page.
pub const MAX_LIMIT: usize = 100;

/// Turns list query parameters into a filter and a limit. An empty `state` or `kind` (as a
/// form's 「全部」 sends it) means any; otherwise each parameter must be exactly what the
/// OpenAPI document allows, or the answer is 400.
pub fn parse_list_query(q: &ListQuery) -> ApiResult<(ListFilter, usize)> {
    let given = |s: &Option<String>| s.clone().filter(|s| !s.is_empty());
    let state = match given(&q.state) {
        Some(s) => Some(
            RegState::parse(&s)
                .ok_or_else(|| ApiError::bad_request(format!("state 参数“{s}”不是有效的状态。")))?,
        ),
        None => None,
    };
    let kind =
        match given(&q.kind) {
            Some(s) => Some(Kind::parse(&s).ok_or_else(|| {
                ApiError::bad_request(format!("kind 参数“{s}”不是有效的成果类型。"))
            })?),
            None => None,
        };
    let limit = match &q.limit {
        Some(s) => s
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=MAX_LIMIT).contains(n))
            .ok_or_else(|| {
                ApiError::bad_request(format!("limit 应为 1 至 {MAX_LIMIT} 的整数。"))
            })?,
        None => 20,
    };
    if q.q.as_ref().is_some_and(|t| t.chars().count() > 100) {
        return Err(ApiError::bad_request("搜索词不能超过100个字。"));
    }
    let q_text =
        q.q.as_deref()
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .map(str::to_owned);
    Ok((
        ListFilter {
            state,
            kind,
            q: q_text,
        },
        limit,
    ))
}

/// `GET /api/registrations`: only records in the caller's scope.
pub async fn list_registrations(
    State(state): State<AppState>,
    current: CurrentUser,
    QueryParams(q): QueryParams<ListQuery>,
) -> ApiResult<Json<Value>> {
    let (filter, limit) = parse_list_query(&q)?;
    let scope = ListScope::of(&current.user);
    let page = state
        .store
        .list_registrations(
            &scope,
            &filter,
            limit,
            q.cursor.as_deref().filter(|c| !c.is_empty()),
        )
        .await?;
    let items: Vec<Value> = page.items.iter().map(views::summary).collect();
    Ok(Json(
        json!({"items": items, "next_cursor": page.next_cursor}),
    ))
}

/// `GET /api/registrations/{id}`.
pub async fn get_registration(
    State(state): State<AppState>,
    current: CurrentUser,
    Path(id): Path<String>,
) -> ApiResult<RecordView> {
    service::visible_record_view(&state, &current.user, &id).await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PatchRequest {
    version: u64,
    fields: Map<String, Value>,
}

/// `PATCH /api/registrations/{id}`: each given top-level key replaces that key's value.
pub async fn patch_registration(
    State(state): State<AppState>,
    current: CurrentUser,
    Path(id): Path<String>,
    JsonBody(req): JsonBody<PatchRequest>,
) -> ApiResult<RecordView> {
    let reg = service::patch(&state, &current.user, &id, req.version, &req.fields).await?;
    service::record_view(&state, &current.user, &reg).await
}

/// `GET /api/registrations/{id}/check`.
pub async fn check_registration(
    State(state): State<AppState>,
    current: CurrentUser,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let problems = service::check(&state, &current.user, &id).await?;
    Ok(Json(
        json!({"ok": problems.is_empty(), "problems": problems}),
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ActionBody {
    version: u64,
    opinion: Option<String>,
    result: Option<String>,
    number: Option<String>,
    evidence_attachment_id: Option<String>,
}

/// `POST /api/registrations/{id}/actions/{action}`.
pub async fn act_on_registration(
    State(state): State<AppState>,
    current: CurrentUser,
    Path((id, action)): Path<(String, String)>,
    JsonBody(body): JsonBody<ActionBody>,
) -> ApiResult<RecordView> {
    let action = Action::parse(&action)
        .filter(|a| Action::REQUESTABLE.contains(a))
        .ok_or(ApiError::NoRoute)?;
    let result = match body.result.as_deref() {
        None | Some("") => None,
        Some(r) => Some(DecisionResult::parse(r).ok_or_else(|| {
            ApiError::invalid(
                "result",
                "批复结果应为 registered（予以登记）或 rejected（不予登记）。",
            )
        })?),
    };
    let req = ActionRequest {
        version: body.version,
        opinion: body.opinion,
        result,
        number: body.number,
        evidence_attachment_id: body.evidence_attachment_id,
    };
    service::act_and_view(&state, &current.user, &id, action, req).await
}

/// `GET /api/registrations/{id}/next-number`.
pub async fn get_next_number(
    State(state): State<AppState>,
    current: CurrentUser,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let number = service::next_number(&state, &current.user, &id).await?;
    Ok(Json(json!({"number": number})))
}

/// `GET /api/registrations/{id}/history`.
pub async fn get_history(
    State(state): State<AppState>,
    current: CurrentUser,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    service::load_visible(&state, &current.user, &id).await?;
    let events = state.store.list_events(&id).await?;
    let events: Vec<Value> = events.iter().map(views::event).collect();
    Ok(Json(json!({"events": events})))
}
