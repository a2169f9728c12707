//! End to end through the built Lambda binaries: `scripts/lambda-e2e.sh` builds them, loads
//! the demo organisation into a data folder and moves it to ministack with `chengguo migrate`,
//! starts cargo-lambda's runtime emulator (`cargo lambda watch --only-lambda-apis`) with every
//! function's `bootstrap` polling it, and runs this test, which drives the workflow of the
//! source document through the functions' URLs (each request to the function API Gateway
//! would choose), uploads through the presigned URLs, runs the publisher and finds the
//! announcement in the site bucket; then, through instances whose clock runs 31 days ahead,
//! resolves the objection, decides with the proposed number and finds the registry page.
//! Skipped unless `CHENGGUO_TEST_LAMBDA_WATCH` is set.

use chengguo_lambda::Function;
use chengguo_lambda::routes::select;
use chengguo_tests::{DEMO_PASSWORD, form, pdf_bytes, required_categories};
use reqwest::{Method, StatusCode, redirect};
use serde_json::{Value, json};

struct Env {
    /// The emulator, e.g. `http://127.0.0.1:9000`.
    emulator: String,
    /// ministack.
    s3: String,
    site_bucket: String,
    http: reqwest::Client,
    /// A second emulator (`CHENGGUO_TEST_LAMBDA_WATCH_LATER`) whose function instances run 31
    /// days ahead (started by the script under libfaketime).
    later_emulator: String,
    /// Send to the emulator of 31 days later instead of the one on the real clock.
    later: bool,
}

struct Session {
    cookie: String,
    csrf: String,
}

struct Answer {
    function: Function,
    status: StatusCode,
    headers: reqwest::header::HeaderMap,
    body: Vec<u8>,
}

impl Answer {
    fn expect(&self, status: u16) -> Value {
        assert_eq!(
            self.status.as_u16(),
            status,
            "{:?}: {}",
            self.function,
            String::from_utf8_lossy(&self.body)
        );
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }
}

impl Env {
    fn from_env() -> Option<Env> {
        let emulator = std::env::var("CHENGGUO_TEST_LAMBDA_WATCH").ok()?;
        Some(Env {
            emulator: emulator.trim_end_matches('/').to_owned(),
            s3: std::env::var("CHENGGUO_TEST_AWS_ENDPOINT").expect("CHENGGUO_TEST_AWS_ENDPOINT"),
            site_bucket: std::env::var("CHENGGUO_SITE_BUCKET").expect("CHENGGUO_SITE_BUCKET"),
            http: reqwest::Client::builder()
                .redirect(redirect::Policy::none())
                // A function that never polls would otherwise keep the test waiting.
                .timeout(std::time::Duration::from_secs(120))
                .build()
                .unwrap(),
            later_emulator: std::env::var("CHENGGUO_TEST_LAMBDA_WATCH_LATER")
                .expect("CHENGGUO_TEST_LAMBDA_WATCH_LATER")
                .trim_end_matches('/')
                .to_owned(),
            later: false,
        })
    }

    /// The emulator of the instances to send to.
    fn emulator(&self) -> &str {
        if self.later {
            &self.later_emulator
        } else {
            &self.emulator
        }
    }

    /// A request through the function URL of the function API Gateway would choose.
    async fn send(
        &self,
        method: &str,
        path: &str,
        body: Option<Value>,
        s: Option<&Session>,
    ) -> Answer {
        let function = select(method, path.split('?').next().unwrap()).0;
        let url = format!("{}/lambda-url/{}{path}", self.emulator(), function.binary());
        let mut req = self
            .http
            .request(Method::from_bytes(method.as_bytes()).unwrap(), url);
        if let Some(b) = body {
            req = req.json(&b);
        }
        if let Some(s) = s {
            req = req
                .header("cookie", &s.cookie)
                .header("x-csrf-token", &s.csrf);
        }
        let resp = req.send().await.expect("the emulator answers");
        Answer {
            function,
            status: resp.status(),
            headers: resp.headers().clone(),
            body: resp.bytes().await.unwrap().to_vec(),
        }
    }

    /// A direct invocation (what a schedule or the table's stream does).
    async fn invoke(&self, function: Function, event: Value) -> Value {
        let url = format!(
            "{}/2015-03-31/functions/{}/invocations",
            self.emulator(),
            function.binary()
        );
        let resp = self.http.post(url).json(&event).send().await.unwrap();
        let status = resp.status();
        let text = resp.text().await.unwrap();
        assert!(status.is_success(), "{function:?}: {status} {text}");
        serde_json::from_str(&text).unwrap_or(Value::String(text))
    }

    async fn login(&self, username: &str) -> Session {
        let a = self
            .send(
                "POST",
                "/api/session",
                Some(json!({"username": username, "password": DEMO_PASSWORD})),
                None,
            )
            .await;
        let body = a.expect(200);
        let cookie = a
            .headers
            .get_all("set-cookie")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find(|c| c.starts_with("chengguo_session="))
            .expect("session cookie")
            .split(';')
            .next()
            .unwrap()
            .to_owned();
        Session {
            cookie,
            csrf: body["csrf_token"].as_str().unwrap().to_owned(),
        }
    }

    async fn act(&self, s: &Session, id: &str, action: &str) -> Value {
        let version = self
            .send("GET", &format!("/api/registrations/{id}"), None, Some(s))
            .await
            .expect(200)["version"]
            .clone();
        let a = self
            .send(
                "POST",
                &format!("/api/registrations/{id}/actions/{action}"),
                Some(json!({"version": version})),
                Some(s),
            )
            .await;
        let expected = if action == "submit" {
            Function::Submissions
        } else {
            Function::Transitions
        };
        assert_eq!(a.function, expected);
        a.expect(200)
    }
}

// Needs the release binaries running under cargo-lambda: scripts/lambda-e2e.sh starts them and
// runs this test with `--ignored`; elsewhere it is reported as ignored, not as passed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "run by scripts/lambda-e2e.sh"]
async fn the_built_functions_run_the_workflow_under_cargo_lambda() {
    let mut env =
        Env::from_env().expect("CHENGGUO_TEST_LAMBDA_WATCH is not set: run scripts/lambda-e2e.sh");
    for f in Function::HTTP {
        let url = format!("{}/lambda-url/{}/healthz", env.emulator, f.binary());
        let resp = env.http.get(url).send().await.unwrap();
        assert_eq!(resp.status(), StatusCode::OK, "{f:?}");
    }

    let leader = env.login("leader").await;
    let created = env
        .send(
            "POST",
            "/api/registrations",
            Some(json!({
                "kind": "applied", "source": "other_fiscal", "consent": true,
                "project": {"name": "智能制造关键技术研究", "number": "ZS2024-018", "funding": "中山市财政科技经费"}
            })),
            Some(&leader),
        )
        .await
        .expect(201);
    let id = created["id"].as_str().unwrap().to_owned();
    env.send(
        "PATCH",
        &format!("/api/registrations/{id}"),
        Some(json!({"version": created["version"], "fields": form("applied")})),
        Some(&leader),
    )
    .await
    .expect(200);

    // Uploads through the presigned URLs the uploads function hands out.
    let mut first = None;
    for cat in required_categories("applied") {
        let bytes = pdf_bytes(cat);
        let a = env
            .send(
                "POST",
                &format!("/api/registrations/{id}/attachments"),
                Some(json!({"category": cat, "filename": format!("{cat}.pdf"),
                            "content_type": "application/pdf", "size": bytes.len()})),
                Some(&leader),
            )
            .await;
        assert_eq!(a.function, Function::Uploads);
        let created = a.expect(201);
        let upload = &created["upload"];
        let mut put = env.http.put(upload["url"].as_str().unwrap()).body(bytes);
        for (k, v) in upload["headers"].as_object().unwrap() {
            put = put.header(k.as_str(), v.as_str().unwrap());
        }
        let put = put.send().await.unwrap();
        assert!(put.status().is_success(), "PUT {}", put.status());
        let aid = created["attachment"]["id"].as_str().unwrap().to_owned();
        let confirmed = env
            .send(
                "POST",
                &format!("/api/registrations/{id}/attachments/{aid}/confirm"),
                Some(json!({})),
                Some(&leader),
            )
            .await
            .expect(200);
        assert_eq!(confirmed["status"], "ready");
        first.get_or_insert(aid);
    }
    let check = env
        .send(
            "GET",
            &format!("/api/registrations/{id}/check"),
            None,
            Some(&leader),
        )
        .await
        .expect(200);
    assert_eq!(check["ok"], true, "{check}");

    assert_eq!(
        env.act(&leader, &id, "submit").await["state"],
        "dept_review"
    );
    for (who, action, next) in [
        ("dept", "pass", "unit_review"),
        ("unit", "pass", "point_review"),
        ("point", "pass", "paper_pending"),
        ("point", "receive_paper", "decision_pending"),
    ] {
        let s = env.login(who).await;
        assert_eq!(env.act(&s, &id, action).await["state"], next, "{who}");
    }

    // The publisher, as the table's stream starts it, puts the announcement in the bucket.
    let report = env.invoke(Function::Publisher, stream_event()).await;
    assert!(report["written"].as_u64().unwrap_or(0) > 0, "{report}");
    let notices = env
        .http
        .get(format!("{}/{}/notices/index.html", env.s3, env.site_bucket))
        .send()
        .await
        .unwrap();
    assert_eq!(notices.status(), StatusCode::OK);
    let title = form("applied")["title"].as_str().unwrap().to_owned();
    assert!(notices.text().await.unwrap().contains(&title));

    // The public objects; the point sees it; the 公示 export and a download work.
    let filed = env
        .send(
            "POST",
            "/api/public/objections",
            Some(
                json!({"registration_id": id, "name": "陈立新", "unit": "中山大学",
                        "phone": "0760-88123456", "email": "chen@example.org",
                        "content": "请核实第一完成单位的贡献。"}),
            ),
            None,
        )
        .await;
    assert_eq!(filed.function, Function::Objections);
    filed.expect(201);
    let point = env.login("point").await;
    let rec = env
        .send(
            "GET",
            &format!("/api/registrations/{id}"),
            None,
            Some(&point),
        )
        .await
        .expect(200);
    assert_eq!(rec["objections"][0]["name"], "陈立新");
    let xlsx = env
        .send(
            "GET",
            &format!("/api/registrations/{id}/notice.xlsx"),
            None,
            Some(&point),
        )
        .await;
    assert_eq!(xlsx.function, Function::Exports);
    assert_eq!(xlsx.status, StatusCode::OK);
    assert!(xlsx.body.starts_with(b"PK"));
    let aid = first.unwrap();
    let download = env
        .send(
            "GET",
            &format!("/api/registrations/{id}/attachments/{aid}/download"),
            None,
            Some(&point),
        )
        .await;
    assert_eq!(download.status, StatusCode::FOUND);
    let location = download.headers["location"].to_str().unwrap().to_owned();
    let bytes = env
        .http
        .get(location)
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert!(bytes.starts_with(b"%PDF"));

    // The pages function serves the staff queue with the record.
    let queue = env.send("GET", "/admin/", None, Some(&point)).await;
    assert_eq!(queue.function, Function::Pages);
    assert_eq!(queue.status, StatusCode::OK);

    // Housekeeping runs as its schedule would start it.
    let report = env
        .invoke(
            Function::Housekeeping,
            serde_json::from_str(include_str!(
                "../../../tests/fixtures/lambda/eventbridge_scheduled_event.json"
            ))
            .unwrap(),
        )
        .await;
    assert_eq!(report["trigger"], "aws.events", "{report}");

    // 31 days later (the pages, transitions and publisher instances whose clock runs ahead):
    // the website notice has ended; the point resolves the objection and decides with the
    // proposed number, and the publisher moves the record from the announcements to the
    // registry.
    env.later = true;
    let point = env.login("point").await;
    let rec = env
        .send(
            "GET",
            &format!("/api/registrations/{id}"),
            None,
            Some(&point),
        )
        .await
        .expect(200);
    let oid = rec["objections"][0]["id"].as_str().unwrap().to_owned();
    let resolved = env
        .send(
            "POST",
            &format!("/api/objections/{oid}/resolve"),
            Some(json!({"note": "经核实，第一完成单位贡献属实。"})),
            Some(&point),
        )
        .await;
    assert_eq!(resolved.function, Function::Transitions);
    resolved.expect(200);
    let next = env
        .send(
            "GET",
            &format!("/api/registrations/{id}/next-number"),
            None,
            Some(&point),
        )
        .await
        .expect(200);
    let number = next["number"].as_str().unwrap().to_owned();
    let version = env
        .send(
            "GET",
            &format!("/api/registrations/{id}"),
            None,
            Some(&point),
        )
        .await
        .expect(200)["version"]
        .clone();
    let decided = env
        .send(
            "POST",
            &format!("/api/registrations/{id}/actions/decide"),
            Some(json!({"version": version, "result": "registered",
                        "opinion": "材料齐全，予以登记。", "number": number})),
            Some(&point),
        )
        .await;
    assert_eq!(decided.function, Function::Transitions);
    let decided = decided.expect(200);
    assert_eq!(decided["state"], "decided", "{decided}");
    assert_eq!(decided["registration_number"], number.as_str());

    let report = env.invoke(Function::Publisher, stream_event()).await;
    assert!(report["written"].as_u64().unwrap_or(0) > 0, "{report}");
    let page = env
        .http
        .get(format!(
            "{}/{}/registry/{number}/index.html",
            env.s3, env.site_bucket
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(
        page.status(),
        StatusCode::OK,
        "the registry page of {number}"
    );
    let page = page.text().await.unwrap();
    assert!(page.contains(&number) && page.contains(&title));
    let notices = env
        .http
        .get(format!("{}/{}/notices/index.html", env.s3, env.site_bucket))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!notices.contains(&title), "the announcement has ended");
}

/// What the table's stream hands the publisher after a transition.
fn stream_event() -> Value {
    serde_json::from_str(include_str!(
        "../../../tests/fixtures/lambda/dynamodb_stream_event_insert.json"
    ))
    .unwrap()
}
