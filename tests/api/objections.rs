//! Objections (异议) during the website notice: filed under a real name, seen by staff,
//! blocking a `registered` decision until resolved.

use chengguo_tests::*;
use http::StatusCode;
use serde_json::{Value, json};

use crate::workflow::{submitted_registration, to_decision_pending};

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

async fn announced(app: &TestApp) -> String {
    let leader = app.login("leader").await;
    let id = submitted_registration(&leader, "applied").await;
    to_decision_pending(app, &id).await;
    id
}

both_backends!(
    an_objection_in_the_window_blocks_registration_until_resolved,
    |app: TestApp| async move {
        let id = announced(&app).await;
        let public = app.anonymous();
        let filed = public
            .post("/api/public/objections", objection(&id))
            .await
            .expect(StatusCode::CREATED);
        assert!(is_chinese(filed["message"].as_str().unwrap()));
        let oid = filed["id"].as_str().unwrap().to_owned();

        // The point sees the objector; the leader sees the objection without contact details.
        let point = app.login("point").await;
        let rec = point.record(&id).await;
        assert_eq!(rec["objections"][0]["name"], "陈立新");
        assert_eq!(rec["objections"][0]["phone"], "0760-88123456");
        assert_eq!(rec["objections"][0]["resolved"], false);
        let leader = app.login("leader").await;
        let mine = leader.record(&id).await;
        assert!(
            mine["objections"][0]["content"]
                .as_str()
                .unwrap()
                .contains("技术指标")
        );
        assert!(mine["objections"][0].get("phone").is_none());
        assert!(mine["objections"][0].get("email").is_none());

        // After the notice ends, `registered` is refused while it is open.
        app.advance_days(30);
        let point = app.login("point").await;
        point
            .act(
                &id,
                "decide",
                json!({"result": "registered", "opinion": "同意"}),
            )
            .await
            .expect_error(StatusCode::UNPROCESSABLE_ENTITY, "open_objections");
        assert_eq!(point.record(&id).await["state"], "decision_pending");

        // Only the point in scope resolves it, once, with a note.
        let unit = app.login("unit").await;
        unit.post(
            &format!("/api/objections/{oid}/resolve"),
            json!({"note": "已核实"}),
        )
        .await
        .expect_error(StatusCode::FORBIDDEN, "forbidden");
        let unit_b = app.login("unit-b").await;
        unit_b
            .post(
                &format!("/api/objections/{oid}/resolve"),
                json!({"note": "已核实"}),
            )
            .await
            .expect_error(StatusCode::NOT_FOUND, "not_found");
        point
            .post(
                &format!("/api/objections/{oid}/resolve"),
                json!({"note": ""}),
            )
            .await
            .expect_error(StatusCode::UNPROCESSABLE_ENTITY, "validation");
        let resolved = point
            .post(
                &format!("/api/objections/{oid}/resolve"),
                json!({"note": "经核实，数据来源于双方合作项目，异议不成立。"}),
            )
            .await
            .expect(StatusCode::OK);
        assert_eq!(resolved["resolved"], true);
        assert_eq!(resolved["resolved_by"], "point");
        point
            .post(
                &format!("/api/objections/{oid}/resolve"),
                json!({"note": "再次处理"}),
            )
            .await
            .expect_error(StatusCode::CONFLICT, "invalid_state");

        let decided = point
            .act(
                &id,
                "decide",
                json!({"result": "registered", "opinion": "同意登记"}),
            )
            .await
            .expect(StatusCode::OK);
        assert_eq!(decided["state"], "decided");
    }
);

both_backends!(
    objections_outside_the_window_or_without_a_real_name_are_refused,
    |app: TestApp| async move {
        let public = app.anonymous();

        // Never announced: the public cannot see it.
        let leader = app.login("leader").await;
        let draft = submitted_registration(&leader, "soft").await;
        public
            .post("/api/public/objections", objection(&draft))
            .await
            .expect_error(StatusCode::NOT_FOUND, "not_found");
        public
            .post("/api/public/objections", objection("no-such-record"))
            .await
            .expect_error(StatusCode::NOT_FOUND, "not_found");

        let id = announced(&app).await;
        // Anonymous or incomplete: refused, nothing stored.
        for (field, value) in [
            ("name", json!("匿名")),
            ("name", json!("")),
            ("phone", json!("12")),
            ("email", json!("not-an-email")),
            ("content", json!("不同意")),
            ("unit", json!("")),
        ] {
            let mut body = objection(&id);
            body[field] = value;
            let r = public.post("/api/public/objections", body).await;
            let v = r.expect_error(StatusCode::UNPROCESSABLE_ENTITY, "validation");
            assert_eq!(v["error"]["details"][0]["field"], field, "{v}");
        }
        let mut missing = objection(&id);
        missing.as_object_mut().unwrap().remove("name");
        public
            .post("/api/public/objections", missing)
            .await
            .expect_error(StatusCode::BAD_REQUEST, "bad_request");
        let point = app.login("point").await;
        assert_eq!(point.record(&id).await["objections"], json!([]));

        // The last day of the notice is inside; the day after is not.
        app.advance_days(29);
        public
            .post("/api/public/objections", objection(&id))
            .await
            .expect(StatusCode::CREATED);
        app.advance_days(1);
        let late = public
            .post("/api/public/objections", objection(&id))
            .await
            .expect_error(StatusCode::CONFLICT, "invalid_state");
        assert!(
            late["error"]["message"]
                .as_str()
                .unwrap()
                .contains("公示期")
        );
        let point = app.login("point").await;
        assert_eq!(
            point.record(&id).await["objections"]
                .as_array()
                .unwrap()
                .len(),
            1
        );
    }
);

both_backends!(
    one_address_may_file_only_a_few_objections_an_hour,
    |app: TestApp| async move {
        let id = announced(&app).await;
        let public = app.anonymous();
        for _ in 0..5 {
            public
                .post("/api/public/objections", objection(&id))
                .await
                .expect(StatusCode::CREATED);
        }
        let limited = public.post("/api/public/objections", objection(&id)).await;
        limited.expect_error(StatusCode::TOO_MANY_REQUESTS, "rate_limited");
        // START is on the hour: the window ends an hour later.
        assert_eq!(limited.headers["retry-after"], "3600");
        app.clock.advance(time::Duration::hours(1));
        public
            .post("/api/public/objections", objection(&id))
            .await
            .expect(StatusCode::CREATED);
    }
);
