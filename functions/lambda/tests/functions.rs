//! Each function as deployed: real API Gateway HTTP API (payload 2.0) and function-URL events
//! (`tests/fixtures/lambda/`) go through `lambda_http`'s adapter, the one `lambda_http::run`
//! wraps around the function's router, and the answers are read as API Gateway reads them
//! (`statusCode`, `headers`, `cookies`, `body`, `isBase64Encoded`). Every test runs on the
//! embedded backend and, when `CHENGGUO_TEST_AWS_ENDPOINT` is set, on DynamoDB and S3.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::Router;
use base64::Engine;
use chengguo_lambda::routes::{RouteKey, Segment, select};
use chengguo_lambda::{Function, jobs, router};
use chengguo_tests::*;
use http::StatusCode;
use lambda_http::request::LambdaRequest;
use lambda_http::{Adapter, Context, LambdaEvent};
use serde_json::{Value, json};
use tower::ServiceExt;

/// A fixture's text.
fn fixture(name: &str) -> String {
    let path = format!(
        "{}/../../tests/fixtures/lambda/{name}.json",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// A fixture with its `{{NAME}}` placeholders filled.
fn event(name: &str, fill: &[(&str, &str)]) -> String {
    let mut text = fixture(name);
    for (k, v) in fill {
        text = text.replace(&format!("{{{{{k}}}}}"), v);
    }
    assert!(!text.contains("{{"), "{name}: a placeholder is left");
    text
}

/// What API Gateway gets back from a function.
#[derive(Debug)]
struct Answer {
    status: u16,
    headers: BTreeMap<String, String>,
    cookies: Vec<String>,
    body: Vec<u8>,
    base64: bool,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "{e}: {} {}",
                self.status,
                String::from_utf8_lossy(&self.body)
            )
        })
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    fn expect(&self, status: u16) -> Value {
        assert_eq!(self.status, status, "{}", self.text());
        self.json()
    }

    fn expect_error(&self, status: u16, code: &str) -> Value {
        let v = self.expect(status);
        assert_eq!(v["error"]["code"], code, "{v}");
        assert!(is_chinese(v["error"]["message"].as_str().unwrap_or("")));
        v
    }
}

/// Invokes `function` with an event as the Lambda runtime does.
async fn invoke(function: Function, app: &TestApp, event: &str) -> Answer {
    invoke_router(router(function, app.state.clone()), event).await
}

async fn invoke_router(router: Router, event: &str) -> Answer {
    let payload: LambdaRequest = serde_json::from_str(event).expect("a Lambda HTTP event");
    let response = Adapter::from(router)
        .oneshot(LambdaEvent::new(payload, Context::default()))
        .await
        .expect("the router is infallible");
    let v = serde_json::to_value(response).expect("response JSON");
    let base64 = v["isBase64Encoded"].as_bool().unwrap_or(false);
    let raw = v["body"].as_str().unwrap_or("");
    let body = if base64 {
        base64::engine::general_purpose::STANDARD
            .decode(raw)
            .expect("base64 body")
    } else {
        raw.as_bytes().to_vec()
    };
    Answer {
        status: v["statusCode"].as_u64().expect("statusCode") as u16,
        headers: v["headers"]
            .as_object()
            .map(|m| {
                m.iter()
                    .map(|(k, v)| (k.clone(), v.as_str().unwrap_or("").to_owned()))
                    .collect()
            })
            .unwrap_or_default(),
        cookies: v["cookies"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|c| c.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default(),
        body,
        base64,
    }
}

/// A logged-in session: the cookie and the CSRF token.
struct Session {
    token: String,
    csrf: String,
}

impl Session {
    fn fill(&self) -> [(&'static str, &str); 2] {
        [
            ("SESSION", self.token.as_str()),
            ("CSRF", self.csrf.as_str()),
        ]
    }
}

/// Logs a demo account in through the pages function, as API Gateway would route it.
async fn login(app: &TestApp, username: &str) -> Session {
    let text =
        fixture("apigw_v2_post_session").replace("\\\"leader\\\"", &format!("\\\"{username}\\\""));
    let answer = invoke(Function::Pages, app, &text).await;
    let body = answer.expect(200);
    let cookie = answer
        .cookies
        .iter()
        .find(|c| c.starts_with("chengguo_session="))
        .expect("session cookie");
    Session {
        token: cookie["chengguo_session=".len()..]
            .split(';')
            .next()
            .unwrap()
            .to_owned(),
        csrf: body["csrf_token"].as_str().expect("csrf").to_owned(),
    }
}

/// Creates a 计划外 registration through the submissions function.
async fn create_registration(app: &TestApp, leader: &Session) -> String {
    let answer = invoke(
        Function::Submissions,
        app,
        &event("apigw_v2_post_registrations", &leader.fill()),
    )
    .await;
    let created = answer.expect(201);
    assert_eq!(created["state"], "draft");
    created["id"].as_str().expect("id").to_owned()
}

both_backends!(
    healthz_answers_on_every_http_function,
    |app: TestApp| async move {
        for function in Function::HTTP {
            let answer = invoke(function, &app, &fixture("apigw_v2_get_healthz")).await;
            assert_eq!(answer.status, 200, "{function:?}: {}", answer.text());
        }
    }
);

both_backends!(
    logging_in_through_the_pages_function_returns_the_session_cookie_to_api_gateway,
    |app: TestApp| async move {
        let answer = invoke(Function::Pages, &app, &fixture("apigw_v2_post_session")).await;
        let body = answer.expect(200);
        assert_eq!(body["user"]["username"], "leader");
        assert!(body["csrf_token"].as_str().is_some_and(|t| t.len() >= 16));
        // Payload 2.0 answers cookies in their own list, not as a header.
        assert!(!answer.headers.contains_key("set-cookie"));
        let cookie = answer
            .cookies
            .iter()
            .find(|c| c.starts_with("chengguo_session="))
            .expect("session cookie");
        assert!(cookie.contains("HttpOnly"), "{cookie}");
        assert!(cookie.contains("SameSite=Strict"), "{cookie}");
        assert_eq!(answer.headers["cache-control"], "no-store");
        assert_eq!(answer.headers["x-content-type-options"], "nosniff");
    }
);

both_backends!(
    a_wrong_password_in_a_base64_body_is_refused_with_401,
    |app: TestApp| async move {
        let answer = invoke(
            Function::Pages,
            &app,
            &fixture("apigw_v2_post_session_base64_wrong_password"),
        )
        .await;
        assert_eq!(answer.status, 401, "{}", answer.text());
        assert!(answer.json()["error"]["code"].is_string());
        assert!(answer.cookies.is_empty());
    }
);

both_backends!(
    unknown_api_paths_answer_a_json_404_from_the_default_route,
    |app: TestApp| async move {
        let text = fixture("apigw_v2_get_unknown_api_path");
        let answer = invoke(Function::Pages, &app, &text).await;
        answer.expect_error(404, "not_found");
        assert!(answer.headers["content-type"].starts_with("application/json"));
        assert!(!answer.base64);
    }
);

both_backends!(
    a_function_answers_404_for_routes_api_gateway_sends_elsewhere,
    |app: TestApp| async move {
        let leader = login(&app, "leader").await;
        let id = create_registration(&app, &leader).await;
        let mut fill = leader.fill().to_vec();
        fill.push(("ID", id.as_str()));
        let history = event("function_url_get_history_on_exports", &fill);
        // Through the exports function's URL: not one of its routes.
        invoke(Function::Exports, &app, &history)
            .await
            .expect_error(404, "not_found");
        // The submissions function serves it.
        let events = invoke(Function::Submissions, &app, &history)
            .await
            .expect(200);
        assert!(events["events"].is_array());
    }
);

both_backends!(
    a_leader_creates_and_lists_registrations_through_the_submissions_function,
    |app: TestApp| async move {
        let leader = login(&app, "leader").await;
        let id = create_registration(&app, &leader).await;
        let list = invoke(
            Function::Submissions,
            &app,
            &event("apigw_v2_get_registrations_filtered", &leader.fill()),
        )
        .await
        .expect(200);
        let ids: Vec<&str> = list["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|r| r["id"].as_str())
            .collect();
        assert_eq!(ids, [id.as_str()]);
        // Without the CSRF token, a state change is refused.
        let without = event(
            "apigw_v2_post_registrations",
            &[("SESSION", &leader.token), ("CSRF", "")],
        );
        invoke(Function::Submissions, &app, &without)
            .await
            .expect_error(403, "csrf");
    }
);

both_backends!(
    the_transitions_function_refuses_a_leader_passing_a_draft,
    |app: TestApp| async move {
        let leader = login(&app, "leader").await;
        let id = create_registration(&app, &leader).await;
        let mut fill = leader.fill().to_vec();
        fill.push(("ID", id.as_str()));
        let answer = invoke(
            Function::Transitions,
            &app,
            &event("apigw_v2_post_action_pass", &fill),
        )
        .await;
        assert!(
            matches!(answer.status, 403 | 409),
            "{} {}",
            answer.status,
            answer.text()
        );
        assert!(answer.json()["error"]["code"].is_string());
    }
);

both_backends!(
    the_uploads_function_answers_an_absolute_upload_url,
    |app: TestApp| async move {
        let leader = login(&app, "leader").await;
        let id = create_registration(&app, &leader).await;
        let mut fill = leader.fill().to_vec();
        fill.push(("ID", id.as_str()));
        let created = invoke(
            Function::Uploads,
            &app,
            &event("apigw_v2_post_attachment", &fill),
        )
        .await
        .expect(201);
        assert_eq!(created["attachment"]["status"], "pending");
        assert_eq!(created["upload"]["method"], "PUT");
        let url = created["upload"]["url"].as_str().unwrap();
        assert!(
            url.starts_with("http://") || url.starts_with("https://"),
            "{url}"
        );
    }
);

both_backends!(
    the_objections_function_refuses_an_objection_to_an_unannounced_record,
    |app: TestApp| async move {
        let answer = invoke(
            Function::Objections,
            &app,
            &fixture("function_url_post_objection"),
        )
        .await;
        answer.expect_error(404, "not_found");
    }
);

both_backends!(
    the_pages_function_serves_the_login_page_through_its_function_url,
    |app: TestApp| async move {
        let answer = invoke(
            Function::Pages,
            &app,
            &fixture("function_url_get_login_page"),
        )
        .await;
        assert_eq!(answer.status, 200, "{}", answer.text());
        assert!(answer.headers["content-type"].starts_with("text/html"));
        assert!(!answer.base64);
        assert!(answer.text().contains("登录"));
        assert!(answer.headers.contains_key("content-security-policy"));
    }
);

both_backends!(
    the_exports_function_answers_the_workbook_base64_encoded,
    |app: TestApp| async move {
        let point = login(&app, "point").await;
        let answer = invoke(
            Function::Exports,
            &app,
            &event("function_url_get_registrations_export", &point.fill()),
        )
        .await;
        assert_eq!(answer.status, 200, "{}", answer.text());
        assert!(answer.base64, "an xlsx body is binary");
        assert!(answer.body.starts_with(b"PK"), "a zip container");
    }
);

both_backends!(
    a_workbook_too_large_for_a_lambda_response_is_downloaded_from_the_bucket,
    |app: TestApp| async move {
        let point = login(&app, "point").await;
        let small = chengguo_lambda::http::router_with(Function::Exports, app.state.clone(), 64);
        let answer = invoke_router(
            small,
            &event("function_url_get_registrations_export", &point.fill()),
        )
        .await;
        assert_eq!(answer.status, 303, "{}", answer.text());
        assert_eq!(answer.headers["cache-control"], "no-store");
        let location = &answer.headers["location"];
        let (status, bytes) = app.get_url(location).await;
        assert_eq!(status, StatusCode::OK);
        assert!(bytes.starts_with(b"PK"), "the workbook itself");
        // The same workbook as the function answers inline below the limit.
        let inline = invoke(
            Function::Exports,
            &app,
            &event("function_url_get_registrations_export", &point.fill()),
        )
        .await;
        assert_eq!(inline.status, 200);
        assert_eq!(bytes.len(), inline.body.len());
        // A refusal is never redirected.
        let anonymous = invoke_router(
            chengguo_lambda::http::router_with(Function::Exports, app.state.clone(), 64),
            &event(
                "function_url_get_registrations_export",
                &[("SESSION", "none"), ("CSRF", "")],
            ),
        )
        .await;
        assert_eq!(anonymous.status, 401, "{}", anonymous.text());
    }
);

/// `lambda_http::request::from_str` turns the fixture into the request the router sees: path,
/// query, cookies merged into one header, body.
#[test]
fn api_gateway_events_become_the_requests_the_router_sees() {
    let req = lambda_http::request::from_str(&event(
        "apigw_v2_get_registrations_filtered",
        &[("SESSION", "abc"), ("CSRF", "x")],
    ))
    .expect("event");
    assert_eq!(req.method(), http::Method::GET);
    assert_eq!(req.uri().path(), "/api/registrations");
    assert_eq!(req.uri().query(), Some("state=draft&kind=applied&limit=10"));
    assert_eq!(req.headers()["cookie"], "chengguo_session=abc");
    assert_eq!(
        chengguo_lambda::http::client_ip(&req),
        Some("203.0.113.45".parse().unwrap())
    );

    let req =
        lambda_http::request::from_str(&fixture("apigw_v2_post_session_base64_wrong_password"))
            .expect("event");
    let body: Value = serde_json::from_slice(req.body().as_ref()).expect("decoded body");
    assert_eq!(body["username"], "leader");

    let req =
        lambda_http::request::from_str(&fixture("function_url_post_objection")).expect("event");
    assert_eq!(
        chengguo_lambda::http::client_ip(&req),
        Some("198.51.100.23".parse().unwrap())
    );
}

/// Every fixture is routed by API Gateway's own rules to the function its test sends it to.
#[test]
fn fixture_route_keys_are_the_ones_api_gateway_would_choose() {
    for (name, function) in [
        ("apigw_v2_get_healthz", Function::Pages),
        ("apigw_v2_post_session", Function::Pages),
        ("apigw_v2_post_registrations", Function::Submissions),
        ("apigw_v2_get_registrations_filtered", Function::Submissions),
        ("apigw_v2_get_unknown_api_path", Function::Pages),
        ("apigw_v2_post_action_pass", Function::Transitions),
        ("apigw_v2_post_attachment", Function::Uploads),
    ] {
        let v: Value = serde_json::from_str(&fixture(name)).unwrap();
        let method = v["requestContext"]["http"]["method"].as_str().unwrap();
        let path = v["rawPath"].as_str().unwrap().replace("{{ID}}", "r1");
        let (f, key) = select(method, &path);
        assert_eq!(f, function, "{name}");
        assert_eq!(v["routeKey"], key, "{name}");
        assert_eq!(v["requestContext"]["routeKey"], key, "{name}");
    }
}

// ---------------------------------------------------------------------------------------------
// The whole workflow through the functions API Gateway chooses.

/// Sends requests as API Gateway would: each to the function its route belongs to, as a
/// payload 2.0 event built on a fixture.
struct Gateway {
    routers: BTreeMap<Function, Router>,
}

impl Gateway {
    fn new(app: &TestApp) -> Gateway {
        Gateway {
            routers: Function::HTTP
                .into_iter()
                .map(|f| (f, router(f, app.state.clone())))
                .collect(),
        }
    }

    /// The event of `method path` with a JSON body and a session, on the fixture's frame.
    fn event(method: &str, path: &str, body: Option<&Value>, session: Option<&Session>) -> Value {
        let mut v: Value = serde_json::from_str(&fixture("apigw_v2_post_registrations")).unwrap();
        let (raw_path, query) = path.split_once('?').unwrap_or((path, ""));
        let (_, key) = select(method, raw_path);
        v["routeKey"] = json!(key);
        v["rawPath"] = json!(raw_path);
        v["rawQueryString"] = json!(query);
        let ctx = &mut v["requestContext"];
        ctx["routeKey"] = json!(key);
        ctx["http"]["method"] = json!(method);
        ctx["http"]["path"] = json!(raw_path);
        if let Ok(RouteKey {
            segments: Some(segments),
            ..
        }) = RouteKey::parse(key)
        {
            let parts: Vec<&str> = raw_path.trim_start_matches('/').split('/').collect();
            let mut params = serde_json::Map::new();
            for (i, s) in segments.iter().enumerate() {
                match s {
                    Segment::Variable(n) => {
                        params.insert((*n).into(), json!(parts[i]));
                    }
                    Segment::Greedy(n) => {
                        params.insert((*n).into(), json!(parts[i..].join("/")));
                    }
                    Segment::Literal(_) => {}
                }
            }
            v["pathParameters"] = Value::Object(params);
        }
        let headers = v["headers"].as_object_mut().unwrap();
        headers.remove("x-csrf-token");
        headers.remove("content-type");
        headers.remove("content-length");
        match body {
            Some(b) => {
                let text = b.to_string();
                headers.insert("content-type".into(), json!("application/json"));
                headers.insert("content-length".into(), json!(text.len().to_string()));
                v["body"] = json!(text);
            }
            None => {
                v.as_object_mut().unwrap().remove("body");
            }
        }
        match session {
            Some(s) => {
                v["cookies"] = json!([format!("chengguo_session={}", s.token)]);
                v["headers"]["x-csrf-token"] = json!(s.csrf);
            }
            None => {
                v.as_object_mut().unwrap().remove("cookies");
            }
        }
        v
    }

    async fn send(
        &self,
        method: &str,
        path: &str,
        body: Option<Value>,
        session: Option<&Session>,
    ) -> (Function, Answer) {
        let raw_path = path.split('?').next().unwrap();
        let (function, _) = select(method, raw_path);
        let event = Self::event(method, path, body.as_ref(), session);
        let answer = invoke_router(self.routers[&function].clone(), &event.to_string()).await;
        (function, answer)
    }

    async fn login(&self, username: &str) -> Session {
        let (f, answer) = self
            .send(
                "POST",
                "/api/session",
                Some(json!({"username": username, "password": DEMO_PASSWORD})),
                None,
            )
            .await;
        assert_eq!(f, Function::Pages);
        let body = answer.expect(200);
        let cookie = answer.cookies.first().expect("cookie");
        Session {
            token: cookie["chengguo_session=".len()..]
                .split(';')
                .next()
                .unwrap()
                .to_owned(),
            csrf: body["csrf_token"].as_str().unwrap().to_owned(),
        }
    }

    async fn record(&self, s: &Session, id: &str) -> Value {
        let (f, a) = self
            .send("GET", &format!("/api/registrations/{id}"), None, Some(s))
            .await;
        assert_eq!(f, Function::Submissions);
        a.expect(200)
    }

    async fn act(&self, s: &Session, id: &str, action: &str, extra: Value) -> (Function, Answer) {
        let mut body = json!({"version": self.record(s, id).await["version"]});
        body.as_object_mut()
            .unwrap()
            .extend(extra.as_object().cloned().unwrap_or_default());
        self.send(
            "POST",
            &format!("/api/registrations/{id}/actions/{action}"),
            Some(body),
            Some(s),
        )
        .await
    }
}

fn objection(id: &str) -> Value {
    json!({
        "registration_id": id,
        "name": "陈立新",
        "unit": "中山大学",
        "phone": "0760-88123456",
        "email": "chen@example.org",
        "content": "该成果的部分技术指标与我单位已发表论文的数据一致，请核实第一完成单位的贡献。"
    })
}

both_backends!(
    runs_the_whole_workflow_through_the_functions_api_gateway_chooses,
    |app: TestApp| async move {
        let gw = Gateway::new(&app);
        let leader = gw.login("leader").await;

        // Submissions: create, fill, check.
        let (f, created) = gw
            .send(
                "POST",
                "/api/registrations",
                Some(json!({
                    "kind": "applied", "source": "other_fiscal", "consent": true,
                    "project": {"name": "智能制造关键技术研究", "number": "ZS2024-018", "funding": "中山市财政科技经费"}
                })),
                Some(&leader),
            )
            .await;
        assert_eq!(f, Function::Submissions);
        let id = created.expect(201)["id"].as_str().unwrap().to_owned();
        let version = gw.record(&leader, &id).await["version"].clone();
        let (f, patched) = gw
            .send(
                "PATCH",
                &format!("/api/registrations/{id}"),
                Some(json!({"version": version, "fields": form("applied")})),
                Some(&leader),
            )
            .await;
        assert_eq!(f, Function::Submissions);
        patched.expect(200);

        // Uploads: announce, PUT the bytes to the presigned URL, confirm.
        let mut first_attachment = None;
        for cat in required_categories("applied") {
            let bytes = pdf_bytes(cat);
            let (f, a) = gw
                .send(
                    "POST",
                    &format!("/api/registrations/{id}/attachments"),
                    Some(json!({"category": cat, "filename": format!("{cat}.pdf"), "content_type": "application/pdf", "size": bytes.len()})),
                    Some(&leader),
                )
                .await;
            assert_eq!(f, Function::Uploads);
            let created = a.expect(201);
            let put = app.put_upload(&created["upload"], bytes).await;
            assert!(put.is_success(), "PUT {put}");
            let aid = created["attachment"]["id"].as_str().unwrap().to_owned();
            let (f, confirmed) = gw
                .send(
                    "POST",
                    &format!("/api/registrations/{id}/attachments/{aid}/confirm"),
                    Some(json!({})),
                    Some(&leader),
                )
                .await;
            assert_eq!(f, Function::Uploads);
            assert_eq!(confirmed.expect(200)["status"], "ready");
            first_attachment.get_or_insert(aid);
        }
        let (f, check) = gw
            .send(
                "GET",
                &format!("/api/registrations/{id}/check"),
                None,
                Some(&leader),
            )
            .await;
        assert_eq!(f, Function::Submissions);
        assert_eq!(check.expect(200)["ok"], true, "{}", check.text());

        // Submit (submissions), then the reviews and paper received (transitions).
        let (f, a) = gw.act(&leader, &id, "submit", json!({})).await;
        assert_eq!(f, Function::Submissions);
        assert_eq!(a.expect(200)["state"], "dept_review");
        for (who, action, next) in [
            ("dept", "pass", "unit_review"),
            ("unit", "pass", "point_review"),
            ("point", "pass", "paper_pending"),
            ("point", "receive_paper", "decision_pending"),
        ] {
            let s = gw.login(who).await;
            let (f, a) = gw.act(&s, &id, action, json!({})).await;
            assert_eq!(f, Function::Transitions);
            assert_eq!(a.expect(200)["state"], next, "{who} {action}");
        }

        // The publisher (as the stream would start it) puts the announcement on the site.
        let sink = chengguo_site::MemorySink::new();
        let publisher = chengguo::backend::site_publisher(&app.state.config, sink.clone()).unwrap();
        let stream_event: Value =
            serde_json::from_str(&fixture("dynamodb_stream_event_insert")).unwrap();
        let report = jobs::publish(
            &app.state,
            &publisher,
            LambdaEvent::new(stream_event, Context::default()),
        )
        .await
        .unwrap();
        assert_eq!(report["trigger"], "aws:dynamodb (1 records)");
        assert!(report["written"].as_u64().unwrap() > 0);
        let notices = sink.get("/notices/index.html").expect("notices page");
        let title = form("applied")["title"].as_str().unwrap().to_owned();
        assert!(String::from_utf8_lossy(&notices.bytes).contains(&title));

        // The public objects through the objections function; the point resolves it.
        let (f, filed) = gw
            .send("POST", "/api/public/objections", Some(objection(&id)), None)
            .await;
        assert_eq!(f, Function::Objections);
        let oid = filed.expect(201)["id"].as_str().unwrap().to_owned();
        app.advance_days(30);
        let point = gw.login("point").await;
        let (f, resolved) = gw
            .send(
                "POST",
                &format!("/api/objections/{oid}/resolve"),
                Some(json!({"note": "已核实，贡献属实。"})),
                Some(&point),
            )
            .await;
        assert_eq!(f, Function::Transitions);
        resolved.expect(200);

        // The decision (transitions) with the proposed number; the 公示 export (exports).
        let (f, number) = gw
            .send(
                "GET",
                &format!("/api/registrations/{id}/next-number"),
                None,
                Some(&point),
            )
            .await;
        assert_eq!(f, Function::Transitions);
        let number = number.expect(200)["number"].as_str().unwrap().to_owned();
        let (f, decided) = gw
            .act(
                &point,
                &id,
                "decide",
                json!({"result": "registered", "opinion": "同意登记"}),
            )
            .await;
        assert_eq!(f, Function::Transitions);
        let decided = decided.expect(200);
        assert_eq!(decided["state"], "decided");
        assert_eq!(decided["registration_number"], number.as_str());
        let (f, xlsx) = gw
            .send(
                "GET",
                &format!("/api/registrations/{id}/notice.xlsx"),
                None,
                Some(&point),
            )
            .await;
        assert_eq!(f, Function::Exports);
        assert_eq!(xlsx.status, 200, "{}", xlsx.text());
        assert!(xlsx.base64 && xlsx.body.starts_with(b"PK"));

        // A download is a redirect to a short-lived URL (uploads).
        let aid = first_attachment.unwrap();
        let (f, download) = gw
            .send(
                "GET",
                &format!("/api/registrations/{id}/attachments/{aid}/download"),
                None,
                Some(&point),
            )
            .await;
        assert_eq!(f, Function::Uploads);
        assert_eq!(download.status, 302, "{}", download.text());
        let location = download.headers["location"].clone();
        let (status, bytes) = app.get_url(&location).await;
        assert_eq!(status, StatusCode::OK);
        assert!(bytes.starts_with(b"%PDF"));

        // The history (submissions) holds every step.
        let leader = gw.login("leader").await;
        let (_, history) = gw
            .send(
                "GET",
                &format!("/api/registrations/{id}/history"),
                None,
                Some(&leader),
            )
            .await;
        let actions: Vec<String> = history.expect(200)["events"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["action"].as_str().unwrap_or("").to_owned())
            .collect();
        assert!(
            actions.ends_with(&["receive_paper".to_owned(), "decide".to_owned()]),
            "{actions:?}"
        );

        // The daily run moves the record from the notices to the registry.
        let scheduled: Value =
            serde_json::from_str(&fixture("eventbridge_scheduled_event")).unwrap();
        let report = jobs::publish(
            &app.state,
            &publisher,
            LambdaEvent::new(scheduled, Context::default()),
        )
        .await
        .unwrap();
        assert_eq!(report["trigger"], "aws.events");
        let registry_has_it = sink.files().iter().any(|(p, page)| {
            p.starts_with("/registry/") && String::from_utf8_lossy(&page.bytes).contains(&number)
        });
        assert!(registry_has_it, "the registry lists {number}");

        // Housekeeping: the mail of the decision went inline; nothing is due.
        let report = jobs::housekeep(
            &app.state,
            LambdaEvent::new(json!({"source": "aws.scheduler"}), Context::default()),
        )
        .await
        .unwrap();
        assert_eq!(report["trigger"], "aws.scheduler");
        assert_eq!(report["mail"]["failed"], 0);
    }
);

/// The publisher's S3 sink on the site bucket, as the function writes it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_publisher_writes_the_site_into_its_bucket() {
    let Some(endpoint) = aws_endpoint() else {
        eprintln!("skipped: CHENGGUO_TEST_AWS_ENDPOINT not set");
        return;
    };
    let app = TestApp::new(Backend::Aws).await.expect("aws app");
    let (_, s3) = chengguo_aws::setup::client_for_endpoint(&endpoint).await;
    let bucket = unique("site");
    chengguo_aws::setup::ensure_bucket(&s3, &bucket)
        .await
        .unwrap();
    let sink = Arc::new(chengguo_site::S3Sink::new(s3.clone(), bucket.clone()));
    let publisher = chengguo::backend::site_publisher(&app.state.config, sink).unwrap();
    let first = jobs::publish(
        &app.state,
        &publisher,
        LambdaEvent::new(json!({}), Context::default()),
    )
    .await
    .unwrap();
    assert!(first["written"].as_u64().unwrap() > 0);
    let home = s3
        .get_object()
        .bucket(&bucket)
        .key("index.html")
        .send()
        .await
        .expect("index.html in the bucket");
    assert_eq!(home.content_type(), Some("text/html; charset=utf-8"));
    // Nothing changed: nothing is written again.
    let second = jobs::publish(
        &app.state,
        &publisher,
        LambdaEvent::new(json!({}), Context::default()),
    )
    .await
    .unwrap();
    assert_eq!(second["written"], 0);
}
