//! The storage conformance suite on SQLite, plus what only a file database has: reopening,
//! migrations, journal mode and integrity.

use std::sync::{Arc, Mutex};

use chengguo_conformance::store as suite;
use chengguo_domain::org::Unit;
use chengguo_domain::ports::{Store, StoreError};
use chengguo_sqlite::{SCHEMA_VERSION, SqliteStore};
use futures::future::BoxFuture;

/// Runs one case on a fresh file database in its own temporary folder.
async fn on_file(case: suite::Case) {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = SqliteStore::open(&dir.path().join("state.db")).expect("open store");
    case(Arc::new(store)).await;
    // The folder outlives the case.
    drop(dir);
}

macro_rules! file_cases {
    ($($name:ident),+ $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                on_file(|s| Box::pin(suite::$name(s))).await;
            }
        )+
        /// The cases above, to compare with the suite's own list.
        const LISTED: &[&str] = &[$(stringify!($name)),+];
    };
}

file_cases!(
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

#[test]
fn every_suite_case_runs_here() {
    let names: Vec<&str> = suite::CASES.iter().map(|(name, _)| *name).collect();
    assert_eq!(names, LISTED, "add new suite cases to file_cases!");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn whole_suite_in_memory() {
    let make = || -> BoxFuture<'static, Arc<dyn Store>> {
        Box::pin(async {
            Arc::new(SqliteStore::open_in_memory().expect("in-memory store")) as Arc<dyn Store>
        })
    };
    suite::run_all(&make).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn whole_suite_through_run_all_on_files() {
    // The factory keeps every folder alive until the run ends.
    let dirs = Arc::new(Mutex::new(Vec::new()));
    let make = {
        let dirs = dirs.clone();
        move || -> BoxFuture<'static, Arc<dyn Store>> {
            let dir = tempfile::tempdir().expect("temp dir");
            let store = SqliteStore::open(&dir.path().join("state.db")).expect("open");
            dirs.lock().expect("lock").push(dir);
            Box::pin(async move { Arc::new(store) as Arc<dyn Store> })
        }
    };
    suite::run_all(&make).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reopening_keeps_data_and_migrations_are_idempotent() {
    let dir = tempfile::tempdir().expect("temp dir");
    // A folder that does not exist yet is created.
    let path = dir.path().join("nested").join("state.db");
    let reg = suite::sample_registration("reg-1", "user-1", "unit-1", None, "auth-1", suite::at(1));
    let unit = Unit {
        id: "unit-1".into(),
        name: "中山大学".into(),
        uscc: "12440000455416455B".into(),
    };
    {
        let store = SqliteStore::open(&path).expect("first open");
        assert_eq!(store.schema_version().await, Ok(SCHEMA_VERSION));
        store.put_unit(&unit).await.expect("put unit");
        let mut numbered = reg.clone();
        numbered.registration_number = Some("4422026Y0007".into());
        let mut w = suite::insert_write(&numbered);
        w.claim_number = Some(("4422026Y0007".into(), "reg-1".into()));
        store.commit(w).await.expect("insert");
    }
    for round in 0..3 {
        let store = SqliteStore::open(&path).expect("reopen");
        assert_eq!(
            store.schema_version().await,
            Ok(SCHEMA_VERSION),
            "round {round}"
        );
        assert_eq!(store.get_unit("unit-1").await, Ok(Some(unit.clone())));
        let got = store.get_registration("reg-1").await.expect("get");
        assert_eq!(got.map(|r| r.id), Some("reg-1".to_owned()));
        assert_eq!(store.list_events("reg-1").await.expect("events").len(), 1);
        assert_eq!(
            store.number_holder("4422026Y0007").await,
            Ok(Some("reg-1".into()))
        );
        assert_eq!(store.max_serial("4422026Y").await, Ok(Some(7)));
        assert_eq!(store.integrity_check().await, Ok("ok".into()));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn file_database_is_wal_and_sound() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = SqliteStore::open(&dir.path().join("state.db")).expect("open");
    suite::seed_registrations(
        &store,
        &[suite::sample_registration(
            "reg-1",
            "user-1",
            "unit-1",
            None,
            "auth-1",
            suite::at(1),
        )],
    )
    .await;
    assert_eq!(store.journal_mode().await, Ok("wal".into()));
    assert_eq!(store.integrity_check().await, Ok("ok".into()));
    assert!(dir.path().join("state.db-wal").exists(), "WAL file in use");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_newer_schema_is_refused() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("state.db");
    drop(SqliteStore::open(&path).expect("create"));
    {
        let conn = rusqlite::Connection::open(&path).expect("raw open");
        conn.pragma_update(None, "user_version", SCHEMA_VERSION + 1)
            .expect("bump version");
    }
    match SqliteStore::open(&path) {
        Err(StoreError::Backend(msg)) => assert!(msg.contains("newer"), "{msg}"),
        other => panic!("expected a refusal, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_stores_on_one_file_see_each_other() {
    // E.g. `chengguo build-site` reading while `serve` writes.
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("state.db");
    let a = SqliteStore::open(&path).expect("open a");
    let b = SqliteStore::open(&path).expect("open b");
    let reg = suite::sample_registration("reg-1", "user-1", "unit-1", None, "auth-1", suite::at(1));
    a.commit(suite::insert_write(&reg))
        .await
        .expect("write via a");
    assert_eq!(b.get_registration("reg-1").await, Ok(Some(reg.clone())));
    assert_eq!(
        b.commit(suite::insert_write(&reg)).await,
        Err(StoreError::Conflict),
        "the second store sees the first one's record"
    );
}
