//! Contention beyond `concurrency.rs`: a hundred actors of every role firing at the same version,
//! version after version, and a thousand concurrent decisions drawing registration numbers from
//! the same sequences.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use chengguo_domain::codes::Action;
use chengguo_domain::org::User;
use chengguo_domain::ports::{Clock, RegistrationWrite, Store, WriteSet};
use chengguo_domain::record::{Attachment, AttachmentStatus, Event, Registration};
use chengguo_domain::workflow::{self, ActionRequest, Facts};
use chengguo_domain::{Kind, Source, State, numbering};
use chengguo_tests::*;
use futures::StreamExt;
use http::StatusCode;
use serde_json::{Value, json};

use crate::workflow::submitted_registration;

/// Actors per version in the one-record test.
const ACTORS: usize = 100;
/// Versions fought over in a row on the one record.
const ROUNDS: usize = 5;

/// What a group of actors may be answered, by how they relate to the record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expect {
    /// The stage's reviewer: wins, or is told the record changed.
    WinOrStale,
    /// In scope and performs this action elsewhere in the workflow: the wrong state, or stale
    /// when it read the record after the winner wrote it.
    InvalidStateOrStale,
    /// A role that never performs the action: forbidden, whatever the version.
    Forbidden,
    /// Outside the record's scope: not found, whatever the version.
    NotFound,
}

/// One request of the crowd.
struct Actor<'s, 'a> {
    client: &'s Client<'a>,
    username: &'static str,
    action: &'static str,
    opinion: bool,
    expect: Expect,
}

/// The actions the stage's reviewer may take in `state`, and who that is.
fn reviewer_actions(state: &str) -> (&'static str, Vec<&'static str>) {
    match state {
        "dept_review" => ("dept", vec!["pass", "return"]),
        "unit_review" => ("unit", vec!["pass", "return"]),
        "point_review" => ("point", vec!["pass", "return"]),
        // receive_paper would leave the loop of states this test walks: the point returns.
        "paper_pending" => ("point", vec!["return"]),
        "returned" => ("leader", vec!["submit"]),
        other => panic!("unexpected state {other}"),
    }
}

both_backends!(
    one_winner_per_version_among_a_hundred_actors_of_every_role,
    |app: TestApp| async move {
        let leader = app.login("leader").await;
        let id = submitted_registration(&leader, "basic").await;
        let sessions: Vec<(&'static str, Client<'_>)> = vec![
            ("leader", leader),
            ("dept", app.login("dept").await),
            ("unit", app.login("unit").await),
            ("point", app.login("point").await),
            ("supervisor", app.login("supervisor").await),
            ("office", app.login("office").await),
            ("unit-b", app.login("unit-b").await),
            ("leader-b", app.login("leader-b").await),
        ];
        let session = |name: &str| -> &Client<'_> {
            &sessions
                .iter()
                .find(|(n, _)| *n == name)
                .expect("session")
                .1
        };
        let history_path = format!("/api/registrations/{id}/history");
        let started = std::time::Instant::now();
        let mut wins_by_action: BTreeMap<&str, usize> = BTreeMap::new();
        let mut refusals: BTreeMap<String, usize> = BTreeMap::new();

        for round in 0..ROUNDS {
            let before = session("point").record(&id).await;
            let state = before["state"].as_str().expect("state").to_owned();
            let version = before["version"].as_u64().expect("version");
            let events_before = session("point")
                .get(&history_path)
                .await
                .expect(StatusCode::OK)["events"]
                .as_array()
                .expect("events")
                .clone();
            let (reviewer, actions) = reviewer_actions(&state);

            // 76 of the stage's reviewer, alternating its actions; 8 staff in scope who act at
            // other stages; 8 roles that never take the action; 8 outside the record's scope.
            let mut actors = Vec::with_capacity(ACTORS);
            for i in 0..76 {
                let action = actions[i % actions.len()];
                actors.push(Actor {
                    client: session(reviewer),
                    username: reviewer,
                    action,
                    opinion: action == "return",
                    expect: Expect::WinOrStale,
                });
            }
            let others: Vec<(&'static str, &'static str)> = [
                ("leader", "submit"),
                ("dept", "pass"),
                ("unit", "pass"),
                ("point", "pass"),
            ]
            .into_iter()
            .filter(|(who, action)| !(*who == reviewer && actions.contains(action)))
            .collect();
            for i in 0..8 {
                let (who, action) = others[i % others.len()];
                actors.push(Actor {
                    client: session(who),
                    username: who,
                    action,
                    opinion: false,
                    expect: Expect::InvalidStateOrStale,
                });
            }
            let never = [
                ("supervisor", "pass"),
                ("office", "return"),
                ("leader", "pass"),
                ("dept", "receive_paper"),
            ];
            for i in 0..8 {
                let (who, action) = never[i % never.len()];
                actors.push(Actor {
                    client: session(who),
                    username: who,
                    action,
                    opinion: true,
                    expect: Expect::Forbidden,
                });
            }
            let outside = [("unit-b", "pass"), ("leader-b", "submit")];
            for i in 0..8 {
                let (who, action) = outside[i % outside.len()];
                actors.push(Actor {
                    client: session(who),
                    username: who,
                    action,
                    opinion: false,
                    expect: Expect::NotFound,
                });
            }
            assert_eq!(actors.len(), ACTORS);

            let answers = futures::future::join_all(actors.iter().map(|a| {
                let mut body = json!({"version": version});
                if a.opinion {
                    body["opinion"] = json!(format!("第{round}轮：{}意见", a.username));
                }
                let path = format!("/api/registrations/{id}/actions/{}", a.action);
                async move { a.client.post(&path, body).await }
            }))
            .await;

            let mut winners = Vec::new();
            for (a, r) in actors.iter().zip(&answers) {
                match a.expect {
                    Expect::WinOrStale if r.status == StatusCode::OK => winners.push((a, r)),
                    Expect::WinOrStale => {
                        r.expect_error(StatusCode::CONFLICT, "stale_version");
                    }
                    Expect::InvalidStateOrStale => {
                        let code = r.code();
                        assert!(
                            r.status == StatusCode::CONFLICT
                                && (code == "invalid_state" || code == "stale_version"),
                            "{} {} in {state}: {} {}",
                            a.username,
                            a.action,
                            r.status,
                            r.text()
                        );
                        r.expect_error(StatusCode::CONFLICT, &code);
                    }
                    Expect::Forbidden => {
                        r.expect_error(StatusCode::FORBIDDEN, "forbidden");
                    }
                    Expect::NotFound => {
                        r.expect_error(StatusCode::NOT_FOUND, "not_found");
                    }
                }
                if r.status != StatusCode::OK {
                    *refusals.entry(r.code()).or_default() += 1;
                }
            }
            assert_eq!(
                winners.len(),
                1,
                "round {round} in {state} at version {version}: exactly one winner, got {}",
                winners.len()
            );
            let (winner, answer) = winners[0];
            let won = answer.json();
            assert_eq!(won["version"].as_u64(), Some(version + 1));
            *wins_by_action.entry(winner.action).or_default() += 1;

            // The record moved by exactly the winning write, and history by exactly its event.
            let after = session("point").record(&id).await;
            assert_eq!(after["version"].as_u64(), Some(version + 1));
            assert_eq!(after["state"], won["state"]);
            let events = session("point")
                .get(&history_path)
                .await
                .expect(StatusCode::OK)["events"]
                .as_array()
                .expect("events")
                .clone();
            assert_eq!(events.len(), events_before.len() + 1, "one event per win");
            assert_eq!(events[..events_before.len()], events_before[..]);
            let last = events.last().expect("event");
            assert_eq!(last["action"], winner.action);
            assert_eq!(last["from"], state.as_str());
            assert_eq!(last["to"], after["state"]);
            assert_eq!(last["actor"], winner.username);
            assert_eq!(last["opinion"].is_string(), winner.opinion, "{last}");
            assert_eq!(last["seq"].as_u64(), Some(events.len() as u64));
        }

        // The whole history matches the record: seq 1..n, each step from the previous one's
        // state, the last at the record's state; version = events + the one form fill.
        let record = session("point").record(&id).await;
        let events = session("point")
            .get(&history_path)
            .await
            .expect(StatusCode::OK)["events"]
            .as_array()
            .expect("events")
            .clone();
        assert_history_json(&record, &events, 1);
        assert_eq!(
            wins_by_action.values().sum::<usize>(),
            ROUNDS,
            "{wins_by_action:?}"
        );
        assert_eq!(
            refusals.values().sum::<usize>(),
            ROUNDS * (ACTORS - 1),
            "{refusals:?}"
        );
        eprintln!(
            "contention[{:?}]: {ROUNDS} versions x {ACTORS} concurrent actors on one record: \
             {ROUNDS} winners {wins_by_action:?}, {} refusals {refusals:?}, {} history events; \
             {:.1} s",
            app.backend,
            ROUNDS * (ACTORS - 1),
            events.len(),
            started.elapsed().as_secs_f64()
        );
    }
);

/// Checks a record's history as the API shows it: seq 1..n, each event from the state the
/// previous one reached, the last at the record's state, and the version counting every event
/// plus `edits` form edits (writes without an event).
fn assert_history_json(record: &Value, events: &[Value], edits: u64) {
    assert!(!events.is_empty(), "a record has at least its creation");
    let mut previous: Option<&Value> = None;
    for (i, e) in events.iter().enumerate() {
        assert_eq!(e["seq"].as_u64(), Some(i as u64 + 1), "{e}");
        match previous {
            None => assert_eq!(e["action"], "create", "{e}"),
            Some(p) => assert_eq!(e["from"], p["to"], "{e} after {p}"),
        }
        previous = Some(e);
    }
    assert_eq!(events.last().map(|e| &e["to"]), Some(&record["state"]));
    assert_eq!(
        record["version"].as_u64(),
        Some(events.len() as u64 + edits),
        "version counts every write"
    );
}

/// The same checks on the stored record and its events.
fn assert_history(reg: &Registration, events: &[Event], edits: u64) {
    assert!(!events.is_empty(), "{} has no history", reg.id);
    for (i, e) in events.iter().enumerate() {
        assert_eq!(e.seq, i as u64 + 1, "{}: {e:?}", reg.id);
        assert_eq!(e.registration_id, reg.id);
        if i == 0 {
            assert_eq!(e.action, Action::Create);
        } else {
            assert_eq!(e.from, Some(events[i - 1].to), "{}: {e:?}", reg.id);
        }
    }
    assert_eq!(events.last().map(|e| e.to), Some(reg.state), "{}", reg.id);
    assert_eq!(reg.event_count, events.len() as u64, "{}", reg.id);
    assert_eq!(reg.version, events.len() as u64 + edits, "{}", reg.id);
}

/// Decisions on the embedded backend: the full thousand.
const DECISIONS_EMBEDDED: usize = 1000;
/// Decisions on the AWS backend: the full thousand too. Every DynamoDB call goes to the local
/// emulator (one Python process answering some 30 decide requests a second, fewer when the
/// machine is busy), so this is the slowest test of the suite (30 s to a minute).
/// `CHENGGUO_TEST_AWS_DECISIONS` sets another count (at most [`DECISIONS_EMBEDDED`]) for a
/// quicker run.
const DECISIONS_AWS: usize = DECISIONS_EMBEDDED;

fn decisions_aws() -> usize {
    std::env::var("CHENGGUO_TEST_AWS_DECISIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .map_or(DECISIONS_AWS, |n: usize| n.clamp(1, DECISIONS_EMBEDDED))
}
/// Decide requests in flight at once on the embedded backend.
const IN_FLIGHT_EMBEDDED: usize = 32;
/// Decide requests in flight at once on the AWS backend: the emulator answers one request at a
/// time, so more in flight only adds refused claims (each try races every other in flight for
/// the same sequence) without deciding faster.
const IN_FLIGHT_AWS: usize = 16;
/// Tries per record: a proposal taken by a concurrent decision is refused with `number_taken`
/// and the point decides again, as a person would; each try either wins a number or loses it to
/// a decision that won, so a record needs at most as many tries as there are records.
const MAX_TRIES: usize = DECISIONS_EMBEDDED + 1;

/// The accounts and context the workflow's rules need to prepare records directly.
struct Staff {
    leader: User,
    dept: User,
    unit: User,
    point: User,
}

async fn staff(store: &dyn Store) -> Staff {
    let user = |name: &'static str| async move {
        store
            .find_user(name)
            .await
            .expect("read account")
            .expect("demo account")
    };
    Staff {
        leader: user("leader").await,
        dept: user("dept").await,
        unit: user("unit").await,
        point: user("point").await,
    }
}

/// Records per prepared write: two items each (record and event) within DynamoDB's 100 per
/// transaction.
const BATCH: usize = 40;

/// Commits one step for many records at once, each guarded by the version it was read at.
async fn commit_step(store: &dyn Store, writes: Vec<RegistrationWrite>) {
    let mut writes = writes.into_iter().peekable();
    while writes.peek().is_some() {
        let batch: Vec<RegistrationWrite> = writes.by_ref().take(BATCH).collect();
        store
            .commit(WriteSet {
                registrations: batch,
                ..WriteSet::default()
            })
            .await
            .expect("prepare step");
    }
}

/// `n` records of `leader` (in `dept`), of every kind in turn, in `decision_pending` with paper
/// received today. Preparing a thousand through HTTP would take minutes, so each step runs the
/// workflow's own rules ([`workflow::apply`], the same function the API calls) and commits
/// through the `Store` port, many records per write. The records carry the full history (create,
/// fill, submit, three passes, paper received) and versions exactly as the API would write them,
/// and an attachment entry per required material (the entries only: no file bytes, which no
/// decision reads); the notification mail the API would queue is left out. Only the decisions
/// under test go through HTTP.
async fn decision_pending_records(app: &TestApp, n: usize) -> Vec<(String, Kind)> {
    let store: Arc<dyn Store> = app.state.store.clone();
    let s = staff(store.as_ref()).await;
    let authorities = store.list_authorities().await.expect("authorities");
    let authority = authorities
        .iter()
        .find(|a| a.id == chengguo_api::seed::AUTHORITY_ID)
        .expect("demo authority")
        .clone();
    let unit = store
        .get_unit(s.leader.unit_id.as_deref().expect("leader's unit"))
        .await
        .expect("read unit");
    let now = app.clock.now();
    let kinds = [Kind::Applied, Kind::Basic, Kind::Soft];

    // Create, as 「新增计划外项目成果登记」 does.
    let mut records = Vec::with_capacity(n);
    let mut writes = Vec::with_capacity(n);
    for i in 0..n {
        let kind = kinds[i % kinds.len()];
        let (reg, event) = chengguo_api::service::new_draft(
            uuid::Uuid::new_v4().to_string(),
            &s.leader,
            unit.as_ref(),
            &authority.id,
            Source::OtherFiscal,
            Some(kind),
            now,
        );
        writes.push(RegistrationWrite {
            record: reg.clone(),
            expected_version: None,
            event: Some(event),
        });
        records.push(reg);
    }
    commit_step(store.as_ref(), writes).await;

    // Fill the form, as PATCH does: one write without an event.
    let mut writes = Vec::with_capacity(n);
    for reg in &mut records {
        let kind = reg.kind.expect("kind");
        let form = form(kind.code());
        let mut next = reg.clone();
        next.fields = reg
            .fields
            .patched(form.as_object().expect("form object"))
            .expect("fixture form");
        next.version += 1;
        writes.push(RegistrationWrite {
            record: next.clone(),
            expected_version: Some(reg.version),
            event: None,
        });
        *reg = next;
    }
    commit_step(store.as_ref(), writes).await;

    // The required materials, as confirmed attachment entries.
    let mut materials: HashMap<String, Vec<Attachment>> = HashMap::new();
    for reg in &records {
        let kind = reg.kind.expect("kind");
        let list: Vec<Attachment> = chengguo_domain::materials::required(kind, false)
            .map(|m| {
                let aid = uuid::Uuid::new_v4().to_string();
                Attachment {
                    key: Attachment::key_for(&reg.id, &aid),
                    id: aid,
                    registration_id: reg.id.clone(),
                    category: m.category.to_owned(),
                    filename: format!("{}.pdf", m.category),
                    content_type: "application/pdf".into(),
                    size: 64,
                    status: AttachmentStatus::Ready,
                    sha256: Some("0".repeat(64)),
                    uploaded_by: s.leader.username.clone(),
                    created_at: now,
                    expires_at: now,
                }
            })
            .collect();
        materials.insert(reg.id.clone(), list);
    }
    let puts = materials.values().flatten().cloned().collect::<Vec<_>>();
    futures::stream::iter(puts)
        .for_each_concurrent(16, |a| {
            let store = store.clone();
            async move { store.put_attachment(&a).await.expect("attachment") }
        })
        .await;

    // Submit, three passes and paper received, each through the workflow's rules.
    let steps: [(&User, Action); 5] = [
        (&s.leader, Action::Submit),
        (&s.dept, Action::Pass),
        (&s.unit, Action::Pass),
        (&s.point, Action::Pass),
        (&s.point, Action::ReceivePaper),
    ];
    for (user, action) in steps {
        let mut writes = Vec::with_capacity(n);
        for reg in &mut records {
            let facts = Facts {
                now,
                today: app.clock.today(),
                authorities: &authorities,
                authority: Some(&authority),
                attachments: &materials[&reg.id],
                project: None,
                open_objections: 0,
                proposed_number: None,
                unit_notice_days: app.state.config.unit_notice_days,
                website_notice_days: app.state.config.website_notice_days,
            };
            let req = ActionRequest {
                version: reg.version,
                ..ActionRequest::default()
            };
            let outcome = workflow::apply(reg, user, action, &req, &facts)
                .unwrap_or_else(|e| panic!("{action:?} by {}: {e:?}", user.username));
            writes.push(RegistrationWrite {
                record: outcome.record.clone(),
                expected_version: Some(reg.version),
                event: Some(outcome.event),
            });
            *reg = outcome.record;
        }
        commit_step(store.as_ref(), writes).await;
    }
    for reg in &records {
        assert_eq!(reg.state, State::DecisionPending);
    }
    records
        .into_iter()
        .map(|r| (r.id, r.kind.expect("kind")))
        .collect()
}

both_backends!(
    a_thousand_concurrent_decisions_draw_unique_gapless_numbers,
    |app: TestApp| async move {
        let (n, in_flight) = match app.backend {
            Backend::Embedded => (DECISIONS_EMBEDDED, IN_FLIGHT_EMBEDDED),
            Backend::Aws => (decisions_aws(), IN_FLIGHT_AWS),
        };
        let started = std::time::Instant::now();
        let records = decision_pending_records(&app, n).await;
        let prepared = started.elapsed();
        assert_eq!(records.len(), n);
        // The website notice (30 days from today) is over; sessions last hours, so log in now.
        app.advance_days(31);
        let point = app.login("point").await;
        let version = 1 + 1 + 5;

        // Every record decided `registered` with the proposed number, `in_flight` at a time.
        let outcomes: Vec<(String, Value, usize)> = futures::stream::iter(records.iter())
            .map(|(id, _)| {
                let point = &point;
                async move {
                    let path = format!("/api/registrations/{id}/actions/decide");
                    let body =
                        json!({"version": version, "result": "registered", "opinion": "予以登记"});
                    for taken in 0..MAX_TRIES {
                        let r = point.post(&path, body.clone()).await;
                        if r.status == StatusCode::OK {
                            return (id.clone(), r.json(), taken);
                        }
                        // A number proposed from the same highest serial as a decision that
                        // won first; the record is unchanged and the point decides again.
                        r.expect_error(StatusCode::UNPROCESSABLE_ENTITY, "number_taken");
                    }
                    panic!("{id}: no number after {MAX_TRIES} tries");
                }
            })
            .buffer_unordered(in_flight)
            .collect()
            .await;
        let deciding = started.elapsed() - prepared;
        assert_eq!(outcomes.len(), n);
        let refused: usize = outcomes.iter().map(|(_, _, t)| t).sum();

        // Each answer is a decided record holding its number.
        let mut numbers: HashMap<String, String> = HashMap::new();
        for (id, rec, _) in &outcomes {
            assert_eq!(rec["state"], "decided", "{rec}");
            assert_eq!(rec["decision"]["result"], "registered");
            assert_eq!(rec["version"].as_u64(), Some(version + 1));
            let number = rec["registration_number"]
                .as_str()
                .expect("number")
                .to_owned();
            assert!(
                numbers.insert(number.clone(), id.clone()).is_none(),
                "{number} answered twice"
            );
        }

        // Per authority, year and kind the serials are exactly 1..=count: no duplicate, and no
        // gap, since nothing was rejected or reopened (a released number is the only gap the
        // rules allow).
        let kind_of: HashMap<&str, Kind> =
            records.iter().map(|(id, k)| (id.as_str(), *k)).collect();
        let year = app.clock.today().year();
        let mut serials: BTreeMap<String, Vec<u32>> = BTreeMap::new();
        for (number, id) in &numbers {
            let (prefix, serial) = numbering::split(number).expect("well-formed number");
            assert_eq!(prefix, numbering::prefix("442", year, kind_of[id.as_str()]));
            serials.entry(prefix.to_owned()).or_default().push(serial);
        }
        let store = app.state.store.clone();
        for (prefix, list) in &mut serials {
            list.sort_unstable();
            let expected: Vec<u32> = (1..=list.len() as u32).collect();
            assert_eq!(*list, expected, "serials of {prefix}");
            assert_eq!(
                store.max_serial(prefix).await.expect("max serial"),
                Some(list.len() as u32)
            );
        }
        assert_eq!(serials.len(), 3.min(n));

        // The store agrees: each number held by its record, each record decided once, its
        // history one decide event after the notice, however many of its tries were refused.
        let checks: Vec<()> = futures::stream::iter(numbers.iter())
            .map(|(number, id)| {
                let store = store.clone();
                async move {
                    assert_eq!(
                        store
                            .number_holder(number)
                            .await
                            .expect("holder")
                            .as_deref(),
                        Some(id.as_str())
                    );
                    let reg = store
                        .get_registration(id)
                        .await
                        .expect("read")
                        .expect("record");
                    assert_eq!(reg.state, State::Decided);
                    assert_eq!(reg.registration_number.as_deref(), Some(number.as_str()));
                    let events = store.list_events(id).await.expect("events");
                    assert_history(&reg, &events, 1);
                    let decides: Vec<&Event> = events
                        .iter()
                        .filter(|e| e.action == Action::Decide)
                        .collect();
                    assert_eq!(decides.len(), 1, "{id}: one decide event");
                    assert_eq!(decides[0].from, Some(State::DecisionPending));
                    assert_eq!(decides[0].actor, "point");
                }
            })
            .buffer_unordered(in_flight)
            .collect()
            .await;
        assert_eq!(checks.len(), n);
        let distinct: HashSet<&String> = numbers.keys().collect();
        assert_eq!(distinct.len(), n);

        let max_tries = outcomes.iter().map(|(_, _, t)| t + 1).max().unwrap_or(0);
        eprintln!(
            "contention[{:?}]: {n} concurrent decisions ({in_flight} in flight): {n} numbers, \
             unique and gapless per prefix {:?}, {refused} number_taken refusals retried \
             (at most {max_tries} tries for one record); decisions took {:.1} s ({:.0} decided/s, \
             {:.0} requests/s), preparing the records {:.1} s",
            app.backend,
            serials
                .iter()
                .map(|(p, l)| (p.clone(), l.len()))
                .collect::<BTreeMap<_, _>>(),
            deciding.as_secs_f64(),
            n as f64 / deciding.as_secs_f64(),
            (n + refused) as f64 / deciding.as_secs_f64(),
            prepared.as_secs_f64(),
        );
    }
);
