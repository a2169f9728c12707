//! The SQLite write ceiling: how many durable write transactions per second one writer commits
//! on this disk with the store's settings. It is the anchor of the workflow benchmark (a
//! transition is one such transaction, plus the HTTP, JSON and rule work around it).
//!
//! The database is made by `SqliteStore::open` (so it has the store's schema and WAL journal),
//! then a second connection with the store's per-connection settings (`busy_timeout` 10 s,
//! `synchronous=FULL`, `foreign_keys=on`; checked by the store's
//! `connection_settings_are_durable_and_checked` test) commits in a loop:
//!
//! - `small`: `BEGIN IMMEDIATE`, one insert of a 200-byte row, `COMMIT`: the raw ceiling.
//! - `transition`: the shape of a transition: a version-guarded update of a registration row
//!   with a 4 KB document, one event insert, `COMMIT`.
//!
//! ```text
//! export CARGO_TARGET_DIR=$HOME/.cache/chengguo/target
//! CEILING_DIR=/some/dir CEILING_SECS=3 cargo bench -p chengguo-sqlite --bench ceiling
//! ```
//!
//! Prints `RESULT small_commits_per_s=… transition_commits_per_s=…` as its last line.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use chengguo_sqlite::SqliteStore;
use rusqlite::{Connection, TransactionBehavior, params};

/// Commits `one` in a loop for about `secs` seconds (at least 50 commits); commits per second.
fn rate(conn: &mut Connection, secs: f64, mut one: impl FnMut(&mut Connection, u64)) -> f64 {
    let started = Instant::now();
    let mut n = 0u64;
    // Bounded by time and by a hard cap.
    while (started.elapsed().as_secs_f64() < secs || n < 50) && n < 10_000_000 {
        one(conn, n);
        n += 1;
    }
    n as f64 / started.elapsed().as_secs_f64()
}

fn main() {
    let dir = std::env::var("CEILING_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| std::env::temp_dir());
    let secs: f64 = std::env::var("CEILING_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(3.0);
    let work = tempfile::tempdir_in(&dir).expect("temp dir");
    let path = work.path().join("ceiling.db");
    let store = SqliteStore::open(&path).expect("open store");
    drop(store);

    let mut conn = Connection::open(&path).expect("open");
    conn.busy_timeout(Duration::from_secs(10)).expect("busy");
    conn.pragma_update(None, "synchronous", "FULL")
        .expect("sync");
    conn.pragma_update(None, "foreign_keys", true).expect("fk");
    let mode: String = conn
        .pragma_query_value(None, "journal_mode", |r| r.get(0))
        .expect("mode");
    assert_eq!(mode, "wal", "the store made a WAL database");
    conn.execute_batch("CREATE TABLE ceiling (id INTEGER PRIMARY KEY, body TEXT NOT NULL)")
        .expect("table");
    // A running server's WAL has long reached its size and is reused after each checkpoint,
    // so its commits overwrite file space; a new WAL grows with every commit, which costs a
    // metadata flush each time. Grow it once (one large transaction past the 1,000-page
    // auto-checkpoint), then checkpoint without truncating, as a server's WAL would be.
    conn.execute_batch(
        "CREATE TABLE warmup (body BLOB);
         BEGIN;
         WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 1200)
         INSERT INTO warmup SELECT zeroblob(4000) FROM n;
         COMMIT;
         PRAGMA wal_checkpoint(RESTART);",
    )
    .expect("warm-up");

    let body = "x".repeat(200);
    let small = rate(&mut conn, secs, |c, n| {
        let tx = c
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .expect("begin");
        tx.execute(
            "INSERT INTO ceiling (id, body) VALUES (?1, ?2)",
            params![n as i64, body],
        )
        .expect("insert");
        tx.commit().expect("commit");
    });

    // One registration row, updated again and again with a new event each time.
    let doc = "文".repeat(1_400); // about 4 KB of UTF-8
    conn.execute(
        "INSERT INTO registrations (id, version, owner_id, unit_id, authority_id, state,
            created_at, doc) VALUES ('r', 1, 'o', 'u', 'a', 'draft', 0, ?1)",
        [&doc],
    )
    .expect("registration");
    let event = "e".repeat(300);
    let transition = rate(&mut conn, secs, |c, n| {
        let v = n as i64 + 1;
        let tx = c
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .expect("begin");
        let changed = tx
            .execute(
                "UPDATE registrations SET version = ?1, state = ?2, doc = ?3
                 WHERE id = 'r' AND version = ?4",
                params![
                    v + 1,
                    if n % 2 == 0 {
                        "unit_review"
                    } else {
                        "returned"
                    },
                    doc,
                    v
                ],
            )
            .expect("update");
        assert_eq!(changed, 1);
        tx.execute(
            "INSERT INTO events (registration_id, seq, doc) VALUES ('r', ?1, ?2)",
            params![v, event],
        )
        .expect("event");
        tx.commit().expect("commit");
    });

    println!(
        "SQLite write ceiling on {} (WAL, synchronous=FULL, one writer)",
        dir.display()
    );
    println!("small write transactions: {small:.0} commits/s");
    println!("transition-shaped transactions (4 KB update + event): {transition:.0} commits/s");
    println!("RESULT small_commits_per_s={small:.1} transition_commits_per_s={transition:.1}");
}
