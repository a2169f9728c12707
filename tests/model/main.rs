//! Model-based test of the workflow (domain.md §4–§7) through the HTTP API.
//!
//! proptest draws sequences of steps: records created by random users, the form filled and
//! edited (with right and wrong versions), materials uploaded, 「填写检查」, every workflow action
//! by every kind of user in and out of scope (opinions present, blank or missing; `decide` with
//! proposed, fresh, taken, malformed and wrong-kind numbers; `reopen` with and without
//! evidence), public objections (under a real name or anonymous) and their resolution, and the
//! clock moved past the notice windows. About half the steps are "drive" steps that
//! pick the reviewer the record waits for, so sequences reach the decision and beyond.
//!
//! Each case runs on a fresh app (the embedded backend; DynamoDB and S3 as well when
//! `CHENGGUO_TEST_AWS_ENDPOINT` is set) with the demo organisation plus a second authority and
//! its point. Sessions are stored directly, which spares a password hash per account and case;
//! everything else goes through the router. After every step:
//! - the answer (status and error code) is the one the reference model (`reference.rs`) gives;
//! - every record's state, version and number are the model's; a refused step changed nothing,
//!   history included;
//! - history only grows, by exactly the events of accepted actions, each a row of
//!   `chengguo_domain::workflow::TABLE` from the previous state, and its last event's `to` is
//!   the state;
//! - each account gets the touched record exactly when it is in scope (404 otherwise) and lists
//!   exactly the records in its scope;
//! - `allowed_actions` is the model's for each account, and an action in it is never refused
//!   for scope, role or state, while one outside it never succeeds;
//! - registration numbers are unique and well formed.
//!
//! Failing cases are kept in `tests/model/regressions.txt` and replayed first.

mod reference;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicUsize, Ordering};

use chengguo_domain::org::{Authority, Session};
use chengguo_domain::ports::Clock;
use chengguo_domain::workflow::{TABLE, Target};
use chengguo_tests::*;
use http::StatusCode;
use proptest::prelude::*;
use proptest::test_runner::{Config, FileFailurePersistence, TestRunner};
use reference::{ACCOUNTS, ActRequest, Answer, KINDS, Rec, Role};
use serde_json::{Value, json};
use time::Date;

/// Cases on the embedded backend.
const CASES: u32 = 32;
/// Most steps in one case on the embedded backend.
const MAX_STEPS: usize = 40;
/// Cases on DynamoDB + S3 in the test suite (each makes a table and a bucket, and every
/// request goes to the local AWS-compatible server, some 4 s a case): fewer, as long.
/// `CHENGGUO_TEST_MODEL_AWS_CASES` and `CHENGGUO_TEST_MODEL_AWS_STEPS` set others;
/// `scripts/bench.d/70-model-fuzz.sh` runs as many as on the embedded backend.
const AWS_CASES: u32 = 8;
const AWS_MAX_STEPS: usize = MAX_STEPS;

/// A count from the environment variable `name`, or `default`.
fn from_env<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Which version a request carries.
#[derive(Debug, Clone, Copy)]
enum Ver {
    Current,
    Stale,
    Ahead,
}

/// Which number a `decide` carries.
#[derive(Debug, Clone, Copy)]
enum Num {
    /// None: the proposal (or the number the record holds).
    Proposed,
    /// The record's own number, if it has one.
    Own,
    /// A serial of this year and kind, free or not.
    Fresh(u16),
    /// The number another record holds, if any.
    Taken,
    /// A fresh number with spaces around it.
    Padded(u16),
    Malformed,
    /// Another kind's flag.
    WrongKind,
    /// The last serial of the year: the next proposal no longer fits.
    Last,
}

/// One step as drawn; indices are taken modulo the accounts and records there are.
#[derive(Debug, Clone)]
enum Step {
    Create {
        who: usize,
        kind: usize,
        consent: bool,
    },
    Fill {
        who: usize,
        rec: usize,
        ver: Ver,
    },
    Upload {
        who: usize,
        rec: usize,
    },
    Edit {
        who: usize,
        rec: usize,
        ver: Ver,
        valid: bool,
    },
    Check {
        who: usize,
        rec: usize,
    },
    Act {
        who: usize,
        rec: usize,
        /// Index into the actions; one past them is an action that does not exist.
        action: usize,
        ver: Ver,
        opinion: usize,
        result: usize,
        num: Num,
        evidence: bool,
    },
    Evidence {
        who: usize,
        rec: usize,
    },
    Advance {
        days: i64,
    },
    /// A public objection, under a real name or anonymous.
    Object {
        rec: usize,
        anonymous: bool,
    },
    /// The resolution of the record's first open objection (or of a resolved one).
    Resolve {
        who: usize,
        rec: usize,
        blank: bool,
    },
    /// The next move of the record's workflow by the account it waits for.
    Drive {
        rec: usize,
        choice: u8,
        opinion: usize,
        num: Num,
        registered: bool,
    },
}

/// Opinions a step may send: present, blank (the same as none), absent.
const OPINIONS: [Option<&str>; 4] = [
    Some("同意。"),
    Some("请补充经济效益证明材料。"),
    Some("   "),
    None,
];
/// `result` of `decide`: the two results, none, and one that does not exist.
const RESULTS: [Option<&str>; 4] = [Some("registered"), Some("rejected"), None, Some("approved")];

fn ver() -> impl Strategy<Value = Ver> {
    prop_oneof![8 => Just(Ver::Current), 1 => Just(Ver::Stale), 1 => Just(Ver::Ahead)]
}

fn num() -> impl Strategy<Value = Num> {
    prop_oneof![
        6 => Just(Num::Proposed),
        2 => Just(Num::Own),
        3 => (1u16..12).prop_map(Num::Fresh),
        3 => Just(Num::Taken),
        1 => (1u16..12).prop_map(Num::Padded),
        1 => Just(Num::Malformed),
        1 => Just(Num::WrongKind),
        1 => Just(Num::Last),
    ]
}

fn step() -> impl Strategy<Value = Step> {
    let who = 0..ACCOUNTS.len();
    let rec = 0usize..8;
    prop_oneof![
        3 => (who.clone(), 0..KINDS.len(), prop::bool::weighted(0.9))
            .prop_map(|(who, kind, consent)| Step::Create { who, kind, consent }),
        2 => (who.clone(), rec.clone(), ver()).prop_map(|(who, rec, ver)| Step::Fill { who, rec, ver }),
        2 => (who.clone(), rec.clone()).prop_map(|(who, rec)| Step::Upload { who, rec }),
        2 => (who.clone(), rec.clone(), ver(), any::<bool>())
            .prop_map(|(who, rec, ver, valid)| Step::Edit { who, rec, ver, valid }),
        2 => (who.clone(), rec.clone()).prop_map(|(who, rec)| Step::Check { who, rec }),
        12 => (who.clone(), rec.clone(), 0..reference::ACTIONS.len() + 1, ver(), 0..OPINIONS.len(),
               0..RESULTS.len(), num(), prop::bool::weighted(0.8))
            .prop_map(|(who, rec, action, ver, opinion, result, num, evidence)| Step::Act {
                who, rec, action, ver, opinion, result, num, evidence,
            }),
        2 => (who, rec.clone()).prop_map(|(who, rec)| Step::Evidence { who, rec }),
        2 => prop_oneof![Just(1i64), Just(7), Just(29), Just(31)].prop_map(|days| Step::Advance { days }),
        2 => (rec.clone(), prop::bool::weighted(0.2))
            .prop_map(|(rec, anonymous)| Step::Object { rec, anonymous }),
        2 => (0..ACCOUNTS.len(), rec.clone(), prop::bool::weighted(0.2))
            .prop_map(|(who, rec, blank)| Step::Resolve { who, rec, blank }),
        // Drive steps keep to the first records, so that some go all the way.
        35 => (0usize..2, any::<u8>(), prop_oneof![4 => Just(0usize), 1 => Just(1), 1 => Just(2), 1 => Just(3)],
               num(), prop::bool::weighted(0.7))
            .prop_map(|(rec, choice, opinion, num, registered)| Step::Drive {
                rec, choice, opinion, num, registered,
            }),
    ]
}

/// A case: the first records' owners and kinds, then the steps.
fn case(max_steps: usize) -> impl Strategy<Value = (Vec<(usize, usize)>, Vec<Step>)> {
    (
        // Owners are the three leaders (the last accounts).
        prop::collection::vec((8usize..11, 0..KINDS.len()), 1..=3),
        prop::collection::vec(step(), 1..=max_steps),
    )
}

/// What all cases did, for the figures printed at the end.
#[derive(Default)]
struct Totals {
    cases: AtomicUsize,
    steps: AtomicUsize,
    requests: AtomicUsize,
    accepted: AtomicUsize,
    refused: AtomicUsize,
    decided: AtomicUsize,
    reopened: AtomicUsize,
    objections: AtomicUsize,
    resolutions: AtomicUsize,
    /// Records by the state they ended their case in.
    final_states: std::sync::Mutex<BTreeMap<&'static str, usize>>,
}

/// The app of one case, a client per account, and the model's view of it.
struct World<'a> {
    app: &'a TestApp,
    clients: Vec<Client<'a>>,
    recs: Vec<Rec>,
    today: Date,
    totals: &'a Totals,
    accepted: usize,
    refused: usize,
    /// Records created so far, for distinct titles.
    serial: usize,
    /// Objections that reached the rate limit today, and which day that is.
    filed: (Date, usize),
}

/// Opens a session for an account directly in the store (no password hash to compute).
async fn session<'a>(app: &'a TestApp, username: &str) -> Client<'a> {
    let user = app
        .state
        .store
        .find_user(username)
        .await
        .expect("store")
        .expect("account");
    let token = format!(
        "{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    );
    let csrf = uuid::Uuid::new_v4().simple().to_string();
    let now = app.clock.now();
    app.state
        .store
        .put_session(&Session {
            token_hash: chengguo_api::auth::token_hash(&token),
            user_id: user.id,
            csrf_token: csrf.clone(),
            created_at: now,
            expires_at: now + time::Duration::days(3650),
        })
        .await
        .expect("session");
    Client {
        app,
        cookie: Some(format!("{}={token}", chengguo_api::auth::COOKIE_NAME)),
        csrf: Some(csrf),
    }
}

/// The demo organisation plus a second authority whose point sees none of the records.
async fn add_other_point(app: &TestApp) {
    let store = &app.state.store;
    store
        .put_authority(&Authority {
            id: reference::OTHER_AUTHORITY.into(),
            name: "广州市科学技术局".into(),
            code: "443".into(),
        })
        .await
        .expect("authority");
    let mut user = store
        .find_user("point")
        .await
        .expect("store")
        .expect("point");
    user.id = "user-point-b".into();
    user.username = "point-b".into();
    user.display_name = "广州市科学技术局成果登记点".into();
    user.email = Some("point-b@demo.chengguo.local".into());
    user.authority_id = Some(reference::OTHER_AUTHORITY.into());
    store.create_user(&user).await.expect("point-b");
}

fn answer_of(resp: &Response) -> Answer {
    let code = if resp.status.is_success() {
        ""
    } else {
        // Error codes are a fixed vocabulary; anything else is reported as "unexpected".
        let c = resp.code();
        [
            "not_found",
            "forbidden",
            "stale_version",
            "invalid_state",
            "validation",
            "notice_open",
            "number_taken",
            "open_objections",
            "rate_limited",
            "bad_request",
        ]
        .into_iter()
        .find(|k| *k == c)
        .unwrap_or("unexpected")
    };
    Answer {
        status: resp.status.as_u16(),
        code,
    }
}

impl<'a> World<'a> {
    async fn new(app: &'a TestApp, totals: &'a Totals) -> World<'a> {
        add_other_point(app).await;
        let mut clients = Vec::new();
        for a in &ACCOUNTS {
            clients.push(session(app, a.username).await);
        }
        World {
            app,
            clients,
            recs: Vec::new(),
            today: app.clock.today(),
            totals,
            accepted: 0,
            refused: 0,
            serial: 0,
            filed: (app.clock.today(), 0),
        }
    }

    fn version(&self, rec: usize, ver: Ver) -> u64 {
        let v = self.recs[rec].version;
        match ver {
            Ver::Current => v,
            Ver::Stale => v.saturating_sub(1),
            Ver::Ahead => v + 1,
        }
    }

    /// Compares an answer with the model's, with the step for context.
    #[track_caller]
    fn expect(&mut self, step: &str, resp: &Response, want: Answer) {
        self.totals.requests.fetch_add(1, Ordering::Relaxed);
        let got = answer_of(resp);
        assert_eq!(got, want, "{step}: answer {}", resp.text());
        if got.status < 300 {
            self.accepted += 1;
        } else {
            self.refused += 1;
            assert!(
                is_chinese(resp.json()["error"]["message"].as_str().unwrap_or("")),
                "{step}: message not Chinese: {}",
                resp.text()
            );
        }
    }

    async fn run(&mut self, step: &Step) {
        match *step {
            Step::Create { who, kind, consent } => {
                self.create(who % ACCOUNTS.len(), kind, consent).await
            }
            Step::Advance { days } => self.advance(days),
            _ if self.recs.is_empty() => {}
            Step::Fill { who, rec, ver } => {
                self.fill(who % ACCOUNTS.len(), rec % self.recs.len(), ver)
                    .await
            }
            Step::Upload { who, rec } => {
                self.upload(who % ACCOUNTS.len(), rec % self.recs.len())
                    .await
            }
            Step::Edit {
                who,
                rec,
                ver,
                valid,
            } => {
                self.edit(who % ACCOUNTS.len(), rec % self.recs.len(), ver, valid)
                    .await;
            }
            Step::Check { who, rec } => {
                self.check(who % ACCOUNTS.len(), rec % self.recs.len())
                    .await
            }
            Step::Act {
                who,
                rec,
                action,
                ver,
                opinion,
                result,
                num,
                evidence,
            } => {
                let rec = rec % self.recs.len();
                let action = reference::ACTIONS.get(action).copied().unwrap_or("approve");
                let result = if action == "decide" {
                    RESULTS[result]
                } else {
                    None
                };
                self.act(
                    who % ACCOUNTS.len(),
                    rec,
                    action,
                    ver,
                    OPINIONS[opinion],
                    result,
                    num,
                    evidence,
                )
                .await;
            }
            Step::Evidence { who, rec } => {
                self.evidence(who % ACCOUNTS.len(), rec % self.recs.len())
                    .await
            }
            Step::Object { rec, anonymous } => self.object(rec % self.recs.len(), anonymous).await,
            Step::Resolve { who, rec, blank } => {
                self.resolve(who % ACCOUNTS.len(), rec % self.recs.len(), blank)
                    .await;
            }
            Step::Drive {
                rec,
                choice,
                opinion,
                num,
                registered,
            } => {
                self.drive(rec % self.recs.len(), choice, opinion, num, registered)
                    .await;
            }
        }
    }

    /// Moves the clock; nothing else changes.
    fn advance(&mut self, days: i64) {
        self.app.advance_days(days);
        self.today += time::Duration::days(days);
        assert_eq!(
            self.app.clock.today(),
            self.today,
            "the clock moves by whole days"
        );
    }

    /// The account a record waits for in its review states.
    fn reviewer(&self, rec: usize) -> usize {
        let r = &self.recs[rec];
        let name = match r.state {
            "draft" | "returned" => ACCOUNTS[r.owner].username,
            "dept_review" => "dept",
            "unit_review" if r.unit() == reference::UNIT => "unit",
            "unit_review" => "unit-b",
            _ => "point",
        };
        reference::account_index(name)
    }

    async fn drive(&mut self, rec: usize, choice: u8, opinion: usize, num: Num, registered: bool) {
        let r = self.recs[rec].clone();
        let who = self.reviewer(rec);
        let opinion = OPINIONS[opinion];
        // One review in eight returns the record, so that most records go on.
        let back = choice.is_multiple_of(8);
        match r.state {
            "draft" | "returned" if !r.filled => self.fill(who, rec, Ver::Current).await,
            "draft" | "returned" if !r.materials => self.upload(who, rec).await,
            "draft" | "returned" => {
                self.act(who, rec, "submit", Ver::Current, opinion, None, num, false)
                    .await;
            }
            "dept_review" | "unit_review" | "point_review" | "paper_pending" => {
                let action = match (back, r.state) {
                    (true, _) => "return",
                    (false, "paper_pending") => "receive_paper",
                    (false, _) => "pass",
                };
                // Returns mostly carry their opinion; a pass mostly carries none.
                let opinion = if back {
                    OPINIONS[usize::from(choice % 16 == 8) * 2]
                } else {
                    opinion
                };
                self.act(who, rec, action, Ver::Current, opinion, None, num, false)
                    .await;
            }
            "decision_pending"
                if r.website_to.is_some_and(|d| self.today <= d) && matches!(choice % 5, 1 | 2) =>
            {
                self.object(rec, false).await;
            }
            "decision_pending"
                if r.website_to.is_some_and(|d| self.today <= d) && !choice.is_multiple_of(3) =>
            {
                self.advance(31);
            }
            "decision_pending" if r.objections.iter().any(|o| !o.1) && choice % 5 != 3 => {
                self.resolve(who, rec, false).await;
            }
            "decision_pending" => {
                let result = Some(if registered { "registered" } else { "rejected" });
                let opinion = opinion.or(Some("予以登记。"));
                self.act(
                    who,
                    rec,
                    "decide",
                    Ver::Current,
                    opinion,
                    result,
                    num,
                    false,
                )
                .await;
            }
            _ if r.evidence.is_none() && choice.is_multiple_of(2) => self.evidence(who, rec).await,
            _ => {
                self.act(
                    who,
                    rec,
                    "reopen",
                    Ver::Current,
                    Some("登记信息有误，退回重新批复。"),
                    None,
                    num,
                    true,
                )
                .await;
            }
        }
    }

    async fn create(&mut self, who: usize, kind: usize, consent: bool) {
        let a = &ACCOUNTS[who];
        self.serial += 1;
        let resp = self.clients[who]
            .post(
                "/api/registrations",
                json!({
                    "kind": KINDS[kind].0, "source": "other_fiscal", "consent": consent,
                    "authority_id": reference::AUTHORITY,
                    "project": {"name": format!("模型测试项目{}", self.serial), "funding": "中山市财政科技经费"}
                }),
            )
            .await;
        let want = match (a.role, consent) {
            (Role::Leader, true) => reference::ok(201),
            (Role::Leader, false) => reference::VALIDATION,
            _ => reference::FORBIDDEN,
        };
        self.expect(&format!("create by {}", a.username), &resp, want);
        if want.status == 201 {
            let body = resp.json();
            assert_eq!(body["state"], "draft");
            assert_eq!(body["version"], 1);
            assert_eq!(body["kind"], KINDS[kind].0);
            self.recs.push(Rec {
                id: body["id"].as_str().expect("id").to_owned(),
                owner: who,
                kind,
                state: "draft",
                version: 1,
                filled: false,
                materials: false,
                number: None,
                website_to: None,
                evidence: None,
                objections: Vec::new(),
                events: 1,
                history: Vec::new(),
                allowed: vec![Vec::new(); ACCOUNTS.len()],
            });
            self.verify(Some(self.recs.len() - 1)).await;
        } else {
            self.verify(None).await;
        }
    }

    async fn fill(&mut self, who: usize, rec: usize, ver: Ver) {
        let r = self.recs[rec].clone();
        let version = self.version(rec, ver);
        let resp = self.clients[who]
            .patch(
                &format!("/api/registrations/{}", r.id),
                json!({"version": version, "fields": form(KINDS[r.kind].0)}),
            )
            .await;
        let want = reference::edit(&r, &ACCOUNTS[who], Some(version));
        self.expect(
            &format!("fill {} by {}", r.id, ACCOUNTS[who].username),
            &resp,
            want,
        );
        if want.status == 200 {
            self.recs[rec].filled = true;
            self.recs[rec].version += 1;
        }
        self.verify(Some(rec)).await;
    }

    async fn edit(&mut self, who: usize, rec: usize, ver: Ver, valid: bool) {
        let r = self.recs[rec].clone();
        let version = self.version(rec, ver);
        let fields = if valid {
            json!({"title": format!("修改后的成果名称（第{}版）", r.version)})
        } else {
            json!({"secrecy": "secret"})
        };
        let resp = self.clients[who]
            .patch(
                &format!("/api/registrations/{}", r.id),
                json!({"version": version, "fields": fields}),
            )
            .await;
        let mut want = reference::edit(&r, &ACCOUNTS[who], Some(version));
        if want.status == 200 && !valid {
            want = reference::VALIDATION;
        }
        self.expect(
            &format!("edit {} by {}", r.id, ACCOUNTS[who].username),
            &resp,
            want,
        );
        if want.status == 200 {
            self.recs[rec].version += 1;
        }
        self.verify(Some(rec)).await;
    }

    async fn check(&mut self, who: usize, rec: usize) {
        let r = self.recs[rec].clone();
        let resp = self.clients[who]
            .get(&format!("/api/registrations/{}/check", r.id))
            .await;
        let want = if reference::sees(&ACCOUNTS[who], &r) {
            reference::ok(200)
        } else {
            reference::NOT_FOUND
        };
        self.expect(
            &format!("check {} by {}", r.id, ACCOUNTS[who].username),
            &resp,
            want,
        );
        if want.status == 200 {
            let ok = r.filled && r.materials;
            assert_eq!(resp.json()["ok"], ok, "check of {}: {}", r.id, resp.text());
        }
        self.verify(Some(rec)).await;
    }

    /// Uploads (announce, PUT, confirm) one file; `None` when the announcement was refused.
    async fn upload_one(
        &mut self,
        who: usize,
        rec: usize,
        category: &str,
        want: Answer,
    ) -> Option<String> {
        let id = self.recs[rec].id.clone();
        let client = &self.clients[who];
        let bytes = pdf_bytes(category);
        let created = client
            .announce(
                &id,
                category,
                &format!("{category}.pdf"),
                "application/pdf",
                bytes.len(),
            )
            .await;
        let step = format!("upload {category} to {id} by {}", ACCOUNTS[who].username);
        self.expect(&step, &created, want);
        if want.status != 201 {
            return None;
        }
        let created = created.json();
        let put = self.app.put_upload(&created["upload"], bytes).await;
        assert!(put.is_success(), "{step}: PUT {put}");
        let aid = created["attachment"]["id"]
            .as_str()
            .expect("attachment id")
            .to_owned();
        let confirmed = self.clients[who]
            .post(
                &format!("/api/registrations/{id}/attachments/{aid}/confirm"),
                json!({}),
            )
            .await;
        self.expect(&step, &confirmed, reference::ok(200));
        assert_eq!(confirmed.json()["status"], "ready", "{step}");
        Some(aid)
    }

    async fn upload(&mut self, who: usize, rec: usize) {
        let r = self.recs[rec].clone();
        let mut want = reference::edit(&r, &ACCOUNTS[who], None);
        if want.status == 200 {
            want = reference::ok(201);
        }
        let mut categories = required_categories(KINDS[r.kind].0);
        if r.materials {
            // A second copy of one file: duplicates are allowed and change nothing.
            categories.truncate(1);
        }
        for category in categories {
            if self.upload_one(who, rec, category, want).await.is_none() {
                break;
            }
        }
        if want.status == 201 {
            self.recs[rec].materials = true;
        }
        self.verify(Some(rec)).await;
    }

    async fn object(&mut self, rec: usize, anonymous: bool) {
        let r = self.recs[rec].clone();
        if self.filed.0 != self.today {
            self.filed = (self.today, 0);
        }
        let want = reference::object(&r, self.today, anonymous, self.filed.1);
        let resp = self
            .app
            .anonymous()
            .post(
                "/api/public/objections",
                json!({
                    "registration_id": r.id,
                    "name": if anonymous { "匿名" } else { "赵建国" },
                    "unit": "中山大学",
                    "phone": "13912345678",
                    "email": "zhaojg@example.org",
                    "content": "该成果的第一完成单位与实际承担单位不一致，请核实。",
                }),
            )
            .await;
        self.expect(
            &format!("objection to {} ({}) on {}", r.id, r.state, self.today),
            &resp,
            want,
        );
        if matches!(want.status, 201 | 429) {
            self.filed.1 += 1;
        }
        if want.status == 201 {
            let id = resp.json()["id"].as_str().expect("objection id").to_owned();
            self.recs[rec].objections.push((id, false));
            self.totals.objections.fetch_add(1, Ordering::Relaxed);
        }
        self.verify(Some(rec)).await;
    }

    async fn resolve(&mut self, who: usize, rec: usize, blank: bool) {
        let r = self.recs[rec].clone();
        let Some(pick) = r
            .objections
            .iter()
            .position(|o| !o.1)
            .or((!r.objections.is_empty()).then_some(0))
        else {
            return;
        };
        let (id, resolved) = r.objections[pick].clone();
        let want = reference::resolve(&r, &ACCOUNTS[who], resolved, blank);
        let note = if blank {
            "  "
        } else {
            "经核实，异议不成立。"
        };
        let resp = self.clients[who]
            .post(
                &format!("/api/objections/{id}/resolve"),
                json!({"note": note}),
            )
            .await;
        self.expect(
            &format!("resolve {id} of {} by {}", r.id, ACCOUNTS[who].username),
            &resp,
            want,
        );
        if want.status == 200 {
            self.recs[rec].objections[pick].1 = true;
            self.totals.resolutions.fetch_add(1, Ordering::Relaxed);
        }
        self.verify(Some(rec)).await;
    }

    async fn evidence(&mut self, who: usize, rec: usize) {
        let r = self.recs[rec].clone();
        let a = &ACCOUNTS[who];
        let want = if !reference::sees(a, &r) {
            reference::NOT_FOUND
        } else if a.role != Role::Point {
            reference::FORBIDDEN
        } else if r.state != "decided" {
            reference::INVALID_STATE
        } else {
            reference::ok(201)
        };
        if let Some(aid) = self.upload_one(who, rec, "reopen_evidence", want).await {
            self.recs[rec].evidence = Some(aid);
        }
        self.verify(Some(rec)).await;
    }

    #[allow(clippy::too_many_arguments)]
    async fn act(
        &mut self,
        who: usize,
        rec: usize,
        action: &str,
        ver: Ver,
        opinion: Option<&str>,
        result: Option<&str>,
        num: Num,
        evidence: bool,
    ) {
        let r = self.recs[rec].clone();
        let version = self.version(rec, ver);
        let year = self.today.year();
        let flag = r.flag();
        let fresh = |s: u16| format!("{}{year:04}{flag}{s:04}", reference::AUTHORITY_CODE);
        let number = if action != "decide" {
            None
        } else {
            match num {
                Num::Proposed => None,
                Num::Own => r.number.clone(),
                Num::Fresh(s) => Some(fresh(s)),
                Num::Padded(s) => Some(format!(" {} ", fresh(s))),
                Num::Taken => self
                    .recs
                    .iter()
                    .find(|o| o.id != r.id && o.number.is_some())
                    .and_then(|o| o.number.clone()),
                Num::Malformed => Some(format!("{}{year:04}{flag}001", reference::AUTHORITY_CODE)),
                Num::WrongKind => {
                    let other = if flag == 'Y' { 'J' } else { 'Y' };
                    Some(format!("{}{year:04}{other}0001", reference::AUTHORITY_CODE))
                }
                Num::Last => Some(fresh(9999)),
            }
        };
        // Evidence of this record, or (for the record without one) of another record.
        let evidence_id = if evidence {
            r.evidence
                .clone()
                .or_else(|| self.recs.iter().find_map(|o| o.evidence.clone()))
        } else {
            None
        };
        let mut body = json!({"version": version});
        for (k, v) in [
            ("opinion", opinion.map(str::to_owned)),
            ("result", result.map(str::to_owned)),
            ("number", number.clone()),
            ("evidence_attachment_id", evidence_id.clone()),
        ] {
            if let Some(v) = v {
                body[k] = json!(v);
            }
        }
        let resp = self.clients[who]
            .post(
                &format!("/api/registrations/{}/actions/{action}", r.id),
                body.clone(),
            )
            .await;
        let req = ActRequest {
            action,
            version,
            opinion,
            result,
            number,
            evidence: evidence_id,
        };
        let (want, next) = reference::act(&self.recs, self.today, &ACCOUNTS[who], rec, &req);
        let step = format!(
            "{action} on {} ({} v{}) by {} with {body} on {}",
            r.id, r.state, r.version, ACCOUNTS[who].username, self.today
        );
        self.expect(&step, &resp, want);

        // What `allowed_actions` said to this account must match what it can do.
        if version == r.version {
            let listed = r.allowed[who].iter().any(|a| a == action);
            if listed {
                assert!(
                    !matches!(resp.status, StatusCode::NOT_FOUND | StatusCode::FORBIDDEN)
                        && answer_of(&resp).code != "invalid_state",
                    "{step}: listed in allowed_actions yet refused: {}",
                    resp.text()
                );
            } else {
                assert!(
                    !resp.status.is_success(),
                    "{step}: not in allowed_actions {:?} yet accepted",
                    r.allowed[who]
                );
            }
        }

        if let Some(next) = next {
            let body = resp.json();
            assert_eq!(body["state"], next.state, "{step}");
            assert_eq!(body["version"], next.version, "{step}");
            if action == "decide" {
                self.totals.decided.fetch_add(1, Ordering::Relaxed);
            }
            if action == "reopen" {
                self.totals.reopened.fetch_add(1, Ordering::Relaxed);
            }
            self.recs[rec] = next;
        }
        self.verify(Some(rec)).await;
    }

    /// Checks every invariant; `touched` is read by every account as well.
    async fn verify(&mut self, touched: Option<usize>) {
        let office = reference::account_index("office");
        let mut numbers = BTreeSet::new();
        for i in 0..self.recs.len() {
            let r = self.recs[i].clone();
            let rec = self.clients[office].record(&r.id).await;
            assert_eq!(rec["state"], r.state, "state of {}", r.id);
            assert_eq!(rec["version"], r.version, "version of {}", r.id);
            assert_eq!(
                rec["registration_number"],
                json!(r.number),
                "number of {}",
                r.id
            );
            assert_eq!(
                rec["notice"]["website_to"],
                json!(r.website_to.map(|d| d.to_string())),
                "website notice of {}",
                r.id
            );
            let objections: Vec<(String, bool)> = rec["objections"]
                .as_array()
                .expect("objections")
                .iter()
                .map(|o| {
                    let id = o["id"].as_str().unwrap_or_default().to_owned();
                    (id, o["resolved"] == true)
                })
                .collect();
            let mut objections = objections;
            objections.sort();
            let mut want = r.objections.clone();
            want.sort();
            assert_eq!(objections, want, "objections of {}", r.id);
            if let Some(n) = &r.number {
                assert!(reference::number_is_valid(n, r.flag()), "{n} of {}", r.id);
                assert!(numbers.insert(n.clone()), "{n} held twice");
            }
            let history = self.clients[office]
                .get(&format!("/api/registrations/{}/history", r.id))
                .await
                .expect(StatusCode::OK)["events"]
                .as_array()
                .expect("events")
                .clone();
            self.check_history(&r, &history);
            self.recs[i].history = history;
        }
        if let Some(i) = touched {
            self.check_scope(i).await;
        }
    }

    /// History is append-only, grows by the accepted actions only, and follows the table.
    fn check_history(&self, r: &Rec, history: &[Value]) {
        assert_eq!(history.len(), r.events, "events of {}: {history:?}", r.id);
        assert!(
            history.starts_with(&r.history),
            "history of {} rewritten: was {:?}, now {history:?}",
            r.id,
            r.history
        );
        let first = &history[0];
        assert_eq!(
            (first["action"].as_str(), first["to"].as_str()),
            (Some("create"), Some("draft"))
        );
        for (i, e) in history.iter().enumerate() {
            assert_eq!(e["seq"], i + 1, "seq of {}: {e}", r.id);
        }
        let mut state = chengguo_domain::State::Draft;
        for e in &history[1..] {
            let parse = |k: &str| e[k].as_str().unwrap_or_default();
            let from = chengguo_domain::State::parse(parse("from")).expect("from");
            let to = chengguo_domain::State::parse(parse("to")).expect("to");
            let action = chengguo_domain::Action::parse(parse("action")).expect("action");
            let role = chengguo_domain::Role::parse(parse("role")).expect("role");
            assert_eq!(
                from, state,
                "event of {} starts where the last one ended: {e}",
                r.id
            );
            let first_review = if r.department().is_some() {
                chengguo_domain::State::DeptReview
            } else {
                chengguo_domain::State::UnitReview
            };
            let row = TABLE.iter().find(|row| {
                row.from == from
                    && row.action == action
                    && row.actor == role
                    && match row.to {
                        Target::State(s) => s == to,
                        Target::FirstReview => to == first_review,
                    }
            });
            assert!(
                row.is_some(),
                "event of {} is no row of the table: {e}",
                r.id
            );
            state = to;
        }
        assert_eq!(
            state.code(),
            r.state,
            "last event of {} ends in its state",
            r.id
        );
    }

    /// Every account reads the record exactly when in scope, and lists exactly its scope.
    async fn check_scope(&mut self, i: usize) {
        let r = self.recs[i].clone();
        for (w, a) in ACCOUNTS.iter().enumerate() {
            let resp = self.clients[w]
                .get(&format!("/api/registrations/{}", r.id))
                .await;
            if reference::sees(a, &r) {
                let body = resp.expect(StatusCode::OK);
                let mut got: Vec<String> = body["allowed_actions"]
                    .as_array()
                    .expect("allowed_actions")
                    .iter()
                    .map(|v| v.as_str().unwrap_or_default().to_owned())
                    .collect();
                got.sort();
                assert_eq!(
                    got,
                    reference::allowed(a, &r),
                    "allowed_actions of {} for {}",
                    r.id,
                    a.username
                );
                let editable = a.role == Role::Leader && w == r.owner && r.editable();
                assert_eq!(
                    body["editable"], editable,
                    "editable of {} for {}",
                    r.id, a.username
                );
                self.recs[i].allowed[w] = got;
            } else {
                resp.expect_error(StatusCode::NOT_FOUND, "not_found");
                assert!(!resp.text().contains(&r.id), "404 names the record");
            }
            let list = self.clients[w]
                .get("/api/registrations?limit=100")
                .await
                .expect(StatusCode::OK);
            let listed: BTreeSet<&str> = list["items"]
                .as_array()
                .expect("items")
                .iter()
                .filter_map(|v| v["id"].as_str())
                .collect();
            let want: BTreeSet<&str> = self
                .recs
                .iter()
                .filter(|o| reference::sees(a, o))
                .map(|o| o.id.as_str())
                .collect();
            assert_eq!(listed, want, "list of {}", a.username);
        }
    }

    /// Everyone in scope reads the same history; outside scope every read of the record is
    /// "not found".
    async fn check_reads(&self, i: usize) {
        let r = &self.recs[i];
        for (w, a) in ACCOUNTS.iter().enumerate() {
            let history = format!("/api/registrations/{}/history", r.id);
            if reference::sees(a, r) {
                let events = self.clients[w].get(&history).await.expect(StatusCode::OK);
                assert_eq!(
                    events["events"].as_array(),
                    Some(&r.history),
                    "history of {} for {}",
                    r.id,
                    a.username
                );
                continue;
            }
            for path in [
                history,
                format!("/api/registrations/{}/check", r.id),
                format!("/api/registrations/{}/next-number", r.id),
                format!("/api/registrations/{}/attachments", r.id),
            ] {
                let resp = self.clients[w].get(&path).await;
                assert_eq!(
                    resp.status,
                    StatusCode::NOT_FOUND,
                    "{path} for {}",
                    a.username
                );
                assert!(!resp.text().contains(&r.id), "404 names the record");
            }
        }
    }
}

/// Runs one case on a fresh app.
async fn run_case(backend: Backend, owners: &[(usize, usize)], steps: &[Step], totals: &Totals) {
    let app = TestApp::new(backend).await.expect("app");
    let mut world = World::new(&app, totals).await;
    for &(owner, kind) in owners {
        world.create(owner, kind, true).await;
    }
    for step in steps {
        world.run(step).await;
    }
    // Every record once more by every account.
    for i in 0..world.recs.len() {
        world.verify(Some(i)).await;
        world.check_reads(i).await;
    }
    totals.cases.fetch_add(1, Ordering::Relaxed);
    totals
        .steps
        .fetch_add(owners.len() + steps.len(), Ordering::Relaxed);
    totals.accepted.fetch_add(world.accepted, Ordering::Relaxed);
    totals.refused.fetch_add(world.refused, Ordering::Relaxed);
    let mut states = totals.final_states.lock().expect("totals");
    for r in &world.recs {
        *states.entry(r.state).or_default() += 1;
    }
}

fn run_model(backend: Backend, cases: u32, max_steps: usize, label: &str) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let totals = Totals::default();
    let mut runner = TestRunner::new(Config {
        cases,
        failure_persistence: Some(Box::new(FileFailurePersistence::Direct(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/model/regressions.txt"
        )))),
        max_shrink_iters: 200,
        max_shrink_time: 180_000,
        ..Config::default()
    });
    let started = std::time::Instant::now();
    let result = runner.run(&case(max_steps), |(owners, steps)| {
        rt.block_on(run_case(backend, &owners, &steps, &totals));
        Ok(())
    });
    let load = |a: &AtomicUsize| a.load(Ordering::Relaxed);
    eprintln!(
        "model ({label}): {} cases, {} steps, {} requests checked ({} accepted, {} refused), \
         {} decisions, {} reopenings, {} objections filed, {} resolved, records at the end by state {:?}, in {:.1} s",
        load(&totals.cases),
        load(&totals.steps),
        load(&totals.requests),
        load(&totals.accepted),
        load(&totals.refused),
        load(&totals.decided),
        load(&totals.reopened),
        load(&totals.objections),
        load(&totals.resolutions),
        totals.final_states.lock().expect("totals"),
        started.elapsed().as_secs_f64()
    );
    if let Err(e) = result {
        panic!("{e}");
    }
    assert!(load(&totals.cases) >= cases as usize, "every case ran");
}

#[test]
fn random_actions_of_random_users_follow_the_reference_model_on_the_embedded_backend() {
    run_model(Backend::Embedded, CASES, MAX_STEPS, "embedded");
}

#[test]
fn random_actions_of_random_users_follow_the_reference_model_on_aws() {
    if aws_endpoint().is_none() {
        eprintln!("skipped: CHENGGUO_TEST_AWS_ENDPOINT not set");
        return;
    }
    run_model(
        Backend::Aws,
        from_env("CHENGGUO_TEST_MODEL_AWS_CASES", AWS_CASES).max(1),
        from_env("CHENGGUO_TEST_MODEL_AWS_STEPS", AWS_MAX_STEPS).clamp(1, 200),
        "aws",
    );
}
