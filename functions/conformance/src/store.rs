//! The storage conformance suite: one set of expectations for every [`Store`] backend.
//!
//! Each case is a `pub async fn case(store: Arc<dyn Store>)` that expects a FRESH, EMPTY store and
//! panics with a message naming what broke. [`run_all`] runs every case of [`CASES`], each on a new
//! store from the caller's factory; a backend's tests may also call the cases one by one.
//!
//! The contract the cases pin down, beyond the doc comments of [`Store`]:
//! - `put_*` replaces an existing item with the same key (upsert); deleting an absent item is fine.
//! - Lists other than registrations and events have no specified order; the suite sorts them by id.
//! - Registrations list newest first: `created_at` descending, ties broken by `id` descending.
//!   A page has at most `limit` items; a page carrying `next_cursor` is never empty; following the
//!   cursors visits every record in scope exactly once, even when newer records arrive meanwhile.
//!   A cursor the store did not issue is [`StoreError::BadCursor`].
//! - `commit`: inserting an existing registration id, a failed version guard, or an event whose
//!   `(registration_id, seq)` exists is [`StoreError::Conflict`]; a held number is
//!   [`StoreError::NumberTaken`]; a project with an existing `number` is
//!   [`StoreError::AlreadyExists`] carrying that number, an existing project id is `Conflict`. In
//!   every refusal nothing of the write set is applied.
//! - One write may release a record's number and claim another for it; a refused claim keeps
//!   the released number held.
//! - `max_serial(prefix)` is the highest serial among numbers held now, compared as numbers.
//! - `expired_attachments(now, limit)`: pending attachments with `expires_at < now` (strictly).
//! - `create_user` with a taken username is `AlreadyExists(username)`.
//! - `commit` inserts `WriteSet.mails` with the rest or not at all; a job whose id exists is
//!   [`StoreError::Conflict`]. `put_mail` replaces (upsert).
//! - `due_mail` lists oldest `next_attempt_at` first, ties by `id` ascending; `list_mail` and
//!   `mail_of_registration` newest first: `created_at` descending, ties by `id` descending;
//!   `recent_mail_of_registration` the first `limit` of them as summaries (without bodies), which
//!   follow every `put_mail`.
//! - `session_with_user`, `registration_with_attachments` and `objections_and_recent_mail`
//!   return what the reads they join return.
//! - `bump_counter`: a window runs from a counter's first hit to the `expires_at` given then; a
//!   hit after it starts the counter again at 1. Concurrent hits of one key each get a distinct
//!   value. (Whether a hit at exactly `now == expires_at` is still inside is not pinned.)
//!
//! Fixed instants ([`at`]) keep the cases deterministic; ids are plain strings so failures read well.

use std::sync::Arc;

use chengguo_domain::codes::{Action, Kind, Role, Source, State};
use chengguo_domain::fields::{Fields, UnitEntry};
use chengguo_domain::org::{Authority, Department, Session, Unit, User};
use chengguo_domain::ports::{
    ListFilter, ProjectWrite, RegistrationWrite, Store, StoreError, StoreResult, WriteSet,
};
use chengguo_domain::project::{AcceptanceStatus, Project};
use chengguo_domain::record::{
    Attachment, AttachmentStatus, Event, MailJob, MailStatus, MailSummary, Objection, Registration,
};
use chengguo_domain::scope::ListScope;
use futures::future::{BoxFuture, join_all};
use time::macros::datetime;
use time::{Duration, OffsetDateTime};

/// One case of the suite: takes a fresh, empty store and panics on failure.
pub type Case = fn(Arc<dyn Store>) -> BoxFuture<'static, ()>;

/// A factory of fresh, empty stores, one per case.
pub type StoreFactory = dyn Fn() -> BoxFuture<'static, Arc<dyn Store>> + Sync;

macro_rules! cases {
    ($($name:ident),+ $(,)?) => {
        /// Every case of the suite with its name, in the order [`run_all`] runs them.
        pub const CASES: &[(&str, Case)] = &[$((stringify!($name), |s| Box::pin($name(s)))),+];
    };
}

cases!(
    organisation,
    users_and_sessions,
    insert_registration,
    guarded_update,
    concurrent_commits,
    numbers,
    concurrent_claims,
    list_scopes,
    updates_move_records_between_scopes,
    list_filters,
    list_order_and_paging,
    bad_cursor,
    events_and_project_links,
    attachments,
    projects,
    project_writes_are_atomic,
    objections,
    mail_is_queued_with_its_transition,
    due_mail,
    mail_updates,
    mail_listings,
    counters,
    concurrent_counters,
    reads_together,
);

/// Runs every case of [`CASES`], each on a new store from `make`.
///
/// Must be called inside a multi-threaded tokio runtime (the concurrency cases spawn tasks). A
/// failing case panics with its name and the original message.
pub async fn run_all(make: &StoreFactory) {
    for (name, case) in CASES {
        let store = make().await;
        // A task per case, so that the panic can be reported with the case's name.
        match tokio::spawn(case(store)).await {
            Ok(()) => {}
            Err(e) if e.is_panic() => {
                let payload = e.into_panic();
                let msg = payload
                    .downcast_ref::<String>()
                    .map(String::as_str)
                    .or_else(|| payload.downcast_ref::<&str>().copied())
                    .unwrap_or("(non-text panic)");
                panic!("store conformance case `{name}` failed: {msg}");
            }
            Err(e) => panic!("store conformance case `{name}` did not finish: {e}"),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Builders, reusable by other tests.
// ---------------------------------------------------------------------------------------------

/// A fixed instant: 2026-03-01T00:00:00Z plus `secs` seconds.
pub fn at(secs: i64) -> OffsetDateTime {
    datetime!(2026-03-01 00:00 UTC) + Duration::seconds(secs)
}

/// A draft `applied`, `non_fiscal` registration at version 1 with one event expected
/// (`event_count = 1`), titled `成果 {id}`, first completing unit `完成单位 {unit}`.
pub fn sample_registration(
    id: &str,
    owner: &str,
    unit: &str,
    department: Option<&str>,
    authority: &str,
    created_at: OffsetDateTime,
) -> Registration {
    Registration {
        id: id.into(),
        kind: Some(Kind::Applied),
        consent: true,
        source: Source::NonFiscal,
        state: State::Draft,
        version: 1,
        owner_id: owner.into(),
        unit_id: unit.into(),
        department_id: department.map(Into::into),
        authority_id: authority.into(),
        project_id: None,
        fields: Fields {
            title: Some(format!("成果 {id}")),
            authority_id: Some(authority.into()),
            units: vec![UnitEntry {
                name: Some(format!("完成单位 {unit}")),
                uscc: None,
            }],
            ..Fields::default()
        },
        registration_number: None,
        decision: None,
        notice: None,
        return_opinion: None,
        submitted_at: None,
        event_count: 1,
        created_at,
        updated_at: created_at,
    }
}

/// An event of `registration_id` by the user `tester`.
pub fn sample_event(
    registration_id: &str,
    seq: u64,
    action: Action,
    from: Option<State>,
    to: State,
    at: OffsetDateTime,
) -> Event {
    Event {
        registration_id: registration_id.into(),
        seq,
        action,
        from,
        to,
        actor: "tester".into(),
        role: Some(Role::Leader),
        opinion: None,
        at,
    }
}

/// The `create` event of a new record: seq `event_count`, at `created_at`.
pub fn create_event(reg: &Registration) -> Event {
    sample_event(
        &reg.id,
        reg.event_count,
        Action::Create,
        None,
        reg.state,
        reg.created_at,
    )
}

/// A write set inserting `reg` (`expected_version: None`) with its [`create_event`].
pub fn insert_write(reg: &Registration) -> WriteSet {
    WriteSet {
        registrations: vec![RegistrationWrite {
            record: reg.clone(),
            expected_version: None,
            event: Some(create_event(reg)),
        }],
        ..WriteSet::default()
    }
}

/// The record after one more change: version and event count bumped, moved to `to` at `at`,
/// with the event of that change.
pub fn next_version(
    reg: &Registration,
    action: Action,
    to: State,
    at: OffsetDateTime,
) -> (Registration, Event) {
    let mut next = reg.clone();
    next.version += 1;
    next.event_count += 1;
    next.state = to;
    next.updated_at = at;
    let event = sample_event(&reg.id, next.event_count, action, Some(reg.state), to, at);
    (next, event)
}

/// A write set replacing a record guarded by `expected_version`, appending `event`.
pub fn update_write(expected_version: u64, next: &Registration, event: Option<Event>) -> WriteSet {
    WriteSet {
        registrations: vec![RegistrationWrite {
            record: next.clone(),
            expected_version: Some(expected_version),
            event,
        }],
        ..WriteSet::default()
    }
}

/// Inserts every record with [`insert_write`], panicking on any refusal.
pub async fn seed_registrations(store: &dyn Store, regs: &[Registration]) {
    for reg in regs {
        ok(
            store.commit(insert_write(reg)).await,
            &format!("insert {}", reg.id),
        );
    }
}

/// An active account created at [`at`]`(0)`.
pub fn sample_user(id: &str, username: &str, role: Role, unit: Option<&str>) -> User {
    User {
        id: id.into(),
        username: username.into(),
        display_name: format!("用户 {username}"),
        role,
        password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".into(),
        email: Some(format!("{username}@example.com")),
        unit_id: unit.map(Into::into),
        department_id: None,
        authority_id: None,
        supervised_unit_ids: Vec::new(),
        failed_logins: 0,
        locked_until: None,
        last_login_at: None,
        unlocked_at: None,
        active: true,
        created_at: at(0),
    }
}

/// A project at version 1, acceptance pending.
pub fn sample_project(id: &str, number: &str, unit: &str) -> Project {
    Project {
        id: id.into(),
        number: number.into(),
        name: format!("项目 {number}"),
        plan: "省科技计划".into(),
        leader_username: "leader".into(),
        unit_id: unit.into(),
        acceptance: AcceptanceStatus::Pending,
        acceptance_opinion: None,
        registration_id: None,
        version: 1,
        created_at: at(0),
        updated_at: at(0),
    }
}

/// A write set with only a project.
pub fn project_write(p: &Project, expected_version: Option<u64>) -> WriteSet {
    WriteSet {
        project: Some(ProjectWrite {
            record: p.clone(),
            expected_version,
        }),
        ..WriteSet::default()
    }
}

/// An attachment of a PDF of 1234 bytes.
pub fn sample_attachment(
    registration_id: &str,
    id: &str,
    status: AttachmentStatus,
    expires_at: OffsetDateTime,
) -> Attachment {
    Attachment {
        id: id.into(),
        registration_id: registration_id.into(),
        category: "tech_report".into(),
        filename: format!("{id}.pdf"),
        content_type: "application/pdf".into(),
        size: 1234,
        status,
        sha256: None,
        key: Attachment::key_for(registration_id, id),
        uploaded_by: "leader".into(),
        created_at: at(0),
        expires_at,
    }
}

/// An unresolved objection.
pub fn sample_objection(id: &str, registration_id: &str, filed_at: OffsetDateTime) -> Objection {
    Objection {
        id: id.into(),
        registration_id: registration_id.into(),
        name: "王五".into(),
        unit: "中山某公司".into(),
        phone: "13800138000".into(),
        email: "wangwu@example.com".into(),
        content: format!("异议 {id}"),
        filed_at,
        resolution: None,
        resolved_by: None,
        resolved_at: None,
    }
}

/// A pending notification created at `created_at` and due then, about `registration_id`.
pub fn sample_mail(id: &str, registration_id: Option<&str>, created_at: OffsetDateTime) -> MailJob {
    MailJob {
        id: id.into(),
        registration_id: registration_id.map(Into::into),
        reason: Action::Submit.code().into(),
        to: vec![
            "leader@example.com".into(),
            "联系人 <contact@example.com>".into(),
        ],
        subject: format!("成果登记通知 {id}"),
        body: format!("您的科技成果登记有新的进展。\n编号：{id}\n"),
        status: MailStatus::Pending,
        attempts: 0,
        last_error: None,
        next_attempt_at: created_at,
        created_at,
        sent_at: None,
    }
}

/// A fixed instant for counters: 2100-01-01T00:00:00Z plus `secs` seconds. Far in the future,
/// because a backend may remove a counter once its window has ended in real time (DynamoDB's
/// time to live), which must not happen in the middle of a case.
pub fn far(secs: i64) -> OffsetDateTime {
    datetime!(2100-01-01 00:00 UTC) + Duration::seconds(secs)
}

/// Every record in `scope` passing `filter`, following cursors with pages of `limit`, checking
/// the paging contract on the way (at most `limit` per page, no empty page before the end).
pub async fn list_all(
    store: &dyn Store,
    scope: &ListScope,
    filter: &ListFilter,
    limit: usize,
) -> Vec<Registration> {
    let mut all = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..10_000 {
        let page = ok(
            store
                .list_registrations(scope, filter, limit, cursor.as_deref())
                .await,
            &format!("list {scope:?} {filter:?} limit {limit} cursor {cursor:?}"),
        );
        assert!(
            page.items.len() <= limit,
            "list {scope:?} {filter:?}: page of {} items exceeds limit {limit}",
            page.items.len()
        );
        let done = page.next_cursor.is_none();
        assert!(
            done || !page.items.is_empty(),
            "list {scope:?} {filter:?} limit {limit}: an empty page carried a next_cursor"
        );
        all.extend(page.items);
        if done {
            return all;
        }
        cursor = page.next_cursor;
    }
    panic!("list {scope:?} {filter:?} limit {limit}: cursors never ended");
}

// ---------------------------------------------------------------------------------------------
// Assertion helpers.
// ---------------------------------------------------------------------------------------------

#[track_caller]
fn ok<T>(res: StoreResult<T>, what: &str) -> T {
    match res {
        Ok(v) => v,
        Err(e) => panic!("{what}: expected Ok, got Err({e:?})"),
    }
}

#[track_caller]
fn refused<T: std::fmt::Debug>(res: StoreResult<T>, want: StoreError, what: &str) {
    match res {
        Err(e) if e == want => {}
        other => panic!("{what}: expected Err({want:?}), got {other:?}"),
    }
}

fn ids(regs: &[Registration]) -> Vec<&str> {
    regs.iter().map(|r| r.id.as_str()).collect()
}

fn sorted<T: Clone>(items: &[T], key: impl Fn(&T) -> String) -> Vec<T> {
    let mut v = items.to_vec();
    v.sort_by_key(|t| key(t));
    v
}

async fn get_reg(store: &dyn Store, id: &str) -> Option<Registration> {
    ok(store.get_registration(id).await, &format!("get {id}"))
}

async fn events(store: &dyn Store, id: &str) -> Vec<Event> {
    ok(store.list_events(id).await, &format!("events of {id}"))
}

async fn holder(store: &dyn Store, number: &str) -> Option<String> {
    ok(
        store.number_holder(number).await,
        &format!("holder of {number}"),
    )
}

async fn max_serial(store: &dyn Store, prefix: &str) -> Option<u32> {
    ok(
        store.max_serial(prefix).await,
        &format!("max_serial {prefix}"),
    )
}

async fn mail(store: &dyn Store, id: &str) -> Option<MailJob> {
    ok(store.get_mail(id).await, &format!("get mail {id}"))
}

async fn due(store: &dyn Store, now: OffsetDateTime, limit: usize) -> Vec<String> {
    let jobs = ok(
        store.due_mail(now, limit).await,
        &format!("due_mail {now} limit {limit}"),
    );
    for j in &jobs {
        assert!(
            j.status == MailStatus::Pending && j.next_attempt_at <= now,
            "due_mail {now}: {} is {:?}, next attempt {}",
            j.id,
            j.status,
            j.next_attempt_at
        );
    }
    mail_ids(&jobs)
}

async fn listed(store: &dyn Store, status: MailStatus, limit: usize) -> Vec<String> {
    let jobs = ok(
        store.list_mail(status, limit).await,
        &format!("list_mail {status:?} limit {limit}"),
    );
    assert!(
        jobs.iter().all(|j| j.status == status),
        "list_mail {status:?}: {jobs:?}"
    );
    mail_ids(&jobs)
}

async fn mail_about(store: &dyn Store, registration_id: &str) -> Vec<MailJob> {
    ok(
        store.mail_of_registration(registration_id).await,
        &format!("mail of {registration_id}"),
    )
}

fn mail_ids(jobs: &[MailJob]) -> Vec<String> {
    jobs.iter().map(|j| j.id.clone()).collect()
}

async fn bump(store: &dyn Store, key: &str, secs: i64) -> u64 {
    ok(
        store
            .bump_counter(key, far(secs), far(secs) + Duration::seconds(60))
            .await,
        &format!("bump {key} at {secs}"),
    )
}

// ---------------------------------------------------------------------------------------------
// Cases.
// ---------------------------------------------------------------------------------------------

/// Authorities, units and departments: put (upsert), get, list.
pub async fn organisation(store: Arc<dyn Store>) {
    let s = store.as_ref();
    assert_eq!(ok(s.list_authorities().await, "authorities"), vec![]);
    assert_eq!(ok(s.list_units().await, "units"), vec![]);

    let a1 = Authority {
        id: "auth-1".into(),
        name: "中山市科学技术局".into(),
        code: "442".into(),
    };
    let mut a2 = Authority {
        id: "auth-2".into(),
        name: "另一登记机构".into(),
        code: "443".into(),
    };
    ok(s.put_authority(&a2).await, "put auth-2");
    ok(s.put_authority(&a1).await, "put auth-1");
    a2.name = "改名后的登记机构".into();
    ok(s.put_authority(&a2).await, "put auth-2 again");
    let listed = sorted(&ok(s.list_authorities().await, "authorities"), |a| {
        a.id.clone()
    });
    assert_eq!(listed, vec![a1, a2], "authorities after upsert");

    let u1 = Unit {
        id: "unit-1".into(),
        name: "中山大学".into(),
        uscc: "12440000455416455B".into(),
    };
    let mut u2 = Unit {
        id: "unit-2".into(),
        name: "中山某科技有限公司".into(),
        uscc: "91442000MA4UH7A35B".into(),
    };
    ok(s.put_unit(&u1).await, "put unit-1");
    ok(s.put_unit(&u2).await, "put unit-2");
    u2.name = "中山某科技股份有限公司".into();
    ok(s.put_unit(&u2).await, "put unit-2 again");
    assert_eq!(
        ok(s.get_unit("unit-1").await, "get unit-1"),
        Some(u1.clone())
    );
    assert_eq!(
        ok(s.get_unit("unit-2").await, "get unit-2"),
        Some(u2.clone())
    );
    assert_eq!(ok(s.get_unit("unit-9").await, "get unit-9"), None);
    let listed = sorted(&ok(s.list_units().await, "units"), |u| u.id.clone());
    assert_eq!(listed, vec![u1, u2], "units after upsert");

    let d1 = Department {
        id: "dept-1".into(),
        unit_id: "unit-1".into(),
        name: "化学学院".into(),
    };
    let mut d2 = Department {
        id: "dept-2".into(),
        unit_id: "unit-1".into(),
        name: "物理学院".into(),
    };
    let d3 = Department {
        id: "dept-3".into(),
        unit_id: "unit-2".into(),
        name: "研发部".into(),
    };
    for d in [&d1, &d2, &d3] {
        ok(s.put_department(d).await, &format!("put {}", d.id));
    }
    d2.name = "物理与天文学院".into();
    ok(s.put_department(&d2).await, "put dept-2 again");
    assert_eq!(
        ok(s.get_department("dept-2").await, "get dept-2"),
        Some(d2.clone())
    );
    assert_eq!(ok(s.get_department("dept-9").await, "get dept-9"), None);
    let of1 = sorted(&ok(s.list_departments("unit-1").await, "depts"), |d| {
        d.id.clone()
    });
    assert_eq!(of1, vec![d1, d2], "departments of unit-1");
    assert_eq!(
        ok(s.list_departments("unit-2").await, "depts of unit-2"),
        vec![d3]
    );
    assert_eq!(
        ok(s.list_departments("unit-9").await, "depts of unit-9"),
        vec![]
    );
}

/// Accounts (unique usernames, lookups, updates, per-unit lists) and sessions.
pub async fn users_and_sessions(store: Arc<dyn Store>) {
    let s = store.as_ref();
    let mut leader = sample_user("user-1", "leader", Role::Leader, Some("unit-1"));
    let unit_admin = sample_user("user-2", "unit", Role::Unit, Some("unit-1"));
    let leader_b = sample_user("user-3", "leader-b", Role::Leader, Some("unit-2"));
    let admin = sample_user("user-4", "admin", Role::Admin, None);
    for u in [&leader, &unit_admin, &leader_b, &admin] {
        ok(s.create_user(u).await, &format!("create {}", u.username));
    }

    let dup = sample_user("user-5", "leader", Role::Unit, Some("unit-2"));
    refused(
        s.create_user(&dup).await,
        StoreError::AlreadyExists("leader".into()),
        "create a second account named leader",
    );
    assert_eq!(ok(s.get_user("user-5").await, "get user-5"), None);
    assert_eq!(
        ok(s.find_user("leader").await, "find leader"),
        Some(leader.clone()),
        "the first account keeps the name"
    );

    assert_eq!(
        ok(s.get_user("user-1").await, "get user-1"),
        Some(leader.clone())
    );
    assert_eq!(ok(s.get_user("nobody").await, "get nobody"), None);
    assert_eq!(ok(s.find_user("nobody").await, "find nobody"), None);

    leader.failed_logins = 3;
    leader.locked_until = Some(at(900));
    leader.display_name = "张三".into();
    ok(s.update_user(&leader).await, "update leader");
    assert_eq!(
        ok(s.get_user("user-1").await, "get user-1"),
        Some(leader.clone())
    );
    assert_eq!(
        ok(s.find_user("leader").await, "find leader"),
        Some(leader.clone())
    );
    leader.failed_logins = 0;
    leader.locked_until = None;
    ok(s.update_user(&leader).await, "unlock leader");
    assert_eq!(
        ok(s.find_user("leader").await, "find leader"),
        Some(leader.clone())
    );

    let of_unit1 = sorted(&ok(s.list_users(Some("unit-1")).await, "users"), |u| {
        u.id.clone()
    });
    assert_eq!(of_unit1, vec![leader.clone(), unit_admin.clone()]);
    assert_eq!(
        ok(s.list_users(Some("unit-2")).await, "users of unit-2"),
        vec![leader_b.clone()]
    );
    assert_eq!(
        ok(s.list_users(Some("unit-9")).await, "users of unit-9"),
        vec![]
    );
    let everyone = sorted(&ok(s.list_users(None).await, "all users"), |u| u.id.clone());
    assert_eq!(everyone, vec![leader, unit_admin, leader_b, admin]);

    let session = Session {
        token_hash: "hash-1".into(),
        user_id: "user-1".into(),
        csrf_token: "csrf-1".into(),
        created_at: at(0),
        expires_at: at(3600),
    };
    let other = Session {
        token_hash: "hash-2".into(),
        user_id: "user-2".into(),
        csrf_token: "csrf-2".into(),
        created_at: at(10),
        expires_at: at(3610),
    };
    ok(s.put_session(&session).await, "put session");
    ok(s.put_session(&other).await, "put other session");
    assert_eq!(
        ok(s.get_session("hash-1").await, "get session"),
        Some(session)
    );
    ok(s.delete_session("hash-1").await, "delete session");
    assert_eq!(ok(s.get_session("hash-1").await, "get deleted"), None);
    assert_eq!(
        ok(s.get_session("hash-2").await, "other session"),
        Some(other)
    );
    ok(s.delete_session("hash-1").await, "delete an absent session");
    assert_eq!(ok(s.get_session("hash-9").await, "get absent"), None);
}

/// Inserting a registration with its event; inserting the same id again is refused whole.
pub async fn insert_registration(store: Arc<dyn Store>) {
    let s = store.as_ref();
    assert_eq!(get_reg(s, "reg-1").await, None);
    assert_eq!(events(s, "reg-1").await, vec![]);

    let reg = sample_registration(
        "reg-1",
        "user-1",
        "unit-1",
        Some("dept-1"),
        "auth-1",
        at(10),
    );
    ok(s.commit(insert_write(&reg)).await, "insert reg-1");
    assert_eq!(get_reg(s, "reg-1").await, Some(reg.clone()));
    assert_eq!(events(s, "reg-1").await, vec![create_event(&reg)]);

    let mut again = sample_registration("reg-1", "user-9", "unit-9", None, "auth-9", at(20));
    again.fields.title = Some("冒名".into());
    refused(
        s.commit(insert_write(&again)).await,
        StoreError::Conflict,
        "insert reg-1 twice",
    );
    assert_eq!(
        get_reg(s, "reg-1").await,
        Some(reg.clone()),
        "the record is unchanged"
    );
    assert_eq!(
        events(s, "reg-1").await,
        vec![create_event(&reg)],
        "no event is added"
    );

    // A write set inserting a new record and re-inserting an existing one fails whole.
    let fresh = sample_registration("reg-2", "user-1", "unit-1", None, "auth-1", at(30));
    let mut w = insert_write(&fresh);
    w.registrations.extend(insert_write(&again).registrations);
    refused(
        s.commit(w).await,
        StoreError::Conflict,
        "insert reg-2 with reg-1",
    );
    assert_eq!(get_reg(s, "reg-2").await, None, "reg-2 is not inserted");
    assert_eq!(events(s, "reg-2").await, vec![]);

    // Without an event the record alone is written.
    let mut w = insert_write(&fresh);
    w.registrations[0].event = None;
    ok(s.commit(w).await, "insert reg-2 without event");
    assert_eq!(get_reg(s, "reg-2").await, Some(fresh));
    assert_eq!(events(s, "reg-2").await, vec![]);
}

/// Version guards: a matching version succeeds; any other version, a missing record or an
/// existing event seq is a conflict that changes nothing.
pub async fn guarded_update(store: Arc<dyn Store>) {
    let s = store.as_ref();
    let v1 = sample_registration("reg-1", "user-1", "unit-1", None, "auth-1", at(10));
    let other = sample_registration("reg-2", "user-1", "unit-1", None, "auth-1", at(20));
    seed_registrations(s, &[v1.clone(), other.clone()]).await;

    let (mut v2, e2) = next_version(&v1, Action::Submit, State::UnitReview, at(100));
    v2.fields.title = Some("改过的标题".into());
    v2.submitted_at = Some(at(100));
    ok(
        s.commit(update_write(1, &v2, Some(e2.clone()))).await,
        "update v1 → v2",
    );
    assert_eq!(get_reg(s, "reg-1").await, Some(v2.clone()));
    assert_eq!(
        events(s, "reg-1").await,
        vec![create_event(&v1), e2.clone()]
    );

    for stale in [1, 3, 7] {
        let (v3, e3) = next_version(&v2, Action::Pass, State::PointReview, at(200));
        refused(
            s.commit(update_write(stale, &v3, Some(e3))).await,
            StoreError::Conflict,
            &format!("update guarded by version {stale} while the record is at 2"),
        );
        assert_eq!(get_reg(s, "reg-1").await, Some(v2.clone()), "unchanged");
        assert_eq!(
            events(s, "reg-1").await,
            vec![create_event(&v1), e2.clone()],
            "no event added"
        );
    }

    // A guard on a record that does not exist never creates it.
    let ghost = sample_registration("ghost", "user-1", "unit-1", None, "auth-1", at(30));
    let (ghost2, ghost_event) = next_version(&ghost, Action::Pass, State::PointReview, at(30));
    refused(
        s.commit(update_write(1, &ghost2, Some(ghost_event))).await,
        StoreError::Conflict,
        "update of a missing record",
    );
    assert_eq!(get_reg(s, "ghost").await, None);
    assert_eq!(events(s, "ghost").await, vec![]);

    // An event whose seq exists is a conflict even when the version matches.
    let (v3, _) = next_version(&v2, Action::Pass, State::PointReview, at(300));
    let mut dup_event = e2.clone();
    dup_event.opinion = Some("重复".into());
    refused(
        s.commit(update_write(2, &v3, Some(dup_event))).await,
        StoreError::Conflict,
        "append an event with an existing seq",
    );
    assert_eq!(get_reg(s, "reg-1").await, Some(v2.clone()), "unchanged");
    assert_eq!(
        events(s, "reg-1").await,
        vec![create_event(&v1), e2.clone()]
    );

    // Two records in one write: one failing guard leaves the other untouched.
    let (other2, other_event) = next_version(&other, Action::Submit, State::UnitReview, at(400));
    let (v3, e3) = next_version(&v2, Action::Pass, State::PointReview, at(400));
    let mut w = update_write(1, &other2, Some(other_event.clone()));
    w.registrations
        .extend(update_write(1, &v3, Some(e3.clone())).registrations);
    refused(
        s.commit(w).await,
        StoreError::Conflict,
        "two records, second guard stale",
    );
    assert_eq!(
        get_reg(s, "reg-2").await,
        Some(other.clone()),
        "first record untouched"
    );
    assert_eq!(events(s, "reg-2").await, vec![create_event(&other)]);
    assert_eq!(get_reg(s, "reg-1").await, Some(v2.clone()));

    // The same pair with correct guards is written together.
    let mut w = update_write(1, &other2, Some(other_event.clone()));
    w.registrations
        .extend(update_write(2, &v3, Some(e3.clone())).registrations);
    ok(s.commit(w).await, "two records, both guards right");
    assert_eq!(get_reg(s, "reg-2").await, Some(other2));
    assert_eq!(get_reg(s, "reg-1").await, Some(v3));
    assert_eq!(
        events(s, "reg-2").await,
        vec![create_event(&other), other_event]
    );
    assert_eq!(events(s, "reg-1").await, vec![create_event(&v1), e2, e3]);
}

/// Twenty writers act on the same version at once: exactly one wins.
pub async fn concurrent_commits(store: Arc<dyn Store>) {
    let base = sample_registration("race", "user-1", "unit-1", None, "auth-1", at(10));
    ok(store.commit(insert_write(&base)).await, "insert race");

    let handles = (0..20i64).map(|i| {
        let store = store.clone();
        let (mut next, mut event) =
            next_version(&base, Action::Submit, State::UnitReview, at(100 + i));
        next.fields.title = Some(format!("attempt {i}"));
        event.opinion = Some(format!("attempt {i}"));
        tokio::spawn(async move {
            let res = store
                .commit(update_write(1, &next, Some(event.clone())))
                .await;
            (next, event, res)
        })
    });
    let results: Vec<_> = join_all(handles)
        .await
        .into_iter()
        .map(|r| r.expect("writer task panicked"))
        .collect();

    let winners: Vec<_> = results.iter().filter(|(_, _, r)| r.is_ok()).collect();
    assert_eq!(
        winners.len(),
        1,
        "exactly one of 20 concurrent commits wins"
    );
    for (_, event, res) in &results {
        if let Err(e) = res {
            assert_eq!(
                *e,
                StoreError::Conflict,
                "a loser ({:?}) is told Conflict",
                event.opinion
            );
        }
    }
    let (won, won_event, _) = winners[0];
    assert_eq!(get_reg(store.as_ref(), "race").await.as_ref(), Some(won));
    assert_eq!(
        events(store.as_ref(), "race").await,
        vec![create_event(&base), won_event.clone()],
        "exactly one new event"
    );
}

/// Claiming, refusing, releasing and moving registration numbers; the highest serial per prefix.
pub async fn numbers(store: Arc<dyn Store>) {
    let s = store.as_ref();
    assert_eq!(max_serial(s, "4422026Y").await, None, "no numbers yet");
    assert_eq!(holder(s, "4422026Y0003").await, None);

    let mk =
        |id: &str, secs: i64| sample_registration(id, "user-1", "unit-1", None, "auth-1", at(secs));
    let claim = |reg: &Registration, number: &str| {
        let mut reg = reg.clone();
        reg.registration_number = Some(number.into());
        let mut w = insert_write(&reg);
        w.claim_number = Some((number.into(), reg.id.clone()));
        (reg, w)
    };

    let (r1, w) = claim(&mk("reg-1", 10), "4422026Y0003");
    ok(s.commit(w).await, "reg-1 claims 0003");
    assert_eq!(holder(s, "4422026Y0003").await.as_deref(), Some("reg-1"));
    assert_eq!(max_serial(s, "4422026Y").await, Some(3));

    // Another new record claiming the held number: nothing of it is written.
    let (_, w) = claim(&mk("reg-2", 20), "4422026Y0003");
    refused(
        s.commit(w).await,
        StoreError::NumberTaken("4422026Y0003".into()),
        "reg-2 claims the number of reg-1",
    );
    assert_eq!(get_reg(s, "reg-2").await, None, "reg-2 not inserted");
    assert_eq!(events(s, "reg-2").await, vec![], "no event of reg-2");
    assert_eq!(holder(s, "4422026Y0003").await.as_deref(), Some("reg-1"));

    // An existing record claiming the held number: neither record nor event changes.
    let r3 = mk("reg-3", 30);
    seed_registrations(s, std::slice::from_ref(&r3)).await;
    let (mut r3b, e3b) = next_version(&r3, Action::Decide, State::Decided, at(300));
    r3b.registration_number = Some("4422026Y0003".into());
    let mut w = update_write(1, &r3b, Some(e3b.clone()));
    w.claim_number = Some(("4422026Y0003".into(), "reg-3".into()));
    refused(
        s.commit(w).await,
        StoreError::NumberTaken("4422026Y0003".into()),
        "reg-3 (existing) claims the number of reg-1",
    );
    assert_eq!(get_reg(s, "reg-3").await, Some(r3.clone()));
    assert_eq!(events(s, "reg-3").await, vec![create_event(&r3)]);

    // reg-3 takes 0010; other prefixes do not count towards 4422026Y.
    r3b.registration_number = Some("4422026Y0010".into());
    let mut w = update_write(1, &r3b, Some(e3b));
    w.claim_number = Some(("4422026Y0010".into(), "reg-3".into()));
    ok(s.commit(w).await, "reg-3 claims 0010");
    let r3 = r3b;
    for (id, number, secs) in [
        ("reg-4", "4422026J0042", 40),
        ("reg-5", "4432026Y0099", 50),
        ("reg-6", "4422025Y0500", 60),
        ("reg-7", "4422026R0100", 70),
    ] {
        let (_, w) = claim(&mk(id, secs), number);
        ok(s.commit(w).await, &format!("{id} claims {number}"));
        assert_eq!(holder(s, number).await.as_deref(), Some(id));
    }
    assert_eq!(max_serial(s, "4422026Y").await, Some(10));
    assert_eq!(max_serial(s, "4422026J").await, Some(42));
    assert_eq!(max_serial(s, "4422026R").await, Some(100));
    assert_eq!(max_serial(s, "4432026Y").await, Some(99));
    assert_eq!(max_serial(s, "4422025Y").await, Some(500));
    assert_eq!(max_serial(s, "4422027Y").await, None);
    assert_eq!(max_serial(s, "4422026").await, None, "not an 8-char prefix");

    // reg-1 gives its number up (rejected after reopening).
    let (mut r1b, e1b) = next_version(&r1, Action::Decide, State::Decided, at(500));
    r1b.registration_number = None;
    let mut w = update_write(1, &r1b, Some(e1b));
    w.release_number = Some("4422026Y0003".into());
    ok(s.commit(w).await, "reg-1 releases 0003");
    assert_eq!(holder(s, "4422026Y0003").await, None);
    assert_eq!(max_serial(s, "4422026Y").await, Some(10));

    // The freed number can be claimed again.
    let (r2, w) = claim(&mk("reg-2", 20), "4422026Y0003");
    ok(s.commit(w).await, "reg-2 claims the freed 0003");
    assert_eq!(holder(s, "4422026Y0003").await.as_deref(), Some("reg-2"));

    // One write moves reg-3 from 0010 to 0011.
    let (mut r3c, e3c) = next_version(&r3, Action::Decide, State::Decided, at(600));
    r3c.registration_number = Some("4422026Y0011".into());
    let mut w = update_write(r3.version, &r3c, Some(e3c));
    w.release_number = Some("4422026Y0010".into());
    w.claim_number = Some(("4422026Y0011".into(), "reg-3".into()));
    ok(s.commit(w).await, "reg-3 moves to 0011");
    assert_eq!(holder(s, "4422026Y0010").await, None);
    assert_eq!(holder(s, "4422026Y0011").await.as_deref(), Some("reg-3"));
    assert_eq!(max_serial(s, "4422026Y").await, Some(11));

    // A move onto a held number fails whole: the release is not applied either.
    let (mut r3d, e3d) = next_version(&r3c, Action::Decide, State::Decided, at(700));
    r3d.registration_number = Some("4422026Y0003".into());
    let mut w = update_write(r3c.version, &r3d, Some(e3d));
    w.release_number = Some("4422026Y0011".into());
    w.claim_number = Some(("4422026Y0003".into(), "reg-3".into()));
    refused(
        s.commit(w).await,
        StoreError::NumberTaken("4422026Y0003".into()),
        "reg-3 moves onto the number of reg-2",
    );
    assert_eq!(holder(s, "4422026Y0011").await.as_deref(), Some("reg-3"));
    assert_eq!(holder(s, "4422026Y0003").await.as_deref(), Some("reg-2"));
    assert_eq!(get_reg(s, "reg-3").await, Some(r3c.clone()));
    assert_eq!(events(s, "reg-3").await.len(), 3);
    assert_eq!(get_reg(s, "reg-2").await, Some(r2));
}

/// Concurrent claims: distinct numbers all succeed; one number has exactly one winner.
pub async fn concurrent_claims(store: Arc<dyn Store>) {
    let claimed = |id: String, number: String, secs: i64| {
        let mut reg = sample_registration(&id, "user-1", "unit-1", None, "auth-1", at(secs));
        reg.registration_number = Some(number.clone());
        let mut w = insert_write(&reg);
        w.claim_number = Some((number, id));
        w
    };

    let distinct = (1..=20i64).map(|i| {
        let store = store.clone();
        let w = claimed(format!("d-{i:02}"), format!("4422026Y{i:04}"), i);
        tokio::spawn(async move { store.commit(w).await })
    });
    for (i, res) in join_all(distinct).await.into_iter().enumerate() {
        let res = res.expect("claim task panicked");
        ok(res, &format!("distinct claim {}", i + 1));
    }
    for i in 1..=20 {
        assert_eq!(
            holder(store.as_ref(), &format!("4422026Y{i:04}"))
                .await
                .as_deref(),
            Some(format!("d-{i:02}").as_str())
        );
    }
    assert_eq!(max_serial(store.as_ref(), "4422026Y").await, Some(20));

    let same = (1..=20i64).map(|i| {
        let store = store.clone();
        let id = format!("s-{i:02}");
        let w = claimed(id.clone(), "4422026R0001".into(), 100 + i);
        tokio::spawn(async move { (id, store.commit(w).await) })
    });
    let results: Vec<_> = join_all(same)
        .await
        .into_iter()
        .map(|r| r.expect("claim task panicked"))
        .collect();
    let winners: Vec<&String> = results
        .iter()
        .filter(|(_, r)| r.is_ok())
        .map(|(id, _)| id)
        .collect();
    assert_eq!(
        winners.len(),
        1,
        "exactly one of 20 claims of one number wins"
    );
    for (id, res) in &results {
        match res {
            Ok(()) => {}
            Err(e) => {
                assert_eq!(
                    *e,
                    StoreError::NumberTaken("4422026R0001".into()),
                    "loser {id}"
                );
                assert_eq!(
                    get_reg(store.as_ref(), id).await,
                    None,
                    "loser {id} not stored"
                );
            }
        }
    }
    assert_eq!(
        holder(store.as_ref(), "4422026R0001").await.as_ref(),
        Some(winners[0])
    );
    assert_eq!(max_serial(store.as_ref(), "4422026R").await, Some(1));
}

/// Every [`ListScope`] variant returns exactly the records in scope, newest first.
pub async fn list_scopes(store: Arc<dyn Store>) {
    let s = store.as_ref();
    let regs = [
        sample_registration(
            "reg-01",
            "user-l1",
            "unit-1",
            Some("dept-1"),
            "auth-1",
            at(10),
        ),
        sample_registration(
            "reg-02",
            "user-l1",
            "unit-1",
            Some("dept-1"),
            "auth-2",
            at(20),
        ),
        sample_registration("reg-03", "user-l2", "unit-1", None, "auth-1", at(30)),
        sample_registration(
            "reg-04",
            "user-l3",
            "unit-2",
            Some("dept-2"),
            "auth-1",
            at(30),
        ),
        sample_registration("reg-05", "user-l4", "unit-3", None, "auth-2", at(40)),
        sample_registration(
            "reg-06",
            "user-l2",
            "unit-1",
            Some("dept-3"),
            "auth-1",
            at(50),
        ),
        sample_registration(
            "reg-07",
            "user-l5",
            "unit-2",
            Some("dept-2"),
            "auth-2",
            at(5),
        ),
    ];
    seed_registrations(s, &regs).await;

    let units = |ids: &[&str]| ListScope::Units(ids.iter().map(|s| s.to_string()).collect());
    let cases: Vec<(ListScope, Vec<&str>)> = vec![
        (ListScope::Owner("user-l1".into()), vec!["reg-02", "reg-01"]),
        (ListScope::Owner("user-l2".into()), vec!["reg-06", "reg-03"]),
        (ListScope::Owner("nobody".into()), vec![]),
        (
            ListScope::Department("dept-1".into()),
            vec!["reg-02", "reg-01"],
        ),
        (
            ListScope::Department("dept-2".into()),
            vec!["reg-04", "reg-07"],
        ),
        (ListScope::Department("dept-9".into()), vec![]),
        (
            ListScope::Unit("unit-1".into()),
            vec!["reg-06", "reg-03", "reg-02", "reg-01"],
        ),
        (ListScope::Unit("unit-2".into()), vec!["reg-04", "reg-07"]),
        (ListScope::Unit("unit-9".into()), vec![]),
        (
            ListScope::Authority("auth-1".into()),
            vec!["reg-06", "reg-04", "reg-03", "reg-01"],
        ),
        (
            ListScope::Authority("auth-2".into()),
            vec!["reg-05", "reg-02", "reg-07"],
        ),
        (ListScope::Authority("auth-9".into()), vec![]),
        (
            units(&["unit-2", "unit-3"]),
            vec!["reg-05", "reg-04", "reg-07"],
        ),
        (units(&["unit-3"]), vec!["reg-05"]),
        (units(&["unit-9"]), vec![]),
        (units(&[]), vec![]),
        (
            ListScope::All,
            vec![
                "reg-06", "reg-05", "reg-04", "reg-03", "reg-02", "reg-01", "reg-07",
            ],
        ),
        (ListScope::Nothing, vec![]),
    ];
    for (scope, want) in cases {
        // The hard-coded answer agrees with the domain's own definition of scope.
        let by_domain: Vec<&str> = {
            let mut v: Vec<&Registration> = regs.iter().filter(|r| scope.contains(r)).collect();
            v.sort_by(|a, b| (b.created_at, &b.id).cmp(&(a.created_at, &a.id)));
            v.into_iter().map(|r| r.id.as_str()).collect()
        };
        assert_eq!(by_domain, want, "suite self-check for {scope:?}");

        let got = list_all(s, &scope, &ListFilter::default(), 100).await;
        assert_eq!(ids(&got), want, "list {scope:?}");
        for r in &got {
            let original = regs.iter().find(|o| o.id == r.id).expect("known id");
            assert_eq!(r, original, "listed record equals the stored one");
        }
    }
}

/// A guarded update that changes the owner, unit, department, authority or project moves the
/// record to its new scopes and out of the old ones; one that changes only the state leaves it
/// where it is; a stale one changes nothing.
pub async fn updates_move_records_between_scopes(store: Arc<dyn Store>) {
    let s = store.as_ref();
    let reg = sample_registration(
        "reg-1",
        "user-a",
        "unit-1",
        Some("dept-1"),
        "auth-1",
        at(10),
    );
    let stays = sample_registration("reg-2", "user-a", "unit-1", Some("dept-1"), "auth-1", at(5));
    seed_registrations(s, &[reg.clone(), stays.clone()]).await;
    let listed = |scope: ListScope| async move {
        list_all(s, &scope, &ListFilter::default(), 100)
            .await
            .into_iter()
            .map(|r| r.id)
            .collect::<Vec<String>>()
    };
    let old_scopes = || {
        [
            ListScope::Owner("user-a".into()),
            ListScope::Unit("unit-1".into()),
            ListScope::Department("dept-1".into()),
            ListScope::Authority("auth-1".into()),
        ]
    };
    let new_scopes = || {
        [
            ListScope::Owner("user-b".into()),
            ListScope::Unit("unit-2".into()),
            ListScope::Department("dept-2".into()),
            ListScope::Authority("auth-2".into()),
        ]
    };

    // Only the state: the record stays in every scope, with its new state.
    let (submitted, event) = next_version(&reg, Action::Submit, State::DeptReview, at(20));
    ok(
        s.commit(update_write(reg.version, &submitted, Some(event)))
            .await,
        "submit",
    );
    for scope in old_scopes() {
        assert_eq!(listed(scope.clone()).await, ["reg-1", "reg-2"], "{scope:?}");
    }
    assert_eq!(get_reg(s, "reg-1").await, Some(submitted.clone()));

    // A stale version that would move it: refused, nothing moves.
    let mut stale = submitted.clone();
    stale.version += 1;
    stale.owner_id = "user-b".into();
    stale.unit_id = "unit-2".into();
    assert_eq!(
        s.commit(update_write(reg.version, &stale, None)).await,
        Err(StoreError::Conflict)
    );
    for scope in new_scopes() {
        assert_eq!(
            listed(scope.clone()).await,
            Vec::<String>::new(),
            "{scope:?}"
        );
    }

    // Every scope column at once, and a project.
    let mut moved = submitted.clone();
    moved.version += 1;
    moved.owner_id = "user-b".into();
    moved.unit_id = "unit-2".into();
    moved.department_id = Some("dept-2".into());
    moved.authority_id = "auth-2".into();
    moved.project_id = Some("proj-1".into());
    ok(
        s.commit(update_write(submitted.version, &moved, None))
            .await,
        "move",
    );
    for scope in old_scopes() {
        assert_eq!(listed(scope.clone()).await, ["reg-2"], "{scope:?}");
    }
    for scope in new_scopes() {
        assert_eq!(listed(scope.clone()).await, ["reg-1"], "{scope:?}");
    }
    assert_eq!(
        ok(s.registrations_of_project("proj-1").await, "of proj-1"),
        vec![moved.clone()]
    );

    // Out of its department and project again.
    let mut back = moved.clone();
    back.version += 1;
    back.department_id = None;
    back.project_id = None;
    ok(
        s.commit(update_write(moved.version, &back, None)).await,
        "leave department and project",
    );
    assert_eq!(
        listed(ListScope::Department("dept-2".into())).await,
        Vec::<String>::new()
    );
    assert_eq!(
        ok(s.registrations_of_project("proj-1").await, "of proj-1"),
        vec![]
    );
    assert_eq!(listed(ListScope::Unit("unit-2".into())).await, ["reg-1"]);
    assert_eq!(get_reg(s, "reg-1").await, Some(back));
    assert_eq!(get_reg(s, "reg-2").await, Some(stays));
}

/// [`ListFilter`] state, kind and `q` select exactly what [`ListFilter::matches`] selects.
pub async fn list_filters(store: Arc<dyn Store>) {
    let s = store.as_ref();
    let unit = |name: &str| UnitEntry {
        name: Some(name.into()),
        uscc: None,
    };
    let mk = |id: &str, unit_id: &str, secs: i64, state: State, kind: Option<Kind>| {
        let mut r = sample_registration(id, "user-1", unit_id, None, "auth-1", at(secs));
        r.state = state;
        r.kind = kind;
        r
    };
    let mut f1 = mk("f-01", "unit-1", 1, State::Draft, Some(Kind::Applied));
    f1.fields.title = Some("Smart LAMP controller".into());
    f1.fields.units = vec![unit("中山照明有限公司")];
    let mut f2 = mk("f-02", "unit-1", 2, State::Decided, Some(Kind::Basic));
    f2.fields.title = Some("基础理论研究".into());
    f2.registration_number = Some("4422026J0001".into());
    f2.fields.units = vec![unit("Ärger GmbH")];
    let mut f3 = mk("f-03", "unit-1", 3, State::UnitReview, Some(Kind::Soft));
    f3.fields.title = Some("软科学 policy".into());
    f3.fields.units = vec![unit("甲单位"), unit("Lamp Works")];
    let mut f4 = mk("f-04", "unit-1", 4, State::Draft, None);
    f4.fields.title = None;
    f4.fields.units = vec![];
    let mut f5 = mk("f-05", "unit-2", 5, State::Decided, Some(Kind::Applied));
    f5.fields.title = Some("Lamp post".into());
    f5.registration_number = Some("4422026Y0002".into());
    f5.fields.units = vec![unit("中山大学")];
    let mut f6 = mk("f-06", "unit-2", 6, State::Decided, Some(Kind::Applied));
    f6.fields.title = Some("Street_light 100%".into());
    f6.fields.units = vec![UnitEntry {
        name: None,
        uscc: Some("12440000455416455B".into()),
    }];
    let regs = [f1, f2, f3, f4, f5, f6];
    seed_registrations(s, &regs).await;

    let q = |text: &str| ListFilter {
        q: Some(text.into()),
        ..ListFilter::default()
    };
    let state = |st: State| ListFilter {
        state: Some(st),
        ..ListFilter::default()
    };
    let kind = |k: Kind| ListFilter {
        kind: Some(k),
        ..ListFilter::default()
    };
    let all = vec!["f-06", "f-05", "f-04", "f-03", "f-02", "f-01"];
    let cases: Vec<(ListScope, ListFilter, Vec<&str>)> = vec![
        (ListScope::All, ListFilter::default(), all.clone()),
        (ListScope::All, state(State::Draft), vec!["f-04", "f-01"]),
        (
            ListScope::All,
            state(State::Decided),
            vec!["f-06", "f-05", "f-02"],
        ),
        (ListScope::All, state(State::PointReview), vec![]),
        (
            ListScope::All,
            kind(Kind::Applied),
            vec!["f-06", "f-05", "f-01"],
        ),
        (ListScope::All, kind(Kind::Basic), vec!["f-02"]),
        (ListScope::All, kind(Kind::Soft), vec!["f-03"]),
        (ListScope::All, q("lamp"), vec!["f-05", "f-01"]),
        (ListScope::All, q("  LaMp "), vec!["f-05", "f-01"]),
        (ListScope::All, q(""), all.clone()),
        (ListScope::All, q("   "), all.clone()),
        (ListScope::All, q("4422026j"), vec!["f-02"]),
        (ListScope::All, q("0002"), vec!["f-05"]),
        (ListScope::All, q("4422026"), vec!["f-05", "f-02"]),
        (ListScope::All, q("ärger"), vec!["f-02"]),
        (ListScope::All, q("ÄRGER"), vec!["f-02"]),
        (ListScope::All, q("中山"), vec!["f-05", "f-01"]),
        (ListScope::All, q("大学"), vec!["f-05"]),
        (ListScope::All, q("works"), vec![]),
        (ListScope::All, q("理论"), vec!["f-02"]),
        (ListScope::All, q("%"), vec!["f-06"]),
        (ListScope::All, q("_"), vec!["f-06"]),
        (ListScope::All, q("t_l"), vec!["f-06"]),
        (ListScope::All, q("s%t"), vec![]),
        (ListScope::All, q("12440000"), vec![]),
        (
            ListScope::All,
            ListFilter {
                state: Some(State::Decided),
                kind: Some(Kind::Applied),
                q: None,
            },
            vec!["f-06", "f-05"],
        ),
        (
            ListScope::All,
            ListFilter {
                state: Some(State::Decided),
                kind: None,
                q: Some("LAMP".into()),
            },
            vec!["f-05"],
        ),
        (
            ListScope::All,
            ListFilter {
                state: Some(State::Draft),
                kind: Some(Kind::Applied),
                q: None,
            },
            vec!["f-01"],
        ),
        (
            ListScope::All,
            ListFilter {
                state: None,
                kind: Some(Kind::Applied),
                q: Some("street".into()),
            },
            vec!["f-06"],
        ),
        (ListScope::Unit("unit-1".into()), q("lamp"), vec!["f-01"]),
        (
            ListScope::Unit("unit-2".into()),
            state(State::Decided),
            vec!["f-06", "f-05"],
        ),
        (ListScope::Nothing, q("lamp"), vec![]),
    ];
    for (scope, filter, want) in cases {
        let by_domain: Vec<&str> = regs
            .iter()
            .rev()
            .filter(|r| scope.contains(r) && filter.matches(r))
            .map(|r| r.id.as_str())
            .collect();
        assert_eq!(by_domain, want, "suite self-check for {scope:?} {filter:?}");
        for limit in [2, 100] {
            let got = list_all(s, &scope, &filter, limit).await;
            assert_eq!(ids(&got), want, "list {scope:?} {filter:?} limit {limit}");
        }
    }
}

/// Newest first with ties broken by id; paging visits every record exactly once.
pub async fn list_order_and_paging(store: Arc<dyn Store>) {
    let s = store.as_ref();
    // 25 records, three per second so that ties are common, inserted in a scrambled order.
    let mut regs: Vec<Registration> = (0..25i64)
        .map(|i| {
            let unit = if i % 2 == 0 { "unit-a" } else { "unit-b" };
            let mut r = sample_registration(
                &format!("p-{i:02}"),
                "user-1",
                unit,
                None,
                "auth-1",
                at(i / 3),
            );
            if i % 3 != 1 {
                r.state = State::Decided;
            }
            r
        })
        .collect();
    let scrambled: Vec<Registration> = (0..25).map(|i| regs[(i * 7) % 25].clone()).collect();
    seed_registrations(s, &scrambled).await;
    regs.sort_by(|a, b| (b.created_at, &b.id).cmp(&(a.created_at, &a.id)));
    let expected: Vec<&str> = ids(&regs);
    assert_eq!(
        &expected[..5],
        &["p-24", "p-23", "p-22", "p-21", "p-20"],
        "suite self-check"
    );

    for limit in [1, 2, 3, 7, 24, 25, 26, 100] {
        let got = list_all(s, &ListScope::All, &ListFilter::default(), limit).await;
        assert_eq!(ids(&got), expected, "all records, pages of {limit}");
    }

    let decided = ListFilter {
        state: Some(State::Decided),
        ..ListFilter::default()
    };
    for (scope, filter) in [
        (ListScope::All, decided.clone()),
        (ListScope::Unit("unit-a".into()), ListFilter::default()),
        (ListScope::Unit("unit-a".into()), decided.clone()),
        (
            ListScope::Units(vec!["unit-a".into(), "unit-b".into()]),
            decided,
        ),
    ] {
        let want: Vec<&str> = regs
            .iter()
            .filter(|r| scope.contains(r) && filter.matches(r))
            .map(|r| r.id.as_str())
            .collect();
        for limit in [1, 2, 4, 50] {
            let got = list_all(s, &scope, &filter, limit).await;
            assert_eq!(ids(&got), want, "{scope:?} {filter:?}, pages of {limit}");
        }
    }

    // Records created while paging: a newer one is not visited, none is repeated or skipped.
    let first = ok(
        s.list_registrations(&ListScope::All, &ListFilter::default(), 10, None)
            .await,
        "first page",
    );
    assert_eq!(ids(&first.items), &expected[..10]);
    let newest = sample_registration("p-99", "user-1", "unit-a", None, "auth-1", at(1000));
    seed_registrations(s, &[newest]).await;
    let mut seen: Vec<String> = first.items.iter().map(|r| r.id.clone()).collect();
    let mut cursor = first.next_cursor;
    while let Some(c) = cursor {
        let page = ok(
            s.list_registrations(&ListScope::All, &ListFilter::default(), 10, Some(&c))
                .await,
            "next page",
        );
        seen.extend(page.items.iter().map(|r| r.id.clone()));
        cursor = page.next_cursor;
    }
    assert_eq!(
        seen, expected,
        "pages after a newer insert continue where they stopped"
    );
}

/// A cursor the store did not issue is refused with [`StoreError::BadCursor`].
pub async fn bad_cursor(store: Arc<dyn Store>) {
    let s = store.as_ref();
    let regs: Vec<Registration> = (0..3)
        .map(|i| sample_registration(&format!("c-{i}"), "user-1", "unit-1", None, "auth-1", at(i)))
        .collect();
    seed_registrations(s, &regs).await;
    for garbage in [
        "garbage",
        "not a cursor",
        "%%%",
        "AAAA",
        "eyJ4IjoxfQ",
        "{\"created_at\":1}",
    ] {
        for scope in [ListScope::All, ListScope::Unit("unit-1".into())] {
            refused(
                s.list_registrations(&scope, &ListFilter::default(), 10, Some(garbage))
                    .await,
                StoreError::BadCursor,
                &format!("cursor {garbage:?} on {scope:?}"),
            );
        }
    }
    // A real cursor still works afterwards.
    let page = ok(
        s.list_registrations(&ListScope::All, &ListFilter::default(), 1, None)
            .await,
        "first page",
    );
    assert_eq!(ids(&page.items), vec!["c-2"]);
    let cursor = page.next_cursor.expect("more records follow");
    let rest = ok(
        s.list_registrations(&ListScope::All, &ListFilter::default(), 10, Some(&cursor))
            .await,
        "second page",
    );
    assert_eq!(ids(&rest.items), vec!["c-1", "c-0"]);
}

/// Events list in `seq` order (numerically); registrations list by project.
pub async fn events_and_project_links(store: Arc<dyn Store>) {
    let s = store.as_ref();
    let mut reg = sample_registration("reg-1", "user-1", "unit-1", None, "auth-1", at(0));
    let other = sample_registration("reg-2", "user-1", "unit-1", None, "auth-1", at(1));
    seed_registrations(s, &[reg.clone(), other.clone()]).await;
    let mut want = vec![create_event(&reg)];
    // Twelve events, so that seq 10–12 would sort wrongly as text.
    let states = [State::Returned, State::UnitReview];
    for i in 0..11 {
        let to = states[i % 2];
        let (next, mut event) = next_version(&reg, Action::Pass, to, at(100 + i as i64));
        event.opinion = Some(format!("第{}条", i + 2));
        ok(
            s.commit(update_write(reg.version, &next, Some(event.clone())))
                .await,
            &format!("event {}", i + 2),
        );
        want.push(event);
        reg = next;
    }
    let got = events(s, "reg-1").await;
    assert_eq!(
        got.iter().map(|e| e.seq).collect::<Vec<_>>(),
        (1..=12).collect::<Vec<u64>>()
    );
    assert_eq!(got, want);
    assert_eq!(events(s, "reg-2").await, vec![create_event(&other)]);
    assert_eq!(events(s, "reg-9").await, vec![]);
    assert_eq!(get_reg(s, "reg-1").await, Some(reg));

    let linked = |id: &str, project: Option<&str>, secs: i64| {
        let mut r = sample_registration(id, "user-1", "unit-1", None, "auth-1", at(secs));
        r.source = Source::ProvincialPlan;
        r.project_id = project.map(Into::into);
        r
    };
    let a = linked("reg-a", Some("proj-1"), 10);
    let b = linked("reg-b", Some("proj-1"), 11);
    let c = linked("reg-c", Some("proj-2"), 12);
    seed_registrations(s, &[a.clone(), b.clone(), c.clone()]).await;
    let of1 = sorted(
        &ok(s.registrations_of_project("proj-1").await, "of proj-1"),
        |r| r.id.clone(),
    );
    assert_eq!(of1, vec![a, b]);
    assert_eq!(
        ok(s.registrations_of_project("proj-2").await, "of proj-2"),
        vec![c]
    );
    assert_eq!(
        ok(s.registrations_of_project("proj-9").await, "of proj-9"),
        vec![]
    );
}

/// Attachments: put (upsert), get, list, delete; expired pending uploads.
pub async fn attachments(store: Arc<dyn Store>) {
    let s = store.as_ref();
    let r1 = sample_registration("reg-1", "user-1", "unit-1", None, "auth-1", at(0));
    let r2 = sample_registration("reg-2", "user-1", "unit-1", None, "auth-1", at(1));
    seed_registrations(s, &[r1, r2]).await;
    let now = at(1000);

    let mut a1 = sample_attachment("reg-1", "att-1", AttachmentStatus::Pending, at(1010));
    let a2 = sample_attachment("reg-1", "att-2", AttachmentStatus::Ready, at(990));
    let a3 = sample_attachment("reg-1", "att-3", AttachmentStatus::Pending, at(995));
    let a4 = sample_attachment("reg-2", "att-4", AttachmentStatus::Pending, at(999));
    let a5 = sample_attachment("reg-2", "att-5", AttachmentStatus::Pending, now);
    for a in [&a1, &a2, &a3, &a4, &a5] {
        ok(s.put_attachment(a).await, &format!("put {}", a.id));
    }
    assert_eq!(
        ok(s.get_attachment("reg-1", "att-1").await, "get att-1"),
        Some(a1.clone())
    );
    assert_eq!(
        ok(
            s.get_attachment("reg-2", "att-1").await,
            "att-1 under reg-2"
        ),
        None,
        "an attachment is found only under its registration"
    );
    assert_eq!(
        ok(s.get_attachment("reg-1", "att-9").await, "get att-9"),
        None
    );
    let of1 = sorted(&ok(s.list_attachments("reg-1").await, "list"), |a| {
        a.id.clone()
    });
    assert_eq!(of1, vec![a1.clone(), a2.clone(), a3.clone()]);
    assert_eq!(ok(s.list_attachments("reg-9").await, "list reg-9"), vec![]);

    let expired = sorted(&ok(s.expired_attachments(now, 10).await, "expired"), |a| {
        a.id.clone()
    });
    assert_eq!(
        expired,
        vec![a3.clone(), a4.clone()],
        "pending and expires_at < now"
    );
    let one = ok(s.expired_attachments(now, 1).await, "expired, limit 1");
    assert_eq!(one.len(), 1, "limit respected");
    assert!(one[0] == a3 || one[0] == a4, "one of the expired: {one:?}");
    assert_eq!(
        ok(
            s.expired_attachments(at(0), 10).await,
            "nothing expired yet"
        ),
        vec![]
    );

    // Confirming replaces the item; a ready attachment never expires.
    a1.status = AttachmentStatus::Ready;
    a1.sha256 = Some("ab".repeat(32));
    a1.size = 4321;
    ok(s.put_attachment(&a1).await, "confirm att-1");
    assert_eq!(
        ok(s.get_attachment("reg-1", "att-1").await, "get att-1"),
        Some(a1.clone())
    );
    let expired = sorted(
        &ok(s.expired_attachments(at(5000), 10).await, "expired later"),
        |a| a.id.clone(),
    );
    assert_eq!(expired, vec![a3.clone(), a4.clone(), a5.clone()]);

    ok(s.delete_attachment("reg-1", "att-2").await, "delete att-2");
    assert_eq!(
        ok(s.get_attachment("reg-1", "att-2").await, "get deleted"),
        None
    );
    let of1 = sorted(&ok(s.list_attachments("reg-1").await, "list"), |a| {
        a.id.clone()
    });
    assert_eq!(of1, vec![a1, a3]);
    ok(
        s.delete_attachment("reg-1", "att-2").await,
        "delete an absent attachment",
    );
    ok(
        s.delete_attachment("reg-1", "att-4").await,
        "delete under the wrong registration",
    );
    assert_eq!(
        ok(s.get_attachment("reg-2", "att-4").await, "att-4 survives"),
        Some(a4)
    );
}

/// Projects: insert, unique number, lookups, guarded update.
pub async fn projects(store: Arc<dyn Store>) {
    let s = store.as_ref();
    assert_eq!(ok(s.list_projects(None).await, "no projects"), vec![]);
    let p1 = sample_project("proj-1", "2024GDKJ001", "unit-1");
    let p2 = sample_project("proj-2", "2024GDKJ002", "unit-1");
    let p3 = sample_project("proj-3", "2024GDKJ003", "unit-2");
    for p in [&p1, &p2, &p3] {
        ok(
            s.commit(project_write(p, None)).await,
            &format!("insert {}", p.id),
        );
    }

    let dup_number = sample_project("proj-4", "2024GDKJ001", "unit-2");
    refused(
        s.commit(project_write(&dup_number, None)).await,
        StoreError::AlreadyExists("2024GDKJ001".into()),
        "a second project with number 2024GDKJ001",
    );
    assert_eq!(ok(s.get_project("proj-4").await, "get proj-4"), None);
    let mut dup_id = sample_project("proj-1", "2024GDKJ009", "unit-2");
    dup_id.name = "冒名项目".into();
    refused(
        s.commit(project_write(&dup_id, None)).await,
        StoreError::Conflict,
        "a second project with id proj-1",
    );
    assert_eq!(
        ok(s.find_project("2024GDKJ009").await, "find 009"),
        None,
        "the refused project's number is not taken"
    );

    assert_eq!(
        ok(s.get_project("proj-1").await, "get proj-1"),
        Some(p1.clone())
    );
    assert_eq!(ok(s.get_project("proj-9").await, "get proj-9"), None);
    assert_eq!(
        ok(s.find_project("2024GDKJ002").await, "find 002"),
        Some(p2.clone())
    );
    assert_eq!(ok(s.find_project("nope").await, "find nope"), None);
    let of1 = sorted(&ok(s.list_projects(Some("unit-1")).await, "list"), |p| {
        p.id.clone()
    });
    assert_eq!(of1, vec![p1.clone(), p2.clone()]);
    assert_eq!(
        ok(s.list_projects(Some("unit-9")).await, "list unit-9"),
        vec![]
    );
    let every = sorted(&ok(s.list_projects(None).await, "all"), |p| p.id.clone());
    assert_eq!(every, vec![p1.clone(), p2.clone(), p3.clone()]);

    let mut p1b = p1.clone();
    p1b.acceptance = AcceptanceStatus::ReviewCompleted;
    p1b.registration_id = Some("reg-1".into());
    p1b.version = 2;
    p1b.updated_at = at(100);
    ok(
        s.commit(project_write(&p1b, Some(1))).await,
        "update proj-1 v1 → v2",
    );
    assert_eq!(ok(s.get_project("proj-1").await, "get"), Some(p1b.clone()));
    assert_eq!(
        ok(s.find_project("2024GDKJ001").await, "find"),
        Some(p1b.clone())
    );

    let mut p1c = p1b.clone();
    p1c.acceptance = AcceptanceStatus::DocSubmitted;
    p1c.version = 3;
    for stale in [1, 3] {
        refused(
            s.commit(project_write(&p1c, Some(stale))).await,
            StoreError::Conflict,
            &format!("update proj-1 guarded by {stale} while at 2"),
        );
        assert_eq!(ok(s.get_project("proj-1").await, "get"), Some(p1b.clone()));
    }
    let ghost = sample_project("proj-9", "2024GDKJ099", "unit-1");
    refused(
        s.commit(project_write(&ghost, Some(1))).await,
        StoreError::Conflict,
        "update of a missing project",
    );
    assert_eq!(ok(s.get_project("proj-9").await, "get proj-9"), None);
}

/// A write with a project and registrations is applied whole or not at all.
pub async fn project_writes_are_atomic(store: Arc<dyn Store>) {
    let s = store.as_ref();
    let p1 = sample_project("proj-1", "2024GDKJ001", "unit-1");
    ok(s.commit(project_write(&p1, None)).await, "insert proj-1");
    let mut reg = sample_registration("reg-1", "user-1", "unit-1", None, "auth-1", at(10));
    reg.source = Source::ProvincialPlan;
    reg.project_id = Some("proj-1".into());
    seed_registrations(s, std::slice::from_ref(&reg)).await;

    // Failed acceptance returns the record: project and registration guards in one write.
    let mut p1b = p1.clone();
    p1b.acceptance = AcceptanceStatus::Failed;
    p1b.version = 2;
    let (next, event) = next_version(&reg, Action::AcceptanceFailed, State::Returned, at(100));
    let with = |project_guard: u64, reg_guard: u64| {
        let mut w = update_write(reg_guard, &next, Some(event.clone()));
        w.project = Some(ProjectWrite {
            record: p1b.clone(),
            expected_version: Some(project_guard),
        });
        w
    };
    refused(
        s.commit(with(1, 5)).await,
        StoreError::Conflict,
        "project right, registration stale",
    );
    assert_eq!(
        ok(s.get_project("proj-1").await, "get"),
        Some(p1.clone()),
        "project unchanged"
    );
    assert_eq!(get_reg(s, "reg-1").await, Some(reg.clone()));
    refused(
        s.commit(with(4, 1)).await,
        StoreError::Conflict,
        "registration right, project stale",
    );
    assert_eq!(
        get_reg(s, "reg-1").await,
        Some(reg.clone()),
        "registration unchanged"
    );
    assert_eq!(events(s, "reg-1").await, vec![create_event(&reg)]);
    assert_eq!(ok(s.get_project("proj-1").await, "get"), Some(p1.clone()));
    ok(s.commit(with(1, 1)).await, "both guards right");
    assert_eq!(ok(s.get_project("proj-1").await, "get"), Some(p1b));
    assert_eq!(get_reg(s, "reg-1").await, Some(next));
    assert_eq!(events(s, "reg-1").await.len(), 2);

    // A new project with a draft whose id already exists: neither is written.
    let p2 = sample_project("proj-2", "2024GDKJ002", "unit-1");
    let mut clash = sample_registration("reg-1", "user-1", "unit-1", None, "auth-1", at(20));
    clash.project_id = Some("proj-2".into());
    let mut w = insert_write(&clash);
    w.project = Some(ProjectWrite {
        record: p2.clone(),
        expected_version: None,
    });
    refused(
        s.commit(w).await,
        StoreError::Conflict,
        "new project with a clashing draft",
    );
    assert_eq!(ok(s.get_project("proj-2").await, "get proj-2"), None);
    assert_eq!(ok(s.find_project("2024GDKJ002").await, "find 002"), None);

    // A new draft with a project whose number is taken: neither is written.
    let p3 = sample_project("proj-3", "2024GDKJ001", "unit-1");
    let mut draft = sample_registration("reg-3", "user-1", "unit-1", None, "auth-1", at(30));
    draft.project_id = Some("proj-3".into());
    let mut w = insert_write(&draft);
    w.project = Some(ProjectWrite {
        record: p3,
        expected_version: None,
    });
    refused(
        s.commit(w).await,
        StoreError::AlreadyExists("2024GDKJ001".into()),
        "new draft with a project of a taken number",
    );
    assert_eq!(get_reg(s, "reg-3").await, None);
    assert_eq!(events(s, "reg-3").await, vec![]);

    // The same pair without a clash is written together.
    let mut draft2 = sample_registration("reg-2", "user-1", "unit-1", None, "auth-1", at(40));
    draft2.project_id = Some("proj-2".into());
    let mut p2b = p2.clone();
    p2b.registration_id = Some("reg-2".into());
    let mut w = insert_write(&draft2);
    w.project = Some(ProjectWrite {
        record: p2b.clone(),
        expected_version: None,
    });
    ok(s.commit(w).await, "new project with its draft");
    assert_eq!(ok(s.get_project("proj-2").await, "get proj-2"), Some(p2b));
    assert_eq!(get_reg(s, "reg-2").await, Some(draft2.clone()));
    assert_eq!(
        ok(s.registrations_of_project("proj-2").await, "of proj-2"),
        vec![draft2]
    );
}

/// Objections: put (upsert), get, list per registration.
pub async fn objections(store: Arc<dyn Store>) {
    let s = store.as_ref();
    let r1 = sample_registration("reg-1", "user-1", "unit-1", None, "auth-1", at(0));
    let r2 = sample_registration("reg-2", "user-1", "unit-1", None, "auth-1", at(1));
    seed_registrations(s, &[r1, r2]).await;

    let mut o1 = sample_objection("obj-1", "reg-1", at(100));
    let o2 = sample_objection("obj-2", "reg-1", at(50));
    let o3 = sample_objection("obj-3", "reg-2", at(70));
    for o in [&o1, &o2, &o3] {
        ok(s.put_objection(o).await, &format!("put {}", o.id));
    }
    assert_eq!(
        ok(s.get_objection("obj-1").await, "get obj-1"),
        Some(o1.clone())
    );
    assert_eq!(ok(s.get_objection("obj-9").await, "get obj-9"), None);
    let of1 = sorted(&ok(s.list_objections("reg-1").await, "list"), |o| {
        o.id.clone()
    });
    assert_eq!(of1, vec![o1.clone(), o2.clone()]);
    assert_eq!(ok(s.list_objections("reg-2").await, "list reg-2"), vec![o3]);
    assert_eq!(ok(s.list_objections("reg-9").await, "list reg-9"), vec![]);

    o1.resolution = Some("经核实，异议不成立。".into());
    o1.resolved_by = Some("point".into());
    o1.resolved_at = Some(at(200));
    ok(s.put_objection(&o1).await, "resolve obj-1");
    assert_eq!(
        ok(s.get_objection("obj-1").await, "get obj-1"),
        Some(o1.clone())
    );
    let of1 = sorted(&ok(s.list_objections("reg-1").await, "list"), |o| {
        o.id.clone()
    });
    assert_eq!(of1, vec![o1, o2]);
}

/// Mail jobs queued with a transition are written with it or not at all.
pub async fn mail_is_queued_with_its_transition(store: Arc<dyn Store>) {
    let s = store.as_ref();
    let reg = sample_registration("reg-1", "user-1", "unit-1", None, "auth-1", at(10));
    let holder_reg = sample_registration("reg-2", "user-1", "unit-1", None, "auth-1", at(11));
    seed_registrations(s, std::slice::from_ref(&reg)).await;
    let mut w = insert_write(&holder_reg);
    w.claim_number = Some(("4422026Y0001".into(), "reg-2".into()));
    ok(s.commit(w).await, "reg-2 holding a number");
    assert_eq!(mail_about(s, "reg-1").await, vec![]);
    assert_eq!(due(s, at(10_000), 10).await, Vec::<String>::new());

    let (next, event) = next_version(&reg, Action::Submit, State::UnitReview, at(100));
    let m1 = sample_mail("mail-1", Some("reg-1"), at(100));
    let mut m2 = sample_mail("mail-2", None, at(100));
    m2.to = vec!["unit-admin@example.com".into()];
    let with_mail = |guard: u64, next: &Registration, mails: Vec<MailJob>| {
        let mut w = update_write(guard, next, Some(event.clone()));
        w.mails = mails;
        w
    };

    refused(
        s.commit(with_mail(5, &next, vec![m1.clone(), m2.clone()]))
            .await,
        StoreError::Conflict,
        "a failing version guard with mail",
    );
    let mut numbered = next.clone();
    numbered.registration_number = Some("4422026Y0001".into());
    let mut w = with_mail(1, &numbered, vec![m1.clone()]);
    w.claim_number = Some(("4422026Y0001".into(), "reg-1".into()));
    refused(
        s.commit(w).await,
        StoreError::NumberTaken("4422026Y0001".into()),
        "a taken number with mail",
    );
    assert_eq!(get_reg(s, "reg-1").await, Some(reg.clone()), "unchanged");
    assert_eq!(events(s, "reg-1").await, vec![create_event(&reg)]);
    assert_eq!(mail(s, "mail-1").await, None, "no mail of a refused write");
    assert_eq!(mail(s, "mail-2").await, None, "no mail of a refused write");
    assert_eq!(mail_about(s, "reg-1").await, vec![]);
    assert_eq!(due(s, at(10_000), 10).await, Vec::<String>::new());
    assert_eq!(
        listed(s, MailStatus::Pending, 10).await,
        Vec::<String>::new()
    );

    ok(
        s.commit(with_mail(1, &next, vec![m1.clone(), m2.clone()]))
            .await,
        "the transition with its mail",
    );
    assert_eq!(get_reg(s, "reg-1").await, Some(next.clone()));
    assert_eq!(mail(s, "mail-1").await, Some(m1.clone()));
    assert_eq!(mail(s, "mail-2").await, Some(m2.clone()));
    assert_eq!(mail_about(s, "reg-1").await, vec![m1.clone()]);
    assert_eq!(due(s, at(100), 10).await, ["mail-1", "mail-2"]);

    // A job whose id exists refuses the whole write, the transition included.
    let (next2, event2) = next_version(&next, Action::Pass, State::PointReview, at(200));
    let m3 = sample_mail("mail-3", Some("reg-1"), at(200));
    let mut again = m1.clone();
    again.subject = "另一封".into();
    let mut w = update_write(2, &next2, Some(event2.clone()));
    w.mails = vec![m3.clone(), again];
    refused(
        s.commit(w).await,
        StoreError::Conflict,
        "a job id that exists",
    );
    assert_eq!(get_reg(s, "reg-1").await, Some(next.clone()), "unchanged");
    assert_eq!(events(s, "reg-1").await.len(), 2);
    assert_eq!(mail(s, "mail-3").await, None);
    assert_eq!(mail(s, "mail-1").await, Some(m1.clone()), "the job is kept");

    // Also when the write inserts a new record.
    let fresh = sample_registration("reg-3", "user-1", "unit-1", None, "auth-1", at(300));
    let mut w = insert_write(&fresh);
    w.mails = vec![sample_mail("mail-4", Some("reg-3"), at(300)), m2.clone()];
    refused(
        s.commit(w).await,
        StoreError::Conflict,
        "new record, old job id",
    );
    assert_eq!(get_reg(s, "reg-3").await, None);
    assert_eq!(mail(s, "mail-4").await, None);
    assert_eq!(mail_about(s, "reg-3").await, vec![]);

    let mut w = update_write(2, &next2, Some(event2));
    w.mails = vec![m3.clone()];
    ok(s.commit(w).await, "the next transition with its mail");
    assert_eq!(mail_about(s, "reg-1").await, vec![m3.clone(), m1.clone()]);

    // A write of mail alone.
    let m5 = sample_mail("mail-5", None, at(400));
    ok(
        s.commit(WriteSet {
            mails: vec![m5.clone()],
            ..WriteSet::default()
        })
        .await,
        "mail alone",
    );
    assert_eq!(mail(s, "mail-5").await, Some(m5));
    assert_eq!(
        due(s, at(10_000), 10).await,
        ["mail-1", "mail-2", "mail-3", "mail-5"]
    );
}

/// `due_mail`: pending jobs due at or before `now`, oldest first, at most `limit`.
pub async fn due_mail(store: Arc<dyn Store>) {
    let s = store.as_ref();
    let job = |id: &str, created: i64, next: i64| {
        let mut m = sample_mail(id, Some("reg-1"), at(created));
        m.next_attempt_at = at(next);
        m
    };
    let mut sent = job("mail-s", 0, 0);
    sent.status = MailStatus::Sent;
    sent.attempts = 1;
    sent.sent_at = Some(at(5));
    let mut failed = job("mail-f", 0, 0);
    failed.status = MailStatus::Failed;
    failed.attempts = 5;
    failed.last_error = Some("550 mailbox unavailable".into());
    let jobs = [
        job("mail-d1", 0, 900),
        job("mail-d2", 10, 100),
        job("mail-d3", 20, 1000),
        job("mail-d4", 30, 1001),
        job("mail-d5", 40, 500),
        job("mail-t2", 50, 700),
        job("mail-t1", 60, 700),
        sent,
        failed,
    ];
    for j in &jobs {
        ok(s.put_mail(j).await, &format!("put {}", j.id));
    }
    let now = at(1000);
    assert_eq!(
        due(s, now, 10).await,
        [
            "mail-d2", "mail-d5", "mail-t1", "mail-t2", "mail-d1", "mail-d3"
        ],
        "pending, next attempt at or before now, oldest first, ties by id"
    );
    assert_eq!(due(s, now, 6).await, due(s, now, 100).await);
    assert_eq!(due(s, now, 3).await, ["mail-d2", "mail-d5", "mail-t1"]);
    assert_eq!(due(s, now, 1).await, ["mail-d2"]);
    assert_eq!(due(s, now, 0).await, Vec::<String>::new());
    assert_eq!(due(s, at(99), 10).await, Vec::<String>::new());
    assert_eq!(due(s, at(100), 10).await, ["mail-d2"]);
    assert_eq!(
        due(s, at(5000), 10).await,
        [
            "mail-d2", "mail-d5", "mail-t1", "mail-t2", "mail-d1", "mail-d3", "mail-d4"
        ]
    );
    let full = ok(s.due_mail(now, 1).await, "due_mail limit 1");
    assert_eq!(full, vec![jobs[1].clone()], "whole jobs come back");
}

/// `put_mail` replaces a job: sent jobs are no longer due, failed ones are listed for staff,
/// a job queued again is due again.
pub async fn mail_updates(store: Arc<dyn Store>) {
    let s = store.as_ref();
    let reg = sample_registration("reg-1", "user-1", "unit-1", None, "auth-1", at(0));
    seed_registrations(s, &[reg]).await;
    let mut m1 = sample_mail("mail-1", Some("reg-1"), at(100));
    let mut m2 = sample_mail("mail-2", Some("reg-1"), at(200));
    let m3 = sample_mail("mail-3", None, at(300));
    ok(
        s.commit(WriteSet {
            mails: vec![m1.clone(), m2.clone(), m3.clone()],
            ..WriteSet::default()
        })
        .await,
        "queue three",
    );
    assert_eq!(mail(s, "mail-9").await, None);
    assert_eq!(due(s, at(1000), 10).await, ["mail-1", "mail-2", "mail-3"]);

    // Sent: no longer due.
    m1.status = MailStatus::Sent;
    m1.attempts = 1;
    m1.sent_at = Some(at(1000));
    ok(s.put_mail(&m1).await, "mark mail-1 sent");
    assert_eq!(mail(s, "mail-1").await, Some(m1.clone()));
    assert_eq!(due(s, at(1000), 10).await, ["mail-2", "mail-3"]);
    assert_eq!(listed(s, MailStatus::Sent, 10).await, ["mail-1"]);
    assert_eq!(
        listed(s, MailStatus::Pending, 10).await,
        ["mail-3", "mail-2"]
    );

    // A failed attempt: due again later.
    m2.attempts = 1;
    m2.last_error = Some("451 稍后再试".into());
    m2.next_attempt_at = at(1600);
    ok(s.put_mail(&m2).await, "reschedule mail-2");
    assert_eq!(mail(s, "mail-2").await, Some(m2.clone()));
    assert_eq!(due(s, at(1000), 10).await, ["mail-3"]);
    assert_eq!(due(s, at(1600), 10).await, ["mail-3", "mail-2"]);
    assert_eq!(
        listed(s, MailStatus::Pending, 10).await,
        ["mail-3", "mail-2"]
    );

    // Given up: listed as failed, never due.
    m2.status = MailStatus::Failed;
    m2.attempts = 5;
    ok(s.put_mail(&m2).await, "give up mail-2");
    assert_eq!(due(s, at(99_999), 10).await, ["mail-3"]);
    assert_eq!(listed(s, MailStatus::Failed, 10).await, ["mail-2"]);
    assert_eq!(listed(s, MailStatus::Pending, 10).await, ["mail-3"]);
    assert_eq!(mail_about(s, "reg-1").await, vec![m2.clone(), m1.clone()]);
    assert_eq!(recent(s, "reg-1", 5).await, [m2.summary(), m1.summary()]);

    // Queued again by staff.
    m2.status = MailStatus::Pending;
    m2.attempts = 0;
    m2.next_attempt_at = at(5000);
    ok(s.put_mail(&m2).await, "queue mail-2 again");
    assert_eq!(
        listed(s, MailStatus::Failed, 10).await,
        Vec::<String>::new()
    );
    assert_eq!(due(s, at(5000), 10).await, ["mail-3", "mail-2"]);
    assert_eq!(mail(s, "mail-2").await, Some(m2));

    // put_mail also inserts.
    let m4 = sample_mail("mail-4", Some("reg-1"), at(400));
    ok(s.put_mail(&m4).await, "put a new job");
    assert_eq!(mail(s, "mail-4").await, Some(m4));
}

/// `list_mail` by status and `mail_of_registration`: newest first, ties by id descending.
pub async fn mail_listings(store: Arc<dyn Store>) {
    let s = store.as_ref();
    let r1 = sample_registration("reg-1", "user-1", "unit-1", None, "auth-1", at(0));
    let r2 = sample_registration("reg-2", "user-1", "unit-1", None, "auth-1", at(1));
    seed_registrations(s, &[r1, r2]).await;
    assert_eq!(
        listed(s, MailStatus::Pending, 10).await,
        Vec::<String>::new()
    );

    let with = |id: &str, reg: Option<&str>, created: i64, status: MailStatus| {
        let mut m = sample_mail(id, reg, at(created));
        m.status = status;
        if status == MailStatus::Sent {
            m.sent_at = Some(at(created + 1));
        }
        m
    };
    let jobs = [
        with("mail-a1", Some("reg-1"), 10, MailStatus::Pending),
        with("mail-a2", Some("reg-1"), 30, MailStatus::Pending),
        with("mail-a3", Some("reg-2"), 20, MailStatus::Pending),
        with("mail-a4", None, 40, MailStatus::Pending),
        with("mail-a5", Some("reg-1"), 30, MailStatus::Pending),
        with("mail-f1", Some("reg-1"), 50, MailStatus::Failed),
        with("mail-f2", Some("reg-2"), 5, MailStatus::Failed),
        with("mail-s1", Some("reg-2"), 60, MailStatus::Sent),
    ];
    for j in &jobs {
        ok(s.put_mail(j).await, &format!("put {}", j.id));
    }
    assert_eq!(
        listed(s, MailStatus::Pending, 10).await,
        ["mail-a4", "mail-a5", "mail-a2", "mail-a3", "mail-a1"]
    );
    assert_eq!(
        listed(s, MailStatus::Pending, 2).await,
        ["mail-a4", "mail-a5"]
    );
    assert_eq!(
        listed(s, MailStatus::Pending, 0).await,
        Vec::<String>::new()
    );
    assert_eq!(
        listed(s, MailStatus::Failed, 10).await,
        ["mail-f1", "mail-f2"]
    );
    assert_eq!(listed(s, MailStatus::Sent, 10).await, ["mail-s1"]);

    let of1 = mail_about(s, "reg-1").await;
    assert_eq!(mail_ids(&of1), ["mail-f1", "mail-a5", "mail-a2", "mail-a1"]);
    assert_eq!(of1[0], jobs[5], "whole jobs come back");
    assert_eq!(
        mail_ids(&mail_about(s, "reg-2").await),
        ["mail-s1", "mail-a3", "mail-f2"]
    );
    assert_eq!(mail_about(s, "reg-9").await, vec![]);
    // The newest few only.
    for limit in [2, 10, 0] {
        let expected: Vec<MailSummary> = of1.iter().take(limit).map(MailJob::summary).collect();
        assert_eq!(
            recent(s, "reg-1", limit).await,
            expected,
            "the newest {limit}"
        );
    }
    // A later attempt shows in the summaries too.
    let mut f1 = jobs[5].clone();
    f1.status = MailStatus::Sent;
    f1.attempts = 2;
    f1.last_error = None;
    f1.sent_at = Some(at(70));
    ok(s.put_mail(&f1).await, "send mail-f1");
    assert_eq!(recent(s, "reg-1", 1).await, [f1.summary()]);
    assert_eq!(recent(s, "reg-9", 5).await, []);
}

/// The reads that go together return what their parts return, found or not.
pub async fn reads_together(store: Arc<dyn Store>) {
    let s = store.as_ref();
    let leader = sample_user("user-1", "leader", Role::Leader, Some("unit-1"));
    ok(s.create_user(&leader).await, "create leader");
    let session = Session {
        token_hash: "hash-1".into(),
        user_id: "user-1".into(),
        csrf_token: "csrf-1".into(),
        created_at: at(0),
        expires_at: at(3600),
    };
    // A session whose account is gone: found, without a user.
    let orphan = Session {
        token_hash: "hash-2".into(),
        user_id: "user-9".into(),
        ..session.clone()
    };
    for x in [&session, &orphan] {
        ok(s.put_session(x).await, &format!("put {}", x.token_hash));
    }
    assert_eq!(
        ok(s.session_with_user("hash-1").await, "session hash-1"),
        Some((session, Some(leader)))
    );
    assert_eq!(
        ok(s.session_with_user("hash-2").await, "session hash-2"),
        Some((orphan, None))
    );
    assert_eq!(
        ok(s.session_with_user("hash-9").await, "session hash-9"),
        None
    );

    let r1 = sample_registration("reg-1", "user-1", "unit-1", None, "auth-1", at(0));
    let r2 = sample_registration("reg-2", "user-1", "unit-1", None, "auth-1", at(1));
    seed_registrations(s, &[r1.clone(), r2.clone()]).await;
    let mut a1 = sample_attachment("reg-1", "att-1", AttachmentStatus::Ready, far(0));
    a1.created_at = at(20);
    let mut a2 = sample_attachment("reg-1", "att-2", AttachmentStatus::Pending, far(0));
    a2.created_at = at(10);
    for a in [&a1, &a2] {
        ok(s.put_attachment(a).await, &format!("put {}", a.id));
    }
    let o1 = sample_objection("obj-1", "reg-1", at(100));
    ok(s.put_objection(&o1).await, "put obj-1");
    for (i, id) in ["mail-1", "mail-2", "mail-3"].into_iter().enumerate() {
        let secs = 200 + i64::try_from(i).unwrap_or_default();
        ok(
            s.put_mail(&sample_mail(id, Some("reg-1"), at(secs))).await,
            &format!("put {id}"),
        );
    }

    for id in ["reg-1", "reg-2", "reg-9"] {
        // Attachments and objections have no specified order: compared by id.
        let by_id = |a: &Attachment| a.id.clone();
        let together = ok(s.registration_with_attachments(id).await, id)
            .map(|(reg, list)| (reg, sorted(&list, by_id)));
        let apart = match ok(s.get_registration(id).await, id) {
            Some(reg) => Some((reg, sorted(&ok(s.list_attachments(id).await, id), by_id))),
            None => None,
        };
        assert_eq!(together, apart, "{id} with its attachments");
        for limit in [0, 2, 20] {
            let (objections, mails) = ok(s.objections_and_recent_mail(id, limit).await, id);
            let by_id = |o: &Objection| o.id.clone();
            assert_eq!(
                sorted(&objections, by_id),
                sorted(&ok(s.list_objections(id).await, id), by_id),
                "{id}: objections"
            );
            assert_eq!(mails, recent(s, id, limit).await, "{id}: {limit} mails");
        }
    }
    let (with, _) = ok(s.registration_with_attachments("reg-1").await, "reg-1")
        .unwrap_or_else(|| panic!("reg-1 is there"));
    assert_eq!(with, r1);
    assert_eq!(
        ok(s.objections_and_recent_mail("reg-1", 2).await, "reg-1")
            .1
            .iter()
            .map(|m| m.id.as_str())
            .collect::<Vec<_>>(),
        ["mail-3", "mail-2"]
    );
}

async fn recent(store: &dyn Store, registration_id: &str, limit: usize) -> Vec<MailSummary> {
    store
        .recent_mail_of_registration(registration_id, limit)
        .await
        .unwrap_or_else(|e| panic!("recent_mail_of_registration: {e}"))
}

/// `bump_counter`: 1, 2, 3 within a window; a new window after it; keys independent.
pub async fn counters(store: Arc<dyn Store>) {
    let s = store.as_ref();
    // Every hit asks for a window of 60 s from now (the `bump` helper).
    assert_eq!(bump(s, "login:a", 0).await, 1);
    assert_eq!(bump(s, "login:a", 10).await, 2);
    assert_eq!(bump(s, "login:b", 10).await, 1, "keys are independent");
    assert_eq!(bump(s, "login:a", 59).await, 3);
    assert_eq!(bump(s, "login:b", 20).await, 2);
    // The window is the first hit's (0..60), not extended by later hits.
    assert_eq!(bump(s, "login:a", 61).await, 1, "a new window");
    assert_eq!(
        bump(s, "login:a", 100).await,
        2,
        "the new window runs to 121"
    );
    assert_eq!(bump(s, "login:b", 69).await, 3);
    assert_eq!(bump(s, "login:b", 71).await, 1);
    assert_eq!(bump(s, "login:a", 200).await, 1);
    // Any text is a key.
    let odd = "objection:张三@example.com#REG#1";
    assert_eq!(bump(s, odd, 0).await, 1);
    assert_eq!(bump(s, odd, 1).await, 2);
    assert_eq!(bump(s, "objection:张三@example.com", 1).await, 1);
    // A long window stays open.
    let hour = Duration::hours(1);
    for want in 1..=3 {
        let got = ok(
            s.bump_counter("day", far(1000 + want), far(1000) + hour)
                .await,
            "bump day",
        );
        assert_eq!(got, want as u64);
    }
}

/// Concurrent hits of one key each get a distinct value: 20 hits give 1..=20, also when they
/// start a new window together.
pub async fn concurrent_counters(store: Arc<dyn Store>) {
    let burst = |secs: i64| {
        // Spawned at once, so that the hits overlap.
        let handles: Vec<_> = (0..20)
            .map(|_| {
                let store = store.clone();
                tokio::spawn(async move {
                    store
                        .bump_counter("burst", far(secs), far(secs) + Duration::seconds(60))
                        .await
                })
            })
            .collect();
        async move {
            let mut got: Vec<u64> = join_all(handles)
                .await
                .into_iter()
                .map(|r| ok(r.expect("bump task panicked"), "concurrent bump"))
                .collect();
            got.sort_unstable();
            got
        }
    };
    let want: Vec<u64> = (1..=20).collect();
    assert_eq!(burst(0).await, want, "a new counter");
    assert_eq!(bump(store.as_ref(), "burst", 1).await, 21);
    assert_eq!(burst(100).await, want, "a new window");
    assert_eq!(bump(store.as_ref(), "burst", 101).await, 21);
    assert_eq!(bump(store.as_ref(), "other", 101).await, 1);
}
