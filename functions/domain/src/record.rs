//! The registration record, its attachments and its history events.

use serde::{Deserialize, Serialize};
use time::{Date, OffsetDateTime};

use crate::codes::{Action, DecisionResult, Kind, Role, Source, State};
use crate::fields::Fields;

/// One registration (成果登记) with everything the workflow needs to decide on it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Registration {
    pub id: String,
    /// `None` only for a draft created by the system for an in-system project.
    pub kind: Option<Kind>,
    /// 《科技成果登记与信息公开知情同意书》 was agreed to when the kind was chosen.
    pub consent: bool,
    pub source: Source,
    pub state: State,
    /// Incremented by every change; every write is guarded by it.
    pub version: u64,
    /// The owning leader's user id.
    pub owner_id: String,
    pub unit_id: String,
    /// The owner's department when the record was created, if any.
    pub department_id: Option<String>,
    /// The approving authority (批准登记单位) the record is addressed to.
    pub authority_id: String,
    /// The in-system project, for `provincial_plan`.
    pub project_id: Option<String>,
    pub fields: Fields,
    pub registration_number: Option<String>,
    pub decision: Option<Decision>,
    pub notice: Option<Notice>,
    /// The opinion of the latest return, shown to the leader while `returned`.
    pub return_opinion: Option<String>,
    /// When the record was first submitted; the project's 验收书 may only follow it.
    #[serde(with = "time::serde::rfc3339::option")]
    pub submitted_at: Option<OffsetDateTime>,
    /// Number of history events; the next event's `seq` is this plus one.
    pub event_count: u64,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

/// A decision (批复).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Decision {
    pub result: DecisionResult,
    pub opinion: String,
    pub by: String,
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
}

/// The notice windows opened when the paper materials are received.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Notice {
    pub paper_received_on: Date,
    /// The unit's internal notice, first and last day inclusive.
    pub unit_from: Date,
    pub unit_to: Date,
    /// The authority's website notice, first and last day inclusive.
    pub website_from: Date,
    pub website_to: Date,
}

impl Notice {
    /// Opens both windows on `on`, each lasting the given number of days.
    pub fn open(on: Date, unit_days: u16, website_days: u16) -> Notice {
        let last = |days: u16| on + time::Duration::days(i64::from(days.max(1)) - 1);
        Notice {
            paper_received_on: on,
            unit_from: on,
            unit_to: last(unit_days),
            website_from: on,
            website_to: last(website_days),
        }
    }

    /// Whether the website notice is open on `today`.
    pub fn website_open_on(&self, today: Date) -> bool {
        self.website_from <= today && today <= self.website_to
    }

    /// Whether the website notice has ended by `today`.
    pub fn website_ended_by(&self, today: Date) -> bool {
        today > self.website_to
    }
}

/// One append-only history event (审核记录).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    pub registration_id: String,
    /// 1, 2, 3… within the registration.
    pub seq: u64,
    pub action: Action,
    pub from: Option<State>,
    pub to: State,
    /// Username of the actor, or `system`.
    pub actor: String,
    pub role: Option<Role>,
    pub opinion: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
}

/// Upload status of an attachment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AttachmentStatus {
    /// Announced; bytes may or may not have arrived; expires if not confirmed.
    Pending,
    /// Confirmed: size, type and magic bytes checked.
    Ready,
}

/// A material file of a registration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Attachment {
    pub id: String,
    pub registration_id: String,
    pub category: String,
    /// The name the uploader gave; shown, never used as a path.
    pub filename: String,
    pub content_type: String,
    pub size: u64,
    pub status: AttachmentStatus,
    pub sha256: Option<String>,
    /// The object key in the file store, derived from ids only.
    pub key: String,
    pub uploaded_by: String,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// A pending upload not confirmed by then is removed.
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: OffsetDateTime,
}

impl Attachment {
    /// The file-store key of an attachment: ids only, so a filename never reaches a path.
    pub fn key_for(registration_id: &str, attachment_id: &str) -> String {
        format!("att/{registration_id}/{attachment_id}")
    }
}

/// An objection (异议) filed under a real name during the website notice.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Objection {
    pub id: String,
    pub registration_id: String,
    pub name: String,
    pub unit: String,
    pub phone: String,
    pub email: String,
    pub content: String,
    #[serde(with = "time::serde::rfc3339")]
    pub filed_at: OffsetDateTime,
    /// The point's note once resolved.
    pub resolution: Option<String>,
    pub resolved_by: Option<String>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub resolved_at: Option<OffsetDateTime>,
}

/// Delivery status of a notification.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MailStatus {
    /// Waiting for its first or next attempt.
    Pending,
    Sent,
    /// Gave up after repeated failures; staff may queue it again.
    Failed,
}

impl MailStatus {
    pub fn code(self) -> &'static str {
        match self {
            MailStatus::Pending => "pending",
            MailStatus::Sent => "sent",
            MailStatus::Failed => "failed",
        }
    }

    pub fn parse(code: &str) -> Option<Self> {
        [MailStatus::Pending, MailStatus::Sent, MailStatus::Failed]
            .into_iter()
            .find(|s| s.code() == code)
    }

    pub fn label(self) -> &'static str {
        match self {
            MailStatus::Pending => "待发送",
            MailStatus::Sent => "已发送",
            MailStatus::Failed => "发送失败",
        }
    }
}

/// A notification email, queued in the same write as the transition that caused it and sent
/// afterwards, so a failing mail server never rolls back or blocks the workflow.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MailJob {
    pub id: String,
    /// The registration it is about, if any.
    pub registration_id: Option<String>,
    /// What caused it (an action code such as `receive_paper`).
    pub reason: String,
    pub to: Vec<String>,
    pub subject: String,
    /// Plain text, UTF-8.
    pub body: String,
    pub status: MailStatus,
    pub attempts: u32,
    pub last_error: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub next_attempt_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    pub sent_at: Option<OffsetDateTime>,
}

/// A [`MailJob`] without its body: what a record's view lists of the mail it caused. It reads
/// and writes the same JSON as the job, minus `body`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MailSummary {
    pub id: String,
    pub registration_id: Option<String>,
    pub reason: String,
    pub to: Vec<String>,
    pub subject: String,
    pub status: MailStatus,
    pub attempts: u32,
    pub last_error: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub next_attempt_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    pub sent_at: Option<OffsetDateTime>,
}

impl MailJob {
    /// The job without its body.
    pub fn summary(&self) -> MailSummary {
        MailSummary {
            id: self.id.clone(),
            registration_id: self.registration_id.clone(),
            reason: self.reason.clone(),
            to: self.to.clone(),
            subject: self.subject.clone(),
            status: self.status,
            attempts: self.attempts,
            last_error: self.last_error.clone(),
            next_attempt_at: self.next_attempt_at,
            created_at: self.created_at,
            sent_at: self.sent_at,
        }
    }
}
