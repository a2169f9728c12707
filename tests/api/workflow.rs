//! The whole workflow of the source document through the HTTP API.

use chengguo_tests::*;
use http::StatusCode;
use serde_json::{Value, json};

async fn create_other_fiscal(leader: &Client<'_>, kind: &str) -> String {
    let created = leader
        .post(
            "/api/registrations",
            json!({
                "kind": kind, "source": "other_fiscal", "consent": true,
                "project": {"name": "智能制造关键技术研究", "number": "ZS2024-018", "funding": "中山市财政科技经费"}
            }),
        )
        .await
        .expect(StatusCode::CREATED);
    assert_eq!(created["state"], "draft");
    assert_eq!(created["kind"], kind);
    created["id"].as_str().expect("id").to_owned()
}

async fn fill(leader: &Client<'_>, id: &str, kind: &str) -> Value {
    let version = leader.record(id).await["version"].clone();
    leader
        .patch(
            &format!("/api/registrations/{id}"),
            json!({"version": version, "fields": form(kind)}),
        )
        .await
        .expect(StatusCode::OK)
}

async fn upload_all(leader: &Client<'_>, id: &str, kind: &str) {
    for cat in required_categories(kind) {
        let a = leader
            .upload(
                id,
                cat,
                &format!("{cat}.pdf"),
                "application/pdf",
                &pdf_bytes(cat),
            )
            .await
            .expect(StatusCode::OK);
        assert_eq!(a["status"], "ready", "{cat}");
        assert_eq!(a["sha256"].as_str().map(str::len), Some(64));
    }
}

/// Fills, uploads and submits a new 计划外 registration of `leader`; returns its id.
pub async fn submitted_registration(leader: &Client<'_>, kind: &str) -> String {
    let id = create_other_fiscal(leader, kind).await;
    fill(leader, &id, kind).await;
    upload_all(leader, &id, kind).await;
    leader
        .act(&id, "submit", json!({}))
        .await
        .expect(StatusCode::OK);
    id
}

/// Moves a submitted record of `leader` (in `dept`) to `decision_pending` with paper received.
pub async fn to_decision_pending(app: &TestApp, id: &str) {
    let dept = app.login("dept").await;
    let unit = app.login("unit").await;
    let point = app.login("point").await;
    if dept.record(id).await["state"] == "dept_review" {
        dept.act(id, "pass", json!({})).await.expect(StatusCode::OK);
    }
    unit.act(id, "pass", json!({})).await.expect(StatusCode::OK);
    point
        .act(id, "pass", json!({}))
        .await
        .expect(StatusCode::OK);
    point
        .act(id, "receive_paper", json!({}))
        .await
        .expect(StatusCode::OK);
}

both_backends!(
    runs_the_whole_workflow_of_the_source_document,
    |app: TestApp| async move {
        let leader = app.login("leader").await;
        let dept = app.login("dept").await;
        let unit = app.login("unit").await;
        let point = app.login("point").await;

        // 计划外 creation with kind and consent.
        let id = create_other_fiscal(&leader, "applied").await;

        // The check lists every problem at once.
        let check = leader
            .get(&format!("/api/registrations/{id}/check"))
            .await
            .expect(StatusCode::OK);
        assert_eq!(check["ok"], false);
        let fields: Vec<&str> = check["problems"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["field"].as_str().unwrap())
            .collect();
        for f in [
            "title",
            "completers",
            "summary",
            "contact",
            "applied",
            "materials.tech_report",
        ] {
            assert!(fields.contains(&f), "check should list {f}: {fields:?}");
        }
        assert!(
            check["problems"]
                .as_array()
                .unwrap()
                .iter()
                .all(|p| is_chinese(p["message"].as_str().unwrap()))
        );

        // Submitting now is refused with the same problems.
        let refused = leader.act(&id, "submit", json!({})).await;
        let body = refused.expect_error(StatusCode::UNPROCESSABLE_ENTITY, "validation");
        assert_eq!(
            body["error"]["details"].as_array().unwrap().len(),
            check["problems"].as_array().unwrap().len()
        );

        // Fill the form and upload every required material.
        fill(&leader, &id, "applied").await;
        upload_all(&leader, &id, "applied").await;
        let check = leader
            .get(&format!("/api/registrations/{id}/check"))
            .await
            .expect(StatusCode::OK);
        assert_eq!(check["ok"], true, "{check}");

        // Submit via the department; the department passes.
        let r = leader
            .act(&id, "submit", json!({}))
            .await
            .expect(StatusCode::OK);
        assert_eq!(r["state"], "dept_review");
        assert_eq!(r["allowed_actions"], json!([]));
        assert_eq!(
            dept.record(&id).await["allowed_actions"],
            json!(["pass", "return"])
        );
        let r = dept
            .act(&id, "pass", json!({"opinion": "同意"}))
            .await
            .expect(StatusCode::OK);
        assert_eq!(r["state"], "unit_review");

        // The unit returns with an opinion; the leader sees it, edits and resubmits.
        let r = unit.act(&id, "return", json!({})).await;
        r.expect_error(StatusCode::UNPROCESSABLE_ENTITY, "validation");
        let r = unit
            .act(&id, "return", json!({"opinion": "请补充经济效益说明"}))
            .await
            .expect(StatusCode::OK);
        assert_eq!(r["state"], "returned");
        let mine = leader.record(&id).await;
        assert_eq!(mine["return_opinion"], "请补充经济效益说明");
        assert_eq!(mine["editable"], true);
        let v = mine["version"].clone();
        leader
            .patch(
                &format!("/api/registrations/{id}"),
                json!({"version": v, "fields": {"title": "高精度伺服驱动控制技术及产业化应用"}}),
            )
            .await
            .expect(StatusCode::OK);
        let r = leader
            .act(&id, "submit", json!({}))
            .await
            .expect(StatusCode::OK);
        assert_eq!(r["state"], "dept_review");
        assert_eq!(r["return_opinion"], Value::Null);

        // Through department, unit and point.
        dept.act(&id, "pass", json!({}))
            .await
            .expect(StatusCode::OK);
        unit.act(&id, "pass", json!({}))
            .await
            .expect(StatusCode::OK);
        let r = point
            .act(&id, "pass", json!({}))
            .await
            .expect(StatusCode::OK);
        assert_eq!(r["state"], "paper_pending");

        // Returned at the paper stage, resubmitted, and back to paper_pending.
        let r = point
            .act(&id, "return", json!({"opinion": "纸质材料缺少单位盖章"}))
            .await
            .expect(StatusCode::OK);
        assert_eq!(r["state"], "returned");
        leader
            .act(&id, "submit", json!({}))
            .await
            .expect(StatusCode::OK);
        dept.act(&id, "pass", json!({}))
            .await
            .expect(StatusCode::OK);
        unit.act(&id, "pass", json!({}))
            .await
            .expect(StatusCode::OK);
        point
            .act(&id, "pass", json!({}))
            .await
            .expect(StatusCode::OK);

        // Paper received: both notice windows open today.
        let r = point
            .act(&id, "receive_paper", json!({}))
            .await
            .expect(StatusCode::OK);
        assert_eq!(r["state"], "decision_pending");
        assert_eq!(r["notice"]["paper_received_on"], "2026-11-28");
        assert_eq!(r["notice"]["unit_to"], "2026-12-04");
        assert_eq!(r["notice"]["website_to"], "2026-12-27");

        // Deciding `registered` before the website notice ends is refused.
        point
            .act(
                &id,
                "decide",
                json!({"result": "registered", "opinion": "同意登记"}),
            )
            .await
            .expect_error(StatusCode::UNPROCESSABLE_ENTITY, "notice_open");

        // After 30 days: decide with the proposed number.
        app.advance_days(30);
        // Sessions last hours, not a month: everyone logs in again.
        let point = app.login("point").await;
        let leader = app.login("leader").await;
        let proposed = point
            .get(&format!("/api/registrations/{id}/next-number"))
            .await
            .expect(StatusCode::OK);
        assert_eq!(proposed["number"], "4422026Y0001");
        let r = point
            .act(
                &id,
                "decide",
                json!({"result": "registered", "opinion": "予以登记"}),
            )
            .await
            .expect(StatusCode::OK);
        assert_eq!(r["state"], "decided");
        assert_eq!(r["registration_number"], "4422026Y0001");
        assert_eq!(r["decision"]["result"], "registered");
        assert_eq!(
            point.record(&id).await["allowed_actions"],
            json!(["reopen"])
        );

        // Reopen needs an evidence file.
        point
            .act(&id, "reopen", json!({"opinion": "登记信息有误"}))
            .await
            .expect_error(StatusCode::UNPROCESSABLE_ENTITY, "validation");
        let evidence = point
            .upload(
                &id,
                "reopen_evidence",
                "佐证材料.pdf",
                "application/pdf",
                &pdf_bytes("evidence"),
            )
            .await
            .expect(StatusCode::OK);
        let r = point
            .act(
                &id,
                "reopen",
                json!({"opinion": "登记信息有误", "evidence_attachment_id": evidence["id"]}),
            )
            .await
            .expect(StatusCode::OK);
        assert_eq!(r["state"], "decision_pending");
        assert_eq!(
            r["registration_number"], "4422026Y0001",
            "the number is kept on reopen"
        );
        assert_eq!(r["decision"], Value::Null);

        // Decide again with the same number.
        let r = point
        .act(&id, "decide", json!({"result": "registered", "opinion": "更正后予以登记", "number": "4422026Y0001"}))
        .await
        .expect(StatusCode::OK);
        assert_eq!(r["state"], "decided");
        assert_eq!(r["registration_number"], "4422026Y0001");

        // The leader tracks it all: the number on the record and the whole history.
        let mine = leader.record(&id).await;
        assert_eq!(mine["registration_number"], "4422026Y0001");
        let history = leader
            .get(&format!("/api/registrations/{id}/history"))
            .await
            .expect(StatusCode::OK);
        let steps: Vec<(String, String)> = history["events"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| {
                (
                    e["action"].as_str().unwrap().to_owned(),
                    e["to"].as_str().unwrap().to_owned(),
                )
            })
            .collect();
        let expected = [
            ("create", "draft"),
            ("submit", "dept_review"),
            ("pass", "unit_review"),
            ("return", "returned"),
            ("submit", "dept_review"),
            ("pass", "unit_review"),
            ("pass", "point_review"),
            ("pass", "paper_pending"),
            ("return", "returned"),
            ("submit", "dept_review"),
            ("pass", "unit_review"),
            ("pass", "point_review"),
            ("pass", "paper_pending"),
            ("receive_paper", "decision_pending"),
            ("decide", "decided"),
            ("reopen", "decision_pending"),
            ("decide", "decided"),
        ];
        let expected: Vec<(String, String)> = expected
            .iter()
            .map(|(a, t)| (a.to_string(), t.to_string()))
            .collect();
        assert_eq!(steps, expected);
        let seqs: Vec<u64> = history["events"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["seq"].as_u64().unwrap())
            .collect();
        assert_eq!(seqs, (1..=expected.len() as u64).collect::<Vec<_>>());
        let ret = &history["events"][3];
        assert_eq!(ret["actor"], "unit");
        assert_eq!(ret["role"], "unit");
        assert_eq!(ret["opinion"], "请补充经济效益说明");
        // Created at 1; the fill and the title edit, and 16 actions, each add one; uploads do not.
        assert_eq!(mine["version"].as_u64().unwrap(), 1 + 2 + 16);
    }
);
