//! The schema as an ordered list of migrations, tracked by SQLite's `user_version`.
//!
//! Migration `i` (0-based) brings the schema from version `i` to `i + 1`. Migrations are only ever
//! appended: a released one is never edited, because databases in the field already ran it.

use rusqlite::{Connection, TransactionBehavior};

use chengguo_domain::ports::{StoreError, StoreResult};

use crate::Db;

/// The migrations, oldest first.
const MIGRATIONS: &[&str] = &[
    // 1: the initial schema. Every entity is a JSON document (`doc`, serde_json of the domain
    // type) plus the columns that queries filter or sort on.
    r#"
    CREATE TABLE authorities (
        id  TEXT PRIMARY KEY,
        doc TEXT NOT NULL
    );
    CREATE TABLE units (
        id  TEXT PRIMARY KEY,
        doc TEXT NOT NULL
    );
    CREATE TABLE departments (
        id      TEXT PRIMARY KEY,
        unit_id TEXT NOT NULL,
        doc     TEXT NOT NULL
    );
    CREATE INDEX departments_by_unit ON departments (unit_id, id);

    CREATE TABLE users (
        id       TEXT PRIMARY KEY,
        username TEXT NOT NULL UNIQUE,
        unit_id  TEXT,
        doc      TEXT NOT NULL
    );
    CREATE INDEX users_by_unit ON users (unit_id, username);

    CREATE TABLE sessions (
        token_hash TEXT PRIMARY KEY,
        user_id    TEXT NOT NULL,
        expires_at INTEGER NOT NULL,
        doc        TEXT NOT NULL
    );
    CREATE INDEX sessions_by_expiry ON sessions (expires_at);

    -- created_at is Unix nanoseconds (UTC), so that ordering is numeric and offset-free.
    -- search_* hold the lower-cased texts that ListFilter.q searches, lower-cased by Rust's
    -- to_lowercase so that SQL matching equals ListFilter::matches exactly.
    CREATE TABLE registrations (
        id            TEXT PRIMARY KEY,
        version       INTEGER NOT NULL,
        owner_id      TEXT NOT NULL,
        unit_id       TEXT NOT NULL,
        department_id TEXT,
        authority_id  TEXT NOT NULL,
        project_id    TEXT,
        state         TEXT NOT NULL,
        kind          TEXT,
        created_at    INTEGER NOT NULL,
        search_title  TEXT,
        search_number TEXT,
        search_unit   TEXT,
        doc           TEXT NOT NULL
    );
    CREATE INDEX registrations_by_time       ON registrations (created_at, id);
    CREATE INDEX registrations_by_owner      ON registrations (owner_id, created_at, id);
    CREATE INDEX registrations_by_department ON registrations (department_id, created_at, id);
    CREATE INDEX registrations_by_unit       ON registrations (unit_id, created_at, id);
    CREATE INDEX registrations_by_authority  ON registrations (authority_id, created_at, id);
    CREATE INDEX registrations_by_project    ON registrations (project_id);

    -- History is append-only: the primary key refuses a second event with the same seq.
    CREATE TABLE events (
        registration_id TEXT NOT NULL REFERENCES registrations (id),
        seq             INTEGER NOT NULL,
        doc             TEXT NOT NULL,
        PRIMARY KEY (registration_id, seq)
    ) WITHOUT ROWID;

    -- The primary key is what makes a registration number unique across all records.
    -- prefix/serial are NULL for a number that is not well formed.
    CREATE TABLE numbers (
        number          TEXT PRIMARY KEY,
        prefix          TEXT,
        serial          INTEGER,
        registration_id TEXT NOT NULL REFERENCES registrations (id)
    );
    CREATE INDEX numbers_by_prefix ON numbers (prefix, serial);

    CREATE TABLE attachments (
        registration_id TEXT NOT NULL REFERENCES registrations (id),
        id              TEXT NOT NULL,
        status          TEXT NOT NULL,
        created_at      INTEGER NOT NULL,
        expires_at      INTEGER NOT NULL,
        doc             TEXT NOT NULL,
        PRIMARY KEY (registration_id, id)
    );
    CREATE INDEX attachments_pending ON attachments (status, expires_at);

    CREATE TABLE projects (
        id      TEXT PRIMARY KEY,
        number  TEXT NOT NULL UNIQUE,
        unit_id TEXT NOT NULL,
        version INTEGER NOT NULL,
        doc     TEXT NOT NULL
    );
    CREATE INDEX projects_by_unit ON projects (unit_id, number);

    CREATE TABLE objections (
        id              TEXT PRIMARY KEY,
        registration_id TEXT NOT NULL REFERENCES registrations (id),
        filed_at        INTEGER NOT NULL,
        doc             TEXT NOT NULL
    );
    CREATE INDEX objections_by_registration ON objections (registration_id, filed_at, id);
    "#,
    // 2: the mail outbox and the rate-limit counters. Instants are Unix nanoseconds (UTC).
    // registration_id has no foreign key: a job may be about no registration at all.
    r#"
    CREATE TABLE mail (
        id              TEXT PRIMARY KEY,
        registration_id TEXT,
        status          TEXT NOT NULL,
        next_attempt_at INTEGER NOT NULL,
        created_at      INTEGER NOT NULL,
        doc             TEXT NOT NULL
    );
    -- Partial: only pending jobs are ever asked for by due time.
    CREATE INDEX mail_due             ON mail (next_attempt_at, id) WHERE status = 'pending';
    CREATE INDEX mail_by_status       ON mail (status, created_at, id);
    CREATE INDEX mail_by_registration ON mail (registration_id, created_at, id);

    -- A counter counts hits until expires_at (exclusive); a later hit starts it again at 1.
    CREATE TABLE counters (
        key        TEXT PRIMARY KEY,
        count      INTEGER NOT NULL,
        expires_at INTEGER NOT NULL
    );
    CREATE INDEX counters_by_expiry ON counters (expires_at);
    "#,
    // 3: a record's view lists its newest mail without the bodies. `head` is the job's JSON
    // without `body`, and the per-record index carries it, so that list reads a few adjacent
    // index pages instead of one table page per job (a record's jobs are spread over the table
    // in the order they were queued).
    r#"
    ALTER TABLE mail ADD COLUMN head TEXT NOT NULL DEFAULT '{}';
    UPDATE mail SET head = json_remove(doc, '$.body');
    DROP INDEX mail_by_registration;
    CREATE INDEX mail_by_registration ON mail (registration_id, created_at, id, head);
    "#,
];

/// The schema version this build writes: the number of migrations.
pub const SCHEMA_VERSION: u32 = MIGRATIONS.len() as u32;

/// Brings the database to [`SCHEMA_VERSION`] in one transaction; a no-op when it is there.
///
/// A database from a newer build is refused rather than used, since its meaning is unknown.
pub(crate) fn migrate(conn: &mut Connection) -> StoreResult<()> {
    // IMMEDIATE: two processes opening the same new file must not both run migration 1.
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .db()?;
    let current: i64 = tx
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .db()?;
    let current = usize::try_from(current)
        .map_err(|_| StoreError::Backend(format!("invalid schema version {current}")))?;
    if current > MIGRATIONS.len() {
        return Err(StoreError::Backend(format!(
            "the database has schema version {current}, newer than this program's {SCHEMA_VERSION}"
        )));
    }
    if current == MIGRATIONS.len() {
        return Ok(());
    }
    for sql in &MIGRATIONS[current..] {
        tx.execute_batch(sql).db()?;
    }
    tx.pragma_update(None, "user_version", SCHEMA_VERSION)
        .db()?;
    tx.commit().db()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tables(c: &Connection) -> Vec<String> {
        let mut stmt = c
            .prepare("SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY name")
            .unwrap();
        stmt.query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    }

    #[test]
    fn a_version_1_database_gains_mail_and_counters_and_keeps_its_data() {
        let mut c = Connection::open_in_memory().unwrap();
        c.execute_batch(MIGRATIONS[0]).unwrap();
        c.pragma_update(None, "user_version", 1).unwrap();
        c.execute("INSERT INTO units (id, doc) VALUES ('unit-1', '{}')", [])
            .unwrap();
        assert!(!tables(&c).contains(&"mail".to_owned()));

        migrate(&mut c).unwrap();
        let version: u32 = c
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .unwrap();
        assert_eq!(version, SCHEMA_VERSION);
        assert_eq!(SCHEMA_VERSION, 3);
        let names = tables(&c);
        assert!(names.contains(&"mail".to_owned()), "{names:?}");
        assert!(names.contains(&"counters".to_owned()), "{names:?}");
        let units: i64 = c
            .query_row("SELECT count(*) FROM units", [], |r| r.get(0))
            .unwrap();
        assert_eq!(units, 1, "data kept");
        migrate(&mut c).unwrap();
    }

    #[test]
    fn a_version_2_database_gains_mail_heads_without_bodies() {
        use chengguo_domain::record::{MailJob, MailStatus, MailSummary};

        let mut c = Connection::open_in_memory().unwrap();
        for sql in &MIGRATIONS[..2] {
            c.execute_batch(sql).unwrap();
        }
        c.pragma_update(None, "user_version", 2).unwrap();
        let at = time::macros::datetime!(2026-05-11 08:00 UTC);
        let job = MailJob {
            id: "mail-1".into(),
            registration_id: Some("reg-1".into()),
            reason: "return".into(),
            to: vec!["leader@example.org".into()],
            subject: "成果登记被退回修改".into(),
            body: "您好！\n\n请补充材料。\n".into(),
            status: MailStatus::Sent,
            attempts: 1,
            last_error: None,
            next_attempt_at: at,
            created_at: at,
            sent_at: Some(at),
        };
        c.execute(
            "INSERT INTO mail (id, registration_id, status, next_attempt_at, created_at, doc)
             VALUES ('mail-1', 'reg-1', 'sent', 0, 0, ?1)",
            [serde_json::to_string(&job).unwrap()],
        )
        .unwrap();

        migrate(&mut c).unwrap();
        let (head, doc): (String, String) = c
            .query_row("SELECT head, doc FROM mail", [], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .unwrap();
        assert!(!head.contains("body"), "{head}");
        let summary: MailSummary = serde_json::from_str(&head).unwrap();
        assert_eq!(summary, job.summary());
        assert_eq!(
            serde_json::from_str::<MailJob>(&doc).unwrap(),
            job,
            "doc kept"
        );
    }
}
