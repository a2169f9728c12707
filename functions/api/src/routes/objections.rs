//! Objections (异议): filed by the public under a real name during the website notice, seen on
//! the record by staff, resolved by the point with a note.

use std::net::SocketAddr;

use axum::Json;
use axum::extract::connect_info::ConnectInfo;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::http::request::Parts;
use chengguo_domain::check::{is_email, is_mobile};
use chengguo_domain::record::Objection;
use chengguo_domain::{DomainError, Problem, Role};
use serde::Deserialize;
use serde_json::{Value, json};
use time::Duration;

use crate::auth::CurrentUser;
use crate::error::{ApiError, ApiResult};
use crate::extract::JsonBody;
use crate::service;
use crate::state::AppState;
use crate::views;

/// Longest objection, in characters.
pub const CONTENT_MAX: usize = 2000;
/// Shortest objection, in characters: a reason must be given.
pub const CONTENT_MIN: usize = 10;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewObjection {
    registration_id: String,
    name: String,
    unit: String,
    phone: String,
    email: String,
    content: String,
}

/// The client's address: the connection's, or the first `X-Forwarded-For` entry when the
/// server sits behind a trusted proxy.
pub fn client_address(parts: &Parts, trust_forwarded_for: bool) -> String {
    if trust_forwarded_for
        && let Some(first) = parts
            .headers
            .get("x-forwarded-for")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(',').next())
            .map(str::trim)
            .filter(|v| !v.is_empty())
    {
        return first.to_owned();
    }
    parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip().to_string())
        .unwrap_or_else(|| "unknown".into())
}

/// A mainland landline (区号-号码, optionally -分机) or a mobile number.
fn is_phone(v: &str) -> bool {
    if is_mobile(v) {
        return true;
    }
    let digits = v.chars().filter(char::is_ascii_digit).count();
    (7..=20).contains(&digits)
        && v.chars()
            .all(|c| c.is_ascii_digit() || c == '-' || c == ' ')
        && !v.starts_with('-')
        && !v.ends_with('-')
}

/// Names that are not a real name.
const ANONYMOUS: &[&str] = &[
    "匿名",
    "无名",
    "无名氏",
    "佚名",
    "某某",
    "anonymous",
    "none",
    "无",
];

fn validate(o: &NewObjection) -> Vec<Problem> {
    let mut p = Vec::new();
    let len = |s: &str| s.trim().chars().count();
    let name = o.name.trim();
    if len(name) < 2 || len(name) > 50 || ANONYMOUS.contains(&name.to_lowercase().as_str()) {
        p.push(Problem::invalid(
            "name",
            "异议须以真实姓名提出，请填写您的姓名（2至50个字）。",
        ));
    }
    if len(&o.unit) == 0 || len(&o.unit) > 100 {
        p.push(Problem::invalid(
            "unit",
            "请填写您的工作单位（不超过100个字）。",
        ));
    }
    if !is_phone(o.phone.trim()) {
        p.push(Problem::invalid(
            "phone",
            "请填写有效的联系电话（手机号码或带区号的固定电话）。",
        ));
    }
    if !is_email(o.email.trim()) {
        p.push(Problem::invalid("email", "请填写有效的电子邮箱。"));
    }
    let n = len(&o.content);
    if !(CONTENT_MIN..=CONTENT_MAX).contains(&n) {
        p.push(Problem::invalid(
            "content",
            format!("异议内容应为{CONTENT_MIN}至{CONTENT_MAX}个字，并写明理由。"),
        ));
    }
    let all = [&o.name, &o.unit, &o.phone, &o.email, &o.content];
    if all.iter().any(|s| {
        s.chars()
            .any(|c| c.is_control() && c != '\n' && c != '\r' && c != '\t')
    }) {
        p.push(Problem::invalid("content", "内容含有不可见的控制字符。"));
    }
    p
}

/// Counts one filing from `addr` and refuses beyond the hourly and daily limits.
async fn rate_limit(state: &AppState, addr: &str) -> ApiResult<()> {
    let now = state.clock.now();
    let windows = [
        ("h", Duration::hours(1), state.config.objections_per_hour),
        ("d", Duration::days(1), state.config.objections_per_day),
    ];
    for (tag, length, limit) in windows {
        let start = now.unix_timestamp() / length.whole_seconds();
        let key = format!("objection:{tag}:{start}:{addr}");
        let expires =
            time::OffsetDateTime::from_unix_timestamp((start + 1) * length.whole_seconds())
                .map_err(ApiError::internal)?;
        let n = state.store.bump_counter(&key, now, expires).await?;
        if n > limit {
            let wait = (expires - now).whole_seconds().max(1);
            return Err(ApiError::RateLimited(u64::try_from(wait).unwrap_or(1)));
        }
    }
    Ok(())
}

/// `POST /api/public/objections`: no login; refused outside the website notice window.
pub async fn create_objection(
    State(state): State<AppState>,
    parts: Parts,
    JsonBody(body): JsonBody<NewObjection>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let problems = validate(&body);
    if !problems.is_empty() {
        return Err(DomainError::problems(problems).into());
    }
    // Records never announced do not exist for the public.
    let reg = state
        .store
        .get_registration(body.registration_id.trim())
        .await?
        .filter(|r| r.notice.is_some())
        .ok_or_else(ApiError::not_found)?;
    let notice = reg.notice.as_ref().expect("filtered above");
    let today = state.clock.today();
    if !notice.website_open_on(today) || reg.state != chengguo_domain::State::DecisionPending {
        return Err(DomainError::InvalidStateMsg(format!(
            "该成果不在网站公示期内（公示期：{} 至 {}），不能提出异议。",
            notice.website_from, notice.website_to
        ))
        .into());
    }
    // Only filings that would be stored count: a mistyped form costs the filer nothing.
    rate_limit(
        &state,
        &client_address(&parts, state.config.trust_forwarded_for),
    )
    .await?;
    let objection = Objection {
        id: uuid::Uuid::new_v4().to_string(),
        registration_id: reg.id.clone(),
        name: body.name.trim().to_owned(),
        unit: body.unit.trim().to_owned(),
        phone: body.phone.trim().to_owned(),
        email: body.email.trim().to_owned(),
        content: body.content.trim().to_owned(),
        filed_at: state.clock.now(),
        resolution: None,
        resolved_by: None,
        resolved_at: None,
    };
    state.store.put_objection(&objection).await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({
            "id": objection.id,
            "registration_id": objection.registration_id,
            "filed_at": views::rfc3339(objection.filed_at),
            "message": "您的异议已提交，成果登记点将在批复前依法核实处理。",
        })),
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Resolution {
    note: String,
}

/// `POST /api/objections/{id}/resolve`: the point of the record's authority, once.
pub async fn resolve_objection(
    State(state): State<AppState>,
    current: CurrentUser,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<Resolution>,
) -> ApiResult<Json<Value>> {
    let user = &current.user;
    let mut o = state
        .store
        .get_objection(&id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    service::load_visible(&state, user, &o.registration_id).await?;
    if user.role != Role::Point {
        return Err(ApiError::forbidden("只有成果登记点可以处理异议。"));
    }
    if o.resolution.is_some() {
        return Err(DomainError::InvalidStateMsg("该异议已处理。".into()).into());
    }
    let note = body.note.trim();
    let n = note.chars().count();
    if n == 0 || n > CONTENT_MAX {
        return Err(ApiError::invalid(
            "note",
            format!("请填写处理意见（不超过{CONTENT_MAX}个字）。"),
        ));
    }
    o.resolution = Some(note.to_owned());
    o.resolved_by = Some(user.username.clone());
    o.resolved_at = Some(state.clock.now());
    state.store.put_objection(&o).await?;
    Ok(Json(views::objection(&o, user)))
}
