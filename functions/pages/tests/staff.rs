//! The staff and administration pages, in-process through the router: the work queue of each
//! role, search filters and paging, actions with refusals shown in place, the 公示信息 export
//! refusal, form tokens, escaping of people's text, the print view and administration.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use chengguo_api::seed::{AUTHORITY_ID, DEMO_PASSWORD, UNIT_B_ID, UNIT_ID};
use chengguo_api::{AppState, Config, service};
use chengguo_domain::codes::{DecisionResult, Kind, Source, State};
use chengguo_domain::fields::Fields;
use chengguo_domain::ports::{Clock, ManualClock, RegistrationWrite, WriteSet};
use chengguo_domain::record::{
    Attachment, AttachmentStatus, Decision, Event, Notice, Objection, Registration,
};
use chengguo_files_local::LocalFiles;
use chengguo_sqlite::SqliteStore;
use http_body_util::BodyExt;
use time::macros::datetime;
use time::{Duration, OffsetDateTime};
use tower::ServiceExt;

/// 2026-11-28 10:00 in China.
const START: OffsetDateTime = datetime!(2026-11-28 02:00 UTC);
const PAPER_NOT_RECEIVED: &str =
    "您选择的成果登记，在成果登记点未接收纸质材料之前，无法导出公示信息。";

struct App {
    router: Router,
    state: AppState,
    clock: Arc<ManualClock>,
    next_id: AtomicUsize,
    _dir: tempfile::TempDir,
}

struct Who {
    cookie: String,
    csrf: String,
}

#[derive(Debug)]
struct Resp {
    status: StatusCode,
    location: String,
    content_type: String,
    body: String,
}

impl Resp {
    #[track_caller]
    fn ok(&self) -> &str {
        assert_eq!(self.status, StatusCode::OK, "body: {}", self.body);
        &self.body
    }
}

/// Percent-encodes a form value.
fn enc(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Undoes tera's HTML escaping of a link.
fn unescape(s: &str) -> String {
    s.replace("&#x2F;", "/")
        .replace("&amp;", "&")
        .replace("&#x3D;", "=")
}

/// The `href` of the link marked `rel="next"`.
fn next_link(body: &str) -> Option<String> {
    let at = body.find("rel=\"next\"")?;
    let head = &body[..at];
    let start = head.rfind("href=\"")? + 6;
    let end = start + head[start..].find('"')?;
    Some(unescape(&head[start..end]))
}

fn fixture() -> Fields {
    serde_json::from_str(include_str!("../../../tests/fixtures/form_applied.json"))
        .expect("fixture form")
}

impl App {
    async fn new() -> App {
        let dir = tempfile::tempdir().expect("temp dir");
        let clock = Arc::new(ManualClock::new(START));
        let dyn_clock: Arc<dyn Clock> = clock.clone();
        let files = Arc::new(
            LocalFiles::new(
                dir.path().join("files"),
                "http://127.0.0.1:9",
                vec![7u8; 32],
            )
            .with_clock(dyn_clock.clone()),
        );
        let state = AppState {
            store: Arc::new(SqliteStore::open_in_memory().expect("store")),
            blobs: files.clone(),
            clock: dyn_clock,
            mailer: Arc::new(chengguo_mail::OutboxMailer::new(
                dir.path().join("outbox"),
                "科技成果登记系统 <no-reply@chengguo.local>",
            )),
            mail_templates: Arc::new(chengguo_mail::Templates::new().expect("mail templates")),
            config: Arc::new(Config {
                mail_inline: true,
                ..Config::default()
            }),
            local_files: Some(files),
            site_changes: None,
        };
        chengguo_api::seed::seed_demo(state.store.as_ref(), START)
            .await
            .expect("seed");
        let router =
            chengguo_api::router(state.clone()).merge(chengguo_pages::router(state.clone()));
        App {
            router,
            state,
            clock,
            next_id: AtomicUsize::new(1),
            _dir: dir,
        }
    }

    async fn login(&self, username: &str) -> Who {
        let (_, session, token) =
            chengguo_api::auth::login(&self.state, username, DEMO_PASSWORD, None)
                .await
                .expect("login");
        Who {
            cookie: format!("{}={token}", chengguo_api::auth::COOKIE_NAME),
            csrf: session.csrf_token,
        }
    }

    async fn send(&self, req: Request<Body>) -> Resp {
        let resp = self.router.clone().oneshot(req).await.expect("infallible");
        let status = resp.status();
        let header_text = |h| {
            resp.headers()
                .get(h)
                .and_then(|v: &axum::http::HeaderValue| v.to_str().ok())
                .unwrap_or("")
                .to_owned()
        };
        let location = header_text(header::LOCATION);
        let content_type = header_text(header::CONTENT_TYPE);
        let bytes = resp.into_body().collect().await.expect("body").to_bytes();
        Resp {
            status,
            location,
            content_type,
            body: String::from_utf8_lossy(&bytes).into_owned(),
        }
    }

    async fn get(&self, who: &Who, path: &str) -> Resp {
        let req = Request::get(path)
            .header(header::COOKIE, &who.cookie)
            .body(Body::empty())
            .expect("request");
        self.send(req).await
    }

    /// Posts a url-encoded form; `csrf` is added unless given.
    async fn post(&self, who: &Who, path: &str, fields: &[(&str, &str)]) -> Resp {
        let mut pairs: Vec<String> = fields
            .iter()
            .map(|(k, v)| format!("{}={}", enc(k), enc(v)))
            .collect();
        if !fields.iter().any(|(k, _)| *k == "csrf") {
            pairs.push(format!("csrf={}", enc(&who.csrf)));
        }
        let req = Request::post(path)
            .header(header::COOKIE, &who.cookie)
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::from(pairs.join("&")))
            .expect("request");
        self.send(req).await
    }

    /// Posts a multipart form with one file.
    async fn post_multipart(
        &self,
        who: &Who,
        path: &str,
        fields: &[(&str, &str)],
        file: Option<(&str, &str, &str, &[u8])>,
    ) -> Resp {
        let boundary = "----chengguoTestBoundary7MA4YWxk";
        let mut body: Vec<u8> = Vec::new();
        let mut all: Vec<(&str, &str)> = fields.to_vec();
        if !fields.iter().any(|(k, _)| *k == "csrf") {
            all.push(("csrf", &who.csrf));
        }
        for (k, v) in all {
            body.extend_from_slice(
                format!(
                    "--{boundary}\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n{v}\r\n"
                )
                .as_bytes(),
            );
        }
        if let Some((name, filename, ct, bytes)) = file {
            body.extend_from_slice(
                format!(
                    "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"; filename=\"{filename}\"\r\nContent-Type: {ct}\r\n\r\n"
                )
                .as_bytes(),
            );
            body.extend_from_slice(bytes);
            body.extend_from_slice(b"\r\n");
        }
        body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
        let req = Request::post(path)
            .header(header::COOKIE, &who.cookie)
            .header(
                header::CONTENT_TYPE,
                format!("multipart/form-data; boundary={boundary}"),
            )
            .body(Body::from(body))
            .expect("request");
        self.send(req).await
    }

    /// Stores a record of `owner` in `state`, created `days_ago`, with the fixture's form.
    async fn record(
        &self,
        owner: &str,
        state: State,
        kind: Kind,
        title: &str,
        days_ago: i64,
    ) -> Registration {
        let store = &self.state.store;
        let user = store.find_user(owner).await.unwrap().expect("owner");
        let unit = store
            .get_unit(user.unit_id.as_deref().unwrap())
            .await
            .unwrap();
        let n = self.next_id.fetch_add(1, Ordering::SeqCst);
        let created = START - Duration::days(days_ago) + Duration::seconds(n as i64);
        let (mut reg, event) = service::new_draft(
            format!("reg-{n:04}"),
            &user,
            unit.as_ref(),
            AUTHORITY_ID,
            Source::NonFiscal,
            Some(kind),
            created,
        );
        let mut fields = fixture();
        fields.title = Some(title.to_owned());
        if kind != Kind::Applied {
            fields.applied = None;
        }
        reg.fields = fields;
        reg.state = state;
        if matches!(
            state,
            State::PaperPending | State::DecisionPending | State::Decided
        ) || state.is_under_review()
        {
            reg.submitted_at = Some(created);
        }
        if matches!(state, State::DecisionPending | State::Decided) {
            // Received 40 days ago: both notices have ended.
            reg.notice = Some(Notice::open(self.clock.today() - Duration::days(40), 7, 30));
        }
        self.commit(reg, Some(event), None).await
    }

    async fn commit(
        &self,
        reg: Registration,
        event: Option<Event>,
        claim: Option<String>,
    ) -> Registration {
        self.state
            .store
            .commit(WriteSet {
                registrations: vec![RegistrationWrite {
                    record: reg.clone(),
                    expected_version: None,
                    event,
                }],
                claim_number: claim.map(|n| (n, reg.id.clone())),
                ..WriteSet::default()
            })
            .await
            .expect("commit");
        reg
    }

    /// A decided, registered record holding `number`.
    async fn decided(&self, title: &str, number: &str) -> Registration {
        let reg = self
            .record("leader", State::Decided, Kind::Applied, title, 60)
            .await;
        let mut next = reg.clone();
        next.registration_number = Some(number.to_owned());
        next.decision = Some(Decision {
            result: DecisionResult::Registered,
            opinion: "同意登记。".into(),
            by: "point".into(),
            at: START - Duration::days(1),
        });
        next.version += 1;
        self.state
            .store
            .commit(WriteSet {
                registrations: vec![RegistrationWrite {
                    record: next.clone(),
                    expected_version: Some(reg.version),
                    event: None,
                }],
                claim_number: Some((number.to_owned(), next.id.clone())),
                ..WriteSet::default()
            })
            .await
            .expect("decide");
        next
    }

    async fn reload(&self, id: &str) -> Registration {
        self.state
            .store
            .get_registration(id)
            .await
            .unwrap()
            .expect("record")
    }
}

#[tokio::test]
async fn each_role_sees_in_its_queue_what_waits_for_it() {
    let app = App::new().await;
    app.record("leader", State::DeptReview, Kind::Applied, "待部门甲", 3)
        .await;
    app.record(
        "leader-nodept",
        State::UnitReview,
        Kind::Basic,
        "待单位乙",
        3,
    )
    .await;
    app.record("leader", State::PointReview, Kind::Soft, "待登记点丙", 3)
        .await;
    app.record(
        "leader-b",
        State::PaperPending,
        Kind::Applied,
        "待纸质丁",
        3,
    )
    .await;
    app.record(
        "leader",
        State::DecisionPending,
        Kind::Applied,
        "待批复戊",
        3,
    )
    .await;
    app.decided("已批复己", "4422026Y0001").await;
    app.record("leader", State::Draft, Kind::Applied, "草稿庚", 3)
        .await;

    let dept = app.login("dept").await;
    let body = app.get(&dept, "/admin/").await.ok().to_owned();
    assert!(body.contains("待部门甲"));
    for other in ["待单位乙", "待登记点丙", "待批复戊", "草稿庚"] {
        assert!(!body.contains(other), "dept queue shows {other}");
    }

    let unit = app.login("unit").await;
    let body = app.get(&unit, "/admin/").await.ok().to_owned();
    assert!(body.contains("待单位乙"));
    for other in ["待部门甲", "待登记点丙", "待纸质丁", "草稿庚"] {
        assert!(!body.contains(other), "unit queue shows {other}");
    }

    let point = app.login("point").await;
    let body = app.get(&point, "/admin/").await.ok().to_owned();
    for mine in ["待登记点丙", "待纸质丁", "待批复戊"] {
        assert!(body.contains(mine), "point queue misses {mine}");
    }
    assert!(body.contains("待批复（公示期满）"));
    for other in ["待部门甲", "待单位乙", "已批复己", "草稿庚"] {
        assert!(!body.contains(other), "point queue shows {other}");
    }
    assert!(body.contains("接收纸质材料"), "actions are named");

    let unit_b = app.login("unit-b").await;
    let body = app.get(&unit_b, "/admin/").await.ok().to_owned();
    assert!(!body.contains("待单位乙"));

    for reader in ["supervisor", "office"] {
        let who = app.login(reader).await;
        let body = app.get(&who, "/admin/").await.ok().to_owned();
        assert!(body.contains("不参与审核"), "{reader}: {body}");
        assert!(!body.contains("待登记点丙"));
    }

    let leader = app.login("leader").await;
    let r = app.get(&leader, "/admin/").await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(r.location, "/app/");
}

#[tokio::test]
async fn search_filters_by_state_kind_unit_dates_and_text() {
    let app = App::new().await;
    app.record(
        "leader-nodept",
        State::UnitReview,
        Kind::Applied,
        "检索甲",
        10,
    )
    .await;
    app.record("leader-b", State::DecisionPending, Kind::Basic, "检索乙", 5)
        .await;
    app.record("leader", State::PointReview, Kind::Soft, "检索丙", 1)
        .await;
    let point = app.login("point").await;
    let found = |body: &str| -> Vec<&'static str> {
        ["检索甲", "检索乙", "检索丙"]
            .into_iter()
            .filter(|t| body.contains(t))
            .collect()
    };
    let cases: &[(&str, &[&str])] = &[
        ("q=检索", &["检索甲", "检索乙", "检索丙"]),
        ("q=检索&kind=basic", &["检索乙"]),
        ("q=检索&state=unit_review", &["检索甲"]),
        ("q=丙", &["检索丙"]),
        ("q=检索&unit=unit-zs-institute", &["检索乙"]),
        ("q=检索&unit=unit-zs-tech", &["检索甲", "检索丙"]),
        ("q=检索&from=2026-11-22", &["检索乙", "检索丙"]),
        ("q=检索&to=2026-11-24", &["检索甲", "检索乙"]),
        ("q=检索&from=2026-11-20&to=2026-11-24", &["检索乙"]),
    ];
    for (query, expected) in cases {
        let path = format!(
            "/admin/search?{}",
            query
                .split('&')
                .map(|kv| {
                    let (k, v) = kv.split_once('=').unwrap();
                    format!("{k}={}", enc(v))
                })
                .collect::<Vec<_>>()
                .join("&")
        );
        let body = app.get(&point, &path).await.ok().to_owned();
        assert_eq!(found(&body), expected.to_vec(), "{query}");
    }
    // The unit filter is offered to roles that see several units, not to a unit.
    assert!(
        app.get(&point, "/admin/search")
            .await
            .ok()
            .contains("id=\"f-unit\"")
    );
    let unit = app.login("unit").await;
    let body = app.get(&unit, "/admin/search").await.ok().to_owned();
    assert!(!body.contains("id=\"f-unit\""));
    assert_eq!(
        found(&body),
        vec!["检索甲", "检索丙"],
        "a unit sees its own only"
    );
    // A supervisor asking for a unit it does not supervise finds nothing.
    let sup = app.login("supervisor").await;
    let body = app
        .get(&sup, &format!("/admin/search?unit={UNIT_B_ID}"))
        .await
        .ok()
        .to_owned();
    assert!(found(&body).is_empty());

    let bad = app.get(&point, "/admin/search?from=2026-13-01").await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert!(bad.body.contains("日期格式应为"));
    let bad = app
        .get(&point, "/admin/search?from=2026-11-20&to=2026-11-01")
        .await;
    assert!(bad.body.contains("结束日期不能早于开始日期"));
}

/// Follows `rel="next"` from `first` and returns the titles of every page.
async fn all_pages(app: &App, who: &Who, first: &str, needle: &str) -> Vec<Vec<String>> {
    let mut pages = Vec::new();
    let mut path = Some(first.to_owned());
    while let Some(p) = path {
        let body = app.get(who, &p).await.ok().to_owned();
        let anchor = format!("\">{needle}");
        let titles: Vec<String> = body
            .match_indices(&anchor)
            .map(|(i, _)| {
                let rest = &body[i + 2..];
                rest[..rest.find('<').unwrap()].to_owned()
            })
            .collect();
        pages.push(titles);
        path = next_link(&body);
        assert!(pages.len() < 10, "paging does not end");
    }
    pages
}

#[tokio::test]
async fn search_pages_with_a_cursor_without_losing_or_repeating_records() {
    let app = App::new().await;
    for i in 0..25 {
        let owner = if i % 3 == 0 { "leader-b" } else { "leader" };
        app.record(
            owner,
            State::PointReview,
            Kind::Applied,
            &format!("分页{i:02}号"),
            30 - i,
        )
        .await;
    }
    let unit = app.login("unit").await;
    let pages = all_pages(
        &app,
        &unit,
        "/admin/search?q=%E5%88%86%E9%A1%B5&limit=7",
        "分页",
    )
    .await;
    let sizes: Vec<usize> = pages.iter().map(Vec::len).collect();
    assert_eq!(sizes, vec![7, 7, 2], "16 records of unit in pages of 7");
    let mut all: Vec<String> = pages.concat();
    all.sort();
    all.dedup();
    assert_eq!(all.len(), 16);

    // The point's unit filter is applied after the query (its scope is the authority): pages
    // still end on the store's cursors.
    let point = app.login("point").await;
    let first = format!("/admin/search?q=%E5%88%86%E9%A1%B5&unit={UNIT_B_ID}&limit=4");
    let pages = all_pages(&app, &point, &first, "分页").await;
    let sizes: Vec<usize> = pages.iter().map(Vec::len).collect();
    assert_eq!(sizes.iter().sum::<usize>(), 9);
    assert!(sizes.iter().all(|s| *s <= 4));
    let mut all: Vec<String> = pages.concat();
    all.sort();
    all.dedup();
    assert_eq!(all.len(), 9);
    // Newest first.
    let body = app
        .get(&point, "/admin/search?q=%E5%88%86%E9%A1%B5")
        .await
        .ok()
        .to_owned();
    assert!(body.find("分页24号").unwrap() < body.find("分页23号").unwrap());

    // The list export takes the same filters.
    let r = app
        .get(
            &point,
            &format!("/admin/exports/registrations.xlsx?q=%E5%88%86%E9%A1%B5&unit={UNIT_B_ID}"),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.content_type.contains("spreadsheetml"));
}

#[tokio::test]
async fn batch_export_is_refused_whole_with_the_rules_wording() {
    let app = App::new().await;
    let waiting = app
        .record(
            "leader",
            State::PaperPending,
            Kind::Applied,
            "未收纸质材料的成果",
            3,
        )
        .await;
    let received = app
        .record(
            "leader",
            State::DecisionPending,
            Kind::Applied,
            "已收纸质材料的成果",
            3,
        )
        .await;
    let point = app.login("point").await;
    let r = app
        .post(
            &point,
            "/admin/exports/notices",
            &[
                ("ids", &waiting.id),
                ("ids", &received.id),
                ("back", "/admin/search"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert!(r.body.contains(PAPER_NOT_RECEIVED), "{}", r.body);
    assert!(r.body.contains("未收纸质材料的成果"));
    assert!(!r.body.contains("已收纸质材料的成果"));

    let ok = app
        .post(&point, "/admin/exports/notices", &[("ids", &received.id)])
        .await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.body);
    assert!(ok.content_type.contains("spreadsheetml"));

    let none = app.post(&point, "/admin/exports/notices", &[]).await;
    assert_eq!(none.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(none.body.contains("请选择"));

    // The search page offers the selection to the point and the unit only.
    let body = app.get(&point, "/admin/search").await.ok().to_owned();
    assert!(body.contains("name=\"ids\""));
    let sup = app.login("supervisor").await;
    let body = app.get(&sup, "/admin/search").await.ok().to_owned();
    assert!(!body.contains("name=\"ids\""));
}

#[tokio::test]
async fn every_form_refuses_a_wrong_token() {
    let app = App::new().await;
    let reg = app
        .record("leader", State::PointReview, Kind::Applied, "令牌测试", 3)
        .await;
    let point = app.login("point").await;
    let admin = app.login("admin").await;
    let bad = [("csrf", "not-the-token")];
    let version = reg.version.to_string();
    let cases = [
        (
            &point,
            format!("/admin/registrations/{}/actions/pass", reg.id),
        ),
        (&point, "/admin/exports/notices".to_owned()),
        (&point, "/admin/objections/none/resolve".to_owned()),
        (&admin, "/admin/authorities".to_owned()),
        (&admin, "/admin/units".to_owned()),
        (&admin, format!("/admin/units/{UNIT_ID}/departments")),
        (&admin, "/admin/accounts".to_owned()),
        (&admin, "/admin/accounts/user-leader".to_owned()),
        (&admin, "/admin/projects/none/acceptance".to_owned()),
    ];
    for (who, path) in cases {
        let r = app
            .post(who, &path, &[bad[0], ("version", &version), ("name", "x")])
            .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{path}: {}", r.body);
        assert!(r.body.contains("表单已过期"), "{path}");
    }
    let r = app
        .post_multipart(&admin, "/admin/projects/import", &bad, None)
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert_eq!(app.reload(&reg.id).await.state, State::PointReview);
}

#[tokio::test]
async fn a_taken_number_is_shown_in_place_and_the_proposal_is_prefilled() {
    let app = App::new().await;
    app.decided("已登记的成果", "4422026Y0001").await;
    let reg = app
        .record(
            "leader",
            State::DecisionPending,
            Kind::Applied,
            "待批复的成果",
            3,
        )
        .await;
    let point = app.login("point").await;
    let path = format!("/admin/registrations/{}/actions/decide", reg.id);
    let page = app.get(&point, &path).await.ok().to_owned();
    assert!(
        page.contains("value=\"4422026Y0002\""),
        "proposal prefilled"
    );
    // The record page carries the same form in its dialog.
    let record = app
        .get(&point, &format!("/admin/registrations/{}", reg.id))
        .await
        .ok()
        .to_owned();
    assert!(record.contains("<dialog id=\"dlg-decide\""));
    assert!(record.contains("data-dialog=\"dlg-decide\""));
    assert!(record.contains("value=\"4422026Y0002\""));

    let version = reg.version.to_string();
    let r = app
        .post(
            &point,
            &path,
            &[
                ("version", &version),
                ("result", "registered"),
                ("number", "4422026Y0001"),
                ("opinion", "同意登记。"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        r.body.contains("成果登记号 4422026Y0001 已被使用"),
        "{}",
        r.body
    );
    assert!(r.body.contains("id=\"page-decide-number-error\""));
    assert!(
        r.body.contains("value=\"4422026Y0001\""),
        "typed number kept"
    );
    assert!(r.body.contains("同意登记。"), "opinion kept");

    let r = app
        .post(
            &point,
            &path,
            &[
                ("version", &version),
                ("result", "registered"),
                ("number", "4422026Y0002"),
                ("opinion", "同意登记。"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert_eq!(
        r.location,
        format!("/admin/registrations/{}?done=decide", reg.id)
    );
    let done = app.reload(&reg.id).await;
    assert_eq!(done.state, State::Decided);
    assert_eq!(done.registration_number.as_deref(), Some("4422026Y0002"));
    let body = app.get(&point, &r.location).await.ok().to_owned();
    assert!(body.contains("已完成“批复”"));
    assert!(body.contains("4422026Y0002"));
}

#[tokio::test]
async fn deciding_during_the_notice_and_without_opinion_is_refused_in_place() {
    let app = App::new().await;
    let reg = app
        .record(
            "leader",
            State::DecisionPending,
            Kind::Applied,
            "公示中的成果",
            3,
        )
        .await;
    let mut open = reg.clone();
    open.notice = Some(Notice::open(app.clock.today(), 7, 30));
    open.version += 1;
    app.state
        .store
        .commit(WriteSet {
            registrations: vec![RegistrationWrite {
                record: open.clone(),
                expected_version: Some(reg.version),
                event: None,
            }],
            ..WriteSet::default()
        })
        .await
        .unwrap();
    let point = app.login("point").await;
    let path = format!("/admin/registrations/{}/actions/decide", reg.id);
    let version = open.version.to_string();
    let r = app
        .post(
            &point,
            &path,
            &[
                ("version", &version),
                ("result", "registered"),
                ("opinion", "同意。"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        r.body.contains("网站公示期（至 2026-12-27）尚未结束"),
        "{}",
        r.body
    );
    let r = app
        .post(
            &point,
            &path,
            &[("version", &version), ("result", "rejected")],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.body.contains("请填写批复意见"));
    assert!(r.body.contains("id=\"page-decide-opinion-error\""));
}

#[tokio::test]
async fn reviewers_pass_and_return_through_the_pages() {
    let app = App::new().await;
    let reg = app
        .record(
            "leader",
            State::DeptReview,
            Kind::Applied,
            "部门审核的成果",
            3,
        )
        .await;
    let dept = app.login("dept").await;
    let page = app
        .get(&dept, &format!("/admin/registrations/{}", reg.id))
        .await
        .ok()
        .to_owned();
    assert!(page.contains("审核通过") && page.contains("退回修改"));
    assert!(!page.contains("dlg-decide"), "only the allowed actions");
    for label in [
        "成果名称",
        "第一完成单位",
        "完成人员",
        "评价方式",
        "联系人",
        "办理记录",
    ] {
        assert!(page.contains(label), "record page lacks {label}");
    }

    let version = reg.version.to_string();
    let ret = format!("/admin/registrations/{}/actions/return", reg.id);
    let r = app.post(&dept, &ret, &[("version", &version)]).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.body.contains("请填写退回意见"));

    // Without script the action has its own page.
    let r = app.get(&dept, &ret).await;
    assert!(r.ok().contains("退回意见"));

    let pass = format!("/admin/registrations/{}/actions/pass", reg.id);
    let r = app.post(&dept, &pass, &[("version", &version)]).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert_eq!(app.reload(&reg.id).await.state, State::UnitReview);

    // The same version again: someone changed the record first.
    let r = app.post(&dept, &pass, &[("version", &version)]).await;
    assert_eq!(r.status, StatusCode::CONFLICT);

    let unit = app.login("unit").await;
    let v = app.reload(&reg.id).await.version.to_string();
    let r = app
        .post(
            &unit,
            &format!("/admin/registrations/{}/actions/return", reg.id),
            &[("version", &v), ("opinion", "请补充检测证明。")],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let back = app.reload(&reg.id).await;
    assert_eq!(back.state, State::Returned);
    assert_eq!(back.return_opinion.as_deref(), Some("请补充检测证明。"));
    let page = app
        .get(&unit, &format!("/admin/registrations/{}", reg.id))
        .await
        .ok()
        .to_owned();
    assert!(page.contains("请补充检测证明。"));

    // A record outside the scope is not found.
    let unit_b = app.login("unit-b").await;
    let r = app
        .get(&unit_b, &format!("/admin/registrations/{}", reg.id))
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn the_point_reopens_with_evidence_sent_with_the_form() {
    let app = App::new().await;
    let reg = app.decided("待重新批复的成果", "4422026Y0009").await;
    let point = app.login("point").await;
    let path = format!("/admin/registrations/{}/actions/reopen", reg.id);
    let page = app.get(&point, &path).await.ok().to_owned();
    assert!(page.contains("enctype=\"multipart/form-data\""));
    assert!(page.contains("name=\"evidence\""));
    let version = reg.version.to_string();
    let r = app
        .post_multipart(
            &point,
            &path,
            &[
                ("version", &version),
                ("opinion", "发现问题，退回重新批复。"),
            ],
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.body.contains("请先上传并确认佐证材料"));
    let r = app
        .post_multipart(
            &point,
            &path,
            &[
                ("version", &version),
                ("opinion", "发现问题，退回重新批复。"),
            ],
            Some(("evidence", "fake.pdf", "application/pdf", b"not a pdf")),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.body.contains("文件内容与类型不符"));
    let r = app
        .post_multipart(
            &point,
            &path,
            &[
                ("version", &version),
                ("opinion", "发现问题，退回重新批复。"),
            ],
            Some((
                "evidence",
                "佐证.pdf",
                "application/pdf",
                b"%PDF-1.4\n% evidence\n%%EOF\n",
            )),
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let now = app.reload(&reg.id).await;
    assert_eq!(now.state, State::DecisionPending);
    assert_eq!(now.registration_number.as_deref(), Some("4422026Y0009"));
    let page = app
        .get(&point, &format!("/admin/registrations/{}", reg.id))
        .await
        .ok()
        .to_owned();
    assert!(page.contains("退回到未批复佐证材料"));
    assert!(page.contains("佐证.pdf"));
    // Deciding again proposes the number the record kept.
    let page = app
        .get(
            &point,
            &format!("/admin/registrations/{}/actions/decide", reg.id),
        )
        .await
        .ok()
        .to_owned();
    assert!(page.contains("value=\"4422026Y0009\""));
}

#[tokio::test]
async fn objections_are_resolved_with_a_note() {
    let app = App::new().await;
    let reg = app
        .record(
            "leader",
            State::DecisionPending,
            Kind::Applied,
            "有异议的成果",
            3,
        )
        .await;
    let objection = Objection {
        id: "obj-1".into(),
        registration_id: reg.id.clone(),
        name: "赵六".into(),
        unit: "某大学".into(),
        phone: "13800000000".into(),
        email: "z@example.org".into(),
        content: "完成人员排序与实际贡献不符，请核实。".into(),
        filed_at: START - Duration::days(20),
        resolution: None,
        resolved_by: None,
        resolved_at: None,
    };
    app.state.store.put_objection(&objection).await.unwrap();
    let point = app.login("point").await;
    let page = app
        .get(&point, &format!("/admin/registrations/{}", reg.id))
        .await
        .ok()
        .to_owned();
    assert!(page.contains("完成人员排序与实际贡献不符"));
    assert!(page.contains("赵六"), "the point sees who objected");
    let unit = app.login("unit").await;
    let page = app
        .get(&unit, &format!("/admin/registrations/{}", reg.id))
        .await
        .ok()
        .to_owned();
    assert!(page.contains("完成人员排序与实际贡献不符"));
    assert!(!page.contains("13800000000"), "contacts are for the point");
    assert!(!page.contains("处理该异议"));

    let r = app
        .post(&point, "/admin/objections/obj-1/resolve", &[("note", "")])
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.body.contains("请填写处理意见"));
    let r = app
        .post(
            &point,
            "/admin/objections/obj-1/resolve",
            &[("note", "经核实，排序符合合同约定。")],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let page = app
        .get(&point, &format!("/admin/registrations/{}", reg.id))
        .await
        .ok()
        .to_owned();
    assert!(page.contains("经核实，排序符合合同约定。"));
}

#[tokio::test]
async fn a_script_typed_as_a_title_shows_as_text() {
    let app = App::new().await;
    let title = "<script>alert(\"x\")</script>成果";
    let reg = app
        .record("leader", State::PointReview, Kind::Applied, title, 3)
        .await;
    let point = app.login("point").await;
    let leader = app.login("leader").await;
    let pages = [
        (&point, "/admin/".to_owned()),
        (&point, "/admin/search?q=script".to_owned()),
        (&point, format!("/admin/registrations/{}", reg.id)),
        (
            &point,
            format!("/admin/registrations/{}/actions/return", reg.id),
        ),
        (&point, format!("/print/{}", reg.id)),
        (&leader, format!("/print/{}", reg.id)),
    ];
    for (who, path) in pages {
        let body = app.get(who, &path).await.ok().to_owned();
        assert!(
            !body.contains("<script>alert"),
            "{path} shows the script raw"
        );
        assert!(
            body.contains("&lt;script&gt;alert"),
            "{path} lacks the escaped title"
        );
    }
}

#[tokio::test]
async fn the_print_view_has_every_field_and_the_materials_list() {
    let app = App::new().await;
    let reg = app
        .record(
            "leader",
            State::PaperPending,
            Kind::Applied,
            "打印的成果",
            3,
        )
        .await;
    let attachment = Attachment {
        id: "att-1".into(),
        registration_id: reg.id.clone(),
        category: "tech_report".into(),
        filename: "技术研究报告.pdf".into(),
        content_type: "application/pdf".into(),
        size: 2048,
        status: AttachmentStatus::Ready,
        sha256: Some("00".into()),
        key: Attachment::key_for(&reg.id, "att-1"),
        uploaded_by: "leader".into(),
        created_at: START,
        expires_at: START + Duration::hours(1),
    };
    app.state.store.put_attachment(&attachment).await.unwrap();
    let leader = app.login("leader").await;
    let body = app
        .get(&leader, &format!("/print/{}", reg.id))
        .await
        .ok()
        .to_owned();
    for label in [
        "科技成果登记表",
        "成果名称",
        "成果类型",
        "登记对象",
        "批准登记单位",
        "中山市科学技术局",
        "研究起止日期",
        "2023-03 至 2025-12",
        "推荐单位",
        "成果密级",
        "非密",
        "关键词",
        "机器视觉；灯饰质检",
        "学科分类",
        "520 计算机科学技术",
        "成果水平",
        "成果简介",
        "项目信息",
        "经费来源",
        "第一完成单位",
        "中山市华创智能科技有限公司",
        "91442000MA4UJ8K30D",
        "完成人员",
        "陈志强",
        "高级工程师",
        "评价方式",
        "评价机构",
        "评价日期",
        "成果属性",
        "成果所处阶段",
        "应用行业",
        "新增产值（万元）",
        "推广应用情况",
        "联系人",
        "手机",
        "电子邮箱",
        "材料清单",
        "技术研究报告",
        "技术研究报告.pdf",
        "成果完成单位名单及完成人员名单",
        "未上传",
        "项目负责人（签字）",
        "data-print",
    ] {
        assert!(body.contains(label), "print view lacks {label}");
    }
    assert!(body.contains("/assets/admin.js"));
    let css = app.get(&leader, "/assets/app.css").await.ok().to_owned();
    assert!(css.contains("break-inside: avoid"));
    assert!(css.contains("size: A4"));
    let js = app.get(&leader, "/assets/admin.js").await;
    assert!(js.ok().contains("window.print"));
    // Anyone in scope may print; others get "not found".
    let point = app.login("point").await;
    assert_eq!(
        app.get(&point, &format!("/print/{}", reg.id)).await.status,
        StatusCode::OK
    );
    let other = app.login("leader-b").await;
    assert_eq!(
        app.get(&other, &format!("/print/{}", reg.id)).await.status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn administrators_manage_units_departments_and_accounts() {
    let app = App::new().await;
    let admin = app.login("admin").await;
    let r = app
        .post(
            &admin,
            "/admin/units",
            &[("name", "中山市新单位"), ("uscc", "91442000MA4UJ8K30X")],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.body.contains("id=\"u-uscc-error\""), "{}", r.body);
    assert!(r.body.contains("value=\"中山市新单位\""));
    let r = app
        .post(
            &admin,
            "/admin/authorities",
            &[("name", "某市科学技术局"), ("code", "12")],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.body.contains("登记机构代码应为3位数字"));
    let r = app
        .post(
            &admin,
            "/admin/authorities",
            &[("name", "某市科学技术局"), ("code", "443")],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert!(
        app.get(&admin, "/admin/authorities")
            .await
            .ok()
            .contains("某市科学技术局")
    );

    // A unit's administrator: departments and the unit's leaders.
    let unit = app.login("unit").await;
    let r = app
        .post(
            &unit,
            &format!("/admin/units/{UNIT_ID}/departments"),
            &[("name", "检测中心")],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let r = app
        .get(&unit, &format!("/admin/units/{UNIT_B_ID}/departments"))
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(
        app.get(&unit, "/admin/units").await.status,
        StatusCode::FORBIDDEN
    );
    let r = app
        .post(
            &unit,
            "/admin/accounts",
            &[
                ("role", "leader"),
                ("username", "leader-new"),
                ("display_name", "孙七"),
                ("password", "secret-123"),
                ("email", ""),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let created = app
        .state
        .store
        .find_user("leader-new")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(created.unit_id.as_deref(), Some(UNIT_ID));
    let r = app
        .post(
            &unit,
            "/admin/accounts",
            &[
                ("role", "point"),
                ("username", "point-new"),
                ("display_name", "越权"),
                ("password", "secret-123"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let page = app.get(&unit, "/admin/accounts").await.ok().to_owned();
    assert!(page.contains("leader-new"));
    assert!(
        !page.contains("leader-b"),
        "other units' accounts are not listed"
    );
    // Reset, deactivate, and unlock.
    let path = format!("/admin/accounts/{}", created.id);
    let r = app
        .post(&unit, &path, &[("op", "password"), ("password", "short")])
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.body.contains("密码至少8位"));
    let r = app
        .post(
            &unit,
            &path,
            &[("op", "password"), ("password", "another-pass")],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert!(
        chengguo_api::auth::login(&app.state, "leader-new", "another-pass", None)
            .await
            .is_ok()
    );
    let r = app.post(&unit, &path, &[("op", "deactivate")]).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let u = app
        .state
        .store
        .find_user("leader-new")
        .await
        .unwrap()
        .unwrap();
    assert!(!u.active);
    let mut locked = u.clone();
    locked.active = true;
    locked.locked_until = Some(START + Duration::minutes(10));
    app.state.store.update_user(&locked).await.unwrap();
    assert!(
        app.get(&unit, "/admin/accounts")
            .await
            .ok()
            .contains("已锁定至")
    );
    let r = app.post(&unit, &path, &[("op", "unlock")]).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let u = app
        .state
        .store
        .find_user("leader-new")
        .await
        .unwrap()
        .unwrap();
    assert!(u.locked_until.is_none());
    // Another unit's administrator cannot touch it.
    let unit_b = app.login("unit-b").await;
    let r = app.post(&unit_b, &path, &[("op", "deactivate")]).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn projects_are_imported_with_a_row_report_and_acceptance_effects_are_shown() {
    let app = App::new().await;
    let admin = app.login("admin").await;
    let csv = "项目编号,项目名称,计划类别,项目负责人账号,承担单位\n\
               GD-2026-01,智能灯饰检测,省重点领域研发计划,leader,中山市示范科技有限公司\n\
               GD-2026-02,无主项目,省重点领域研发计划,nobody,中山市示范科技有限公司\n";
    let r = app
        .post_multipart(
            &admin,
            "/admin/projects/import",
            &[],
            Some(("file", "projects.csv", "text/csv", csv.as_bytes())),
        )
        .await;
    let body = r.ok().to_owned();
    assert!(body.contains("新增 1 项"), "{body}");
    assert!(body.contains("拒绝 1 行"));
    assert!(body.contains("第 3 行"));
    assert!(body.contains("项目负责人账号“nobody”不存在"));
    // Again: nothing changes.
    let r = app
        .post_multipart(
            &admin,
            "/admin/projects/import",
            &[],
            Some((
                "file",
                "projects.csv",
                "application/vnd.ms-excel",
                csv.as_bytes(),
            )),
        )
        .await;
    assert!(r.ok().contains("未变化 1 项"));
    let r = app
        .post_multipart(&admin, "/admin/projects/import", &[], None)
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.body.contains("请选择要导入的"));

    let project = app
        .state
        .store
        .find_project("GD-2026-01")
        .await
        .unwrap()
        .unwrap();
    let office = app.login("office").await;
    let page = app.get(&office, "/admin/projects").await.ok().to_owned();
    assert!(page.contains("智能灯饰检测"));
    assert!(
        !page.contains("/admin/projects/import"),
        "only the admin imports"
    );
    let path = format!("/admin/projects/{}/acceptance", project.id);
    let r = app.post(&office, &path, &[("status", "passed")]).await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert!(r.body.contains("不能变更为"));
    let r = app
        .post(
            &office,
            &path,
            &[("status", "review_completed"), ("opinion", "评审通过")],
        )
        .await;
    let body = r.ok().to_owned();
    assert!(
        body.contains("已为项目负责人“leader”生成成果登记草稿“智能灯饰检测”"),
        "{body}"
    );
    let reg_id = app
        .state
        .store
        .find_project("GD-2026-01")
        .await
        .unwrap()
        .unwrap()
        .registration_id
        .expect("draft created");
    assert!(body.contains(&reg_id));
    // Department accounts do not see projects; a unit's sees its own.
    let dept = app.login("dept").await;
    assert_eq!(
        app.get(&dept, "/admin/projects").await.status,
        StatusCode::FORBIDDEN
    );
    let unit = app.login("unit").await;
    assert!(
        app.get(&unit, "/admin/projects")
            .await
            .ok()
            .contains("智能灯饰检测")
    );
}

#[tokio::test]
async fn staff_pages_need_a_login_and_carry_the_security_headers() {
    let app = App::new().await;
    let req = Request::get("/admin/search")
        .body(Body::empty())
        .expect("request");
    let r = app.send(req).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert!(r.location.starts_with("/login?next="));
    let point = app.login("point").await;
    let req = Request::get("/admin/")
        .header(header::COOKIE, &point.cookie)
        .body(Body::empty())
        .expect("request");
    let resp = app.router.clone().oneshot(req).await.unwrap();
    let csp = resp
        .headers()
        .get(header::CONTENT_SECURITY_POLICY)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    assert!(csp.contains("script-src 'self'") && csp.contains("frame-ancestors 'none'"));
    assert!(!csp.contains("unsafe-inline"));
    let body = resp.into_body().collect().await.unwrap().to_bytes();
    let html = String::from_utf8_lossy(&body);
    assert!(!html.contains("style=\""), "no inline style");
    assert!(!html.contains("onclick"), "no inline handlers");
}
