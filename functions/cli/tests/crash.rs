//! Crash safety of the local server: concurrent clients drive workflow transitions over HTTP,
//! the server is killed with SIGKILL in the middle of the load, and after each kill the data
//! folder must hold every transition that was acknowledged, no half-written record, and a
//! database that SQLite's own integrity check accepts; the restarted server must show the same.

use std::collections::HashMap;
use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

const BIN: &str = env!("CARGO_BIN_EXE_chengguo");
/// Kill-and-restart rounds.
const ROUNDS: usize = 5;
/// Concurrent clients; each drives its own records, one request at a time.
const CLIENTS: usize = 8;
/// Records per client.
const RECORDS_PER_CLIENT: usize = 3;
/// Transitions acknowledged in a round before the kill.
const ACKS_BEFORE_KILL: usize = 150;
/// Requests one client sends in a round at most (the kill normally ends it long before).
const MAX_REQUESTS_PER_CLIENT: usize = 2_000;
/// Generous bounds for a loaded machine; reaching them is a failure, not a measurement.
const PATIENCE: Duration = Duration::from_secs(180);
/// The form used for every record (the API tests' fixture of a soft-science achievement).
const FORM: &str = include_str!("../../../tests/fixtures/form_soft.json");

/// The server process, killed with SIGKILL when dropped so that none outlives its test.
struct Server(Child);

impl Server {
    /// SIGKILL now (`Child::kill` sends SIGKILL on Unix), and reap the process.
    fn kill(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

/// `chengguo serve --demo` on `data`, answering at the returned base URL once healthy.
async fn serve(http: &reqwest::Client, data: &Path) -> (Server, String) {
    let addr = format!("127.0.0.1:{}", free_port());
    let server = Server(
        Command::new(BIN)
            .args(["serve", "--demo", "--addr", &addr, "--data"])
            .arg(data)
            .env_remove("CHENGGUO_BACKEND")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start chengguo serve"),
    );
    let base = format!("http://{addr}");
    let deadline = Instant::now() + PATIENCE;
    loop {
        if let Ok(r) = http.get(format!("{base}/healthz")).send().await
            && r.status().is_success()
        {
            return (server, base);
        }
        assert!(Instant::now() < deadline, "server did not become healthy");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A logged-in account: session cookie and CSRF token.
#[derive(Clone)]
struct Session {
    cookie: String,
    csrf: String,
}

async fn login(http: &reqwest::Client, base: &str, username: &str) -> Session {
    let r = http
        .post(format!("{base}/api/session"))
        .json(&json!({"username": username, "password": "chengguo-demo"}))
        .send()
        .await
        .expect("login request");
    assert_eq!(r.status(), 200, "{username} logs in");
    let cookie = r.headers()["set-cookie"]
        .to_str()
        .expect("cookie")
        .split(';')
        .next()
        .expect("cookie pair")
        .to_owned();
    let body: Value = r.json().await.expect("login JSON");
    Session {
        cookie,
        csrf: body["csrf_token"].as_str().expect("csrf").to_owned(),
    }
}

/// Sends one API request; `Err` when the server did not answer (it was killed).
async fn call(
    http: &reqwest::Client,
    base: &str,
    s: &Session,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
) -> Result<(u16, Value), reqwest::Error> {
    let mut req = http
        .request(method, format!("{base}{path}"))
        .header("cookie", &s.cookie)
        .header("x-csrf-token", &s.csrf);
    if let Some(b) = body {
        req = req.json(&b);
    }
    let r = req.send().await?;
    let status = r.status().as_u16();
    let bytes = r.bytes().await?;
    let v = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&bytes).unwrap_or(Value::Null)
    };
    Ok((status, v))
}

/// Like [`call`], for the preparation and the checks, where the server must answer `expect`.
async fn must(
    http: &reqwest::Client,
    base: &str,
    s: &Session,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
    expect: u16,
) -> Value {
    let (status, v) = call(http, base, s, method.clone(), path, body)
        .await
        .unwrap_or_else(|e| panic!("{method} {path}: {e}"));
    assert_eq!(status, expect, "{method} {path}: {v}");
    v
}

/// The demo accounts the workflow loop needs.
#[derive(Clone)]
struct Staff {
    leader: Session,
    dept: Session,
    unit: Session,
    point: Session,
}

/// The loop of transitions a record can go round forever: department, unit and point pass,
/// the point returns it at the paper stage, the leader submits again.
fn next_step<'a>(staff: &'a Staff, state: &str) -> (&'a Session, &'static str, &'static str) {
    match state {
        "dept_review" => (&staff.dept, "dept", "pass"),
        "unit_review" => (&staff.unit, "unit", "pass"),
        "point_review" => (&staff.point, "point", "pass"),
        "paper_pending" => (&staff.point, "point", "return"),
        "returned" => (&staff.leader, "leader", "submit"),
        other => panic!("state {other} is not in the loop"),
    }
}

/// Creates, fills, equips with materials and submits a registration of `leader`; its id.
async fn submitted(http: &reqwest::Client, base: &str, leader: &Session, n: usize) -> String {
    use reqwest::Method;
    let created = must(
        http,
        base,
        leader,
        Method::POST,
        "/api/registrations",
        Some(json!({
            "kind": "soft", "source": "other_fiscal", "consent": true,
            "project": {"name": format!("崩溃恢复测试项目{n}"), "funding": "中山市财政科技经费"}
        })),
        201,
    )
    .await;
    let id = created["id"].as_str().expect("id").to_owned();
    let form: Value = serde_json::from_str(FORM).expect("form fixture");
    must(
        http,
        base,
        leader,
        Method::PATCH,
        &format!("/api/registrations/{id}"),
        Some(json!({"version": created["version"], "fields": form})),
        200,
    )
    .await;
    let kind = chengguo_domain::Kind::Soft;
    for m in chengguo_domain::materials::required(kind, false) {
        let bytes = format!("%PDF-1.4\n% {}\n%%EOF\n", m.category).into_bytes();
        let announced = must(
            http,
            base,
            leader,
            Method::POST,
            &format!("/api/registrations/{id}/attachments"),
            Some(
                json!({"category": m.category, "filename": format!("{}.pdf", m.category),
                        "content_type": "application/pdf", "size": bytes.len()}),
            ),
            201,
        )
        .await;
        let mut put = http
            .put(announced["upload"]["url"].as_str().expect("upload url"))
            .body(bytes);
        for (k, v) in announced["upload"]["headers"].as_object().expect("headers") {
            put = put.header(k.as_str(), v.as_str().expect("header value"));
        }
        let put = put.send().await.expect("upload");
        assert!(put.status().is_success(), "upload: {}", put.status());
        let aid = announced["attachment"]["id"]
            .as_str()
            .expect("attachment id");
        must(
            http,
            base,
            leader,
            Method::POST,
            &format!("/api/registrations/{id}/attachments/{aid}/confirm"),
            Some(json!({})),
            200,
        )
        .await;
    }
    let rec = must(
        http,
        base,
        leader,
        Method::GET,
        &format!("/api/registrations/{id}"),
        None,
        200,
    )
    .await;
    let done = must(
        http,
        base,
        leader,
        Method::POST,
        &format!("/api/registrations/{id}/actions/submit"),
        Some(json!({"version": rec["version"]})),
        200,
    )
    .await;
    assert_eq!(done["state"], "dept_review");
    id
}

/// What a client knows of one of its records.
#[derive(Debug, Clone)]
struct Tracked {
    id: String,
    state: String,
    version: u64,
    /// The action sent and not answered when the server died: it may or may not have happened.
    in_doubt: Option<&'static str>,
}

/// A transition the server acknowledged with a 2xx answer.
#[derive(Debug, Clone)]
struct Ack {
    id: String,
    action: &'static str,
    actor: &'static str,
    from: String,
    to: String,
    /// The record's version after it.
    version: u64,
}

/// Counters shared by the clients and the test.
#[derive(Default)]
struct Load {
    acked: Mutex<Vec<Ack>>,
    acked_this_round: AtomicUsize,
    in_flight: AtomicUsize,
    stop: AtomicBool,
}

/// One client: drives its records round the loop, one request at a time, until the server
/// stops answering (or the bound of requests is reached).
async fn client(
    base: String,
    staff: Staff,
    mut records: Vec<Tracked>,
    load: Arc<Load>,
) -> Vec<Tracked> {
    // Its own connection pool, like a separate browser.
    let http = reqwest::Client::builder()
        .timeout(PATIENCE)
        .build()
        .expect("http client");
    for i in 0..MAX_REQUESTS_PER_CLIENT {
        if load.stop.load(Ordering::SeqCst) {
            break;
        }
        let j = i % records.len();
        let (session, actor, action) = next_step(&staff, &records[j].state);
        let mut body = json!({"version": records[j].version});
        if action == "return" {
            body["opinion"] = json!("纸质材料需补充单位盖章");
        }
        let path = format!("/api/registrations/{}/actions/{action}", records[j].id);
        records[j].in_doubt = Some(action);
        load.in_flight.fetch_add(1, Ordering::SeqCst);
        let answer = call(
            &http,
            &base,
            session,
            reqwest::Method::POST,
            &path,
            Some(body),
        )
        .await;
        let Ok((status, rec)) = answer else {
            // No answer: the server was killed with this request in flight.
            break;
        };
        load.in_flight.fetch_sub(1, Ordering::SeqCst);
        assert!(
            (200..300).contains(&status),
            "{action} on {} in {}: {status} {rec}",
            records[j].id,
            records[j].state
        );
        let t = &mut records[j];
        let to = rec["state"].as_str().expect("state").to_owned();
        let version = rec["version"].as_u64().expect("version");
        assert_eq!(version, t.version + 1, "each transition is one write");
        load.acked.lock().expect("acks").push(Ack {
            id: t.id.clone(),
            action,
            actor,
            from: t.state.clone(),
            to: to.clone(),
            version,
        });
        t.state = to;
        t.version = version;
        t.in_doubt = None;
        load.acked_this_round.fetch_add(1, Ordering::SeqCst);
    }
    records
}

/// One stored event: action, from, to, actor.
#[derive(Debug, Clone, PartialEq)]
struct StoredEvent {
    action: String,
    from: Option<String>,
    to: String,
    actor: String,
}

/// One stored registration and its history.
#[derive(Debug, Clone)]
struct Stored {
    state: String,
    version: u64,
    events: Vec<StoredEvent>,
}

/// Opens the database of a stopped server with rusqlite and checks it: `PRAGMA integrity_check`
/// is `ok`, no foreign key dangles, and every registration is whole: its columns agree with its
/// document, its events run 1..n with each step starting where the previous ended, the last
/// ending at the record's state, `event_count` = n, and `version` = n + `edits` (the store
/// bumps the version on every write: each event, and each form edit, which has none).
fn check_database(db: &Path, edits: u64) -> HashMap<String, Stored> {
    // Read-only: closing it neither checkpoints nor removes the write-ahead log, so the
    // restarted server recovers the files exactly as the killed one left them.
    let conn =
        rusqlite::Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .expect("open the database");
    let integrity: Vec<String> = conn
        .prepare("PRAGMA integrity_check")
        .expect("prepare")
        .query_map([], |r| r.get(0))
        .expect("integrity_check")
        .collect::<Result<_, _>>()
        .expect("rows");
    assert_eq!(integrity, vec!["ok".to_owned()], "PRAGMA integrity_check");
    let dangling: i64 = conn
        .query_row("SELECT count(*) FROM pragma_foreign_key_check", [], |r| {
            r.get(0)
        })
        .expect("foreign_key_check");
    assert_eq!(dangling, 0, "rows pointing at missing records");

    let mut out = HashMap::new();
    let mut stmt = conn
        .prepare("SELECT id, version, state, doc FROM registrations")
        .expect("prepare");
    let rows: Vec<(String, i64, String, String)> = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
        .expect("registrations")
        .collect::<Result<_, _>>()
        .expect("rows");
    let mut events_stmt = conn
        .prepare("SELECT seq, doc FROM events WHERE registration_id = ?1 ORDER BY seq")
        .expect("prepare");
    for (id, version, state, doc) in rows {
        let doc: Value = serde_json::from_str(&doc).expect("record document");
        let version = u64::try_from(version).expect("version");
        assert_eq!(
            doc["version"].as_u64(),
            Some(version),
            "{id}: column and document"
        );
        assert_eq!(doc["state"], state.as_str(), "{id}: column and document");
        let events: Vec<(i64, String)> = events_stmt
            .query_map([&id], |r| Ok((r.get(0)?, r.get(1)?)))
            .expect("events")
            .collect::<Result<_, _>>()
            .expect("rows");
        let mut history: Vec<StoredEvent> = Vec::new();
        for (i, (seq, doc)) in events.iter().enumerate() {
            assert_eq!(*seq, i as i64 + 1, "{id}: events numbered 1..n");
            let e: Value = serde_json::from_str(doc).expect("event document");
            assert_eq!(e["seq"].as_i64(), Some(*seq), "{id}");
            let event = StoredEvent {
                action: e["action"].as_str().expect("action").to_owned(),
                from: e["from"].as_str().map(str::to_owned),
                to: e["to"].as_str().expect("to").to_owned(),
                actor: e["actor"].as_str().expect("actor").to_owned(),
            };
            match history.last() {
                None => assert_eq!(event.action, "create", "{id}"),
                Some(p) => assert_eq!(event.from.as_ref(), Some(&p.to), "{id}: {event:?}"),
            }
            history.push(event);
        }
        let n = history.len() as u64;
        assert_eq!(
            history.last().map(|e| e.to.as_str()),
            Some(state.as_str()),
            "{id}: the last event ends at the record's state"
        );
        assert_eq!(doc["event_count"].as_u64(), Some(n), "{id}: event count");
        assert_eq!(version, n + edits, "{id}: version counts every write");
        out.insert(
            id,
            Stored {
                state,
                version,
                events: history,
            },
        );
    }
    out
}

/// Every acknowledged transition is in `stored`: the event at its place in history with its
/// action, states and actor. Each record is at its last acknowledged version, or one further
/// when a request was in doubt at the kill (and then that request's transition is the last).
fn assert_acknowledged(stored: &HashMap<String, Stored>, acks: &[Ack], records: &[Tracked]) {
    for a in acks {
        let s = stored.get(&a.id).unwrap_or_else(|| panic!("{} lost", a.id));
        // version = events + 1 (the one form fill), so the event is number version - 1.
        let e = s
            .events
            .get(usize::try_from(a.version).expect("version") - 2)
            .unwrap_or_else(|| panic!("acknowledged {a:?} missing: {:?}", s.events));
        assert_eq!(e.action, a.action, "{a:?}");
        assert_eq!(e.from.as_deref(), Some(a.from.as_str()), "{a:?}");
        assert_eq!(e.to, a.to, "{a:?}");
        assert_eq!(e.actor, a.actor, "{a:?}");
    }
    for t in records {
        let s = &stored[&t.id];
        if s.version == t.version {
            assert_eq!(s.state, t.state, "{t:?}");
        } else {
            let action = t
                .in_doubt
                .unwrap_or_else(|| panic!("{t:?} is at {} without a request in doubt", s.version));
            assert_eq!(s.version, t.version + 1, "{t:?}");
            let last = s.events.last().expect("events");
            assert_eq!(last.action, action, "{t:?}");
            assert_eq!(last.from.as_deref(), Some(t.state.as_str()), "{t:?}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_transitions_survive_sigkill_mid_load_and_the_database_stays_whole() {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("chengguo.db");
    let http = reqwest::Client::builder()
        .timeout(PATIENCE)
        .build()
        .expect("http client");

    // First start: the demo accounts, and the records each client will drive.
    let (mut server, mut base) = serve(&http, dir.path()).await;
    let staff = Staff {
        leader: login(&http, &base, "leader").await,
        dept: login(&http, &base, "dept").await,
        unit: login(&http, &base, "unit").await,
        point: login(&http, &base, "point").await,
    };
    let mut owned: Vec<Vec<Tracked>> = Vec::new();
    for c in 0..CLIENTS {
        let ids = futures::future::join_all(
            (0..RECORDS_PER_CLIENT)
                .map(|r| submitted(&http, &base, &staff.leader, c * RECORDS_PER_CLIENT + r)),
        )
        .await;
        owned.push(
            ids.into_iter()
                .map(|id| Tracked {
                    id,
                    state: "dept_review".into(),
                    // Created (1), filled (2), submitted (3).
                    version: 3,
                    in_doubt: None,
                })
                .collect(),
        );
    }

    let load = Arc::new(Load::default());
    let mut in_flight_at_kills = Vec::new();
    let mut in_doubt_applied = 0;
    let mut wal_left = Vec::new();
    for round in 0..ROUNDS {
        load.stop.store(false, Ordering::SeqCst);
        load.acked_this_round.store(0, Ordering::SeqCst);
        load.in_flight.store(0, Ordering::SeqCst);
        let tasks: Vec<_> = owned
            .drain(..)
            .map(|records| tokio::spawn(client(base.clone(), staff.clone(), records, load.clone())))
            .collect();

        // Kill once enough transitions were acknowledged and while requests are in flight.
        let deadline = Instant::now() + PATIENCE;
        loop {
            if load.acked_this_round.load(Ordering::SeqCst) >= ACKS_BEFORE_KILL
                && load.in_flight.load(Ordering::SeqCst) > 0
            {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "round {round}: {} acknowledged, {} in flight",
                load.acked_this_round.load(Ordering::SeqCst),
                load.in_flight.load(Ordering::SeqCst)
            );
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        let in_flight = load.in_flight.load(Ordering::SeqCst);
        server.kill();
        load.stop.store(true, Ordering::SeqCst);
        in_flight_at_kills.push(in_flight);
        // The killed server leaves its write-ahead log behind for the next start to recover
        // (its size: SQLite reuses the file after each checkpoint, it does not shrink it).
        wal_left.push(std::fs::metadata(dir.path().join("chengguo.db-wal")).map_or(0, |m| m.len()));
        for t in tasks {
            owned.push(t.await.expect("client task"));
        }
        let all: Vec<Tracked> = owned.iter().flatten().cloned().collect();
        let acks = load.acked.lock().expect("acks").clone();

        // The files the killed server left, as SQLite finds them.
        let stored = check_database(&db, 1);
        assert_eq!(stored.len(), CLIENTS * RECORDS_PER_CLIENT);
        assert_acknowledged(&stored, &acks, &all);

        // The restarted server on the same folder shows the same, through the API (the
        // sessions, committed before the kill, are still valid).
        (server, base) = serve(&http, dir.path()).await;
        for t in owned.iter_mut().flatten() {
            let rec = must(
                &http,
                &base,
                &staff.point,
                reqwest::Method::GET,
                &format!("/api/registrations/{}", t.id),
                None,
                200,
            )
            .await;
            let history = must(
                &http,
                &base,
                &staff.point,
                reqwest::Method::GET,
                &format!("/api/registrations/{}/history", t.id),
                None,
                200,
            )
            .await;
            let s = &stored[&t.id];
            assert_eq!(rec["version"].as_u64(), Some(s.version));
            assert_eq!(rec["state"], s.state.as_str());
            let events = history["events"].as_array().expect("events");
            assert_eq!(events.len(), s.events.len());
            for (e, se) in events.iter().zip(&s.events) {
                assert_eq!(e["action"], se.action.as_str());
                assert_eq!(e["to"], se.to.as_str());
            }
            if s.version != t.version {
                in_doubt_applied += 1;
            }
            // Go on from what the server holds.
            t.state = s.state.clone();
            t.version = s.version;
            t.in_doubt = None;
        }
    }
    server.kill();
    let stored = check_database(&db, 1);
    let acks = load.acked.lock().expect("acks").clone();
    let all: Vec<Tracked> = owned.iter().flatten().cloned().collect();
    assert_acknowledged(&stored, &acks, &all);
    assert!(acks.len() >= ROUNDS * ACKS_BEFORE_KILL);
    assert!(in_flight_at_kills.iter().all(|n| *n > 0));
    let events: usize = stored.values().map(|s| s.events.len()).sum();
    eprintln!(
        "crash-safety: {ROUNDS} SIGKILL rounds, {CLIENTS} concurrent clients on {} records: \
         {} transitions acknowledged and all present, in flight at each kill {:?} ({} of them \
         committed), write-ahead log file at each kill {:?} KiB, {events} history events, \
         integrity_check ok after every kill",
        CLIENTS * RECORDS_PER_CLIENT,
        acks.len(),
        in_flight_at_kills,
        in_doubt_applied,
        wal_left.iter().map(|b| b / 1024).collect::<Vec<_>>()
    );
}
