//! `/api/admin/mail`: staff see queued, sent and failed notifications and queue a failed one
//! again.

use axum::Json;
use axum::extract::{Path, State};
use chengguo_domain::Role;
use chengguo_domain::record::{MailStatus, MailSummary};
use chengguo_domain::scope;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use time::OffsetDateTime;

use crate::auth::CurrentUser;
use crate::error::{ApiError, ApiResult};
use crate::extract::QueryParams;
use crate::notify;
use crate::state::AppState;

/// A mail job as staff see it (never its body). Serialized straight from the summary: a
/// record's view lists up to 20 of these, most of its answer, and building them as `Value`s
/// first cost more than writing them.
#[derive(Serialize)]
pub struct MailView<'a> {
    attempts: u32,
    #[serde(with = "time::serde::rfc3339")]
    created_at: OffsetDateTime,
    id: &'a str,
    last_error: Option<&'a str>,
    #[serde(with = "time::serde::rfc3339")]
    next_attempt_at: OffsetDateTime,
    reason: &'a str,
    registration_id: Option<&'a str>,
    #[serde(with = "time::serde::rfc3339::option")]
    sent_at: Option<OffsetDateTime>,
    status: MailStatus,
    status_label: &'static str,
    subject: &'a str,
    to: &'a [String],
}

impl<'a> From<&'a MailSummary> for MailView<'a> {
    fn from(m: &'a MailSummary) -> Self {
        MailView {
            attempts: m.attempts,
            created_at: m.created_at,
            id: &m.id,
            last_error: m.last_error.as_deref(),
            next_attempt_at: m.next_attempt_at,
            reason: &m.reason,
            registration_id: m.registration_id.as_deref(),
            sent_at: m.sent_at,
            status: m.status,
            status_label: m.status.label(),
            subject: &m.subject,
            to: &m.to,
        }
    }
}

/// [`MailView`] as a `Value`.
pub fn view(m: &MailSummary) -> Value {
    serde_json::to_value(MailView::from(m)).unwrap_or_default()
}

fn require_staff(role: Role) -> ApiResult<()> {
    if matches!(role, Role::Admin | Role::Office | Role::Point) {
        Ok(())
    } else {
        Err(ApiError::forbidden(
            "只有系统管理员、业务处室和成果登记点可以查看邮件发送情况。",
        ))
    }
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct MailQuery {
    status: Option<String>,
    limit: Option<usize>,
}

/// `GET /api/admin/mail?status=pending|sent|failed`: newest first.
pub async fn list_mail(
    State(state): State<AppState>,
    current: CurrentUser,
    QueryParams(q): QueryParams<MailQuery>,
) -> ApiResult<Json<Value>> {
    require_staff(current.user.role)?;
    let status = match q.status.as_deref().filter(|s| !s.is_empty()) {
        None => MailStatus::Failed,
        Some(s) => MailStatus::parse(s)
            .ok_or_else(|| ApiError::bad_request("status 应为 pending、sent 或 failed。"))?,
    };
    let limit = q.limit.unwrap_or(100).clamp(1, 500);
    let mut items = state.store.list_mail(status, limit).await?;
    // The point sees the mail of records addressed to its authority only.
    if current.user.role == Role::Point {
        let mut visible = Vec::new();
        for m in items {
            let seen = match &m.registration_id {
                Some(id) => state
                    .store
                    .get_registration(id)
                    .await?
                    .is_some_and(|r| scope::can_see(&current.user, &r)),
                None => false,
            };
            if seen {
                visible.push(m);
            }
        }
        items = visible;
    }
    Ok(Json(
        json!({"items": items.iter().map(|m| view(&m.summary())).collect::<Vec<_>>()}),
    ))
}

/// `POST /api/admin/mail/{id}/retry`: queues a mail again and tries it now.
pub async fn retry_mail(
    State(state): State<AppState>,
    current: CurrentUser,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    require_staff(current.user.role)?;
    let mut job = state
        .store
        .get_mail(&id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    if current.user.role == Role::Point {
        let visible = match &job.registration_id {
            Some(rid) => state
                .store
                .get_registration(rid)
                .await?
                .is_some_and(|r| scope::can_see(&current.user, &r)),
            None => false,
        };
        if !visible {
            return Err(ApiError::not_found());
        }
    }
    if job.status == MailStatus::Sent {
        return Ok(Json(view(&job.summary())));
    }
    job.status = MailStatus::Pending;
    job.attempts = 0;
    job.next_attempt_at = state.clock.now();
    state.store.put_mail(&job).await?;
    notify::send_now(&state, vec![job.clone()]).await?;
    let job = state.store.get_mail(&id).await?.unwrap_or(job);
    Ok(Json(view(&job.summary())))
}
