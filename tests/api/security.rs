//! Security checks, findable in one place. Each point lists the tests that cover it, here and
//! elsewhere:
//!
//! - Session fixation: `session::logging_in_with_an_old_session_cookie_ends_that_session` (API);
//!   here `a_cookie_planted_before_the_login_form_is_not_the_session_after_it` (pages).
//! - CSRF: `session::state_changing_requests_need_the_sessions_csrf_token`; the staff forms in
//!   `functions/pages/tests/staff.rs` (`every_form_refuses_a_wrong_token`); here
//!   `every_state_changing_api_operation_refuses_a_missing_or_wrong_csrf_token` (every operation
//!   of the OpenAPI document that needs the token), `the_applicants_forms_and_logout_refuse_a_missing_or_wrong_form_token`
//!   and `the_login_form_needs_its_own_token`.
//! - Login lock-out: `session::five_failed_logins_lock_the_account_for_fifteen_minutes`,
//!   `session::failed_logins_sent_at_once_still_lock_the_account`,
//!   `session::a_successful_login_resets_the_count_of_failures`; here
//!   `failed_logins_through_the_login_form_count_towards_the_same_lock_out`.
//! - Path traversal in filenames and file URLs:
//!   `attachments::filenames_with_path_separators_or_control_characters_are_refused` (`../`,
//!   absolute, backslashes, NUL, line breaks, over-long names); `keys_are_ids_only` in
//!   `functions/files-local`; here `unicode_tricks_in_filenames_are_refused_or_kept_as_mere_names`
//!   and `file_urls_with_traversal_or_garbage_tokens_serve_nothing`.
//! - Oversize uploads: `attachments::files_over_the_size_limits_are_too_large` (declared),
//!   `attachments::a_size_that_differs_from_the_declared_one_is_refused` (sent ≠ declared),
//!   `bad_input::a_json_body_over_one_megabyte_is_too_large`; here
//!   `bytes_beyond_the_type_limit_are_refused_even_when_announced_at_the_limit` and
//!   `a_body_longer_than_its_content_length_is_refused_and_stores_nothing`.
//! - Signed and presigned URLs after expiry: `attachments::an_expired_upload_url_is_refused`,
//!   `attachments::a_download_url_expires_after_five_minutes` (local), the blob conformance
//!   suite's `expired_urls_are_refused` (S3); here `signed_urls_work_until_they_expire_and_never_after`
//!   on both backends (local: the test clock; S3 on ministack: a short lifetime in real time).
//! - Tampered URLs: `attachments::a_tampered_upload_url_is_refused_and_stores_nothing`; here
//!   `a_tampered_download_url_never_serves_another_file`.
//! - Replacing a checked file through its upload URL before the URL expires:
//!   `attachments::a_confirmed_file_cannot_be_replaced_through_its_upload_url`, and the blob
//!   conformance suite's `upload_url_creates_the_object_once` (local files and S3).
//! - Scope crossing by id guessing: `scope::users_of_another_unit_get_not_found_for_every_route_of_a_record`
//!   and the other `scope` tests; here `guessed_ids_of_another_units_objects_are_not_found_and_show_nothing`
//!   (attachments, objections, projects, departments, accounts, made-up and sequential ids).
//! - Error bodies: here `error_bodies_never_leak_internals` and
//!   `storage_failures_answer_a_plain_internal_error`.

use std::collections::BTreeSet;
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use base64::Engine;
use chengguo_domain::record::Attachment;
use chengguo_tests::*;
use http::{HeaderMap, Method, Request, StatusCode, header};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tower::ServiceExt;

use crate::attachments::draft;
use crate::workflow::{submitted_registration, to_decision_pending};

/// The OpenAPI document, which `functions/api/tests/openapi.rs` keeps equal to the router.
const OPENAPI: &str = include_str!("../../functions/api/openapi.json");

/// Words that would show an error body leaks how the server is built.
const LEAKS: &[&str] = &[
    "panicked",
    "backtrace",
    "RUST_",
    "rusqlite",
    "sqlite",
    "SQLITE",
    "SELECT ",
    "INSERT ",
    "UPDATE ",
    "dynamodb",
    "DynamoDB",
    "ConditionalCheck",
    "ResourceNotFound",
    "NoSuchBucket",
    "ServiceError",
    "aws-sdk",
    "/tmp/",
    "/home/",
    "/root/",
    ".rs:",
    "src/",
    "thread '",
    "tokio",
    "hyper",
    "axum",
    "chengguo.db",
    "url-signing",
];

/// Uploads a PDF to `id`; returns the attachment id.
async fn uploaded(leader: &Client<'_>, id: &str, category: &str, filename: &str) -> String {
    leader
        .upload(
            id,
            category,
            filename,
            "application/pdf",
            &pdf_bytes(filename),
        )
        .await
        .expect(StatusCode::OK)["id"]
        .as_str()
        .expect("aid")
        .to_owned()
}

/// Sends a request through `router` (the API with the pages, for page tests).
async fn through(router: &Router, req: Request<Body>) -> Response {
    let resp = router.clone().oneshot(req).await.expect("infallible");
    let status = resp.status();
    let headers = resp.headers().clone();
    let body = resp
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes()
        .to_vec();
    Response {
        status,
        headers,
        body,
    }
}

/// The API and the pages, as `chengguo serve` answers.
fn with_pages(app: &TestApp) -> Router {
    chengguo::backend::app_router(app.state.clone())
}

/// Percent-encodes a form value.
fn enc(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// A url-encoded form post with cookies.
fn form_post(path: &str, cookies: &[String], fields: &[(&str, &str)]) -> Request<Body> {
    let body = fields
        .iter()
        .map(|(k, v)| format!("{}={}", enc(k), enc(v)))
        .collect::<Vec<_>>()
        .join("&");
    let mut b = Request::builder()
        .method(Method::POST)
        .uri(path)
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
    if !cookies.is_empty() {
        b = b.header(header::COOKIE, cookies.join("; "));
    }
    b.body(Body::from(body)).expect("request")
}

/// The `name=value` of the cookie `name` set by a response, if any.
fn set_cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .map(|v| v.split(';').next().unwrap_or("").trim().to_owned())
        .find(|c| c.starts_with(&format!("{name}=")))
}

/// Opens the login page: the `chengguo_login=…` cookie, whose value the form carries too.
async fn login_page(router: &Router) -> String {
    let r = through(
        router,
        Request::builder()
            .uri("/login")
            .body(Body::empty())
            .expect("request"),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
    set_cookie(&r.headers, "chengguo_login").expect("login form cookie")
}

/// Submits the login form with a fresh form token and `extra` cookies.
async fn login_form(router: &Router, username: &str, password: &str, extra: &[String]) -> Response {
    let login_cookie = login_page(router).await;
    let token = login_cookie.split_once('=').expect("cookie").1.to_owned();
    let mut cookies = vec![login_cookie];
    cookies.extend(extra.iter().cloned());
    through(
        router,
        form_post(
            "/login",
            &cookies,
            &[
                ("username", username),
                ("password", password),
                ("login_token", &token),
                ("next", ""),
            ],
        ),
    )
    .await
}

/// A client presenting `cookie` and optionally a CSRF token.
fn with_cookie<'a>(app: &'a TestApp, cookie: &str, csrf: Option<&str>) -> Client<'a> {
    Client {
        app,
        cookie: Some(cookie.to_owned()),
        csrf: csrf.map(str::to_owned),
    }
}

/// Everything an administrator can read: the stored state a refusal must leave alone.
async fn everything(admin: &Client<'_>) -> Value {
    let mut out = serde_json::Map::new();
    for path in [
        "/api/registrations?limit=100",
        "/api/projects",
        "/api/admin/users",
        "/api/admin/units",
        "/api/admin/authorities",
        "/api/admin/mail?status=pending",
        "/api/admin/mail?status=sent",
        "/api/admin/mail?status=failed",
    ] {
        out.insert(path.into(), admin.get(path).await.expect(StatusCode::OK));
    }
    let ids: Vec<String> = out["/api/registrations?limit=100"]["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|i| i["id"].as_str().expect("id").to_owned())
        .collect();
    for id in ids {
        let mut r = admin.record(&id).await;
        // What the reader may do depends on nothing stored; the rest is the record.
        r.as_object_mut().expect("record").remove("allowed_actions");
        out.insert(format!("record {id}"), r);
        out.insert(
            format!("history {id}"),
            admin
                .get(&format!("/api/registrations/{id}/history"))
                .await
                .expect(StatusCode::OK),
        );
    }
    for unit in [chengguo_api::seed::UNIT_ID, chengguo_api::seed::UNIT_B_ID] {
        let path = format!("/api/admin/units/{unit}/departments");
        let v = admin.get(&path).await.expect(StatusCode::OK);
        out.insert(path, v);
    }
    Value::Object(out)
}

/// Projects of `unit` (`leader-nodept` leads them).
const PROJECTS_CSV: &str = "项目编号,项目名称,计划类别,项目负责人账号,承担单位\n\
2026B0109001,高端装备智能检测技术研究,广东省重点领域研发计划,leader-nodept,中山市示范科技有限公司\n";

async fn import_projects(admin: &Client<'_>) -> String {
    admin
        .raw(
            Method::POST,
            "/api/projects/import",
            Some(PROJECTS_CSV.as_bytes().to_vec()),
            Some("text/csv"),
        )
        .await
        .expect(StatusCode::OK);
    admin.get("/api/projects").await.expect(StatusCode::OK)["items"][0]["id"]
        .as_str()
        .expect("project id")
        .to_owned()
}

/// The operations of the OpenAPI document that require the CSRF token, as (method, path).
fn csrf_operations() -> Vec<(Method, String)> {
    let doc: Value = serde_json::from_str(OPENAPI).expect("openapi.json");
    let mut ops = Vec::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for (method, op) in item.as_object().expect("path item") {
            let needs_csrf = op["security"]
                .as_array()
                .is_some_and(|s| s.iter().any(|req| req.get("csrf").is_some()));
            if needs_csrf {
                let m = Method::from_bytes(method.to_uppercase().as_bytes()).expect("method");
                ops.push((m, path.clone()));
            }
        }
    }
    ops
}

both_backends!(
    every_state_changing_api_operation_refuses_a_missing_or_wrong_csrf_token,
    |app: TestApp| async move {
        let leader = app.login("leader").await;
        let admin = app.login("admin").await;
        let id = draft(&leader).await;
        let aid = uploaded(&leader, &id, "tech_report", "技术研究报告.pdf").await;
        let project = import_projects(&admin).await;
        let before = everything(&admin).await;

        let ops = csrf_operations();
        assert!(ops.len() >= 18, "operations needing the token: {ops:?}");
        for needed in [
            (Method::DELETE, "/api/session"),
            (Method::POST, "/api/projects/import"),
            (Method::PATCH, "/api/admin/users/{id}"),
            (Method::POST, "/api/objections/{id}/resolve"),
            (Method::POST, "/api/exports/notices"),
        ] {
            assert!(
                ops.iter().any(|(m, p)| *m == needed.0 && p == needed.1),
                "{needed:?} is not among {ops:?}"
            );
        }
        let mut refused = 0;
        for (method, template) in &ops {
            let id_for = if template.starts_with("/api/registrations/") {
                id.as_str()
            } else if template.starts_with("/api/projects/") {
                project.as_str()
            } else if template.starts_with("/api/admin/units/") {
                chengguo_api::seed::UNIT_ID
            } else if template.starts_with("/api/admin/users/") {
                "user-leader"
            } else {
                "no-such-id"
            };
            let path = template
                .replace("{id}", id_for)
                .replace("{aid}", &aid)
                .replace("{action}", "submit");
            for (who, other) in [(&leader, &admin), (&admin, &leader)] {
                let cookie = who.cookie.clone().expect("cookie");
                for csrf in [None, Some("wrong-token"), Some(""), other.csrf.as_deref()] {
                    let c = with_cookie(&app, &cookie, csrf);
                    let r = if path == "/api/projects/import" {
                        c.raw(
                            method.clone(),
                            &path,
                            Some(PROJECTS_CSV.as_bytes().to_vec()),
                            Some("text/csv"),
                        )
                        .await
                    } else {
                        c.request(method.clone(), &path, Some(json!({}))).await
                    };
                    assert_eq!(
                        r.status,
                        StatusCode::FORBIDDEN,
                        "{method} {path} with {csrf:?}: {}",
                        r.text()
                    );
                    r.expect_error(StatusCode::FORBIDDEN, "csrf");
                    refused += 1;
                }
            }
        }
        assert_eq!(refused, ops.len() * 8);
        assert_eq!(
            everything(&admin).await,
            before,
            "a refused request changed something"
        );
        // Both sessions survived the refused logouts.
        leader.get("/api/me").await.expect(StatusCode::OK);
        admin.get("/api/me").await.expect(StatusCode::OK);
    }
);

both_backends!(
    the_applicants_forms_and_logout_refuse_a_missing_or_wrong_form_token,
    |app: TestApp| async move {
        let router = with_pages(&app);
        let leader = app.login("leader").await;
        let admin = app.login("admin").await;
        let other = app.login("leader").await;
        let id = draft(&leader).await;
        let aid = uploaded(&leader, &id, "tech_report", "报告.pdf").await;
        let version = leader.record(&id).await["version"].to_string();
        let before = everything(&admin).await;
        let cookie = leader.cookie.clone().expect("cookie");

        let forms: Vec<(String, Vec<(&str, &str)>)> = vec![
            (
                "/app/new".into(),
                vec![
                    ("kind", "applied"),
                    ("source", "other_fiscal"),
                    ("consent", "on"),
                ],
            ),
            (
                format!("/app/r/{id}/kind"),
                vec![("kind", "basic"), ("consent", "on")],
            ),
            (
                format!("/app/r/{id}/edit"),
                vec![("version", &version), ("title", "跨站请求伪造的标题")],
            ),
            (format!("/app/r/{id}/materials/{aid}/delete"), vec![]),
            (format!("/app/r/{id}/submit"), vec![("version", &version)]),
            ("/logout".into(), vec![]),
        ];
        let other_token = other.csrf.clone().expect("csrf");
        for (path, fields) in &forms {
            for token in [
                None,
                Some("not-the-token"),
                Some(""),
                Some(other_token.as_str()),
            ] {
                let mut all = fields.clone();
                if let Some(t) = token {
                    all.push(("csrf", t));
                }
                let r = through(
                    &router,
                    form_post(path, std::slice::from_ref(&cookie), &all),
                )
                .await;
                assert_eq!(
                    r.status,
                    StatusCode::FORBIDDEN,
                    "{path} with {token:?}: {}",
                    r.text()
                );
                assert!(r.text().contains("表单已过期"), "{path}: {}", r.text());
                assert!(
                    set_cookie(&r.headers, "chengguo_session").is_none(),
                    "{path} touched the session cookie"
                );
            }
        }
        assert_eq!(
            everything(&admin).await,
            before,
            "a refused form changed something"
        );
        leader.get("/api/me").await.expect(StatusCode::OK);
    }
);

both_backends!(
    the_login_form_needs_its_own_token,
    |app: TestApp| async move {
        let router = with_pages(&app);
        let fields = |token: &'static str| {
            vec![
                ("username", "leader"),
                ("password", DEMO_PASSWORD),
                ("login_token", token),
                ("next", ""),
            ]
        };
        // No form cookie, a cookie that differs from the form, an empty pair: refused, no session.
        for (cookies, token) in [
            (vec![], "abc"),
            (vec!["chengguo_login=abc".to_owned()], "abd"),
            (vec!["chengguo_login=".to_owned()], ""),
            (vec![], ""),
        ] {
            let r = through(&router, form_post("/login", &cookies, &fields(token))).await;
            assert_eq!(r.status, StatusCode::FORBIDDEN, "{cookies:?} {token}");
            assert!(r.text().contains("登录页面已过期"), "{}", r.text());
            assert!(set_cookie(&r.headers, "chengguo_session").is_none());
        }
        // With the page's own token it works.
        let r = login_form(&router, "leader", DEMO_PASSWORD, &[]).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text());
        assert!(set_cookie(&r.headers, "chengguo_session").is_some());
    }
);

both_backends!(
    a_cookie_planted_before_the_login_form_is_not_the_session_after_it,
    |app: TestApp| async move {
        let router = with_pages(&app);
        // A token an attacker chose, and a live session of the attacker's own account.
        let planted = format!("chengguo_session={}", "e".repeat(64));
        let attacker = app.login("leader-b").await;
        let attackers = attacker.cookie.clone().expect("cookie");
        for old in [planted.clone(), attackers.clone()] {
            let r = login_form(&router, "leader", DEMO_PASSWORD, std::slice::from_ref(&old)).await;
            assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text());
            let issued = set_cookie(&r.headers, "chengguo_session").expect("new session");
            assert_ne!(issued, old, "the presented cookie became the session");
            assert!(issued.len() > "chengguo_session=".len() + 32);
            let me = with_cookie(&app, &issued, None).get("/api/me").await;
            assert_eq!(me.expect(StatusCode::OK)["user"]["username"], "leader");
            with_cookie(&app, &old, None)
                .get("/api/me")
                .await
                .expect_error(StatusCode::UNAUTHORIZED, "unauthenticated");
        }
    }
);

both_backends!(
    failed_logins_through_the_login_form_count_towards_the_same_lock_out,
    |app: TestApp| async move {
        let router = with_pages(&app);
        for _ in 0..5 {
            let r = login_form(&router, "unit", "wrong-password", &[]).await;
            assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.text());
            assert!(set_cookie(&r.headers, "chengguo_session").is_none());
        }
        // Locked for the API too, and the form says so even with the right password.
        app.anonymous()
            .post(
                "/api/session",
                json!({"username": "unit", "password": DEMO_PASSWORD}),
            )
            .await
            .expect_error(StatusCode::UNAUTHORIZED, "account_locked");
        let r = login_form(&router, "unit", DEMO_PASSWORD, &[]).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN);
        assert!(r.text().contains("账号已锁定"), "{}", r.text());
        assert!(set_cookie(&r.headers, "chengguo_session").is_none());
        // Failures through the API and the form add up for another account as well.
        for i in 0..5 {
            let r = if i % 2 == 0 {
                login_form(&router, "dept", "wrong-password", &[])
                    .await
                    .status
            } else {
                app.anonymous()
                    .post(
                        "/api/session",
                        json!({"username": "dept", "password": "wrong-password"}),
                    )
                    .await
                    .status
            };
            assert_eq!(r, StatusCode::UNAUTHORIZED);
        }
        app.anonymous()
            .post(
                "/api/session",
                json!({"username": "dept", "password": DEMO_PASSWORD}),
            )
            .await
            .expect_error(StatusCode::UNAUTHORIZED, "account_locked");
        app.clock.advance(time::Duration::minutes(16));
        let r = login_form(&router, "unit", DEMO_PASSWORD, &[]).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text());
    }
);

/// The stored files of the embedded backend, relative to its files folder, and the entries of
/// the data folder around it.
fn stored_paths(app: &TestApp) -> Option<(Vec<String>, BTreeSet<String>)> {
    let files = app.state.local_files.as_ref()?;
    let root = files.root().to_path_buf();
    let mut found = Vec::new();
    let mut stack = vec![root.clone()];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).expect("read dir").flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                found.push(
                    p.strip_prefix(&root)
                        .expect("under root")
                        .to_string_lossy()
                        .into_owned(),
                );
            }
        }
    }
    let data = root.parent().expect("data folder");
    let entries = std::fs::read_dir(data)
        .expect("data folder")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    Some((found, entries))
}

both_backends!(
    unicode_tricks_in_filenames_are_refused_or_kept_as_mere_names,
    |app: TestApp| async move {
        let leader = app.login("leader").await;
        let id = draft(&leader).await;
        // Text direction controls would show another extension than the real one.
        for name in [
            "报告\u{202E}gpj.pdf",
            "\u{2066}说明\u{2069}.pdf",
            "成果\u{200F}.pdf",
            "a\u{202A}b.pdf",
        ] {
            let e = leader
                .announce(&id, "tech_report", name, "application/pdf", 10)
                .await
                .expect_error(StatusCode::UNPROCESSABLE_ENTITY, "validation");
            assert_eq!(e["error"]["details"][0]["field"], "filename", "{name:?}");
        }
        // Look-alike separators, dots, quotes, reserved device names and long multi-byte names
        // are only names: accepted, stored under ids, served back as given and safely quoted.
        let long = format!("{}.pdf", "😀".repeat(116));
        let names = [
            "上级／下级.pdf",
            "a∕b⁄c.pdf",
            "．．／．．／etc／passwd.pdf",
            "%2e%2e%2fetc%2fpasswd.pdf",
            "报\u{200B}告.pdf",
            "e\u{301}tude.pdf",
            "\"quoted\"; filename=evil.pdf",
            "CON.pdf",
            ". .pdf",
            long.as_str(),
        ];
        for name in names {
            let bytes = pdf_bytes(name);
            let a = leader
                .upload(&id, "tech_report", name, "application/pdf", &bytes)
                .await
                .expect(StatusCode::OK);
            assert_eq!(a["filename"], name);
            let aid = a["id"].as_str().expect("aid");
            let stored = app
                .state
                .store
                .list_attachments(&id)
                .await
                .expect("list")
                .into_iter()
                .find(|x| x.id == aid)
                .expect("stored");
            assert_eq!(stored.key, Attachment::key_for(&id, aid), "{name:?}");
            let r = leader
                .get(&format!(
                    "/api/registrations/{id}/attachments/{aid}/download"
                ))
                .await;
            assert_eq!(r.status, StatusCode::FOUND, "{}", r.text());
            let url = r.headers[header::LOCATION].to_str().expect("ascii url");
            if app.backend == Backend::Embedded {
                let req = Request::builder()
                    .uri(local_path(url))
                    .body(Body::empty())
                    .expect("request");
                let got = app.send(req).await;
                assert_eq!(got.status, StatusCode::OK);
                assert_eq!(got.body, bytes);
                let cd = got.headers[header::CONTENT_DISPOSITION]
                    .to_str()
                    .expect("an ASCII header");
                let encoded = cd
                    .strip_prefix("attachment; filename*=UTF-8''")
                    .unwrap_or_else(|| panic!("{cd}"));
                assert!(
                    !encoded.contains(['"', ';', ' ', '\\', '/', '\r', '\n']),
                    "{cd}"
                );
                assert_eq!(
                    percent_encoding::percent_decode_str(encoded).collect::<Vec<u8>>(),
                    name.as_bytes(),
                    "{cd}"
                );
            } else {
                assert_eq!(app.get_url(url).await, (StatusCode::OK, bytes));
            }
        }
        if let Some((files, entries)) = stored_paths(&app) {
            assert_eq!(files.len(), names.len(), "{files:?}");
            for f in &files {
                let parts: Vec<&str> = f.split('/').collect();
                assert_eq!(parts.len(), 3, "{f}");
                assert_eq!(parts[0], "att");
                assert_eq!(parts[1], id);
                assert!(
                    parts
                        .iter()
                        .all(|p| p.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')),
                    "{f}"
                );
            }
            let expected: BTreeSet<String> = ["chengguo.db", "files", "url-signing.key"]
                .into_iter()
                .map(String::from)
                .collect();
            let unexpected: Vec<&String> = entries
                .iter()
                .filter(|e| !expected.contains(*e) && !e.starts_with("chengguo.db-"))
                .filter(|e| *e != "outbox")
                .collect();
            assert!(unexpected.is_empty(), "{unexpected:?}");
        }
    }
);

/// The signed file URLs of the local server (on AWS, S3 serves files and checks its own URLs).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn file_urls_with_traversal_or_garbage_tokens_serve_nothing() {
    {
        let app = TestApp::new(Backend::Embedded).await.expect("embedded app");
        let leader = app.login("leader").await;
        let id = draft(&leader).await;
        let aid = uploaded(&leader, &id, "tech_report", "a.pdf").await;
        let r = leader
            .get(&format!(
                "/api/registrations/{id}/attachments/{aid}/download"
            ))
            .await;
        let url = r.headers[header::LOCATION]
            .to_str()
            .expect("url")
            .to_owned();
        let token = local_path(&url)
            .strip_prefix("/files/")
            .expect("token")
            .to_owned();
        let (payload, sig) = token.split_once('.').expect("payload.signature");
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let mut grant: Value =
            serde_json::from_slice(&b64.decode(payload).expect("base64")).expect("grant");
        let forge = |grant: &Value| format!("{}.{sig}", b64.encode(grant.to_string()));
        grant["key"] = json!("../../url-signing.key");
        let traversal_grant = forge(&grant);
        grant["key"] = json!("att/../../chengguo.db");
        let db_grant = forge(&grant);
        let long = "a".repeat(10_000);
        let anon = app.anonymous();
        for (t, status) in [
            ("..%2F..%2Furl-signing.key", StatusCode::FORBIDDEN),
            ("%2e%2e%2f%2e%2e%2fchengguo.db", StatusCode::FORBIDDEN),
            ("..", StatusCode::FORBIDDEN),
            ("%00", StatusCode::FORBIDDEN),
            ("a.b", StatusCode::FORBIDDEN),
            (traversal_grant.as_str(), StatusCode::FORBIDDEN),
            (db_grant.as_str(), StatusCode::FORBIDDEN),
            (long.as_str(), StatusCode::FORBIDDEN),
            ("%FF%FE", StatusCode::BAD_REQUEST),
        ] {
            for method in [Method::GET, Method::PUT] {
                let r = anon
                    .raw(
                        method.clone(),
                        &format!("/files/{t}"),
                        Some(b"x".to_vec()),
                        Some("application/pdf"),
                    )
                    .await;
                assert_eq!(
                    r.status,
                    status,
                    "{method} {}: {}",
                    &t[..t.len().min(40)],
                    r.text()
                );
                let e = r.json();
                assert!(is_chinese(e["error"]["message"].as_str().unwrap_or("")));
                assert!(!r.text().contains("%PDF"), "{}", r.text());
            }
        }
        // A path that goes on after the token is no file route at all.
        anon.get(&format!("/files/{token}/../../url-signing.key"))
            .await
            .expect_error(StatusCode::NOT_FOUND, "not_found");
        // The real token still serves the file, as a file named by the upload.
        let (status, bytes) = app.get_url(&url).await;
        assert_eq!((status, bytes), (StatusCode::OK, pdf_bytes("a.pdf")));
    }
}

both_backends!(
    bytes_beyond_the_type_limit_are_refused_even_when_announced_at_the_limit,
    |app: TestApp| async move {
        const MB: usize = 1024 * 1024;
        let leader = app.login("leader").await;
        let id = draft(&leader).await;
        let mut cases = vec![("big.png", "image/png", 10 * MB)];
        if app.backend == Backend::Embedded {
            cases.push(("big.pdf", "application/pdf", 20 * MB));
        }
        for (name, ct, limit) in cases {
            let created = leader
                .announce(&id, "test_report", name, ct, limit)
                .await
                .expect(StatusCode::CREATED);
            let aid = created["attachment"]["id"]
                .as_str()
                .expect("aid")
                .to_owned();
            let upload = &created["upload"];
            // The announced headers, but the length of what is really sent: one byte more.
            let headers: Vec<(String, String)> = upload["headers"]
                .as_object()
                .expect("headers")
                .iter()
                .filter(|(k, _)| !k.eq_ignore_ascii_case("content-length"))
                .map(|(k, v)| (k.clone(), v.as_str().unwrap_or("").to_owned()))
                .collect();
            let mut bytes = if ct == "image/png" {
                png_bytes()
            } else {
                pdf_bytes("big")
            };
            bytes.resize(limit + 1, b' ');
            let status = app
                .put_url(upload["url"].as_str().expect("url"), &headers, bytes)
                .await;
            let key = Attachment::key_for(&id, &aid);
            if status.is_success() {
                // Only a store that does not check the signed length takes them (not the local
                // server): then confirm refuses the size and deletes the bytes.
                assert_eq!(
                    app.backend,
                    Backend::Aws,
                    "{name}: the local server took them"
                );
                let e = leader
                    .post(
                        &format!("/api/registrations/{id}/attachments/{aid}/confirm"),
                        json!({}),
                    )
                    .await
                    .expect_error(StatusCode::UNPROCESSABLE_ENTITY, "validation");
                assert_eq!(e["error"]["details"][0]["field"], "size", "{e}");
            } else {
                assert!(status.is_client_error(), "{name}: {status}");
                assert_eq!(
                    app.state.blobs.size(&key).await.expect("size"),
                    None,
                    "{name}: bytes were stored"
                );
                let e = leader
                    .post(
                        &format!("/api/registrations/{id}/attachments/{aid}/confirm"),
                        json!({}),
                    )
                    .await
                    .expect_error(StatusCode::UNPROCESSABLE_ENTITY, "validation");
                assert_eq!(e["error"]["details"][0]["field"], "attachment", "{e}");
            }
            assert_eq!(app.state.blobs.size(&key).await.expect("size"), None);
        }
        // Nothing ready on the record.
        let record = leader.record(&id).await;
        assert!(
            record["attachments"]
                .as_array()
                .expect("attachments")
                .iter()
                .all(|a| a["status"] != "ready"),
            "{record}"
        );
    }
);

/// The local server's upload URLs (S3 checks the signed length itself: the blob conformance
/// suite's `upload_refuses_other_length`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_longer_than_its_content_length_is_refused_and_stores_nothing() {
    {
        let app = TestApp::new(Backend::Embedded).await.expect("embedded app");
        let leader = app.login("leader").await;
        let id = draft(&leader).await;
        let pdf = pdf_bytes("declared");
        let created = leader
            .announce(&id, "tech_report", "a.pdf", "application/pdf", pdf.len())
            .await
            .expect(StatusCode::CREATED);
        let aid = created["attachment"]["id"]
            .as_str()
            .expect("aid")
            .to_owned();
        let path = local_path(created["upload"]["url"].as_str().expect("url"));
        let mut longer = pdf.clone();
        longer.extend_from_slice(&[b'x'; 4096]);
        let put = |len: Option<usize>, body: Vec<u8>| {
            let mut b = Request::builder()
                .method(Method::PUT)
                .uri(&path)
                .header(header::CONTENT_TYPE, "application/pdf");
            if let Some(n) = len {
                b = b.header(header::CONTENT_LENGTH, n);
            }
            b.body(Body::from(body)).expect("request")
        };
        // The declared length in the header, more bytes in the body.
        let r = app.send(put(Some(pdf.len()), longer.clone())).await;
        r.expect_error(StatusCode::PAYLOAD_TOO_LARGE, "too_large");
        // No length at all.
        let r = app.send(put(None, pdf.clone())).await;
        r.expect_error(StatusCode::BAD_REQUEST, "size_mismatch");
        // Fewer bytes than the header says.
        let r = app.send(put(Some(pdf.len()), pdf[..10].to_vec())).await;
        r.expect_error(StatusCode::BAD_REQUEST, "size_mismatch");
        let key = Attachment::key_for(&id, &aid);
        assert_eq!(app.state.blobs.size(&key).await.expect("size"), None);
        let (files, _) = stored_paths(&app).expect("embedded");
        assert!(files.is_empty(), "left behind: {files:?}");
        // The exact bytes are then accepted.
        assert_eq!(
            app.send(put(Some(pdf.len()), pdf.clone())).await.status,
            StatusCode::OK
        );
        leader
            .post(
                &format!("/api/registrations/{id}/attachments/{aid}/confirm"),
                json!({}),
            )
            .await
            .expect(StatusCode::OK);
    }
}

both_backends!(
    signed_urls_work_until_they_expire_and_never_after,
    |app: TestApp| async move {
        // S3 presigns with the real time, so there the URLs live a few seconds of it; the local
        // server's URLs follow the test clock.
        let ttl = time::Duration::seconds(10);
        let mut state = app.state.clone();
        state.config = Arc::new(chengguo_api::Config {
            upload_ttl: ttl,
            download_ttl: ttl,
            ..(*app.state.config).clone()
        });
        let app = app.with_state(state);
        let leader = app.login("leader").await;
        let id = draft(&leader).await;
        let first = pdf_bytes("first");
        let a = leader
            .upload(&id, "tech_report", "a.pdf", "application/pdf", &first)
            .await
            .expect(StatusCode::OK);
        let aid = a["id"].as_str().expect("aid").to_owned();
        let pending = leader
            .announce(&id, "work_summary", "b.pdf", "application/pdf", first.len())
            .await
            .expect(StatusCode::CREATED);
        let issued = std::time::Instant::now();
        let r = leader
            .get(&format!(
                "/api/registrations/{id}/attachments/{aid}/download"
            ))
            .await;
        assert_eq!(r.status, StatusCode::FOUND);
        let url = r.headers[header::LOCATION]
            .to_str()
            .expect("url")
            .to_owned();
        // Before expiry: used twice, the same bytes; the upload URL takes bytes.
        let a1 = app.get_url(&url).await;
        let a2 = app.get_url(&url).await;
        let put = app.put_upload(&pending["upload"], first.clone()).await;
        let in_time = issued.elapsed() < std::time::Duration::from_secs(9);
        if app.backend == Backend::Embedded || in_time {
            assert_eq!(a1, (StatusCode::OK, first.clone()));
            assert_eq!(a2, (StatusCode::OK, first.clone()));
            assert!(put.is_success(), "{put}");
        } else {
            eprintln!(
                "the machine took longer than the URLs' lifetime: before-expiry use not judged"
            );
        }
        // After expiry: refused, and the stored bytes stay what they were.
        match app.backend {
            Backend::Embedded => app.clock.advance(ttl + time::Duration::seconds(2)),
            Backend::Aws => {
                let left = std::time::Duration::from_secs(12).saturating_sub(issued.elapsed());
                tokio::time::sleep(left).await;
            }
        }
        let (status, body) = app.get_url(&url).await;
        assert_eq!(
            status,
            StatusCode::FORBIDDEN,
            "{}",
            String::from_utf8_lossy(&body)
        );
        assert!(!body.starts_with(b"%PDF"));
        let other = pdf_bytes("other");
        let mut other = other;
        other.resize(first.len(), b' ');
        let status = app.put_upload(&pending["upload"], other).await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        let pid = pending["attachment"]["id"].as_str().expect("pid");
        let key = Attachment::key_for(&id, pid);
        if in_time || app.backend == Backend::Embedded {
            assert_eq!(app.state.blobs.get(&key).await.expect("get"), first);
        }
        // A fresh download URL works again.
        let r = leader
            .get(&format!(
                "/api/registrations/{id}/attachments/{aid}/download"
            ))
            .await;
        let fresh = r.headers[header::LOCATION]
            .to_str()
            .expect("url")
            .to_owned();
        assert_ne!(fresh, url);
        assert_eq!(app.get_url(&fresh).await, (StatusCode::OK, first));
    }
);

both_backends!(
    a_tampered_download_url_never_serves_another_file,
    |app: TestApp| async move {
        let leader = app.login("leader").await;
        let leader_b = app.login("leader-b").await;
        let id = draft(&leader).await;
        let theirs = draft(&leader_b).await;
        let mine = uploaded(&leader, &id, "tech_report", "mine.pdf").await;
        let secret = uploaded(&leader_b, &theirs, "tech_report", "secret.pdf").await;
        let r = leader
            .get(&format!(
                "/api/registrations/{id}/attachments/{mine}/download"
            ))
            .await;
        let url = r.headers[header::LOCATION]
            .to_str()
            .expect("url")
            .to_owned();
        let mut tampered = Vec::new();
        // Another file's key in the URL, with the signature it came with.
        match app.backend {
            Backend::Embedded => {
                let token = local_path(&url)
                    .strip_prefix("/files/")
                    .expect("token")
                    .to_owned();
                let (payload, sig) = token.split_once('.').expect("token");
                let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
                let mut grant: Value =
                    serde_json::from_slice(&b64.decode(payload).expect("b64")).expect("json");
                grant["key"] = json!(Attachment::key_for(&theirs, &secret));
                tampered.push(format!(
                    "{}/files/{}.{sig}",
                    url.split("/files/").next().expect("base"),
                    b64.encode(grant.to_string())
                ));
                grant["key"] = json!(Attachment::key_for(&id, &mine));
                grant["exp"] = json!(grant["exp"].as_i64().expect("exp") + 86_400);
                tampered.push(format!(
                    "{}/files/{}.{sig}",
                    url.split("/files/").next().expect("base"),
                    b64.encode(grant.to_string())
                ));
            }
            Backend::Aws => {
                tampered.push(url.replace(&id, &theirs).replace(&mine, &secret));
                tampered.push(url.replace("X-Amz-Expires=300", "X-Amz-Expires=86400"));
                tampered.push(url.replace(
                    "response-content-disposition=",
                    "response-content-disposition=inline%3B",
                ));
            }
        }
        // One character of the signature changed.
        let at = match url.find("X-Amz-Signature=") {
            Some(i) => i + "X-Amz-Signature=".len(),
            None => url.rfind('.').expect("signed token") + 1,
        };
        let mut chars: Vec<char> = url.chars().collect();
        let i = url[..at].chars().count();
        chars[i] = if chars[i] == 'a' { 'b' } else { 'a' };
        tampered.push(chars.into_iter().collect());
        // Only the changes that apply to this URL's form count.
        tampered.retain(|t| t != &url);
        assert!(tampered.len() >= 2, "{tampered:?}");
        for t in &tampered {
            let (status, body) = app.get_url(t).await;
            assert_eq!(
                status,
                StatusCode::FORBIDDEN,
                "{t}: {}",
                String::from_utf8_lossy(&body)
            );
            assert!(!body.starts_with(b"%PDF"), "{t} served a file");
        }
        assert_eq!(
            app.get_url(&url).await,
            (StatusCode::OK, pdf_bytes("mine.pdf"))
        );
    }
);

/// Asserts a 404 `not_found` that shows none of `hidden`.
#[track_caller]
fn assert_hidden(r: &Response, what: &str, hidden: &[&str]) {
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{what}: {}", r.text());
    r.expect_error(StatusCode::NOT_FOUND, "not_found");
    for h in hidden {
        assert!(!r.text().contains(h), "{what} shows {h}: {}", r.text());
    }
}

both_backends!(
    guessed_ids_of_another_units_objects_are_not_found_and_show_nothing,
    |app: TestApp| async move {
        let leader = app.login("leader").await;
        let admin = app.login("admin").await;
        let leader_b = app.login("leader-b").await;
        let unit_b = app.login("unit-b").await;
        let office = app.login("office").await;

        // A record of `unit` announced on the website, with an objection filed against it.
        let id = submitted_registration(&leader, "applied").await;
        to_decision_pending(&app, &id).await;
        let record = leader.record(&id).await;
        let title = record["fields"]["title"]
            .as_str()
            .expect("title")
            .to_owned();
        let aid = record["attachments"][0]["id"]
            .as_str()
            .expect("aid")
            .to_owned();
        let objection = app
            .anonymous()
            .post(
                "/api/public/objections",
                json!({
                    "registration_id": id, "name": "陈立新", "unit": "中山大学",
                    "phone": "0760-88123456", "email": "chen@example.org",
                    "content": "该成果的部分技术指标与我单位已发表论文的数据一致，请核实。"
                }),
            )
            .await
            .expect(StatusCode::CREATED)["id"]
            .as_str()
            .expect("objection id")
            .to_owned();
        let project = import_projects(&admin).await;
        let theirs = draft(&leader_b).await;
        let before = everything(&admin).await;
        let hidden = [
            title.as_str(),
            "陈立新",
            "0760-88123456",
            "高端装备智能检测技术研究",
        ];

        // The other unit's own record: someone else's attachment id under it is unknown.
        for (method, suffix) in [
            (Method::GET, "/download"),
            (Method::POST, "/confirm"),
            (Method::DELETE, ""),
        ] {
            let path = format!("/api/registrations/{theirs}/attachments/{aid}{suffix}");
            let body = (method == Method::POST).then(|| json!({}));
            let r = leader_b.request(method.clone(), &path, body).await;
            assert_hidden(&r, &format!("{method} {path}"), &hidden);
        }
        // Objections of a record out of scope: the same answer as an id that does not exist.
        for who in [&unit_b, &leader_b] {
            for oid in [objection.as_str(), "00000000-0000-0000-0000-000000000000"] {
                let r = who
                    .post(
                        &format!("/api/objections/{oid}/resolve"),
                        json!({"note": "越权处理"}),
                    )
                    .await;
                assert_hidden(&r, "resolve an objection", &hidden);
            }
        }
        // Departments and accounts of another unit, for that unit's administrator: read, not
        // found; write, refused exactly as for a unit that does not exist.
        let path = format!(
            "/api/admin/units/{}/departments",
            chengguo_api::seed::UNIT_ID
        );
        assert_hidden(&unit_b.get(&path).await, &path, &hidden);
        let real = unit_b.post(&path, json!({"name": "越权部门"})).await;
        let made_up = unit_b
            .post(
                "/api/admin/units/no-such-unit/departments",
                json!({"name": "越权部门"}),
            )
            .await;
        assert!(real.status.is_client_error(), "{}", real.text());
        assert_eq!((real.status, &real.body), (made_up.status, &made_up.body));
        let real = unit_b
            .patch(
                "/api/admin/users/user-leader",
                json!({"display_name": "改名"}),
            )
            .await;
        let made_up = unit_b
            .patch(
                "/api/admin/users/user-nobody",
                json!({"display_name": "改名"}),
            )
            .await;
        assert_hidden(&real, "another unit's account", &["leader"]);
        assert_eq!(
            real.body, made_up.body,
            "the answer tells real accounts apart"
        );
        // Projects: another unit's project is not listed; acting on it is refused exactly like
        // acting on a project that does not exist.
        let listed = unit_b.get("/api/projects").await.expect(StatusCode::OK);
        assert_eq!(listed["items"], json!([]));
        let r1 = unit_b
            .post(
                &format!("/api/projects/{project}/acceptance"),
                json!({"status": "review_completed"}),
            )
            .await;
        let r2 = unit_b
            .post(
                "/api/projects/no-such-project/acceptance",
                json!({"status": "review_completed"}),
            )
            .await;
        assert_eq!((r1.status, &r1.body), (r2.status, &r2.body));
        assert!(!r1.text().contains("高端装备"));
        office
            .post(
                "/api/projects/no-such-project/acceptance",
                json!({"status": "review_completed"}),
            )
            .await
            .expect_error(StatusCode::NOT_FOUND, "not_found");
        // Made-up and sequential ids of records: not found for everyone, the owner included.
        let mut guesses = vec![
            "1".to_owned(),
            "0".to_owned(),
            "-1".to_owned(),
            "00000000-0000-0000-0000-000000000000".to_owned(),
            "%2e%2e".to_owned(),
            "%00".to_owned(),
        ];
        let mut near = id.clone();
        let last = near.pop().expect("char");
        near.push(if last == '0' { '1' } else { '0' });
        guesses.push(near);
        for who in [&leader_b, &unit_b, &leader] {
            for g in &guesses {
                for path in [
                    format!("/api/registrations/{g}"),
                    format!("/api/registrations/{g}/history"),
                    format!("/api/registrations/{g}/attachments/{aid}/download"),
                ] {
                    assert_hidden(&who.get(&path).await, &path, &hidden);
                }
            }
        }
        // The real id, to the other unit: not found either (never 403), and never listed.
        for path in [
            format!("/api/registrations/{id}"),
            format!("/api/registrations/{id}/notice.xlsx"),
        ] {
            assert_hidden(&unit_b.get(&path).await, &path, &hidden);
        }
        let r = unit_b
            .post("/api/exports/notices", json!({"ids": [id]}))
            .await;
        assert_hidden(&r, "export another unit's notice", &hidden);
        assert_eq!(
            everything(&admin).await,
            before,
            "a refused request changed something"
        );
    }
);

/// Asserts an error answer is the JSON envelope with a Chinese message and no internals.
#[track_caller]
fn assert_plain_error(r: &Response, what: &str) {
    assert!(
        r.status.is_client_error() || r.status.is_server_error(),
        "{what}: {}",
        r.status
    );
    let ct = r
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    assert!(
        ct.starts_with("application/json"),
        "{what}: {ct} {}",
        r.text()
    );
    let v = r.json();
    assert!(
        v["error"]["code"].as_str().is_some_and(|c| !c.is_empty()),
        "{what}"
    );
    assert!(
        is_chinese(v["error"]["message"].as_str().unwrap_or("")),
        "{what}: {}",
        r.text()
    );
    for leak in LEAKS {
        assert!(
            !r.text().contains(leak),
            "{what} leaks {leak:?}: {}",
            r.text()
        );
    }
}

both_backends!(
    error_bodies_never_leak_internals,
    |app: TestApp| async move {
        let leader = app.login("leader").await;
        let id = draft(&leader).await;
        let before = leader.record(&id).await;
        let anon = app.anonymous();
        let big = vec![b' '; 2 * 1024 * 1024];
        let mut answers: Vec<(String, Response)> = Vec::new();
        let json_ct = Some("application/json");
        for (method, path, body, ct) in [
            (
                Method::POST,
                "/api/registrations".to_owned(),
                b"{".to_vec(),
                json_ct,
            ),
            (
                Method::POST,
                "/api/registrations".to_owned(),
                b"\xff\xfe".to_vec(),
                json_ct,
            ),
            (
                Method::POST,
                "/api/registrations".to_owned(),
                br#"{"kind": 1, "source": [], "consent": "yes"}"#.to_vec(),
                json_ct,
            ),
            (
                Method::PATCH,
                format!("/api/registrations/{id}"),
                br#"{"version": 18446744073709551616, "fields": {}}"#.to_vec(),
                json_ct,
            ),
            (
                Method::PATCH,
                format!("/api/registrations/{id}"),
                br#"{"version": 1, "fields": {"title": "x"}, "id": "other"}"#.to_vec(),
                json_ct,
            ),
            (
                Method::PATCH,
                format!("/api/registrations/{id}"),
                br#"{"version": 0, "fields": {"research_start": "2024-13", "keywords": "x"}}"#
                    .to_vec(),
                json_ct,
            ),
            (
                Method::POST,
                "/api/registrations".to_owned(),
                big.clone(),
                json_ct,
            ),
            (
                Method::POST,
                "/api/registrations".to_owned(),
                b"{}".to_vec(),
                Some("text/xml"),
            ),
            (
                Method::POST,
                "/api/projects/import".to_owned(),
                b"PK\x03\x04garbage".to_vec(),
                Some("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
            ),
            (
                Method::POST,
                "/api/exports/notices".to_owned(),
                br#"{"ids": ["' OR 1=1 --", "\u0000"]}"#.to_vec(),
                json_ct,
            ),
            (
                Method::POST,
                format!("/api/registrations/{id}/actions/submit"),
                br#"{"version": -1}"#.to_vec(),
                json_ct,
            ),
            (
                Method::POST,
                format!("/api/registrations/{id}/actions/launch"),
                b"{}".to_vec(),
                json_ct,
            ),
            (
                Method::PUT,
                format!("/api/registrations/{id}"),
                b"{}".to_vec(),
                json_ct,
            ),
            (
                Method::POST,
                format!("/api/registrations/{id}/attachments/none/confirm"),
                b"{}".to_vec(),
                json_ct,
            ),
        ] {
            let r = leader.raw(method.clone(), &path, Some(body), ct).await;
            answers.push((format!("{method} {path}"), r));
        }
        for path in [
            "/api/registrations?cursor=%27%20OR%201%3D1%20--".to_owned(),
            "/api/registrations?limit=99999999999999999999".to_owned(),
            "/api/registrations?state=%00".to_owned(),
            "/api/registrations/%FF".to_owned(),
            format!("/api/registrations/{id}/%C0%AE%C0%AE"),
            "/api/registrations/'%20OR%201=1".to_owned(),
            "/api/no/such/route".to_owned(),
            "/api/exports/registrations.xlsx?kind=%27".to_owned(),
        ] {
            let r = leader.get(&path).await;
            answers.push((format!("GET {path}"), r));
        }
        let r = anon.get("/api/me").await;
        answers.push(("anonymous GET /api/me".into(), r));
        let r = anon
        .post(
            "/api/public/objections",
            json!({"registration_id": "'; DROP TABLE registrations; --", "name": "x", "unit": "",
                   "phone": "1", "email": "no", "content": "短"}),
        )
        .await;
        answers.push(("public objection".into(), r));
        let r = anon
            .post(
                "/api/session",
                json!({"username": "' OR '1'='1", "password": "x"}),
            )
            .await;
        answers.push(("login".into(), r));
        let r = with_cookie(&app, leader.cookie.as_deref().expect("cookie"), None)
            .post("/api/registrations", json!({}))
            .await;
        answers.push(("no csrf".into(), r));
        if app.backend == Backend::Embedded {
            let r = anon.get("/files/%FF").await;
            answers.push(("GET /files/%FF".into(), r));
            let r = anon.get("/files/not.a-token").await;
            answers.push(("GET /files/not.a-token".into(), r));
        }
        assert!(answers.len() >= 25);
        for (what, r) in &answers {
            assert_plain_error(r, what);
        }
        // The record is as it was made.
        let after = leader.record(&id).await;
        assert_eq!(
            (&after["version"], &after["fields"]),
            (&before["version"], &before["fields"])
        );
    }
);

both_backends!(
    storage_failures_answer_a_plain_internal_error,
    |app: TestApp| async move {
        let leader = app.login("leader").await;
        let id = draft(&leader).await;
        let pdf = pdf_bytes("broken storage");
        let created = leader
            .announce(&id, "tech_report", "a.pdf", "application/pdf", pdf.len())
            .await
            .expect(StatusCode::CREATED);
        let aid = created["attachment"]["id"]
            .as_str()
            .expect("aid")
            .to_owned();
        match app.backend {
            Backend::Embedded => {
                // The files folder made unusable: a file where the folder of attachments goes.
                let root = app
                    .state
                    .local_files
                    .as_ref()
                    .expect("local files")
                    .root()
                    .to_path_buf();
                std::fs::create_dir_all(&root).expect("root");
                std::fs::write(root.join("att"), b"not a folder").expect("block");
                let path = local_path(created["upload"]["url"].as_str().expect("url"));
                let req = Request::builder()
                    .method(Method::PUT)
                    .uri(path)
                    .header(header::CONTENT_TYPE, "application/pdf")
                    .header(header::CONTENT_LENGTH, pdf.len())
                    .body(Body::from(pdf.clone()))
                    .expect("request");
                let r = app.send(req).await;
                r.expect_error(StatusCode::INTERNAL_SERVER_ERROR, "internal");
                assert_plain_error(&r, "PUT into a broken folder");
                let r = leader
                    .post(
                        &format!("/api/registrations/{id}/attachments/{aid}/confirm"),
                        json!({}),
                    )
                    .await;
                r.expect_error(StatusCode::INTERNAL_SERVER_ERROR, "internal");
                assert_plain_error(&r, "confirm with a broken folder");
            }
            Backend::Aws => {
                // The same app on a table and a bucket that do not exist.
                let endpoint = aws_endpoint().expect("endpoint");
                let (dynamo, s3) = chengguo_aws::setup::client_for_endpoint(&endpoint).await;
                let mut state = app.state.clone();
                state.store = Arc::new(chengguo_aws::dynamo::DynamoStore::new(
                    dynamo,
                    unique("missing-table"),
                ));
                let req = Request::builder()
                    .method(Method::POST)
                    .uri("/api/session")
                    .header(header::CONTENT_TYPE, "application/json")
                    .body(Body::from(
                        json!({"username": "leader", "password": DEMO_PASSWORD}).to_string(),
                    ))
                    .expect("request");
                let r = through(&chengguo_api::router(state), req).await;
                r.expect_error(StatusCode::INTERNAL_SERVER_ERROR, "internal");
                assert_plain_error(&r, "login with a missing table");
                let mut state = app.state.clone();
                state.blobs =
                    Arc::new(chengguo_aws::s3::S3Blobs::new(s3, unique("missing-bucket")));
                let broken = app.with_state(state);
                let leader = broken.login("leader").await;
                let r = leader
                    .post(
                        &format!("/api/registrations/{id}/attachments/{aid}/confirm"),
                        json!({}),
                    )
                    .await;
                assert!(
                    r.status == StatusCode::INTERNAL_SERVER_ERROR
                        || r.status == StatusCode::UNPROCESSABLE_ENTITY,
                    "{}",
                    r.text()
                );
                assert_plain_error(&r, "confirm with a missing bucket");
            }
        }
    }
);
