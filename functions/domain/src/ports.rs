//! The ports: what the domain needs from storage, files and time. Adapters implement them
//! (SQLite and a local folder by default; DynamoDB and S3 on AWS) and one conformance suite
//! checks every adapter against the same expectations.

use std::collections::BTreeMap;
use std::sync::Mutex;

use async_trait::async_trait;
use time::{Date, Duration, OffsetDateTime, UtcOffset};

use crate::codes::{Kind, State};
use crate::org::{Authority, Department, Session, Unit, User};
use crate::project::Project;
use crate::record::{Attachment, Event, MailJob, MailStatus, MailSummary, Objection, Registration};
use crate::scope::ListScope;

/// Why storage refused or failed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum StoreError {
    /// A guarded write found another version, or an item that must not exist did.
    #[error("the record changed or already exists")]
    Conflict,
    /// The registration number is held by another record.
    #[error("registration number {0} is taken")]
    NumberTaken(String),
    /// A unique name (username, project number) is taken.
    #[error("{0} already exists")]
    AlreadyExists(String),
    /// A cursor that this store did not issue.
    #[error("invalid cursor")]
    BadCursor,
    /// The backend failed; the text is for logs.
    #[error("storage backend: {0}")]
    Backend(String),
}

pub type StoreResult<T> = Result<T, StoreError>;

/// A registration to write. `expected_version: None` inserts and fails if the id exists.
#[derive(Debug, Clone)]
pub struct RegistrationWrite {
    pub record: Registration,
    pub expected_version: Option<u64>,
    pub event: Option<Event>,
}

/// A project to write. `expected_version: None` inserts and fails if the id or number exists.
#[derive(Debug, Clone)]
pub struct ProjectWrite {
    pub record: Project,
    pub expected_version: Option<u64>,
}

/// Everything one user action writes, committed atomically or not at all.
#[derive(Debug, Clone, Default)]
pub struct WriteSet {
    pub registrations: Vec<RegistrationWrite>,
    pub project: Option<ProjectWrite>,
    /// `(number, registration_id)`: must not be held by anyone.
    pub claim_number: Option<(String, String)>,
    /// A number given up by the record in the same write.
    pub release_number: Option<String>,
    /// Notifications caused by the change, queued atomically with it (new ids).
    pub mails: Vec<MailJob>,
}

/// List filters besides scope.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ListFilter {
    pub state: Option<State>,
    pub kind: Option<Kind>,
    /// Case-insensitive substring of the title, the registration number or the first unit.
    pub q: Option<String>,
}

impl ListFilter {
    /// Whether a record passes the filter.
    pub fn matches(&self, reg: &Registration) -> bool {
        if self.state.is_some_and(|s| s != reg.state) {
            return false;
        }
        if self.kind.is_some() && self.kind != reg.kind {
            return false;
        }
        if let Some(q) = self.q.as_deref().map(str::trim).filter(|q| !q.is_empty()) {
            let q = q.to_lowercase();
            let hay = [
                reg.fields.title.as_deref(),
                reg.registration_number.as_deref(),
                reg.fields.first_unit().and_then(|u| u.name.as_deref()),
            ];
            return hay.iter().flatten().any(|h| h.to_lowercase().contains(&q));
        }
        true
    }
}

/// One page of a listing, newest first.
#[derive(Debug, Clone, PartialEq)]
pub struct Page<T> {
    pub items: Vec<T>,
    /// Opaque; pass back to get the next page.
    pub next_cursor: Option<String>,
}

/// State storage.
#[async_trait]
pub trait Store: Send + Sync {
    // Organisation.
    async fn put_authority(&self, a: &Authority) -> StoreResult<()>;
    async fn list_authorities(&self) -> StoreResult<Vec<Authority>>;
    async fn put_unit(&self, u: &Unit) -> StoreResult<()>;
    async fn get_unit(&self, id: &str) -> StoreResult<Option<Unit>>;
    async fn list_units(&self) -> StoreResult<Vec<Unit>>;
    async fn put_department(&self, d: &Department) -> StoreResult<()>;
    async fn get_department(&self, id: &str) -> StoreResult<Option<Department>>;
    async fn list_departments(&self, unit_id: &str) -> StoreResult<Vec<Department>>;

    // Accounts and sessions.
    /// Creates an account; [`StoreError::AlreadyExists`] when the username is taken.
    async fn create_user(&self, u: &User) -> StoreResult<()>;
    /// Replaces an existing account (same id and username).
    async fn update_user(&self, u: &User) -> StoreResult<()>;
    async fn get_user(&self, id: &str) -> StoreResult<Option<User>>;
    async fn find_user(&self, username: &str) -> StoreResult<Option<User>>;
    /// Accounts of a unit, or all when `None`.
    async fn list_users(&self, unit_id: Option<&str>) -> StoreResult<Vec<User>>;
    async fn put_session(&self, s: &Session) -> StoreResult<()>;
    async fn get_session(&self, token_hash: &str) -> StoreResult<Option<Session>>;
    async fn delete_session(&self, token_hash: &str) -> StoreResult<()>;

    // Registrations.
    /// Writes everything in `w` atomically: each registration guarded by its version, each
    /// event appended, the number claimed. [`StoreError::NumberTaken`] when the claimed number is
    /// held, [`StoreError::Conflict`] when any guard fails; nothing is written then.
    async fn commit(&self, w: WriteSet) -> StoreResult<()>;
    async fn get_registration(&self, id: &str) -> StoreResult<Option<Registration>>;
    /// Registrations in `scope` passing `filter`, newest first, at most `limit`.
    async fn list_registrations(
        &self,
        scope: &ListScope,
        filter: &ListFilter,
        limit: usize,
        cursor: Option<&str>,
    ) -> StoreResult<Page<Registration>>;
    /// The history of a registration, oldest first.
    async fn list_events(&self, registration_id: &str) -> StoreResult<Vec<Event>>;
    /// The highest serial used under an 8-character number prefix.
    async fn max_serial(&self, prefix: &str) -> StoreResult<Option<u32>>;
    /// The holder of a number, if any.
    async fn number_holder(&self, number: &str) -> StoreResult<Option<String>>;
    async fn registrations_of_project(&self, project_id: &str) -> StoreResult<Vec<Registration>>;

    // Attachments.
    async fn put_attachment(&self, a: &Attachment) -> StoreResult<()>;
    async fn get_attachment(
        &self,
        registration_id: &str,
        id: &str,
    ) -> StoreResult<Option<Attachment>>;
    async fn list_attachments(&self, registration_id: &str) -> StoreResult<Vec<Attachment>>;
    async fn delete_attachment(&self, registration_id: &str, id: &str) -> StoreResult<()>;
    /// Pending attachments whose `expires_at` is before `now`, at most `limit`.
    async fn expired_attachments(
        &self,
        now: OffsetDateTime,
        limit: usize,
    ) -> StoreResult<Vec<Attachment>>;

    // Projects.
    async fn get_project(&self, id: &str) -> StoreResult<Option<Project>>;
    async fn find_project(&self, number: &str) -> StoreResult<Option<Project>>;
    /// Projects of a unit, or all when `None`.
    async fn list_projects(&self, unit_id: Option<&str>) -> StoreResult<Vec<Project>>;

    // Objections.
    async fn put_objection(&self, o: &Objection) -> StoreResult<()>;
    async fn get_objection(&self, id: &str) -> StoreResult<Option<Objection>>;
    async fn list_objections(&self, registration_id: &str) -> StoreResult<Vec<Objection>>;

    // Notifications (the mail outbox).
    /// Inserts or replaces a mail job (after an attempt, or when staff queue it again).
    async fn put_mail(&self, job: &MailJob) -> StoreResult<()>;
    async fn get_mail(&self, id: &str) -> StoreResult<Option<MailJob>>;
    /// Pending jobs whose `next_attempt_at` is at or before `now`, oldest first, at most `limit`.
    async fn due_mail(&self, now: OffsetDateTime, limit: usize) -> StoreResult<Vec<MailJob>>;
    /// Jobs with `status`, newest first, at most `limit`.
    async fn list_mail(&self, status: MailStatus, limit: usize) -> StoreResult<Vec<MailJob>>;
    /// Jobs about one registration, any status, newest first.
    async fn mail_of_registration(&self, registration_id: &str) -> StoreResult<Vec<MailJob>>;
    /// The newest `limit` jobs about one registration, any status, newest first, without their
    /// bodies: what a record's view shows, however often the record was returned.
    async fn recent_mail_of_registration(
        &self,
        registration_id: &str,
        limit: usize,
    ) -> StoreResult<Vec<MailSummary>> {
        let jobs = self.mail_of_registration(registration_id).await?;
        Ok(jobs.iter().take(limit).map(MailJob::summary).collect())
    }

    // Reads that go together. A request makes several reads; these join the ones made on every
    // request, so a backend that can read them in one snapshot (SQLite: one read transaction,
    // whose start under concurrent writes costs more than a small read) does. The defaults read
    // them one by one.
    /// A session and the user it belongs to: `None` when there is no such session, and the user
    /// `None` when the account no longer exists.
    async fn session_with_user(
        &self,
        token_hash: &str,
    ) -> StoreResult<Option<(Session, Option<User>)>> {
        let Some(session) = self.get_session(token_hash).await? else {
            return Ok(None);
        };
        let user = self.get_user(&session.user_id).await?;
        Ok(Some((session, user)))
    }
    /// A registration with its attachments (see [`Store::list_attachments`]).
    async fn registration_with_attachments(
        &self,
        id: &str,
    ) -> StoreResult<Option<(Registration, Vec<Attachment>)>> {
        let Some(reg) = self.get_registration(id).await? else {
            return Ok(None);
        };
        let attachments = self.list_attachments(id).await?;
        Ok(Some((reg, attachments)))
    }
    /// A registration's objections and its newest `limit` mails (see
    /// [`Store::list_objections`] and [`Store::recent_mail_of_registration`]).
    async fn objections_and_recent_mail(
        &self,
        registration_id: &str,
        limit: usize,
    ) -> StoreResult<(Vec<Objection>, Vec<MailSummary>)> {
        let objections = self.list_objections(registration_id).await?;
        let mails = self
            .recent_mail_of_registration(registration_id, limit)
            .await?;
        Ok((objections, mails))
    }

    // Rate limits.
    /// Adds one to the counter `key` and returns its new value. A counter starts at 1 when it
    /// did not exist or its window ended (`expires_at` of the stored counter is past `now`);
    /// `expires_at` is kept from the counter's first hit.
    async fn bump_counter(
        &self,
        key: &str,
        now: OffsetDateTime,
        expires_at: OffsetDateTime,
    ) -> StoreResult<u64>;
}

/// An email to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutgoingMail {
    /// Stable id: sending the same job twice gives the same Message-ID.
    pub id: String,
    pub to: Vec<String>,
    pub subject: String,
    pub body: String,
}

/// Why sending failed; the text is recorded on the job for staff to see.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{0}")]
pub struct MailError(pub String);

/// Sends email: an outbox folder on the embedded default, SES on AWS.
#[async_trait]
pub trait Mailer: Send + Sync {
    async fn send(&self, mail: &OutgoingMail) -> Result<(), MailError>;
}

/// Why the file store failed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum BlobError {
    #[error("no object at {0}")]
    NotFound(String),
    #[error("file backend: {0}")]
    Backend(String),
}

/// A direct upload the browser makes: `PUT url` with exactly these headers.
#[derive(Debug, Clone, PartialEq)]
pub struct PresignedUpload {
    pub url: String,
    pub headers: BTreeMap<String, String>,
    pub expires_at: OffsetDateTime,
}

/// File storage for attachments.
#[async_trait]
pub trait Blobs: Send + Sync {
    /// A URL accepting one PUT of exactly `size` bytes of `content_type`, until `ttl` passes.
    async fn presign_put(
        &self,
        key: &str,
        content_type: &str,
        size: u64,
        ttl: Duration,
    ) -> Result<PresignedUpload, BlobError>;
    /// A URL downloading the object as `filename`, until `ttl` passes.
    async fn presign_get(
        &self,
        key: &str,
        filename: &str,
        content_type: &str,
        ttl: Duration,
    ) -> Result<String, BlobError>;
    /// The object's size, or `None` when absent.
    async fn size(&self, key: &str) -> Result<Option<u64>, BlobError>;
    /// Up to `n` first bytes.
    async fn head_bytes(&self, key: &str, n: u64) -> Result<Vec<u8>, BlobError>;
    /// Hex SHA-256 of the whole object, read as a stream.
    async fn sha256(&self, key: &str) -> Result<String, BlobError>;
    /// The whole object.
    async fn get(&self, key: &str) -> Result<Vec<u8>, BlobError>;
    async fn put(&self, key: &str, bytes: Vec<u8>, content_type: &str) -> Result<(), BlobError>;
    /// Removes the object; absent is fine.
    async fn delete(&self, key: &str) -> Result<(), BlobError>;
}

/// The time source.
pub trait Clock: Send + Sync {
    fn now(&self) -> OffsetDateTime;

    /// Today's date in China (UTC+8), which notice windows and checks use.
    fn today(&self) -> Date {
        china_date(self.now())
    }
}

/// China Standard Time.
pub const CHINA: UtcOffset = match UtcOffset::from_hms(8, 0, 0) {
    Ok(o) => o,
    Err(_) => panic!("valid offset"),
};

/// The date in China of an instant.
pub fn china_date(t: OffsetDateTime) -> Date {
    t.to_offset(CHINA).date()
}

/// The system clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> OffsetDateTime {
        OffsetDateTime::now_utc()
    }
}

/// A clock that stands still until moved; for tests and demos of notice windows.
#[derive(Debug)]
pub struct ManualClock(Mutex<OffsetDateTime>);

impl ManualClock {
    pub fn new(at: OffsetDateTime) -> Self {
        ManualClock(Mutex::new(at))
    }

    pub fn set(&self, at: OffsetDateTime) {
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = at;
    }

    pub fn advance(&self, by: Duration) {
        let mut t = self.0.lock().unwrap_or_else(|e| e.into_inner());
        *t += by;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> OffsetDateTime {
        *self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}
