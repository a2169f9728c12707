//! Notifications: which transitions send mail to whom, queued in the transition's own write
//! (so nothing acknowledged is lost and a failing mail server never blocks the workflow), and
//! the dispatcher that sends due mail, records failures and retries them with back-off.

use std::collections::BTreeSet;

use chengguo_domain::codes::{Action, Role};
use chengguo_domain::org::User;
use chengguo_domain::ports::OutgoingMail;
use chengguo_domain::record::{Event, MailJob, MailStatus, Registration};
use time::{Duration, OffsetDateTime};

use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

/// Attempts before a mail is marked failed (staff may queue it again).
pub const MAX_ATTEMPTS: u32 = 8;

/// Wait before attempt `n + 1` after `n` failed attempts.
pub fn backoff(attempts: u32) -> Duration {
    match attempts {
        0 | 1 => Duration::minutes(1),
        2 => Duration::minutes(5),
        3 => Duration::minutes(15),
        4 => Duration::hours(1),
        5 => Duration::hours(3),
        _ => Duration::hours(6),
    }
}

/// Which template an event sends, and whether the unit's administrators get it too.
fn template_of(action: Action) -> Option<(&'static str, bool)> {
    match action {
        Action::ReceivePaper => Some(("receive_paper", true)),
        Action::Return | Action::AcceptanceFailed => Some(("return", false)),
        Action::Decide => Some(("decide", true)),
        Action::Reopen => Some(("reopen", true)),
        _ => None,
    }
}

/// The addresses of the record's leader, and of its unit's administrators when `unit_too`.
async fn recipients(
    state: &AppState,
    reg: &Registration,
    unit_too: bool,
) -> ApiResult<Vec<String>> {
    let mut to = BTreeSet::new();
    let usable = |u: &User| u.active && u.email.as_deref().is_some_and(|e| !e.is_empty());
    if let Some(owner) = state.store.get_user(&reg.owner_id).await?
        && usable(&owner)
    {
        to.insert(owner.email.clone().unwrap_or_default());
    }
    if unit_too {
        for u in state.store.list_users(Some(&reg.unit_id)).await? {
            if u.role == Role::Unit && usable(&u) {
                to.insert(u.email.clone().unwrap_or_default());
            }
        }
    }
    Ok(to.into_iter().collect())
}

/// The mail an event causes, if any, addressed and rendered, ready to queue with it.
pub async fn mail_for(
    state: &AppState,
    reg: &Registration,
    event: &Event,
) -> ApiResult<Option<MailJob>> {
    let Some((template, unit_too)) = template_of(event.action) else {
        return Ok(None);
    };
    let to = recipients(state, reg, unit_too).await?;
    if to.is_empty() {
        return Ok(None);
    }
    let mut ctx = chengguo_mail::context_for(reg, event);
    if let Some(a) = state
        .store
        .list_authorities()
        .await?
        .into_iter()
        .find(|a| a.id == reg.authority_id)
    {
        ctx.insert("authority", &a.name);
    }
    ctx.insert("base_url", &state.config.public_url);
    let (subject, body) = state
        .mail_templates
        .render(template, &ctx)
        .map_err(|e| ApiError::internal(format!("mail template {template}: {e}")))?;
    Ok(Some(MailJob {
        // Time-ordered (UUIDv7): a new job's id lands at the end of the store's id index
        // instead of on a random page of it, which each transition would otherwise rewrite.
        id: uuid::Uuid::now_v7().simple().to_string(),
        registration_id: Some(reg.id.clone()),
        reason: event.action.code().to_owned(),
        to,
        subject,
        body,
        status: MailStatus::Pending,
        attempts: 0,
        last_error: None,
        // Sent right after the write; the dispatcher picks it up only if that attempt never
        // got recorded (a crash in between), so the two rarely send it twice.
        next_attempt_at: event.at + backoff(0),
        created_at: event.at,
        sent_at: None,
    }))
}

/// What one dispatch did.
#[derive(Debug, Default, Clone, PartialEq, Eq, serde::Serialize)]
pub struct DispatchReport {
    pub sent: usize,
    pub retrying: usize,
    pub failed: usize,
}

/// Tries to send `job` once and records the outcome on it.
async fn attempt(
    state: &AppState,
    mut job: MailJob,
    now: OffsetDateTime,
    report: &mut DispatchReport,
) -> ApiResult<()> {
    let mail = OutgoingMail {
        id: job.id.clone(),
        to: job.to.clone(),
        subject: job.subject.clone(),
        body: job.body.clone(),
    };
    job.attempts += 1;
    match state.mailer.send(&mail).await {
        Ok(()) => {
            job.status = MailStatus::Sent;
            job.sent_at = Some(now);
            job.last_error = None;
            report.sent += 1;
        }
        Err(e) => {
            tracing::warn!(id = %job.id, attempts = job.attempts, error = %e, "sending mail failed");
            job.last_error = Some(e.to_string());
            if job.attempts >= MAX_ATTEMPTS {
                job.status = MailStatus::Failed;
                report.failed += 1;
            } else {
                job.next_attempt_at = now + backoff(job.attempts);
                report.retrying += 1;
            }
        }
    }
    state.store.put_mail(&job).await?;
    Ok(())
}

/// Sends the given newly queued jobs now (right after the write that queued them).
pub async fn send_now(state: &AppState, jobs: Vec<MailJob>) -> ApiResult<DispatchReport> {
    let mut report = DispatchReport::default();
    for job in jobs {
        attempt(state, job, state.clock.now(), &mut report).await?;
    }
    Ok(report)
}

/// Sends every due mail (first attempts and retries), at most `limit`.
pub async fn dispatch_due(state: &AppState, limit: usize) -> ApiResult<DispatchReport> {
    let now = state.clock.now();
    let mut report = DispatchReport::default();
    for job in state.store.due_mail(now, limit).await? {
        attempt(state, job, now, &mut report).await?;
    }
    Ok(report)
}

/// After a committed write that queued `jobs`: send them now, inline or in the background as
/// configured. Errors are only logged: the jobs stay queued and the dispatcher retries them.
pub async fn after_commit(state: &AppState, jobs: Vec<MailJob>) {
    if jobs.is_empty() {
        return;
    }
    if state.config.mail_inline {
        if let Err(e) = send_now(state, jobs).await {
            tracing::warn!(error = %e, "recording a mail attempt failed");
        }
    } else {
        let state = state.clone();
        tokio::spawn(async move {
            if let Err(e) = send_now(&state, jobs).await {
                tracing::warn!(error = %e, "recording a mail attempt failed");
            }
        });
    }
}
