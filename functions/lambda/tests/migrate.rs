//! `chengguo migrate`: a data folder of the embedded backend, with records made through the
//! API, moves to DynamoDB and S3 (ministack), and the migrated system answers the same:
//! records, history, numbers, objections, mail, accounts and downloadable files. A second run
//! writes nothing. Skipped without `CHENGGUO_TEST_AWS_ENDPOINT`.

use chengguo::migrate::{count, migrate};
use chengguo_tests::*;
use http::StatusCode;
use serde_json::{Value, json};

/// A filled, uploaded and submitted 计划外 registration of `leader`.
async fn submitted(leader: &Client<'_>) -> String {
    let id = leader
        .post(
            "/api/registrations",
            json!({
                "kind": "applied", "source": "other_fiscal", "consent": true,
                "project": {"name": "智能制造关键技术研究", "number": "ZS2024-018", "funding": "中山市财政科技经费"}
            }),
        )
        .await
        .expect(StatusCode::CREATED)["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let version = leader.record(&id).await["version"].clone();
    leader
        .patch(
            &format!("/api/registrations/{id}"),
            json!({"version": version, "fields": form("applied")}),
        )
        .await
        .expect(StatusCode::OK);
    for cat in required_categories("applied") {
        leader
            .upload(
                &id,
                cat,
                &format!("{cat}.pdf"),
                "application/pdf",
                &pdf_bytes(cat),
            )
            .await
            .expect(StatusCode::OK);
    }
    leader
        .act(&id, "submit", json!({}))
        .await
        .expect(StatusCode::OK);
    id
}

/// What a user sees of a record, through the API.
async fn seen(app: &TestApp, username: &str, id: &str) -> (Value, Value, Value) {
    let c = app.login(username).await;
    let record = c.record(id).await;
    let history = c
        .get(&format!("/api/registrations/{id}/history"))
        .await
        .expect(StatusCode::OK);
    let attachments = c
        .get(&format!("/api/registrations/{id}/attachments"))
        .await
        .expect(StatusCode::OK);
    (record, history, attachments)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrates_a_data_folder_to_dynamodb_and_s3_and_answers_the_same() {
    if aws_endpoint().is_none() {
        eprintln!("skipped: CHENGGUO_TEST_AWS_ENDPOINT not set");
        return;
    }
    // Given a data folder with the demo organisation and records made through the API: one
    // decided with a number after an objection was resolved, one under review, one draft.
    let src = TestApp::new(Backend::Embedded).await.expect("embedded app");
    let leader = src.login("leader").await;
    let decided = submitted(&leader).await;
    let reviewing = submitted(&leader).await;
    let draft = leader
        .post(
            "/api/registrations",
            json!({"kind": "basic", "source": "other_fiscal", "consent": true,
                   "project": {"name": "基础研究", "number": "ZS2025-001", "funding": "市财政"}}),
        )
        .await
        .expect(StatusCode::CREATED)["id"]
        .as_str()
        .unwrap()
        .to_owned();
    for (who, action) in [
        ("dept", "pass"),
        ("unit", "pass"),
        ("point", "pass"),
        ("point", "receive_paper"),
    ] {
        src.login(who)
            .await
            .act(&decided, action, json!({}))
            .await
            .expect(StatusCode::OK);
    }
    let objection = src
        .anonymous()
        .post(
            "/api/public/objections",
            json!({"registration_id": decided, "name": "陈立新", "unit": "中山大学",
                   "phone": "0760-88123456", "email": "chen@example.org",
                   "content": "请核实第一完成单位的贡献。"}),
        )
        .await
        .expect(StatusCode::CREATED)["id"]
        .as_str()
        .unwrap()
        .to_owned();
    src.advance_days(30);
    let point = src.login("point").await;
    point
        .post(
            &format!("/api/objections/{objection}/resolve"),
            json!({"note": "已核实"}),
        )
        .await
        .expect(StatusCode::OK);
    let number = point
        .act(
            &decided,
            "decide",
            json!({"result": "registered", "opinion": "同意登记"}),
        )
        .await
        .expect(StatusCode::OK)["registration_number"]
        .as_str()
        .unwrap()
        .to_owned();

    // When it is migrated into a fresh table and bucket (its own demo seed left aside).
    let tgt = TestApp::new(Backend::Aws).await.expect("aws app");
    tgt.advance_days(30);
    let endpoint = aws_endpoint().unwrap();
    let (dynamo, s3) = chengguo_aws::setup::client_for_endpoint(&endpoint).await;
    let (table, bucket) = (unique("migrated"), unique("migrated"));
    chengguo_aws::setup::ensure_table(&dynamo, &table)
        .await
        .unwrap();
    chengguo_aws::setup::ensure_bucket(&s3, &bucket)
        .await
        .unwrap();
    let mut target = tgt.state.clone();
    target.store = std::sync::Arc::new(chengguo_aws::dynamo::DynamoStore::new(dynamo, table));
    target.blobs = std::sync::Arc::new(chengguo_aws::s3::S3Blobs::new(s3, bucket));
    let tgt = tgt.with_state(target);

    let report = migrate(&src.state, &tgt.state).await.expect("migrated");
    println!("{report}");
    assert_eq!(report.source, report.target);
    let c = &report.target;
    assert_eq!(c.registrations, 3);
    assert_eq!(c.numbers, 1);
    assert_eq!(c.objections, 1);
    assert!(c.users >= 10 && c.units >= 2 && c.departments >= 1 && c.authorities >= 1);
    assert!(c.events >= 2 + 6 && c.mail_jobs >= 1);
    assert_eq!(c.attachments, 2 * required_categories("applied").len());
    assert_eq!(c.files, c.attachments);

    // Then a second run writes nothing and still counts the same.
    let again = migrate(&src.state, &tgt.state).await.expect("re-run");
    assert_eq!(again.written, 0, "{again}");
    assert_eq!(again.target, report.target);
    assert_eq!(count(&tgt.state).await.unwrap(), report.source);

    // And the migrated system answers as the old one: records, history and files, for the
    // leader and the point, with the same passwords.
    for id in [&decided, &reviewing, &draft] {
        for who in ["leader", "point"] {
            let (r1, h1, a1) = seen(&src, who, id).await;
            let (r2, h2, a2) = seen(&tgt, who, id).await;
            assert_eq!(r1, r2, "{who} sees {id} the same");
            assert_eq!(h1, h2, "history of {id}");
            assert_eq!(a1, a2, "attachments of {id}");
        }
    }
    let point = tgt.login("point").await;
    let rec = point.record(&decided).await;
    assert_eq!(rec["state"], "decided");
    assert_eq!(rec["registration_number"], number.as_str());
    assert_eq!(rec["objections"][0]["resolved"], true);
    // The number stays taken, and numbering goes on after it.
    assert_eq!(
        tgt.state.store.number_holder(&number).await.unwrap(),
        Some(decided.clone())
    );
    let prefix = &number[..8];
    assert_eq!(
        tgt.state.store.max_serial(prefix).await.unwrap(),
        src.state.store.max_serial(prefix).await.unwrap()
    );
    assert!(tgt.state.store.max_serial(prefix).await.unwrap().is_some());
    // Every file downloads from S3 with the bytes it had.
    let attachments = point
        .get(&format!("/api/registrations/{decided}/attachments"))
        .await
        .expect(StatusCode::OK);
    let list = attachments
        .get("attachments")
        .or(attachments.get("items"))
        .and_then(Value::as_array)
        .cloned()
        .or_else(|| attachments.as_array().cloned())
        .expect("a list of attachments");
    assert_eq!(list.len(), required_categories("applied").len());
    for a in list {
        let aid = a["id"].as_str().unwrap();
        let resp = point
            .get(&format!(
                "/api/registrations/{decided}/attachments/{aid}/download"
            ))
            .await;
        assert_eq!(resp.status, StatusCode::FOUND);
        let url = resp.headers[http::header::LOCATION].to_str().unwrap();
        assert!(url.starts_with(&endpoint), "{url}");
        let (status, bytes) = tgt.get_url(url).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(bytes, pdf_bytes(a["category"].as_str().unwrap()));
    }
}
