//! Test support: an app on either backend, logged-in clients sending requests in-process
//! through the router, and uploads through the real signed URLs.

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use base64::Engine;
use chengguo_api::{AppState, Config};
use chengguo_domain::ports::{Clock, ManualClock};
use http::{HeaderMap, Method, Request, StatusCode, header};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use time::OffsetDateTime;
use time::macros::datetime;
use tower::ServiceExt;

pub use chengguo_api::seed::DEMO_PASSWORD;

/// The instant tests start at: 2026-11-28 10:00 in China.
pub const START: OffsetDateTime = datetime!(2026-11-28 02:00 UTC);

/// Which backend an app runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Embedded,
    Aws,
}

/// The system under test.
pub struct TestApp {
    pub backend: Backend,
    /// Where sent mail can be read back.
    pub mail: MailSink,
    pub router: Router,
    pub state: AppState,
    pub clock: Arc<ManualClock>,
    /// HTTP client for presigned URLs outside the router (S3).
    pub http: reqwest::Client,
    _data: Option<tempfile::TempDir>,
}

/// The endpoint of the local AWS-compatible server, when tests should use it.
pub fn aws_endpoint() -> Option<String> {
    std::env::var("CHENGGUO_TEST_AWS_ENDPOINT")
        .ok()
        .filter(|v| !v.is_empty())
}

/// A short unique name for tables and buckets.
pub fn unique(prefix: &str) -> String {
    format!(
        "{prefix}-{}",
        &uuid::Uuid::new_v4().simple().to_string()[..12]
    )
}

impl TestApp {
    /// A fresh app on `backend` with the demo organisation loaded; `None` for AWS when no
    /// endpoint is configured.
    pub async fn new(backend: Backend) -> Option<TestApp> {
        Self::with_mail(backend, true).await
    }

    /// Like [`TestApp::new`]; with `verify_sender` false, SES refuses the sender until
    /// [`TestApp::repair_mail`] (the outbox likewise fails until then).
    pub async fn with_mail(backend: Backend, verify_sender: bool) -> Option<TestApp> {
        let clock = Arc::new(ManualClock::new(START));
        let mail;
        let dyn_clock: Arc<dyn Clock> = clock.clone();
        let (state, data) = match backend {
            Backend::Embedded => {
                let dir = tempfile::tempdir().expect("temp dir");
                let b = chengguo::backend::Backend::Embedded {
                    data: dir.path().to_path_buf(),
                    public_url: "http://127.0.0.1:9".into(),
                };
                let state = chengguo::backend::open(&b, test_config(), dyn_clock)
                    .await
                    .expect("embedded backend");
                mail = MailSink::Outbox(dir.path().join("outbox"));
                (state, Some(dir))
            }
            Backend::Aws => {
                let endpoint = aws_endpoint()?;
                let (dynamo, s3) = chengguo_aws::setup::client_for_endpoint(&endpoint).await;
                let table = unique("t");
                let bucket = unique("b");
                chengguo_aws::setup::ensure_table(&dynamo, &table)
                    .await
                    .expect("table");
                chengguo_aws::setup::ensure_bucket(&s3, &bucket)
                    .await
                    .expect("bucket");
                let ses = ses_client(&endpoint);
                let domain = format!("{}.example.org", unique("chengguo"));
                if verify_sender {
                    verify_mail_domain(&ses, &domain).await;
                }
                let mailer = chengguo_aws::ses::SesMailer::new(
                    ses.clone(),
                    format!("科技成果登记系统 <noreply@{domain}>"),
                );
                let state = AppState {
                    store: Arc::new(chengguo_aws::dynamo::DynamoStore::new(dynamo, table)),
                    blobs: Arc::new(chengguo_aws::s3::S3Blobs::new(s3, bucket)),
                    clock: dyn_clock,
                    mailer: Arc::new(mailer),
                    mail_templates: Arc::new(chengguo_mail::Templates::new().expect("templates")),
                    config: Arc::new(test_config()),
                    local_files: None,
                    site_changes: None,
                };
                mail = MailSink::Ses {
                    endpoint,
                    client: ses,
                    domain,
                };
                (state, None)
            }
        };
        chengguo_api::seed::seed_demo(state.store.as_ref(), START)
            .await
            .expect("demo seed");
        if !verify_sender && let MailSink::Outbox(dir) = &mail {
            // A file where the outbox folder should be: every write into it fails.
            std::fs::write(dir, b"not a folder").expect("block the outbox");
        }
        Some(TestApp {
            mail,
            backend,
            router: chengguo_api::router(state.clone()),
            state,
            clock,
            http: reqwest::Client::new(),
            _data: data,
        })
    }

    /// Sends one request through the router.
    pub async fn send(&self, req: Request<Body>) -> Response {
        let resp = self
            .router
            .clone()
            .oneshot(req)
            .await
            .expect("router is infallible");
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

    /// A client that is not logged in.
    pub fn anonymous(&self) -> Client<'_> {
        Client {
            app: self,
            cookie: None,
            csrf: None,
        }
    }

    /// Logs in a demo account.
    pub async fn login(&self, username: &str) -> Client<'_> {
        let anon = self.anonymous();
        let resp = anon
            .request(
                Method::POST,
                "/api/session",
                Some(json!({"username": username, "password": DEMO_PASSWORD})),
            )
            .await;
        assert_eq!(
            resp.status,
            StatusCode::OK,
            "login {username}: {}",
            resp.text()
        );
        let cookie = resp
            .headers
            .get(header::SET_COOKIE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .expect("session cookie")
            .to_owned();
        let csrf = resp.json()["csrf_token"].as_str().expect("csrf").to_owned();
        Client {
            app: self,
            cookie: Some(cookie),
            csrf: Some(csrf),
        }
    }

    /// The same app answering with `state` (e.g. with a site rebuilder listening).
    pub fn with_state(mut self, state: AppState) -> TestApp {
        self.router = chengguo_api::router(state.clone());
        self.state = state;
        self
    }

    /// Moves the clock by whole days.
    pub fn advance_days(&self, days: i64) {
        self.clock.advance(time::Duration::days(days));
    }
}

/// A response with its body read.
#[derive(Debug)]
pub struct Response {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl Response {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|_| panic!("not JSON ({}): {}", self.status, self.text()))
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The error code of an error envelope.
    pub fn code(&self) -> String {
        self.json()["error"]["code"]
            .as_str()
            .unwrap_or("")
            .to_owned()
    }

    /// Asserts the status, printing the body when it differs; returns the JSON.
    #[track_caller]
    pub fn expect(&self, status: StatusCode) -> Value {
        assert_eq!(self.status, status, "body: {}", self.text());
        if self.body.is_empty() {
            Value::Null
        } else {
            self.json()
        }
    }

    /// Asserts an error envelope with this status and code and a Chinese message.
    #[track_caller]
    pub fn expect_error(&self, status: StatusCode, code: &str) -> Value {
        let v = self.expect(status);
        assert_eq!(v["error"]["code"], code, "body: {}", self.text());
        let msg = v["error"]["message"].as_str().unwrap_or("");
        assert!(is_chinese(msg), "message not Chinese: {msg}");
        v
    }
}

/// Whether a message is written in Chinese (has CJK characters).
pub fn is_chinese(s: &str) -> bool {
    s.chars().any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c))
}

/// A client of the app, logged in or not.
pub struct Client<'a> {
    pub app: &'a TestApp,
    pub cookie: Option<String>,
    pub csrf: Option<String>,
}

impl Client<'_> {
    /// Sends a request with the session cookie and CSRF token.
    pub async fn request(&self, method: Method, path: &str, body: Option<Value>) -> Response {
        let bytes = body.map(|b| serde_json::to_vec(&b).expect("json"));
        self.raw(method, path, bytes, Some("application/json"))
            .await
    }

    /// Sends raw bytes.
    pub async fn raw(
        &self,
        method: Method,
        path: &str,
        body: Option<Vec<u8>>,
        content_type: Option<&str>,
    ) -> Response {
        let mut b = Request::builder().method(method).uri(path);
        if let Some(c) = &self.cookie {
            b = b.header(header::COOKIE, c);
        }
        if let Some(t) = &self.csrf {
            b = b.header("x-csrf-token", t);
        }
        if body.is_some()
            && let Some(ct) = content_type
        {
            b = b.header(header::CONTENT_TYPE, ct);
        }
        let req = b
            .body(body.map(Body::from).unwrap_or_else(Body::empty))
            .expect("request");
        self.app.send(req).await
    }

    pub async fn get(&self, path: &str) -> Response {
        self.request(Method::GET, path, None).await
    }

    pub async fn post(&self, path: &str, body: Value) -> Response {
        self.request(Method::POST, path, Some(body)).await
    }

    pub async fn patch(&self, path: &str, body: Value) -> Response {
        self.request(Method::PATCH, path, Some(body)).await
    }

    pub async fn delete(&self, path: &str) -> Response {
        self.request(Method::DELETE, path, None).await
    }

    /// Reads a registration.
    pub async fn record(&self, id: &str) -> Value {
        self.get(&format!("/api/registrations/{id}"))
            .await
            .expect(StatusCode::OK)
    }

    /// Performs an action on the record's current version.
    pub async fn act(&self, id: &str, action: &str, extra: Value) -> Response {
        let version = self.record(id).await["version"].clone();
        let mut body = json!({"version": version});
        if let (Some(b), Some(e)) = (body.as_object_mut(), extra.as_object()) {
            b.extend(e.clone());
        }
        self.post(&format!("/api/registrations/{id}/actions/{action}"), body)
            .await
    }

    /// Announces an upload, returning the creation answer (attachment and upload URL).
    pub async fn announce(
        &self,
        id: &str,
        category: &str,
        filename: &str,
        content_type: &str,
        size: usize,
    ) -> Response {
        self.post(
            &format!("/api/registrations/{id}/attachments"),
            json!({"category": category, "filename": filename, "content_type": content_type, "size": size}),
        )
        .await
    }

    /// Uploads bytes and confirms them; returns the confirm answer.
    pub async fn upload(
        &self,
        id: &str,
        category: &str,
        filename: &str,
        content_type: &str,
        bytes: &[u8],
    ) -> Response {
        let created = self
            .announce(id, category, filename, content_type, bytes.len())
            .await
            .expect(StatusCode::CREATED);
        let put = self
            .app
            .put_upload(&created["upload"], bytes.to_vec())
            .await;
        assert!(put.is_success(), "upload PUT failed: {put}");
        let aid = created["attachment"]["id"].as_str().expect("id");
        self.post(
            &format!("/api/registrations/{id}/attachments/{aid}/confirm"),
            json!({}),
        )
        .await
    }
}

impl TestApp {
    /// Sends bytes to an upload URL as a browser would: in-process for the local server's own
    /// URLs, over HTTP for S3.
    pub async fn put_upload(&self, upload: &Value, bytes: Vec<u8>) -> StatusCode {
        let url = upload["url"].as_str().expect("url");
        let headers: Vec<(String, String)> = upload["headers"]
            .as_object()
            .map(|m| {
                m.iter()
                    .map(|(k, v)| (k.clone(), v.as_str().unwrap_or("").to_owned()))
                    .collect()
            })
            .unwrap_or_default();
        self.put_url(url, &headers, bytes).await
    }

    /// `PUT` to an absolute URL with headers.
    pub async fn put_url(
        &self,
        url: &str,
        headers: &[(String, String)],
        bytes: Vec<u8>,
    ) -> StatusCode {
        match self.backend {
            Backend::Embedded => {
                let path = local_path(url);
                let mut b = Request::builder().method(Method::PUT).uri(path);
                for (k, v) in headers {
                    b = b.header(k.as_str(), v.as_str());
                }
                b = b.header(header::CONTENT_LENGTH, bytes.len());
                self.send(b.body(Body::from(bytes)).expect("request"))
                    .await
                    .status
            }
            Backend::Aws => {
                let mut r = self.http.put(url).body(bytes);
                for (k, v) in headers {
                    r = r.header(k.as_str(), v.as_str());
                }
                let resp = r.send().await.expect("PUT to S3");
                StatusCode::from_u16(resp.status().as_u16()).expect("status")
            }
        }
    }

    /// `GET` an absolute download URL, returning status and bytes.
    pub async fn get_url(&self, url: &str) -> (StatusCode, Vec<u8>) {
        match self.backend {
            Backend::Embedded => {
                let req = Request::builder()
                    .uri(local_path(url))
                    .body(Body::empty())
                    .expect("request");
                let r = self.send(req).await;
                (r.status, r.body)
            }
            Backend::Aws => {
                let resp = self.http.get(url).send().await.expect("GET from S3");
                let status = StatusCode::from_u16(resp.status().as_u16()).expect("status");
                (status, resp.bytes().await.expect("bytes").to_vec())
            }
        }
    }
}

/// The path and query of an absolute URL of the local server.
pub fn local_path(url: &str) -> String {
    let rest = url.split_once("://").map(|(_, r)| r).unwrap_or(url);
    rest.find('/')
        .map(|i| rest[i..].to_owned())
        .unwrap_or_else(|| "/".into())
}

/// A small valid PDF.
pub fn pdf_bytes(label: &str) -> Vec<u8> {
    format!("%PDF-1.4\n% {label}\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n").into_bytes()
}

/// A small PNG signature plus data.
pub fn png_bytes() -> Vec<u8> {
    let mut v = b"\x89PNG\r\n\x1a\n".to_vec();
    v.extend_from_slice(&[0u8; 32]);
    v
}

/// The complete form of a kind from `tests/fixtures`.
pub fn form(kind: &str) -> Value {
    let text = match kind {
        "applied" => include_str!("../fixtures/form_applied.json"),
        "basic" => include_str!("../fixtures/form_basic.json"),
        "soft" => include_str!("../fixtures/form_soft.json"),
        other => panic!("no fixture for {other}"),
    };
    serde_json::from_str(text).expect("fixture JSON")
}

/// The required material categories of a kind.
pub fn required_categories(kind: &str) -> Vec<&'static str> {
    let k = chengguo_domain::Kind::parse(kind).expect("kind");
    chengguo_domain::materials::required(k, false)
        .map(|m| m.category)
        .collect()
}

/// Runs a test body on both backends: `both_backends!(name, |app| async move { ... })`.
#[macro_export]
macro_rules! both_backends {
    ($name:ident, $body:expr) => {
        mod $name {
            use super::*;

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn embedded() {
                let app = $crate::TestApp::new($crate::Backend::Embedded)
                    .await
                    .expect("embedded app");
                ($body)(app).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn aws() {
                let Some(app) = $crate::TestApp::new($crate::Backend::Aws).await else {
                    eprintln!("skipped: CHENGGUO_TEST_AWS_ENDPOINT not set");
                    return;
                };
                ($body)(app).await;
            }
        }
    };
}

/// The configuration tests run with: mail is sent before the answer, so tests can read it.
pub fn test_config() -> Config {
    Config {
        mail_inline: true,
        ..Config::default()
    }
}

/// An SES client for the local AWS-compatible server.
pub fn ses_client(endpoint: &str) -> aws_sdk_sesv2::Client {
    use aws_sdk_sesv2::config::{BehaviorVersion, Credentials, Region};
    let conf = aws_sdk_sesv2::config::Builder::new()
        .behavior_version(BehaviorVersion::latest())
        .endpoint_url(endpoint)
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new(
            "test",
            "test",
            None,
            None,
            "chengguo-tests",
        ))
        .build();
    aws_sdk_sesv2::Client::from_conf(conf)
}

/// Verifies a sender domain on the local SES.
pub async fn verify_mail_domain(client: &aws_sdk_sesv2::Client, domain: &str) {
    client
        .create_email_identity()
        .email_identity(domain)
        .send()
        .await
        .expect("create identity");
}

/// Where an app's sent mail lands.
pub enum MailSink {
    /// `.eml` files of the embedded backend.
    Outbox(std::path::PathBuf),
    /// The local SES, which records what it sent.
    Ses {
        endpoint: String,
        client: aws_sdk_sesv2::Client,
        domain: String,
    },
}

/// One sent mail, decoded.
#[derive(Debug, Clone, PartialEq)]
pub struct SentMail {
    pub to: Vec<String>,
    pub subject: String,
    pub body: String,
}

impl TestApp {
    /// Every mail sent so far, in no particular order.
    pub async fn sent_mail(&self) -> Vec<SentMail> {
        match &self.mail {
            MailSink::Outbox(dir) => {
                let Ok(entries) = std::fs::read_dir(dir) else {
                    return Vec::new();
                };
                entries
                    .filter_map(Result::ok)
                    .filter(|e| e.path().extension().is_some_and(|x| x == "eml"))
                    .map(|e| parse_eml(&std::fs::read(e.path()).expect("read eml")))
                    .collect()
            }
            MailSink::Ses {
                endpoint, domain, ..
            } => {
                let url = format!("{}/_ministack/ses/messages", endpoint.trim_end_matches('/'));
                let all: Value = self
                    .http
                    .get(&url)
                    .send()
                    .await
                    .expect("ses inspection")
                    .json()
                    .await
                    .expect("json");
                let sender = format!("noreply@{domain}");
                all["messages"]
                    .as_object()
                    .map(|m| {
                        m.values()
                            .flat_map(|v| v.as_array().cloned().unwrap_or_default())
                            .collect::<Vec<_>>()
                    })
                    .unwrap_or_default()
                    .into_iter()
                    .filter(|m| m["Source"] == sender.as_str())
                    .map(|m| SentMail {
                        to: m["To"]
                            .as_array()
                            .map(|a| {
                                a.iter()
                                    .filter_map(|x| x.as_str().map(str::to_owned))
                                    .collect()
                            })
                            .unwrap_or_default(),
                        subject: m["Subject"].as_str().unwrap_or("").to_owned(),
                        body: m["BodyText"].as_str().unwrap_or("").replace("\r\n", "\n"),
                    })
                    .collect()
            }
        }
    }

    /// Makes mail work again after [`TestApp::with_mail`] with `verify_sender` false.
    pub async fn repair_mail(&self) {
        match &self.mail {
            MailSink::Outbox(dir) => {
                std::fs::remove_file(dir).expect("unblock the outbox");
            }
            MailSink::Ses { client, domain, .. } => verify_mail_domain(client, domain).await,
        }
    }
}

/// Reads back a single-part message: To, the decoded subject and the decoded text.
pub fn parse_eml(bytes: &[u8]) -> SentMail {
    let text = String::from_utf8_lossy(bytes).replace("\r\n", "\n");
    let (head, body) = text.split_once("\n\n").expect("header and body");
    let mut headers: Vec<(String, String)> = Vec::new();
    for line in head.lines() {
        if line.starts_with([' ', '\t']) {
            if let Some(last) = headers.last_mut() {
                last.1.push_str(line);
            }
        } else if let Some((n, v)) = line.split_once(':') {
            headers.push((n.to_ascii_lowercase(), v.trim().to_owned()));
        }
    }
    let header = |name: &str| {
        headers
            .iter()
            .filter(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
            .collect::<Vec<_>>()
    };
    let to = header("to")
        .iter()
        .flat_map(|v| v.split(','))
        .map(|a| {
            a.trim()
                .trim_start_matches('<')
                .trim_end_matches('>')
                .to_owned()
        })
        .filter(|a| !a.is_empty())
        .collect();
    let subject = decode_words(&header("subject").concat());
    let encoding = header("content-transfer-encoding")
        .concat()
        .to_ascii_lowercase();
    let body = if encoding == "base64" {
        let raw: String = body.split_whitespace().collect();
        String::from_utf8(
            base64::engine::general_purpose::STANDARD
                .decode(raw)
                .expect("base64 body"),
        )
        .expect("utf-8 body")
    } else {
        body.to_owned()
    };
    SentMail {
        to,
        subject,
        body: body.replace("\r\n", "\n"),
    }
}

/// Decodes RFC 2047 `=?utf-8?b?...?=` words (white space between words dropped).
fn decode_words(v: &str) -> String {
    let mut out = Vec::new();
    let mut plain = String::new();
    for token in v.split_whitespace() {
        let lower = token.to_ascii_lowercase();
        if lower.starts_with("=?utf-8?b?") && token.ends_with("?=") {
            let inner = &token[10..token.len() - 2];
            out.extend(
                base64::engine::general_purpose::STANDARD
                    .decode(inner)
                    .expect("b-word"),
            );
        } else {
            if !out.is_empty() {
                plain.push_str(&String::from_utf8_lossy(&out));
                out.clear();
            }
            if !plain.is_empty() {
                plain.push(' ');
            }
            plain.push_str(token);
        }
    }
    plain.push_str(&String::from_utf8_lossy(&out));
    plain
}
