//! The embedded state store on SQLite: [`SqliteStore`] implements the domain's [`Store`] port.
//!
//! One database file holds everything. Each entity is stored as its JSON document next to the
//! columns that queries need; the domain types stay the single definition of the data.
//!
//! Durability and consistency: WAL journal with `synchronous=FULL` (a commit that returned is on
//! disk), foreign keys on, and every [`Store::commit`] in one `BEGIN IMMEDIATE` transaction so
//! that version guards, events, number claims and queued mail are applied together or not at
//! all.
//!
//! rusqlite is synchronous. Writes go to one connection on its own thread ([`writer`]), which
//! commits what is waiting together (group commit: one fsync for many writes, each write still
//! atomic and answered only once durable). A single writing connection also serialises writers
//! inside the process; `busy_timeout` covers other processes on the same file. Reads of a file
//! database use a small pool of other connections (WAL lets them read beside the writer and
//! each sees every write already answered): a lookup by key runs on the calling thread, as it
//! is served from the page cache in microseconds and a hop to another thread would cost more
//! than the read; a read that may touch many rows runs on tokio's blocking pool. An in-memory
//! database has one connection, so there every call goes to the writer's thread.

mod cursor;
mod schema;
mod writer;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use rusqlite::types::Value;
use rusqlite::{Connection, OpenFlags, OptionalExtension, Params, params, params_from_iter};
use serde::Serialize;
use serde::de::DeserializeOwned;
use time::OffsetDateTime;

use chengguo_domain::numbering;
use chengguo_domain::org::{Authority, Department, Session, Unit, User};
use chengguo_domain::ports::{
    ListFilter, Page, ProjectWrite, Store, StoreError, StoreResult, WriteSet,
};
use chengguo_domain::project::Project;
use chengguo_domain::record::{
    Attachment, AttachmentStatus, Event, MailJob, MailStatus, MailSummary, Objection, Registration,
};
use chengguo_domain::scope::ListScope;

pub use schema::SCHEMA_VERSION;

/// How long a call waits for another process holding the write lock before failing.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// Statements each connection keeps prepared; more than the store has, so none is re-parsed.
const STATEMENT_CACHE: usize = 96;
/// Read connections kept open when idle. Reads on the calling thread never yield, so at most
/// one per runtime worker plus the blocking reads in flight are in use at once.
const IDLE_READERS: usize = 8;

/// The embedded state store: one SQLite database.
#[derive(Clone)]
pub struct SqliteStore {
    inner: Arc<Inner>,
}

struct Inner {
    writer: writer::Writer,
    /// `None` for an in-memory database: its one connection is the writer's.
    readers: Option<Arc<Readers>>,
}

/// Connections that only read a file database, reused from call to call.
struct Readers {
    path: PathBuf,
    idle: Mutex<Vec<Connection>>,
}

impl Readers {
    fn with<T>(&self, f: impl FnOnce(&Connection) -> StoreResult<T>) -> StoreResult<T> {
        let idle = self
            .idle
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop();
        let conn = match idle {
            Some(conn) => conn,
            None => self.open()?,
        };
        let result = f(&conn);
        // A connection left inside a transaction would go on reading its old snapshot.
        if !conn.is_autocommit() {
            return result;
        }
        let mut idle = self.idle.lock().unwrap_or_else(PoisonError::into_inner);
        if idle.len() < IDLE_READERS {
            idle.push(conn);
        }
        result
    }

    fn open(&self) -> StoreResult<Connection> {
        let conn = Connection::open_with_flags(
            &self.path,
            OpenFlags::SQLITE_OPEN_READ_WRITE
                | OpenFlags::SQLITE_OPEN_URI
                | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .db()?;
        conn.busy_timeout(BUSY_TIMEOUT).db()?;
        conn.pragma_update(None, "query_only", true).db()?;
        conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
        Ok(conn)
    }
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore").finish_non_exhaustive()
    }
}

impl SqliteStore {
    /// Opens the database at `path`, creating the file (and its folder) when missing, and
    /// brings the schema up to date. Reopening an up-to-date database changes nothing.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .map_err(|e| StoreError::Backend(format!("create {}: {e}", dir.display())))?;
        }
        let conn = Connection::open(path).db()?;
        Self::init(conn, Some(path))
    }

    /// A private database in memory, for tests and throw-away demos.
    pub fn open_in_memory() -> Result<Self, StoreError> {
        Self::init(Connection::open_in_memory().db()?, None)
    }

    fn init(mut conn: Connection, file: Option<&Path>) -> StoreResult<Self> {
        conn.busy_timeout(BUSY_TIMEOUT).db()?;
        conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
        if file.is_some() {
            // WAL lets readers (e.g. `build-site`) run beside the server without blocking it.
            let mode: String = conn
                .pragma_update_and_check(None, "journal_mode", "wal", |r| r.get(0))
                .db()?;
            if !mode.eq_ignore_ascii_case("wal") {
                return Err(StoreError::Backend(format!(
                    "could not switch to WAL (journal_mode is {mode})"
                )));
            }
        }
        // FULL: in WAL mode NORMAL may lose the last commits on power loss; an approved
        // registration or a claimed number must not vanish.
        conn.pragma_update(None, "synchronous", "FULL").db()?;
        conn.pragma_update(None, "foreign_keys", true).db()?;
        // The writer's transactions hold a savepoint per write (group commit), whose undo
        // journal SQLite spills to a temporary file once it outgrows 64 KiB: a file created and
        // deleted many times a second, on the path every commit waits for. In memory it costs
        // at most the pages of one group; nothing in it has to survive a crash.
        conn.pragma_update(None, "temp_store", "MEMORY").db()?;
        schema::migrate(&mut conn)?;
        let readers = file.map(|path| {
            Arc::new(Readers {
                path: path.to_owned(),
                idle: Mutex::new(Vec::new()),
            })
        });
        Ok(SqliteStore {
            inner: Arc::new(Inner {
                writer: writer::Writer::start(conn)?,
                readers,
            }),
        })
    }

    /// The journal mode (`wal` for a file database).
    pub async fn journal_mode(&self) -> StoreResult<String> {
        self.alone(|c| {
            c.pragma_query_value(None, "journal_mode", |r| r.get(0))
                .db()
        })
        .await
    }

    /// The result of `PRAGMA integrity_check`: `ok` when the file is sound.
    pub async fn integrity_check(&self) -> StoreResult<String> {
        self.alone(|c| {
            let mut stmt = c.prepare("PRAGMA integrity_check").db()?;
            let lines = stmt
                .query_map([], |r| r.get::<_, String>(0))
                .db()?
                .collect::<Result<Vec<_>, _>>()
                .db()?;
            Ok(lines.join("\n"))
        })
        .await
    }

    /// The schema version of the database (`PRAGMA user_version`).
    pub async fn schema_version(&self) -> StoreResult<u32> {
        self.alone(|c| {
            c.pragma_query_value(None, "user_version", |r| r.get(0))
                .db()
        })
        .await
    }

    /// Writes a complete copy of the database into a new file at `path` (SQLite's
    /// `VACUUM INTO`), in one step and durably. The bulk path of `chengguo seed-synthetic`:
    /// it writes through the normal store API into an in-memory database, then saves it here,
    /// so the file holds exactly what those writes made. `path` must not exist.
    pub async fn save_into(&self, path: &Path) -> StoreResult<()> {
        let target = path
            .to_str()
            .ok_or_else(|| StoreError::Backend(format!("not UTF-8: {}", path.display())))?
            .to_owned();
        self.alone(move |c| c.execute("VACUUM INTO ?1", [target]).db().map(drop))
            .await
    }

    /// How many transactions the store has committed since it was opened. Writes sent while
    /// another transaction commits share the next one, so under load this grows more slowly
    /// than the number of writes.
    pub fn transactions_committed(&self) -> u64 {
        self.inner.writer.commits()
    }

    /// Runs `f` in the writer's next batch: atomic, and `Ok` only once durable.
    async fn write<T, F>(&self, f: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> StoreResult<T> + Send + 'static,
    {
        self.inner.writer.write(f).await
    }

    /// Runs `f` on the writer's connection outside any transaction.
    async fn alone<T, F>(&self, f: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> StoreResult<T> + Send + 'static,
    {
        self.inner.writer.alone(f).await
    }

    /// A lookup by key: on the calling thread with a read connection.
    async fn read<T, F>(&self, f: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> StoreResult<T> + Send + 'static,
    {
        match &self.inner.readers {
            Some(readers) => readers.with(f),
            None => self.alone(move |c| f(c)).await,
        }
    }

    /// A read that may touch many rows: on the blocking pool with a read connection.
    async fn scan<T, F>(&self, f: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> StoreResult<T> + Send + 'static,
    {
        match &self.inner.readers {
            Some(readers) => {
                let readers = readers.clone();
                tokio::task::spawn_blocking(move || readers.with(f))
                    .await
                    .map_err(|e| StoreError::Backend(format!("storage task failed: {e}")))?
            }
            None => self.alone(move |c| f(c)).await,
        }
    }
}

/// Turns rusqlite's errors into [`StoreError::Backend`].
pub(crate) trait Db<T> {
    fn db(self) -> StoreResult<T>;
}

impl<T> Db<T> for rusqlite::Result<T> {
    fn db(self) -> StoreResult<T> {
        self.map_err(|e| StoreError::Backend(format!("sqlite: {e}")))
    }
}

fn to_doc<T: Serialize>(value: &T) -> StoreResult<String> {
    serde_json::to_string(value).map_err(|e| StoreError::Backend(format!("encode: {e}")))
}

fn from_doc<T: DeserializeOwned>(doc: &str) -> StoreResult<T> {
    serde_json::from_str(doc).map_err(|e| StoreError::Backend(format!("decode: {e}")))
}

/// Unix nanoseconds: a numeric, offset-free sort key.
fn nanos(t: OffsetDateTime) -> StoreResult<i64> {
    i64::try_from(t.unix_timestamp_nanos())
        .map_err(|_| StoreError::Backend(format!("instant out of range: {t}")))
}

fn int(v: u64) -> StoreResult<i64> {
    i64::try_from(v).map_err(|_| StoreError::Backend(format!("integer out of range: {v}")))
}

/// The documents selected by `sql` (its first column).
fn docs<T: DeserializeOwned>(conn: &Connection, sql: &str, p: impl Params) -> StoreResult<Vec<T>> {
    let mut stmt = conn.prepare_cached(sql).db()?;
    let mut rows = stmt.query(p).db()?;
    let mut out = Vec::new();
    // Each document is parsed where SQLite holds it, without a copy.
    while let Some(row) = rows.next().db()? {
        let text = row.get_ref(0).db()?.as_str();
        out.push(from_doc(
            text.map_err(|e| StoreError::Backend(format!("sqlite: {e}")))?,
        )?);
    }
    Ok(out)
}

/// The document selected by `sql`, if any.
fn doc<T: DeserializeOwned>(
    conn: &Connection,
    sql: &str,
    p: impl Params,
) -> StoreResult<Option<T>> {
    conn.prepare_cached(sql)
        .db()?
        .query_row(p, |r| r.get::<_, String>(0))
        .optional()
        .db()?
        .map(|d| from_doc(&d))
        .transpose()
}

fn exists(conn: &Connection, sql: &str, p: impl Params) -> StoreResult<bool> {
    conn.prepare_cached(sql)
        .db()?
        .query_row(p, |_| Ok(()))
        .optional()
        .db()
        .map(|o| o.is_some())
}

fn status_code(s: AttachmentStatus) -> &'static str {
    match s {
        AttachmentStatus::Pending => "pending",
        AttachmentStatus::Ready => "ready",
    }
}

/// What `ListFilter.q` searches, lower-cased the way [`ListFilter::matches`] does.
fn search_text(s: Option<&str>) -> Option<String> {
    s.map(str::to_lowercase)
}

/// Writes one registration: insert (`None`) or version-guarded replace.
fn write_registration(
    tx: &Connection,
    r: &Registration,
    expected_version: Option<u64>,
) -> StoreResult<()> {
    let doc = to_doc(r)?;
    let version = int(r.version)?;
    let state = r.state.code();
    let kind = r.kind.map(|k| k.code());
    let created_at = nanos(r.created_at)?;
    let title = search_text(r.fields.title.as_deref());
    let number = search_text(r.registration_number.as_deref());
    let first_unit = search_text(r.fields.first_unit().and_then(|u| u.name.as_deref()));
    let changed = match expected_version {
        None => tx
            .prepare_cached(
                "INSERT INTO registrations (id, version, owner_id, unit_id, department_id,
                    authority_id, project_id, state, kind, created_at, search_title,
                    search_number, search_unit, doc)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)
                 ON CONFLICT (id) DO NOTHING",
            )
            .db()?
            .execute(params![
                r.id,
                version,
                r.owner_id,
                r.unit_id,
                r.department_id,
                r.authority_id,
                r.project_id,
                state,
                kind,
                created_at,
                title,
                number,
                first_unit,
                doc,
            ])
            .db()?,
        // Most writes change neither the owner, the unit, the department, the authority, the
        // project nor the creation time, which is what the secondary indexes hold. Setting only
        // the other columns leaves those indexes untouched (SQLite rewrites an index only when
        // the statement sets one of its columns): a transition then writes two pages to the WAL
        // instead of ten. When a scope column did change, the full statement runs instead.
        Some(expected) => {
            let same_scope = tx
                .prepare_cached(
                    "UPDATE registrations SET version = ?2, state = ?3, kind = ?4,
                        search_title = ?5, search_number = ?6, search_unit = ?7, doc = ?8
                     WHERE id = ?1 AND version = ?9 AND owner_id = ?10 AND unit_id = ?11
                        AND department_id IS ?12 AND authority_id = ?13 AND project_id IS ?14
                        AND created_at = ?15",
                )
                .db()?
                .execute(params![
                    r.id,
                    version,
                    state,
                    kind,
                    title,
                    number,
                    first_unit,
                    doc,
                    int(expected)?,
                    r.owner_id,
                    r.unit_id,
                    r.department_id,
                    r.authority_id,
                    r.project_id,
                    created_at,
                ])
                .db()?;
            if same_scope > 0 {
                same_scope
            } else {
                tx.prepare_cached(
                    "UPDATE registrations SET version = ?2, owner_id = ?3, unit_id = ?4,
                        department_id = ?5, authority_id = ?6, project_id = ?7, state = ?8,
                        kind = ?9, created_at = ?10, search_title = ?11, search_number = ?12,
                        search_unit = ?13, doc = ?14
                     WHERE id = ?1 AND version = ?15",
                )
                .db()?
                .execute(params![
                    r.id,
                    version,
                    r.owner_id,
                    r.unit_id,
                    r.department_id,
                    r.authority_id,
                    r.project_id,
                    state,
                    kind,
                    created_at,
                    title,
                    number,
                    first_unit,
                    doc,
                    int(expected)?,
                ])
                .db()?
            }
        }
    };
    if changed == 0 {
        return Err(StoreError::Conflict);
    }
    Ok(())
}

fn append_event(tx: &Connection, record_id: &str, e: &Event) -> StoreResult<()> {
    if e.registration_id != record_id {
        return Err(StoreError::Backend(format!(
            "event of {} written with record {record_id}",
            e.registration_id
        )));
    }
    let added = tx
        .prepare_cached(
            "INSERT INTO events (registration_id, seq, doc) VALUES (?1, ?2, ?3)
             ON CONFLICT DO NOTHING",
        )
        .db()?
        .execute(params![e.registration_id, int(e.seq)?, to_doc(e)?])
        .db()?;
    if added == 0 {
        return Err(StoreError::Conflict);
    }
    Ok(())
}

fn claim_number(tx: &Connection, number: &str, holder: &str) -> StoreResult<()> {
    let (prefix, serial) = match numbering::split(number) {
        Some((p, s)) => (Some(p), Some(s)),
        None => (None, None),
    };
    let added = tx
        .prepare_cached(
            "INSERT INTO numbers (number, prefix, serial, registration_id) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (number) DO NOTHING",
        )
        .db()?
        .execute(params![number, prefix, serial, holder])
        .db()?;
    if added == 0 {
        return Err(StoreError::NumberTaken(number.to_owned()));
    }
    Ok(())
}

fn write_project(tx: &Connection, w: &ProjectWrite) -> StoreResult<()> {
    let p = &w.record;
    // Checked before writing so that the refusal names the number rather than failing on the
    // UNIQUE constraint; the IMMEDIATE transaction makes check and write one step.
    let taken = exists(
        tx,
        "SELECT 1 FROM projects WHERE number = ?1 AND id <> ?2",
        params![p.number, p.id],
    )?;
    match w.expected_version {
        None => {
            if exists(tx, "SELECT 1 FROM projects WHERE id = ?1", [&p.id])? {
                return Err(StoreError::Conflict);
            }
            if taken {
                return Err(StoreError::AlreadyExists(p.number.clone()));
            }
            tx.prepare_cached(
                "INSERT INTO projects (id, number, unit_id, version, doc)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
            )
            .db()?
            .execute(params![
                p.id,
                p.number,
                p.unit_id,
                int(p.version)?,
                to_doc(p)?
            ])
            .db()?;
        }
        Some(expected) => {
            if taken {
                return Err(StoreError::AlreadyExists(p.number.clone()));
            }
            let changed = tx
                .prepare_cached(
                    "UPDATE projects SET number = ?2, unit_id = ?3, version = ?4, doc = ?5
                     WHERE id = ?1 AND version = ?6",
                )
                .db()?
                .execute(params![
                    p.id,
                    p.number,
                    p.unit_id,
                    int(p.version)?,
                    to_doc(p)?,
                    int(expected)?
                ])
                .db()?;
            if changed == 0 {
                return Err(StoreError::Conflict);
            }
        }
    }
    Ok(())
}

/// Applies a whole write set in one IMMEDIATE transaction; any refusal rolls everything back
/// (the transaction is dropped without commit).
fn commit_write_set(tx: &Connection, w: &WriteSet) -> StoreResult<()> {
    for rw in &w.registrations {
        write_registration(tx, &rw.record, rw.expected_version)?;
        if let Some(e) = &rw.event {
            append_event(tx, &rw.record.id, e)?;
        }
    }
    // Release before claim: should a write ever hand a number over, it must not trip on itself.
    if let Some(number) = &w.release_number {
        tx.prepare_cached("DELETE FROM numbers WHERE number = ?1")
            .db()?
            .execute([number])
            .db()?;
    }
    if let Some((number, holder)) = &w.claim_number {
        claim_number(tx, number, holder)?;
    }
    if let Some(pw) = &w.project {
        write_project(tx, pw)?;
    }
    for job in &w.mails {
        write_mail(tx, job, true)?;
    }
    Ok(())
}

/// Writes a mail job: an insert refused with [`StoreError::Conflict`] when the id exists
/// (`insert`), or an upsert. `head` is derived from the document in the same statement, as
/// migration 3 derived it for older rows.
fn write_mail(conn: &Connection, job: &MailJob, insert: bool) -> StoreResult<()> {
    if !insert {
        // An attempt changes the status and the next attempt, never the record or the creation
        // time: setting only those leaves the id index alone, and moves no entry of the
        // per-record index (only its `head` is rewritten in place).
        let updated = conn
            .prepare_cached(
                "UPDATE mail SET status = ?2, next_attempt_at = ?3, doc = ?4,
                    head = json_remove(?4, '$.body')
                 WHERE id = ?1 AND registration_id IS ?5 AND created_at = ?6",
            )
            .db()?
            .execute(params![
                job.id,
                job.status.code(),
                nanos(job.next_attempt_at)?,
                to_doc(job)?,
                job.registration_id,
                nanos(job.created_at)?
            ])
            .db()?;
        if updated > 0 {
            return Ok(());
        }
    }
    let sql = if insert {
        "INSERT INTO mail (id, registration_id, status, next_attempt_at, created_at, doc, head)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, json_remove(?6, '$.body'))
         ON CONFLICT (id) DO NOTHING"
    } else {
        "INSERT INTO mail (id, registration_id, status, next_attempt_at, created_at, doc, head)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, json_remove(?6, '$.body'))
         ON CONFLICT (id) DO UPDATE SET registration_id = excluded.registration_id,
            status = excluded.status, next_attempt_at = excluded.next_attempt_at,
            created_at = excluded.created_at, doc = excluded.doc, head = excluded.head"
    };
    let added = conn
        .prepare_cached(sql)
        .db()?
        .execute(params![
            job.id,
            job.registration_id,
            job.status.code(),
            nanos(job.next_attempt_at)?,
            nanos(job.created_at)?,
            to_doc(job)?
        ])
        .db()?;
    if added == 0 {
        return Err(StoreError::Conflict);
    }
    Ok(())
}

const USER: &str = "SELECT doc FROM users WHERE id = ?1";
const SESSION: &str = "SELECT doc FROM sessions WHERE token_hash = ?1";
const REGISTRATION: &str = "SELECT doc FROM registrations WHERE id = ?1";
const ATTACHMENTS_OF: &str =
    "SELECT doc FROM attachments WHERE registration_id = ?1 ORDER BY created_at, id";
const OBJECTIONS_OF: &str =
    "SELECT doc FROM objections WHERE registration_id = ?1 ORDER BY filed_at, id";

/// Runs the reads of `f` in one read transaction: they see one snapshot, and they start one
/// read transaction instead of one each. Under concurrent writes, each start finds the
/// database changed and empties the connection's page cache, which then reads its pages again:
/// for a small read that costs more than the read itself.
///
/// The transaction is ended whatever `f` returns, so the connection goes back to its pool
/// without a snapshot held open.
fn snapshot<T>(conn: &Connection, f: impl FnOnce(&Connection) -> StoreResult<T>) -> StoreResult<T> {
    conn.prepare_cached("BEGIN").db()?.execute([]).db()?;
    let result = f(conn);
    let ended = conn
        .prepare_cached("COMMIT")
        .and_then(|mut end| end.execute([]))
        .db();
    if ended.is_err() && !conn.is_autocommit() {
        let _ = conn.execute_batch("ROLLBACK");
    }
    let value = result?;
    ended?;
    Ok(value)
}

/// Due jobs, oldest first. Without statistics the planner would rather use `mail_by_status`
/// and sort every pending job; the partial index `mail_due` holds only pending jobs, in order.
const DUE_MAIL: &str = "SELECT doc FROM mail INDEXED BY mail_due
     WHERE status = 'pending' AND next_attempt_at <= ?1
     ORDER BY next_attempt_at, id LIMIT ?2";
/// Jobs with a status, newest first.
const MAIL_WITH_STATUS: &str = "SELECT doc FROM mail WHERE status = ?1
     ORDER BY created_at DESC, id DESC LIMIT ?2";
/// Jobs about a registration, newest first.
const MAIL_OF_REGISTRATION: &str = "SELECT doc FROM mail WHERE registration_id = ?1
     ORDER BY created_at DESC, id DESC";

/// The newest jobs about a registration, without bodies: read from `mail_by_registration`
/// alone, which carries `head`. Completed by [`with_limit`].
const RECENT_MAIL_OF_REGISTRATION: &str = "SELECT head FROM mail WHERE registration_id = ?1
     ORDER BY created_at DESC, id DESC";

/// A `LIMIT` argument.
fn limit_arg(limit: usize) -> i64 {
    i64::try_from(limit).unwrap_or(i64::MAX)
}

/// `sql` with `LIMIT limit` written into it as a literal, for statements run on every request.
///
/// SQLite prepares a statement with a bound `LIMIT ?` again on its first step after every new
/// binding (the test `the_record_views_mail_list_is_prepared_once_not_on_every_call` shows
/// it), so the statement cache would save nothing there. The limit is an integer, so writing it
/// into the text is safe. The limits in use are few (a record's view lists 20 mails; a list
/// page holds 1 to 100 records), and so are the cached statements.
fn with_limit(sql: &str, limit: usize) -> String {
    format!("{sql} LIMIT {}", limit_arg(limit))
}

/// How many expired counters one bump removes on the way, so the table does not grow forever.
const COUNTER_PRUNE: i64 = 16;
/// How long after its window a counter may be removed: long enough that no hit still in
/// flight with an earlier `now` could find its counter gone.
const COUNTER_GRACE: time::Duration = time::Duration::hours(1);

/// The statement and arguments of one list page (see [`list_page`]), reading `limit + 1` rows;
/// `None` when the scope holds nothing.
fn list_query(
    scope: &ListScope,
    filter: &ListFilter,
    limit: usize,
    cursor: Option<&str>,
) -> StoreResult<Option<(String, Vec<Value>)>> {
    let after = cursor.map(cursor::decode).transpose()?;
    let mut sql = String::from("SELECT doc, created_at, id FROM registrations WHERE 1 = 1");
    let mut args: Vec<Value> = Vec::new();
    let eq = |sql: &mut String, args: &mut Vec<Value>, column: &str, value: &str| {
        sql.push_str(&format!(" AND {column} = ?"));
        args.push(Value::Text(value.to_owned()));
    };
    match scope {
        ListScope::Owner(id) => eq(&mut sql, &mut args, "owner_id", id),
        ListScope::Department(id) => eq(&mut sql, &mut args, "department_id", id),
        ListScope::Unit(id) => eq(&mut sql, &mut args, "unit_id", id),
        ListScope::Authority(id) => eq(&mut sql, &mut args, "authority_id", id),
        ListScope::Units(ids) => {
            sql.push_str(" AND unit_id IN (SELECT value FROM json_each(?))");
            args.push(Value::Text(to_doc(ids)?));
        }
        ListScope::All => {}
        ListScope::Nothing => return Ok(None),
    }
    if let Some(state) = filter.state {
        eq(&mut sql, &mut args, "state", state.code());
    }
    if let Some(kind) = filter.kind {
        eq(&mut sql, &mut args, "kind", kind.code());
    }
    // Same trimming and lower-casing as ListFilter::matches; instr() is a plain substring test
    // (no LIKE wildcards), and NULL columns never match.
    if let Some(q) = filter.q.as_deref().map(str::trim).filter(|q| !q.is_empty()) {
        let q = q.to_lowercase();
        sql.push_str(
            " AND (instr(search_title, ?) > 0 OR instr(search_number, ?) > 0
                   OR instr(search_unit, ?) > 0)",
        );
        for _ in 0..3 {
            args.push(Value::Text(q.clone()));
        }
    }
    if let Some((t, id)) = after {
        sql.push_str(" AND (created_at < ? OR (created_at = ? AND id < ?))");
        args.push(Value::Integer(t));
        args.push(Value::Integer(t));
        args.push(Value::Text(id));
    }
    sql.push_str(" ORDER BY created_at DESC, id DESC");
    // One more row tells whether another page exists.
    Ok(Some((with_limit(&sql, limit.saturating_add(1)), args)))
}

/// One page of registrations, newest first (`created_at` desc, then `id` desc).
fn list_page(
    conn: &Connection,
    scope: &ListScope,
    filter: &ListFilter,
    limit: usize,
    cursor: Option<&str>,
) -> StoreResult<Page<Registration>> {
    // A limit of 0 would never progress.
    let limit = limit.max(1);
    let Some((sql, args)) = list_query(scope, filter, limit, cursor)? else {
        return Ok(Page {
            items: Vec::new(),
            next_cursor: None,
        });
    };
    let mut stmt = conn.prepare_cached(&sql).db()?;
    let rows = stmt
        .query_map(params_from_iter(args), |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, i64>(1)?,
                r.get::<_, String>(2)?,
            ))
        })
        .db()?;
    let mut items = Vec::new();
    let mut last = None;
    let mut more = false;
    for row in rows {
        let (d, t, id) = row.db()?;
        if items.len() == limit {
            more = true;
            break;
        }
        let reg: Registration = from_doc(&d)?;
        debug_assert!(scope.contains(&reg) && filter.matches(&reg));
        items.push(reg);
        last = Some((t, id));
    }
    let next_cursor = match (more, last) {
        (true, Some((t, id))) => Some(cursor::encode(t, &id)),
        _ => None,
    };
    Ok(Page { items, next_cursor })
}

#[async_trait]
impl Store for SqliteStore {
    async fn put_authority(&self, a: &Authority) -> StoreResult<()> {
        let (id, d) = (a.id.clone(), to_doc(a)?);
        self.write(move |c| {
            c.prepare_cached(
                "INSERT INTO authorities (id, doc) VALUES (?1, ?2)
                 ON CONFLICT (id) DO UPDATE SET doc = excluded.doc",
            )
            .db()?
            .execute(params![id, d])
            .db()
            .map(drop)
        })
        .await
    }

    async fn list_authorities(&self) -> StoreResult<Vec<Authority>> {
        self.read(|c| docs(c, "SELECT doc FROM authorities ORDER BY id", []))
            .await
    }

    async fn put_unit(&self, u: &Unit) -> StoreResult<()> {
        let (id, d) = (u.id.clone(), to_doc(u)?);
        self.write(move |c| {
            c.prepare_cached(
                "INSERT INTO units (id, doc) VALUES (?1, ?2)
                 ON CONFLICT (id) DO UPDATE SET doc = excluded.doc",
            )
            .db()?
            .execute(params![id, d])
            .db()
            .map(drop)
        })
        .await
    }

    async fn get_unit(&self, id: &str) -> StoreResult<Option<Unit>> {
        let id = id.to_owned();
        self.read(move |c| doc(c, "SELECT doc FROM units WHERE id = ?1", [id]))
            .await
    }

    async fn list_units(&self) -> StoreResult<Vec<Unit>> {
        self.scan(|c| docs(c, "SELECT doc FROM units ORDER BY id", []))
            .await
    }

    async fn put_department(&self, dep: &Department) -> StoreResult<()> {
        let (id, unit, d) = (dep.id.clone(), dep.unit_id.clone(), to_doc(dep)?);
        self.write(move |c| {
            c.prepare_cached(
                "INSERT INTO departments (id, unit_id, doc) VALUES (?1, ?2, ?3)
                 ON CONFLICT (id) DO UPDATE SET unit_id = excluded.unit_id, doc = excluded.doc",
            )
            .db()?
            .execute(params![id, unit, d])
            .db()
            .map(drop)
        })
        .await
    }

    async fn get_department(&self, id: &str) -> StoreResult<Option<Department>> {
        let id = id.to_owned();
        self.read(move |c| doc(c, "SELECT doc FROM departments WHERE id = ?1", [id]))
            .await
    }

    async fn list_departments(&self, unit_id: &str) -> StoreResult<Vec<Department>> {
        let unit = unit_id.to_owned();
        self.read(move |c| {
            docs(
                c,
                "SELECT doc FROM departments WHERE unit_id = ?1 ORDER BY id",
                [unit],
            )
        })
        .await
    }

    async fn create_user(&self, u: &User) -> StoreResult<()> {
        let u = u.clone();
        let d = to_doc(&u)?;
        self.write(move |c| {
            if exists(c, "SELECT 1 FROM users WHERE username = ?1", [&u.username])? {
                return Err(StoreError::AlreadyExists(u.username));
            }
            let added = c
                .prepare_cached(
                    "INSERT INTO users (id, username, unit_id, doc) VALUES (?1, ?2, ?3, ?4)
                     ON CONFLICT (id) DO NOTHING",
                )
                .db()?
                .execute(params![u.id, u.username, u.unit_id, d])
                .db()?;
            if added == 0 {
                return Err(StoreError::Conflict);
            }
            Ok(())
        })
        .await
    }

    /// Replaces the account with the same id; [`StoreError::Conflict`] when there is none.
    async fn update_user(&self, u: &User) -> StoreResult<()> {
        let u = u.clone();
        let d = to_doc(&u)?;
        self.write(move |c| {
            if exists(
                c,
                "SELECT 1 FROM users WHERE username = ?1 AND id <> ?2",
                [&u.username, &u.id],
            )? {
                return Err(StoreError::AlreadyExists(u.username));
            }
            let changed = c
                .prepare_cached(
                    "UPDATE users SET username = ?2, unit_id = ?3, doc = ?4 WHERE id = ?1",
                )
                .db()?
                .execute(params![u.id, u.username, u.unit_id, d])
                .db()?;
            if changed == 0 {
                return Err(StoreError::Conflict);
            }
            Ok(())
        })
        .await
    }

    async fn get_user(&self, id: &str) -> StoreResult<Option<User>> {
        let id = id.to_owned();
        self.read(move |c| doc(c, USER, [id])).await
    }

    async fn find_user(&self, username: &str) -> StoreResult<Option<User>> {
        let name = username.to_owned();
        self.read(move |c| doc(c, "SELECT doc FROM users WHERE username = ?1", [name]))
            .await
    }

    async fn list_users(&self, unit_id: Option<&str>) -> StoreResult<Vec<User>> {
        let unit = unit_id.map(str::to_owned);
        self.scan(move |c| match unit {
            Some(u) => docs(
                c,
                "SELECT doc FROM users WHERE unit_id = ?1 ORDER BY username",
                [u],
            ),
            None => docs(c, "SELECT doc FROM users ORDER BY username", []),
        })
        .await
    }

    async fn put_session(&self, s: &Session) -> StoreResult<()> {
        let (hash, user, expires, d) = (
            s.token_hash.clone(),
            s.user_id.clone(),
            nanos(s.expires_at)?,
            to_doc(s)?,
        );
        self.write(move |c| {
            c.prepare_cached(
                "INSERT INTO sessions (token_hash, user_id, expires_at, doc) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (token_hash) DO UPDATE SET user_id = excluded.user_id,
                    expires_at = excluded.expires_at, doc = excluded.doc",
            )
            .db()?
            .execute(params![hash, user, expires, d])
            .db()
            .map(drop)
        })
        .await
    }

    async fn get_session(&self, token_hash: &str) -> StoreResult<Option<Session>> {
        let hash = token_hash.to_owned();
        self.read(move |c| doc(c, SESSION, [hash])).await
    }

    async fn delete_session(&self, token_hash: &str) -> StoreResult<()> {
        let hash = token_hash.to_owned();
        self.write(move |c| {
            c.prepare_cached("DELETE FROM sessions WHERE token_hash = ?1")
                .db()?
                .execute([hash])
                .db()
                .map(drop)
        })
        .await
    }

    async fn commit(&self, w: WriteSet) -> StoreResult<()> {
        self.write(move |c| commit_write_set(c, &w)).await
    }

    async fn get_registration(&self, id: &str) -> StoreResult<Option<Registration>> {
        let id = id.to_owned();
        self.read(move |c| doc(c, REGISTRATION, [id])).await
    }

    async fn list_registrations(
        &self,
        scope: &ListScope,
        filter: &ListFilter,
        limit: usize,
        cursor: Option<&str>,
    ) -> StoreResult<Page<Registration>> {
        let (scope, filter, cursor) = (scope.clone(), filter.clone(), cursor.map(str::to_owned));
        self.scan(move |c| list_page(c, &scope, &filter, limit, cursor.as_deref()))
            .await
    }

    async fn list_events(&self, registration_id: &str) -> StoreResult<Vec<Event>> {
        let id = registration_id.to_owned();
        self.read(move |c| {
            docs(
                c,
                "SELECT doc FROM events WHERE registration_id = ?1 ORDER BY seq",
                [id],
            )
        })
        .await
    }

    async fn max_serial(&self, prefix: &str) -> StoreResult<Option<u32>> {
        let prefix = prefix.to_owned();
        self.read(move |c| {
            let max: Option<i64> = c
                .prepare_cached("SELECT MAX(serial) FROM numbers WHERE prefix = ?1")
                .db()?
                .query_row([prefix], |r| r.get(0))
                .db()?;
            max.map(|m| {
                u32::try_from(m).map_err(|_| StoreError::Backend(format!("bad serial {m}")))
            })
            .transpose()
        })
        .await
    }

    async fn number_holder(&self, number: &str) -> StoreResult<Option<String>> {
        let number = number.to_owned();
        self.read(move |c| {
            c.prepare_cached("SELECT registration_id FROM numbers WHERE number = ?1")
                .db()?
                .query_row([number], |r| r.get(0))
                .optional()
                .db()
        })
        .await
    }

    async fn registrations_of_project(&self, project_id: &str) -> StoreResult<Vec<Registration>> {
        let id = project_id.to_owned();
        self.scan(move |c| {
            docs(
                c,
                "SELECT doc FROM registrations WHERE project_id = ?1 ORDER BY created_at, id",
                [id],
            )
        })
        .await
    }

    async fn put_attachment(&self, a: &Attachment) -> StoreResult<()> {
        let (reg, id, status, created, expires, d) = (
            a.registration_id.clone(),
            a.id.clone(),
            status_code(a.status),
            nanos(a.created_at)?,
            nanos(a.expires_at)?,
            to_doc(a)?,
        );
        self.write(move |c| {
            c.prepare_cached(
                "INSERT INTO attachments (registration_id, id, status, created_at, expires_at, doc)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                 ON CONFLICT (registration_id, id) DO UPDATE SET status = excluded.status,
                    created_at = excluded.created_at, expires_at = excluded.expires_at,
                    doc = excluded.doc",
            )
            .db()?
            .execute(params![reg, id, status, created, expires, d])
            .db()
            .map(drop)
        })
        .await
    }

    async fn get_attachment(
        &self,
        registration_id: &str,
        id: &str,
    ) -> StoreResult<Option<Attachment>> {
        let (reg, id) = (registration_id.to_owned(), id.to_owned());
        self.read(move |c| {
            doc(
                c,
                "SELECT doc FROM attachments WHERE registration_id = ?1 AND id = ?2",
                [reg, id],
            )
        })
        .await
    }

    async fn list_attachments(&self, registration_id: &str) -> StoreResult<Vec<Attachment>> {
        let reg = registration_id.to_owned();
        self.read(move |c| docs(c, ATTACHMENTS_OF, [reg])).await
    }

    async fn delete_attachment(&self, registration_id: &str, id: &str) -> StoreResult<()> {
        let (reg, id) = (registration_id.to_owned(), id.to_owned());
        self.write(move |c| {
            c.prepare_cached("DELETE FROM attachments WHERE registration_id = ?1 AND id = ?2")
                .db()?
                .execute([reg, id])
                .db()
                .map(drop)
        })
        .await
    }

    async fn expired_attachments(
        &self,
        now: OffsetDateTime,
        limit: usize,
    ) -> StoreResult<Vec<Attachment>> {
        let now = nanos(now)?;
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.scan(move |c| {
            docs(
                c,
                "SELECT doc FROM attachments WHERE status = 'pending' AND expires_at < ?1
                 ORDER BY expires_at, registration_id, id LIMIT ?2",
                params![now, limit],
            )
        })
        .await
    }

    async fn get_project(&self, id: &str) -> StoreResult<Option<Project>> {
        let id = id.to_owned();
        self.read(move |c| doc(c, "SELECT doc FROM projects WHERE id = ?1", [id]))
            .await
    }

    async fn find_project(&self, number: &str) -> StoreResult<Option<Project>> {
        let number = number.to_owned();
        self.read(move |c| doc(c, "SELECT doc FROM projects WHERE number = ?1", [number]))
            .await
    }

    async fn list_projects(&self, unit_id: Option<&str>) -> StoreResult<Vec<Project>> {
        let unit = unit_id.map(str::to_owned);
        self.scan(move |c| match unit {
            Some(u) => docs(
                c,
                "SELECT doc FROM projects WHERE unit_id = ?1 ORDER BY number",
                [u],
            ),
            None => docs(c, "SELECT doc FROM projects ORDER BY number", []),
        })
        .await
    }

    async fn put_objection(&self, o: &Objection) -> StoreResult<()> {
        let (id, reg, filed, d) = (
            o.id.clone(),
            o.registration_id.clone(),
            nanos(o.filed_at)?,
            to_doc(o)?,
        );
        self.write(move |c| {
            c.prepare_cached(
                "INSERT INTO objections (id, registration_id, filed_at, doc) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (id) DO UPDATE SET registration_id = excluded.registration_id,
                    filed_at = excluded.filed_at, doc = excluded.doc",
            )
            .db()?
            .execute(params![id, reg, filed, d])
            .db()
            .map(drop)
        })
        .await
    }

    async fn get_objection(&self, id: &str) -> StoreResult<Option<Objection>> {
        let id = id.to_owned();
        self.read(move |c| doc(c, "SELECT doc FROM objections WHERE id = ?1", [id]))
            .await
    }

    async fn list_objections(&self, registration_id: &str) -> StoreResult<Vec<Objection>> {
        let reg = registration_id.to_owned();
        self.read(move |c| docs(c, OBJECTIONS_OF, [reg])).await
    }

    async fn put_mail(&self, job: &MailJob) -> StoreResult<()> {
        let job = job.clone();
        self.write(move |c| write_mail(c, &job, false)).await
    }

    async fn get_mail(&self, id: &str) -> StoreResult<Option<MailJob>> {
        let id = id.to_owned();
        self.read(move |c| doc(c, "SELECT doc FROM mail WHERE id = ?1", [id]))
            .await
    }

    async fn due_mail(&self, now: OffsetDateTime, limit: usize) -> StoreResult<Vec<MailJob>> {
        let now = nanos(now)?;
        let limit = limit_arg(limit);
        self.read(move |c| docs(c, DUE_MAIL, params![now, limit]))
            .await
    }

    async fn list_mail(&self, status: MailStatus, limit: usize) -> StoreResult<Vec<MailJob>> {
        let limit = limit_arg(limit);
        self.scan(move |c| docs(c, MAIL_WITH_STATUS, params![status.code(), limit]))
            .await
    }

    async fn mail_of_registration(&self, registration_id: &str) -> StoreResult<Vec<MailJob>> {
        let reg = registration_id.to_owned();
        self.scan(move |c| docs(c, MAIL_OF_REGISTRATION, [reg]))
            .await
    }

    async fn recent_mail_of_registration(
        &self,
        registration_id: &str,
        limit: usize,
    ) -> StoreResult<Vec<MailSummary>> {
        let reg = registration_id.to_owned();
        let sql = with_limit(RECENT_MAIL_OF_REGISTRATION, limit);
        self.read(move |c| docs(c, &sql, [reg])).await
    }

    async fn session_with_user(
        &self,
        token_hash: &str,
    ) -> StoreResult<Option<(Session, Option<User>)>> {
        let hash = token_hash.to_owned();
        self.read(move |c| {
            snapshot(c, |c| {
                let Some(session) = doc::<Session>(c, SESSION, [hash])? else {
                    return Ok(None);
                };
                let user = doc(c, USER, [&session.user_id])?;
                Ok(Some((session, user)))
            })
        })
        .await
    }

    async fn registration_with_attachments(
        &self,
        id: &str,
    ) -> StoreResult<Option<(Registration, Vec<Attachment>)>> {
        let id = id.to_owned();
        self.read(move |c| {
            snapshot(c, |c| {
                let Some(reg) = doc(c, REGISTRATION, [&id])? else {
                    return Ok(None);
                };
                Ok(Some((reg, docs(c, ATTACHMENTS_OF, [&id])?)))
            })
        })
        .await
    }

    async fn objections_and_recent_mail(
        &self,
        registration_id: &str,
        limit: usize,
    ) -> StoreResult<(Vec<Objection>, Vec<MailSummary>)> {
        let reg = registration_id.to_owned();
        let sql = with_limit(RECENT_MAIL_OF_REGISTRATION, limit);
        self.read(move |c| {
            snapshot(c, |c| {
                Ok((docs(c, OBJECTIONS_OF, [&reg])?, docs(c, &sql, [&reg])?))
            })
        })
        .await
    }

    async fn bump_counter(
        &self,
        key: &str,
        now: OffsetDateTime,
        expires_at: OffsetDateTime,
    ) -> StoreResult<u64> {
        let stale = nanos(now - COUNTER_GRACE)?;
        let (key, now, expires) = (key.to_owned(), nanos(now)?, nanos(expires_at)?);
        self.write(move |c| {
            // A counter long expired is as good as absent; removing a few keeps the table small.
            c.prepare_cached(
                "DELETE FROM counters WHERE key IN (
                    SELECT key FROM counters WHERE expires_at <= ?1 AND key <> ?2 LIMIT ?3)",
            )
            .db()?
            .execute(params![stale, key, COUNTER_PRUNE])
            .db()?;
            // One statement: a window that ended (expires_at <= now) starts again at 1.
            let count: i64 = c
                .prepare_cached(
                    "INSERT INTO counters (key, count, expires_at) VALUES (?1, 1, ?3)
                     ON CONFLICT (key) DO UPDATE SET
                        count = CASE WHEN counters.expires_at <= ?2 THEN 1
                                     ELSE counters.count + 1 END,
                        expires_at = CASE WHEN counters.expires_at <= ?2 THEN excluded.expires_at
                                          ELSE counters.expires_at END
                     RETURNING count",
                )
                .db()?
                .query_row(params![key, now, expires], |r| r.get(0))
                .db()?;
            u64::try_from(count).map_err(|_| StoreError::Backend(format!("bad count {count}")))
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn connection_settings_are_durable_and_checked() {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = SqliteStore::open(&dir.path().join("s.db")).expect("open");
        let (sync, fk, busy, temp): (i64, i64, i64, i64) = store
            .alone(|c| {
                let get = |name: &str| -> StoreResult<i64> {
                    c.pragma_query_value(None, name, |r| r.get(0)).db()
                };
                Ok((
                    get("synchronous")?,
                    get("foreign_keys")?,
                    get("busy_timeout")?,
                    get("temp_store")?,
                ))
            })
            .await
            .expect("pragmas");
        assert_eq!(sync, 2, "synchronous=FULL");
        assert_eq!(fk, 1, "foreign keys on");
        assert_eq!(busy, 10_000, "busy timeout in ms");
        assert_eq!(temp, 2, "temporary files (savepoint journals) in memory");
    }

    #[tokio::test]
    async fn sqlite_is_built_without_process_wide_locks_on_allocation_and_page_cache() {
        // .cargo/config.toml sets LIBSQLITE3_FLAGS; a build without it would still work, only
        // slower under concurrent reads.
        let store = SqliteStore::open_in_memory().expect("open");
        let options: Vec<String> = store
            .alone(|c| {
                let mut stmt = c.prepare("PRAGMA compile_options").db()?;
                let rows = stmt.query_map([], |r| r.get(0)).db()?;
                rows.collect::<Result<_, _>>().db()
            })
            .await
            .expect("compile options");
        assert!(
            options.iter().any(|o| o == "DEFAULT_MEMSTATUS=0"),
            "{options:?}"
        );
        assert!(
            !options.iter().any(|o| o == "ENABLE_MEMORY_MANAGEMENT"),
            "{options:?}"
        );
    }

    /// The steps of SQLite's plan for `sql`.
    fn plan(c: &Connection, sql: &str) -> Vec<String> {
        let mut stmt = c.prepare(&format!("EXPLAIN QUERY PLAN {sql}")).unwrap();
        let n = stmt.parameter_count();
        let args: Vec<Value> = (0..n).map(|_| Value::Null).collect();
        stmt.query_map(params_from_iter(args), |r| r.get::<_, String>(3))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    }

    #[tokio::test]
    async fn mail_reads_use_their_indexes_without_sorting() {
        let store = SqliteStore::open_in_memory().expect("open");
        let plans = store
            .alone(|c| {
                Ok([
                    DUE_MAIL,
                    MAIL_WITH_STATUS,
                    MAIL_OF_REGISTRATION,
                    &with_limit(RECENT_MAIL_OF_REGISTRATION, 20),
                ]
                .map(|sql| plan(c, sql).join("; ")))
            })
            .await
            .expect("plans");
        for (p, index) in plans.iter().zip([
            "USING INDEX mail_due",
            "USING INDEX mail_by_status",
            "USING INDEX mail_by_registration",
            // The table is not read at all: the index carries what the view lists.
            "USING COVERING INDEX mail_by_registration",
        ]) {
            assert!(p.contains(index), "{p}");
            assert!(!p.contains("TEMP B-TREE"), "sorts: {p}");
        }
    }

    /// How often the cached statement `sql` of `store` has run, and how often SQLite prepared
    /// it again. The in-memory store reads on the writer's connection, whose cache this is.
    async fn runs_and_reprepares(store: &SqliteStore, sql: String) -> (i32, i32) {
        store
            .alone(move |c| {
                let stmt = c.prepare_cached(&sql).db()?;
                Ok((
                    stmt.get_status(rusqlite::StatementStatus::Run),
                    stmt.get_status(rusqlite::StatementStatus::RePrepare),
                ))
            })
            .await
            .expect("statement status")
    }

    #[tokio::test]
    async fn the_record_views_mail_list_is_prepared_once_not_on_every_call() {
        let store = SqliteStore::open_in_memory().expect("open");
        for id in ["r1", "r2", "r3", "r4"] {
            let mails = store.recent_mail_of_registration(id, 20).await;
            assert!(mails.expect("mails").is_empty());
        }
        let sql = with_limit(RECENT_MAIL_OF_REGISTRATION, 20);
        assert_eq!(runs_and_reprepares(&store, sql).await, (4, 0));

        // The reason for `with_limit`: with a bound limit, SQLite prepares the statement again
        // after each new binding.
        let bound = format!("{RECENT_MAIL_OF_REGISTRATION} LIMIT ?2");
        let reprepared = store
            .alone(move |c| {
                let mut stmt = c.prepare_cached(&bound).db()?;
                for id in ["r1", "r2", "r3", "r4"] {
                    let mut rows = stmt.query(params![id, 20]).db()?;
                    while rows.next().db()?.is_some() {}
                }
                Ok(stmt.get_status(rusqlite::StatementStatus::RePrepare))
            })
            .await;
        assert!(reprepared.expect("bound") > 0);
    }

    #[tokio::test]
    async fn a_list_page_is_prepared_once_not_on_every_call() {
        let store = SqliteStore::open_in_memory().expect("open");
        let filter = ListFilter::default();
        for unit in ["u1", "u2", "u3", "u4"] {
            let scope = ListScope::Unit(unit.to_owned());
            let page = store.list_registrations(&scope, &filter, 20, None).await;
            assert!(page.expect("page").items.is_empty());
        }
        let (sql, _) = list_query(&ListScope::Unit("u1".to_owned()), &filter, 20, None)
            .expect("query")
            .expect("a unit's scope has a query");
        assert_eq!(runs_and_reprepares(&store, sql).await, (4, 0));
    }

    #[tokio::test]
    async fn a_write_waits_for_its_commit_and_reads_see_it_at_once() {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = SqliteStore::open(&dir.path().join("s.db")).expect("open");
        let before = store.transactions_committed();
        for n in 1..=5_u64 {
            let key = format!("k{n}");
            let t = OffsetDateTime::UNIX_EPOCH + time::Duration::days(20_000);
            assert_eq!(
                store
                    .bump_counter(&key, t, t + time::Duration::minutes(1))
                    .await,
                Ok(1)
            );
            // One at a time: each write is its own transaction, committed before the answer.
            assert_eq!(store.transactions_committed(), before + n);
            let seen = store
                .read(move |c| {
                    c.query_row("SELECT count FROM counters WHERE key = ?1", [key], |r| {
                        r.get::<_, i64>(0)
                    })
                    .db()
                })
                .await;
            assert_eq!(seen, Ok(1), "a read connection sees the answered write");
        }
    }

    #[tokio::test]
    async fn reads_together_that_fail_leave_no_snapshot_behind() {
        use chengguo_conformance::store::{
            at, far, insert_write, sample_attachment, sample_registration,
        };
        let dir = tempfile::tempdir().expect("temp dir");
        let store = SqliteStore::open(&dir.path().join("s.db")).expect("open");
        let reg = sample_registration("reg-1", "user-1", "unit-1", None, "auth-1", at(0));
        store.commit(insert_write(&reg)).await.expect("insert");
        let a = sample_attachment("reg-1", "att-1", AttachmentStatus::Ready, far(0));
        store.put_attachment(&a).await.expect("attachment");
        let with = store.registration_with_attachments("reg-1").await;
        assert_eq!(with, Ok(Some((reg, vec![a]))));
        store
            .write(|c| {
                c.execute("UPDATE attachments SET doc = 'not JSON'", [])
                    .db()
            })
            .await
            .expect("spoil");
        // The second read of the pair fails, after the first has read inside the transaction.
        assert!(store.registration_with_attachments("reg-1").await.is_err());
        // The connection goes back to the pool outside any transaction: the next read on it
        // (the pool hands out the last one returned) sees a write made since.
        let t = at(0);
        let bumped = store
            .bump_counter("k", t, t + time::Duration::minutes(1))
            .await;
        assert_eq!(bumped, Ok(1));
        let seen = store
            .read(|c| {
                c.query_row("SELECT count FROM counters WHERE key = 'k'", [], |r| {
                    r.get::<_, i64>(0)
                })
                .db()
            })
            .await;
        assert_eq!(seen, Ok(1));
    }

    #[tokio::test]
    async fn long_expired_counters_are_removed_on_the_way() {
        let store = SqliteStore::open_in_memory().expect("open");
        let t0 = OffsetDateTime::UNIX_EPOCH + time::Duration::days(20_000);
        let minute = time::Duration::minutes(1);
        for key in ["a", "b", "c"] {
            assert_eq!(store.bump_counter(key, t0, t0 + minute).await, Ok(1));
        }
        let keys = || async {
            store
                .alone(|c| {
                    let mut stmt = c.prepare("SELECT key FROM counters ORDER BY key").db()?;
                    let rows = stmt.query_map([], |r| r.get::<_, String>(0)).db()?;
                    rows.collect::<Result<Vec<_>, _>>().db()
                })
                .await
                .expect("keys")
        };
        // Ended, but not long ago: kept (a hit still in flight may count on it).
        let soon = t0 + minute * 30;
        assert_eq!(store.bump_counter("c", soon, soon + minute).await, Ok(1));
        assert_eq!(keys().await, ["a", "b", "c"]);
        let later = t0 + COUNTER_GRACE + minute * 2;
        assert_eq!(store.bump_counter("d", later, later + minute).await, Ok(1));
        assert_eq!(keys().await, ["c", "d"]);
    }
}
