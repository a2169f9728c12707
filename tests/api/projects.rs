//! In-system projects: import, acceptance outcomes and their effects on registrations.

use chengguo_tests::*;
use http::{Method, StatusCode};
use serde_json::{Value, json};

const PROJECTS_CSV: &str = "项目编号,项目名称,计划类别,项目负责人账号,承担单位\n\
2024B0101001,新型储能材料关键技术研究,广东省重点领域研发计划,leader-nodept,中山市示范科技有限公司\n\
2024B0101002,智慧农业物联网平台研发,广东省科技创新战略专项,leader-nodept,91442000MA4UJ8K30D\n";

async fn import(admin: &Client<'_>, csv: &str) -> Value {
    admin
        .raw(
            Method::POST,
            "/api/projects/import",
            Some(csv.as_bytes().to_vec()),
            Some("text/csv"),
        )
        .await
        .expect(StatusCode::OK)
}

async fn project_id(admin: &Client<'_>, number: &str) -> String {
    let list = admin.get("/api/projects").await.expect(StatusCode::OK);
    list["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["number"] == number)
        .and_then(|p| p["id"].as_str())
        .expect("project listed")
        .to_owned()
}

async fn acceptance(office: &Client<'_>, pid: &str, status: &str) -> Response {
    office
        .post(
            &format!("/api/projects/{pid}/acceptance"),
            json!({"status": status}),
        )
        .await
}

/// The leader fills and submits the system-created draft of a project; returns its id.
async fn fill_and_submit_project_draft(leader: &Client<'_>, project_name: &str) -> String {
    let list = leader
        .get("/api/registrations")
        .await
        .expect(StatusCode::OK);
    let draft = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["title"] == project_name)
        .expect("draft created for the project's leader")
        .clone();
    assert_eq!(draft["state"], "draft");
    assert_eq!(draft["source"], "provincial_plan");
    assert_eq!(draft["kind"], Value::Null);
    let id = draft["id"].as_str().unwrap().to_owned();

    // The kind is chosen once, with consent.
    let v = draft["version"].clone();
    leader
        .post(
            &format!("/api/registrations/{id}/kind"),
            json!({"kind": "soft", "consent": false}),
        )
        .await
        .expect_error(StatusCode::UNPROCESSABLE_ENTITY, "validation");
    leader
        .post(
            &format!("/api/registrations/{id}/kind"),
            json!({"kind": "soft", "consent": true}),
        )
        .await
        .expect(StatusCode::OK);
    leader
        .post(
            &format!("/api/registrations/{id}/kind"),
            json!({"kind": "basic", "consent": true}),
        )
        .await
        .expect_error(StatusCode::CONFLICT, "invalid_state");
    assert_ne!(leader.record(&id).await["version"], v);

    // In-system projects are linked, not entered.
    let mut fields = form("soft");
    fields.as_object_mut().unwrap().remove("project");
    fields["title"] = json!(project_name);
    let version = leader.record(&id).await["version"].clone();
    leader
        .patch(
            &format!("/api/registrations/{id}"),
            json!({"version": version, "fields": fields}),
        )
        .await
        .expect(StatusCode::OK);
    for cat in required_categories("soft") {
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
    let r = leader
        .act(&id, "submit", json!({}))
        .await
        .expect(StatusCode::OK);
    assert_eq!(
        r["state"], "unit_review",
        "a leader without department goes straight to the unit"
    );
    id
}

both_backends!(
    imports_projects_idempotently_and_reports_bad_rows,
    |app: TestApp| async move {
        let admin = app.login("admin").await;
        let report = import(&admin, PROJECTS_CSV).await;
        assert_eq!(report["created"], json!(["2024B0101001", "2024B0101002"]));
        assert_eq!(report["refused"], json!([]));

        let again = import(&admin, PROJECTS_CSV).await;
        assert_eq!(again["created"], json!([]));
        assert_eq!(again["updated"], json!([]));
        assert_eq!(again["unchanged"], json!(["2024B0101001", "2024B0101002"]));

        let bad = "项目编号,项目名称,计划类别,项目负责人账号,承担单位\n\
2024B0101003,好项目,广东省重点领域研发计划,leader-nodept,中山市示范科技有限公司\n\
,没有编号,广东省重点领域研发计划,leader-nodept,中山市示范科技有限公司\n\
2024B0101004,负责人不存在,广东省重点领域研发计划,nobody,中山市示范科技有限公司\n\
2024B0101005,单位不符,广东省重点领域研发计划,leader-b,中山市示范科技有限公司\n\
2024B0101006,单位不存在,广东省重点领域研发计划,leader-nodept,不存在的单位\n";
        let report = import(&admin, bad).await;
        assert_eq!(report["created"], json!(["2024B0101003"]));
        let rows: Vec<u64> = report["refused"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["row"].as_u64().unwrap())
            .collect();
        assert_eq!(rows, vec![3, 4, 5, 6]);
        assert!(
            report["refused"]
                .as_array()
                .unwrap()
                .iter()
                .all(|r| is_chinese(r["reason"].as_str().unwrap()))
        );
        let listed = admin.get("/api/projects").await.expect(StatusCode::OK);
        assert_eq!(
            listed["items"].as_array().unwrap().len(),
            3,
            "bad rows are not imported"
        );

        // Only administrators import; a file without the Chinese header is refused whole.
        let office = app.login("office").await;
        office
            .raw(
                Method::POST,
                "/api/projects/import",
                Some(PROJECTS_CSV.as_bytes().to_vec()),
                Some("text/csv"),
            )
            .await
            .expect_error(StatusCode::FORBIDDEN, "forbidden");
        admin
            .raw(
                Method::POST,
                "/api/projects/import",
                Some(b"a,b\n1,2\n".to_vec()),
                Some("text/csv"),
            )
            .await
            .expect_error(StatusCode::UNPROCESSABLE_ENTITY, "validation");
    }
);

both_backends!(
    returns_to_leader_when_acceptance_fails_at_point_review,
    |app: TestApp| async move {
        let admin = app.login("admin").await;
        import(&admin, PROJECTS_CSV).await;
        let office = app.login("office").await;
        let leader = app.login("leader-nodept").await;
        let unit = app.login("unit").await;
        let point = app.login("point").await;
        let pid = project_id(&admin, "2024B0101001").await;

        // The acceptance document cannot precede the registration.
        acceptance(&office, &pid, "doc_submitted")
            .await
            .expect_error(StatusCode::CONFLICT, "invalid_state");
        let p = acceptance(&office, &pid, "review_completed")
            .await
            .expect(StatusCode::OK);
        assert!(
            p["registration_id"].is_string(),
            "the review creates the draft"
        );
        acceptance(&office, &pid, "doc_submitted")
            .await
            .expect_error(StatusCode::UNPROCESSABLE_ENTITY, "validation");

        let id = fill_and_submit_project_draft(&leader, "新型储能材料关键技术研究").await;
        acceptance(&office, &pid, "doc_submitted")
            .await
            .expect(StatusCode::OK);
        unit.act(&id, "pass", json!({}))
            .await
            .expect(StatusCode::OK);

        // The point may not pass before the project passed acceptance.
        let refused = point.act(&id, "pass", json!({})).await;
        refused.expect_error(StatusCode::UNPROCESSABLE_ENTITY, "validation");

        // Acceptance fails: the registration returns to its leader by itself.
        acceptance(&office, &pid, "failed")
            .await
            .expect(StatusCode::OK);
        let r = leader.record(&id).await;
        assert_eq!(r["state"], "returned");
        assert!(r["return_opinion"].as_str().unwrap().contains("验收不通过"));
        let history = leader
            .get(&format!("/api/registrations/{id}/history"))
            .await
            .expect(StatusCode::OK);
        let last = history["events"]
            .as_array()
            .unwrap()
            .last()
            .unwrap()
            .clone();
        assert_eq!(last["action"], "acceptance_failed");
        assert_eq!(last["from"], "point_review");
        assert_eq!(last["to"], "returned");
        assert_eq!(last["actor"], "system");
        // Failed is final.
        acceptance(&office, &pid, "passed")
            .await
            .expect_error(StatusCode::CONFLICT, "invalid_state");
    }
);

both_backends!(
    lets_the_point_pass_once_acceptance_passed,
    |app: TestApp| async move {
        let admin = app.login("admin").await;
        import(&admin, PROJECTS_CSV).await;
        let office = app.login("office").await;
        let leader = app.login("leader-nodept").await;
        let unit = app.login("unit").await;
        let point = app.login("point").await;
        let pid = project_id(&admin, "2024B0101002").await;

        acceptance(&office, &pid, "review_completed")
            .await
            .expect(StatusCode::OK);
        let id = fill_and_submit_project_draft(&leader, "智慧农业物联网平台研发").await;
        acceptance(&office, &pid, "doc_submitted")
            .await
            .expect(StatusCode::OK);
        let p = acceptance(&office, &pid, "passed")
            .await
            .expect(StatusCode::OK);
        assert_eq!(p["acceptance"], "passed");
        unit.act(&id, "pass", json!({}))
            .await
            .expect(StatusCode::OK);
        let r = point
            .act(&id, "pass", json!({}))
            .await
            .expect(StatusCode::OK);
        assert_eq!(r["state"], "paper_pending");
        assert_eq!(r["project"]["number"], "2024B0101002");

        // Only 业务处室 (and administrators) record acceptance.
        point
            .post(
                &format!("/api/projects/{pid}/acceptance"),
                json!({"status": "failed"}),
            )
            .await
            .expect_error(StatusCode::FORBIDDEN, "forbidden");
    }
);
