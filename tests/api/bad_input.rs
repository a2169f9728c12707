//! Requests that are malformed, too large, or carry values the form refuses: each gets its
//! status, code and Chinese message, and nothing stored changes.

use chengguo_tests::*;
use http::{Method, StatusCode};
use serde_json::{Value, json};

use crate::workflow::{submitted_registration, to_decision_pending};

/// Creates a 计划外 registration of `kind` from `source` and fills it with the fixture form;
/// returns its id.
async fn filled(leader: &Client<'_>, kind: &str, source: &str) -> String {
    let created = leader
        .post(
            "/api/registrations",
            json!({"kind": kind, "source": source, "consent": true}),
        )
        .await
        .expect(StatusCode::CREATED);
    let id = created["id"].as_str().expect("id").to_owned();
    let mut fields = form(kind);
    if source == "non_fiscal" {
        fields["evaluation"]["method"] = json!("third_party");
    }
    leader
        .patch(
            &format!("/api/registrations/{id}"),
            json!({"version": created["version"], "fields": fields}),
        )
        .await
        .expect(StatusCode::OK);
    id
}

/// The stored state a refusal must leave alone: version, state, fields, attachments, history.
async fn snapshot(owner: &Client<'_>, id: &str) -> Value {
    let r = owner.record(id).await;
    let history = owner
        .get(&format!("/api/registrations/{id}/history"))
        .await
        .expect(StatusCode::OK);
    json!({
        "version": r["version"], "state": r["state"], "fields": r["fields"],
        "attachments": r["attachments"], "registration_number": r["registration_number"],
        "decision": r["decision"], "history": history["events"],
    })
}

/// The ids the leader lists.
async fn my_ids(leader: &Client<'_>) -> Vec<String> {
    leader
        .get("/api/registrations?limit=100")
        .await
        .expect(StatusCode::OK)["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|i| i["id"].as_str().expect("id").to_owned())
        .collect()
}

/// A valid USCC built from 17 characters.
fn uscc(first17: &str) -> String {
    format!(
        "{first17}{}",
        chengguo_domain::uscc::check_char(first17).expect("valid characters")
    )
}

both_backends!(
    malformed_json_and_missing_content_type_are_bad_requests,
    |app: TestApp| async move {
        let leader = app.login("leader").await;
        let id = filled(&leader, "applied", "other_fiscal").await;
        let before = snapshot(&leader, &id).await;
        let ids = my_ids(&leader).await;
        let path = format!("/api/registrations/{id}");
        let json_ct = Some("application/json");

        for (method, p) in [
            (Method::POST, "/api/registrations".to_owned()),
            (Method::PATCH, path.clone()),
            (Method::POST, format!("{path}/actions/submit")),
            (Method::POST, format!("{path}/attachments")),
        ] {
            for body in [
                &b"{\"kind\": "[..],
                b"not json",
                b"",
                b"{\"version\": 1,}",
                b"[1, 2",
            ] {
                let r = leader
                    .raw(method.clone(), &p, Some(body.to_vec()), json_ct)
                    .await;
                r.expect_error(StatusCode::BAD_REQUEST, "bad_request");
            }
        }

        // A JSON body without Content-Type: application/json.
        let body = serde_json::to_vec(
            &json!({"version": before["version"], "fields": {"title": "无类型"}}),
        )
        .unwrap();
        for ct in [
            None,
            Some("text/plain"),
            Some("application/x-www-form-urlencoded"),
        ] {
            leader
                .raw(Method::PATCH, &path, Some(body.clone()), ct)
                .await
                .expect_error(StatusCode::BAD_REQUEST, "bad_request");
        }
        let create =
            serde_json::to_vec(&json!({"kind": "basic", "source": "non_fiscal", "consent": true}))
                .unwrap();
        leader
            .raw(
                Method::POST,
                "/api/registrations",
                Some(create.clone()),
                None,
            )
            .await
            .expect_error(StatusCode::BAD_REQUEST, "bad_request");

        assert_eq!(snapshot(&leader, &id).await, before);
        assert_eq!(my_ids(&leader).await, ids, "no registration was created");

        // With a charset it is still JSON.
        leader
            .raw(
                Method::POST,
                "/api/registrations",
                Some(create),
                Some("application/json; charset=utf-8"),
            )
            .await
            .expect(StatusCode::CREATED);
    }
);

both_backends!(
    unknown_fields_and_wrong_types_are_bad_requests,
    |app: TestApp| async move {
        let leader = app.login("leader").await;
        let id = filled(&leader, "applied", "other_fiscal").await;
        let before = snapshot(&leader, &id).await;
        let ids = my_ids(&leader).await;
        let v = before["version"].clone();
        let path = format!("/api/registrations/{id}");

        // Unknown top-level fields of create, patch and action bodies.
        let r = leader
        .post(
            "/api/registrations",
            json!({"kind": "applied", "source": "other_fiscal", "consent": true, "state": "decided"}),
        )
        .await;
        let e = r.expect_error(StatusCode::BAD_REQUEST, "bad_request");
        assert!(
            e["error"]["message"].as_str().unwrap().contains("state"),
            "{e}"
        );
        let e = leader
            .patch(
                &path,
                json!({"version": v, "fields": {"title": "新名称"}, "state": "decided"}),
            )
            .await
            .expect_error(StatusCode::BAD_REQUEST, "bad_request");
        assert!(
            e["error"]["message"].as_str().unwrap().contains("state"),
            "{e}"
        );
        leader
            .post(
                &format!("{path}/actions/submit"),
                json!({"version": v, "force": true}),
            )
            .await
            .expect_error(StatusCode::BAD_REQUEST, "bad_request");
        leader
        .post(
            &format!("{path}/attachments"),
            json!({"category": "tech_report", "filename": "a.pdf", "content_type": "application/pdf", "size": 10, "key": "att/x"}),
        )
        .await
        .expect_error(StatusCode::BAD_REQUEST, "bad_request");

        // Unknown keys inside `fields`, at the top and deeper; the details name the top-level key.
        for (fields, key) in [
            (json!({"nonsense": 1}), "nonsense"),
            (
                json!({"registration_number": "4422026Y0001"}),
                "registration_number",
            ),
            (
                json!({"contact": {"name": "陈志强", "phone": "13800138000"}}),
                "contact",
            ),
            (
                json!({"units": [{"name": "某单位", "uscc": "91442000MA4UJ8K30D", "legal": true}]}),
                "units",
            ),
            (
                json!({"applied": {"benefits": {"output": 1, "profit": 1, "tax": 1, "jobs": 5}}}),
                "applied",
            ),
        ] {
            let e = leader
                .patch(&path, json!({"version": v, "fields": fields}))
                .await
                .expect_error(StatusCode::BAD_REQUEST, "bad_request");
            assert_eq!(e["error"]["details"][0]["field"], key, "{e}");
        }

        // Wrong types.
        leader
            .patch(
                &path,
                json!({"version": v.to_string(), "fields": {"title": "新名称"}}),
            )
            .await
            .expect_error(StatusCode::BAD_REQUEST, "bad_request");
        leader
            .patch(&path, json!({"version": -1, "fields": {}}))
            .await
            .expect_error(StatusCode::BAD_REQUEST, "bad_request");
        leader
            .patch(&path, json!({"version": v, "fields": ["title"]}))
            .await
            .expect_error(StatusCode::BAD_REQUEST, "bad_request");
        leader
            .patch(&path, json!({"fields": {"title": "缺少版本"}}))
            .await
            .expect_error(StatusCode::BAD_REQUEST, "bad_request");
        for (fields, key) in [
            (json!({"title": 12345}), "title"),
            (json!({"keywords": "机器视觉"}), "keywords"),
            (json!({"units": {"name": "某单位"}}), "units"),
            (json!({"contract_has_lists": "yes"}), "contract_has_lists"),
            (
                json!({"applied": {"benefits": {"output": "很多"}}}),
                "applied",
            ),
            (
                json!({"applied": {"ip": {"invention_patents": -1}}}),
                "applied",
            ),
            (json!({"completers": [{"name": 7}]}), "completers"),
        ] {
            let e = leader
                .patch(&path, json!({"version": v, "fields": fields}))
                .await
                .expect_error(StatusCode::BAD_REQUEST, "bad_request");
            assert_eq!(e["error"]["details"][0]["field"], key, "{e}");
        }
        leader
            .post(&format!("{path}/actions/submit"), json!({"version": "1"}))
            .await
            .expect_error(StatusCode::BAD_REQUEST, "bad_request");
        leader
            .post(
                &format!("{path}/actions/submit"),
                json!({"version": v, "opinion": 5}),
            )
            .await
            .expect_error(StatusCode::BAD_REQUEST, "bad_request");
        leader
            .post(
                "/api/registrations",
                json!({"kind": "applied", "source": "other_fiscal", "consent": "yes"}),
            )
            .await
            .expect_error(StatusCode::BAD_REQUEST, "bad_request");
        leader
            .announce(&id, "tech_report", "a.pdf", "application/pdf", 0)
            .await
            .expect_error(StatusCode::UNPROCESSABLE_ENTITY, "validation");
        leader
        .post(
            &format!("{path}/attachments"),
            json!({"category": "tech_report", "filename": "a.pdf", "content_type": "application/pdf", "size": "10"}),
        )
        .await
        .expect_error(StatusCode::BAD_REQUEST, "bad_request");

        assert_eq!(snapshot(&leader, &id).await, before);
        assert_eq!(my_ids(&leader).await, ids, "no registration was created");
    }
);

both_backends!(
    a_json_body_over_one_megabyte_is_too_large,
    |app: TestApp| async move {
        let leader = app.login("leader").await;
        let id = filled(&leader, "applied", "other_fiscal").await;
        let before = snapshot(&leader, &id).await;
        let ids = my_ids(&leader).await;
        let big = "字".repeat(400_000); // 1.2 MB of UTF-8
        let r = leader
            .patch(
                &format!("/api/registrations/{id}"),
                json!({"version": before["version"], "fields": {"summary": big}}),
            )
            .await;
        r.expect_error(StatusCode::PAYLOAD_TOO_LARGE, "too_large");
        let r = leader
        .post(
            "/api/registrations",
            json!({"kind": "applied", "source": "other_fiscal", "consent": true, "project": {"name": big}}),
        )
        .await;
        r.expect_error(StatusCode::PAYLOAD_TOO_LARGE, "too_large");
        let r = leader
            .post(
                &format!("/api/registrations/{id}/actions/submit"),
                json!({"version": before["version"], "opinion": big}),
            )
            .await;
        r.expect_error(StatusCode::PAYLOAD_TOO_LARGE, "too_large");
        assert_eq!(snapshot(&leader, &id).await, before);
        assert_eq!(my_ids(&leader).await, ids);
    }
);

/// A bad value for one top-level key, and the field the refusal must name first.
struct Case {
    key: &'static str,
    value: Value,
    field: &'static str,
}

fn case(key: &'static str, value: Value, field: &'static str) -> Case {
    Case { key, value, field }
}

/// Applies each case as a PATCH of one key: 422 `validation`, `details[0].field` as expected,
/// a Chinese message, and the record unchanged.
async fn refuses_each(leader: &Client<'_>, id: &str, cases: Vec<Case>) {
    let before = snapshot(leader, id).await;
    for c in cases {
        let r = leader
            .patch(
                &format!("/api/registrations/{id}"),
                json!({"version": before["version"], "fields": {c.key: c.value.clone()}}),
            )
            .await;
        assert_eq!(
            r.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{} = {}: {}",
            c.key,
            c.value,
            r.text()
        );
        let e = r.expect_error(StatusCode::UNPROCESSABLE_ENTITY, "validation");
        let details = e["error"]["details"].as_array().expect("details");
        assert_eq!(details[0]["field"], c.field, "{} = {}: {e}", c.key, c.value);
        assert!(
            details
                .iter()
                .all(|d| is_chinese(d["message"].as_str().unwrap_or(""))),
            "{e}"
        );
        assert_eq!(
            snapshot(leader, id).await,
            before,
            "{} = {} changed the record",
            c.key,
            c.value
        );
    }
}

both_backends!(
    every_common_field_rule_refuses_a_patch_naming_the_field,
    |app: TestApp| async move {
        let leader = app.login("leader").await;
        let id = filled(&leader, "applied", "other_fiscal").await;
        let f = form("applied");
        let with = |key: &str, path: &[&str], v: Value| {
            let mut x = f[key].clone();
            let mut at = &mut x;
            for p in path {
                at = &mut at[*p];
            }
            *at = v;
            x
        };
        let beijing = uscc("91110000MA4UJ8K30");
        let unit2 = f["units"][1].clone();
        let completer = |k: &str, v: Value| {
            let mut c = f["completers"].clone();
            c[0][k] = v;
            c
        };
        let cases = vec![
            case("title", json!("成".repeat(101)), "title"),
            case("title", json!("含有响铃\u{7}字符的名称"), "title"),
            case(
                "project",
                json!({"name": "项".repeat(201), "funding": "财政"}),
                "project.name",
            ),
            case(
                "project",
                json!({"name": "项目", "funding": "财政", "number": "号".repeat(51)}),
                "project.number",
            ),
            case("authority_id", json!("beijing-kjj"), "authority_id"),
            case(
                "units",
                json!([{"name": "某公司", "uscc": "91442000MA4UJ8K30X"}]),
                "units[0].uscc",
            ),
            case(
                "units",
                json!([{"name": "某公司", "uscc": "91442000MA4UJ8K3"}]),
                "units[0].uscc",
            ),
            case(
                "units",
                json!([{"name": "某公司", "uscc": "91442000MA4UJ8K3OD"}]),
                "units[0].uscc",
            ),
            case(
                "units",
                json!([{"name": "北京某公司", "uscc": beijing}, unit2]),
                "units[0].uscc",
            ),
            case(
                "units",
                json!([f["units"][0], {"name": "某研究院", "uscc": "12442000MB2C07820A"}]),
                "units[1].uscc",
            ),
            case(
                "units",
                json!([{"name": "名".repeat(201), "uscc": "91442000MA4UJ8K30D"}]),
                "units[0].name",
            ),
            case(
                "completers",
                completer("gender", json!("other")),
                "completers[0].gender",
            ),
            case(
                "completers",
                completer("contribution", json!("贡".repeat(2001))),
                "completers[0].contribution",
            ),
            case("research_start", json!("2026-01"), "research_start"),
            case("research_start", json!("2024/06"), "research_start"),
            case("research_start", json!("2024-13"), "research_start"),
            case("research_end", json!("2026-12"), "research_end"),
            case("research_end", json!("2024-+6"), "research_end"),
            case("recommender", json!("推".repeat(201)), "recommender"),
            case("secrecy", json!("secret"), "secrecy"),
            case("secrecy", json!("confidential"), "secrecy"),
            case("keywords", json!(["一", "二", "三", "四"]), "keywords"),
            case("keywords", json!(["   "]), "keywords[0]"),
            case("keywords", json!(["词".repeat(31)]), "keywords[0]"),
            case(
                "discipline",
                json!({"code": "52A", "name": "计算机科学技术"}),
                "discipline.code",
            ),
            case(
                "discipline",
                json!({"code": "5201", "name": "计算机科学技术"}),
                "discipline.code",
            ),
            case("summary", json!("简".repeat(2001)), "summary"),
            case("level", json!("world_class"), "level"),
            case("level", json!("国内领先"), "level"),
            case(
                "evaluation",
                with("evaluation", &["method"], json!("academic_committee")),
                "evaluation.method",
            ),
            case(
                "evaluation",
                with("evaluation", &["method"], json!("third_party_review")),
                "evaluation.method",
            ),
            case(
                "evaluation",
                with("evaluation", &["method"], json!("peer_review")),
                "evaluation.method",
            ),
            // other_fiscal must have passed acceptance.
            case(
                "evaluation",
                with("evaluation", &["method"], json!("appraisal")),
                "evaluation.method",
            ),
            case(
                "evaluation",
                with("evaluation", &["date"], json!("2026-11-29")),
                "evaluation.date",
            ),
            case(
                "evaluation",
                with("evaluation", &["date"], json!("2026-02-30")),
                "evaluation.date",
            ),
            case(
                "contact",
                with("contact", &["mobile"], json!("12345")),
                "contact.mobile",
            ),
            case(
                "contact",
                with("contact", &["mobile"], json!("12800138000")),
                "contact.mobile",
            ),
            case(
                "contact",
                with("contact", &["mobile"], json!("1380013800a")),
                "contact.mobile",
            ),
            case(
                "contact",
                with("contact", &["email"], json!("not-an-email")),
                "contact.email",
            ),
            case(
                "contact",
                with("contact", &["email"], json!("a@b")),
                "contact.email",
            ),
            case(
                "contact",
                with("contact", &["email"], json!("a b@example.com")),
                "contact.email",
            ),
            case(
                "applied",
                with("applied", &["benefits", "output"], json!(-1)),
                "applied.benefits.output",
            ),
            case(
                "applied",
                with("applied", &["benefits", "tax"], json!(-0.5)),
                "applied.benefits.tax",
            ),
            case(
                "applied",
                with("applied", &["attribute"], json!("stolen")),
                "applied.attribute",
            ),
            case(
                "applied",
                with("applied", &["stage"], json!("late")),
                "applied.stage",
            ),
            case(
                "applied",
                with("applied", &["industry_code"], json!("Z99")),
                "applied.industry_code",
            ),
            case(
                "applied",
                with("applied", &["industry_code"], json!("C38721")),
                "applied.industry_code",
            ),
            // Another kind's section does not belong on an 应用技术成果.
            case("basic", json!({"form": "paper"}), "basic"),
            case("soft", json!({"form": "report"}), "soft"),
        ];
        refuses_each(&leader, &id, cases).await;

        // The same values are fine where the rule does not apply: a second unit outside Guangdong.
        let v = leader.record(&id).await["version"].clone();
        leader
        .patch(
            &format!("/api/registrations/{id}"),
            json!({"version": v, "fields": {"units": [f["units"][0], {"name": "北京某公司", "uscc": beijing}]}}),
        )
        .await
        .expect(StatusCode::OK);
    }
);

both_backends!(
    kind_and_source_specific_rules_refuse_a_patch_naming_the_field,
    |app: TestApp| async move {
        let leader = app.login("leader").await;

        // non_fiscal: a third-party evaluation and a Guangdong first unit.
        let id = filled(&leader, "applied", "non_fiscal").await;
        let f = form("applied");
        let mut acceptance = f["evaluation"].clone();
        acceptance["method"] = json!("acceptance");
        let beijing = uscc("91110000MA4UJ8K30");
        refuses_each(
            &leader,
            &id,
            vec![
                case("evaluation", acceptance, "evaluation.method"),
                case(
                    "units",
                    json!([{"name": "北京某公司", "uscc": beijing}]),
                    "units[0].uscc",
                ),
            ],
        )
        .await;

        // basic.
        let id = filled(&leader, "basic", "other_fiscal").await;
        let f = form("basic");
        let basic = |k: &str, v: Value| {
            let mut b = f["basic"].clone();
            b[k] = v;
            b
        };
        let mut paper = f["basic"].clone();
        paper["papers"][0]["year"] = json!(1800);
        let mut future = f["basic"].clone();
        future["papers"][0]["year"] = json!(2027);
        let mut third_party = f["evaluation"].clone();
        third_party["method"] = json!("third_party");
        refuses_each(
            &leader,
            &id,
            vec![
                case("basic", basic("form", json!("video")), "basic.form"),
                case("basic", paper, "basic.papers[0].year"),
                case("basic", future, "basic.papers[0].year"),
                case("evaluation", third_party, "evaluation.method"),
                case("applied", form("applied")["applied"].clone(), "applied"),
            ],
        )
        .await;

        // soft.
        let id = filled(&leader, "soft", "other_fiscal").await;
        let f = form("soft");
        let mut soft = f["soft"].clone();
        soft["form"] = json!("video");
        let mut long = f["soft"].clone();
        long["social_benefit"] = json!("益".repeat(2001));
        let mut appraisal = f["evaluation"].clone();
        appraisal["method"] = json!("appraisal");
        refuses_each(
            &leader,
            &id,
            vec![
                case("soft", soft, "soft.form"),
                case("soft", long, "soft.social_benefit"),
                case("evaluation", appraisal, "evaluation.method"),
            ],
        )
        .await;
    }
);

both_backends!(
    creating_needs_a_known_kind_a_voluntary_source_and_consent,
    |app: TestApp| async move {
        let leader = app.login("leader").await;
        let ids = my_ids(&leader).await;
        for (body, field) in [
            (
                json!({"kind": "applied", "source": "provincial_plan", "consent": true}),
                "source",
            ),
            (
                json!({"kind": "applied", "source": "foreign_aid", "consent": true}),
                "source",
            ),
            (
                json!({"kind": "applied", "source": "other_fiscal", "consent": false}),
                "consent",
            ),
            (
                json!({"kind": "applied", "source": "other_fiscal"}),
                "consent",
            ),
            (
                json!({"kind": "theory", "source": "other_fiscal", "consent": true}),
                "kind",
            ),
            (
                json!({"kind": "", "source": "other_fiscal", "consent": true}),
                "kind",
            ),
            (
                json!({"kind": "basic", "source": "non_fiscal", "consent": true, "authority_id": "gz-kjj"}),
                "authority_id",
            ),
            (
                json!({"kind": "basic", "source": "non_fiscal", "consent": true, "project": {"name": "项".repeat(201)}}),
                "project.name",
            ),
        ] {
            let e = leader
                .post("/api/registrations", body.clone())
                .await
                .expect_error(StatusCode::UNPROCESSABLE_ENTITY, "validation");
            assert_eq!(e["error"]["details"][0]["field"], field, "{body}: {e}");
        }
        // Missing kind or source is a malformed request.
        leader
            .post(
                "/api/registrations",
                json!({"source": "other_fiscal", "consent": true}),
            )
            .await
            .expect_error(StatusCode::BAD_REQUEST, "bad_request");
        // Only leaders create.
        let unit = app.login("unit").await;
        unit.post(
            "/api/registrations",
            json!({"kind": "basic", "source": "non_fiscal", "consent": true}),
        )
        .await
        .expect_error(StatusCode::FORBIDDEN, "forbidden");
        assert_eq!(my_ids(&leader).await, ids, "no registration was created");
        let all = app.login("admin").await;
        assert_eq!(
            all.get("/api/registrations").await.expect(StatusCode::OK)["items"],
            json!([]),
            "nothing stored anywhere"
        );
    }
);

both_backends!(
    a_patch_on_a_stale_version_is_refused_as_stale,
    |app: TestApp| async move {
        let leader = app.login("leader").await;
        let id = filled(&leader, "applied", "other_fiscal").await;
        let before = snapshot(&leader, &id).await;
        let old = before["version"].as_u64().unwrap() - 1;
        for v in [old, old + 5] {
            leader
                .patch(
                    &format!("/api/registrations/{id}"),
                    json!({"version": v, "fields": {"title": "过期版本"}}),
                )
                .await
                .expect_error(StatusCode::CONFLICT, "stale_version");
        }
        assert_eq!(snapshot(&leader, &id).await, before);
    }
);

both_backends!(
    a_patch_outside_draft_or_by_someone_else_is_refused,
    |app: TestApp| async move {
        let leader = app.login("leader").await;
        let id = submitted_registration(&leader, "applied").await;
        let before = snapshot(&leader, &id).await;
        let path = format!("/api/registrations/{id}");
        let body = json!({"version": before["version"], "fields": {"title": "提交后修改"}});

        let e = leader
            .patch(&path, body.clone())
            .await
            .expect_error(StatusCode::CONFLICT, "invalid_state");
        assert!(
            e["error"]["message"]
                .as_str()
                .unwrap()
                .contains("待二级部门审核"),
            "{e}"
        );
        // Another leader does not even see it.
        for other in ["leader-nodept", "leader-b"] {
            app.login(other)
                .await
                .patch(&path, body.clone())
                .await
                .expect_error(StatusCode::NOT_FOUND, "not_found");
        }
        // Reviewers see it but may not edit it.
        app.login("dept")
            .await
            .patch(&path, body.clone())
            .await
            .expect_error(StatusCode::FORBIDDEN, "forbidden");
        assert_eq!(snapshot(&leader, &id).await, before);

        // A draft of another leader: 404 too.
        let draft = filled(&leader, "soft", "other_fiscal").await;
        let draft_before = snapshot(&leader, &draft).await;
        app.login("leader-nodept")
            .await
            .patch(
                &format!("/api/registrations/{draft}"),
                json!({"version": draft_before["version"], "fields": {"title": "他人修改"}}),
            )
            .await
            .expect_error(StatusCode::NOT_FOUND, "not_found");
        assert_eq!(snapshot(&leader, &draft).await, draft_before);
    }
);

both_backends!(
    deciding_with_a_badly_formed_number_is_refused_naming_the_number,
    |app: TestApp| async move {
        let leader = app.login("leader").await;
        let id = submitted_registration(&leader, "applied").await;
        to_decision_pending(&app, &id).await;
        app.advance_days(30);
        let point = app.login("point").await;
        let before = snapshot(&point, &id).await;
        for number in [
            "4422026Y1",       // too short
            "4422026Y00001",   // too long
            "4422026X0001",    // unknown flag
            "4422026J0001",    // flag of another kind
            "5552026Y0001",    // another authority
            "4422026Y0000",    // serial zero
            "44A2026Y0001",    // letters in the code
            "４４２2026Y0001", // full-width digits
        ] {
            let e = point
                .act(
                    &id,
                    "decide",
                    json!({"result": "registered", "opinion": "予以登记", "number": number}),
                )
                .await
                .expect_error(StatusCode::UNPROCESSABLE_ENTITY, "validation");
            assert_eq!(e["error"]["details"][0]["field"], "number", "{number}: {e}");
        }
        let e = point
            .act(&id, "decide", json!({"result": "maybe", "opinion": "？"}))
            .await
            .expect_error(StatusCode::UNPROCESSABLE_ENTITY, "validation");
        assert_eq!(e["error"]["details"][0]["field"], "result");
        let e = point
            .act(&id, "decide", json!({"result": "registered"}))
            .await
            .expect_error(StatusCode::UNPROCESSABLE_ENTITY, "validation");
        assert_eq!(e["error"]["details"][0]["field"], "opinion");
        assert_eq!(snapshot(&point, &id).await, before);
        assert_eq!(point.record(&id).await["state"], "decision_pending");

        // A well-formed number is then accepted.
        let r = point
            .act(
                &id,
                "decide",
                json!({"result": "registered", "opinion": "予以登记", "number": "4422026Y0042"}),
            )
            .await
            .expect(StatusCode::OK);
        assert_eq!(r["registration_number"], "4422026Y0042");
    }
);

both_backends!(
    an_unknown_action_name_is_not_found,
    |app: TestApp| async move {
        let leader = app.login("leader").await;
        let id = filled(&leader, "applied", "other_fiscal").await;
        let before = snapshot(&leader, &id).await;
        for action in [
            "approve",
            "create",
            "choose_kind",
            "acceptance_failed",
            "SUBMIT",
            "submit%20",
        ] {
            leader
                .post(
                    &format!("/api/registrations/{id}/actions/{action}"),
                    json!({"version": before["version"]}),
                )
                .await
                .expect_error(StatusCode::NOT_FOUND, "not_found");
        }
        leader
            .get(&format!("/api/registrations/{id}/actions/submit"))
            .await
            .expect_error(StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed");
        leader
            .get("/api/no-such-route")
            .await
            .expect_error(StatusCode::NOT_FOUND, "not_found");
        assert_eq!(snapshot(&leader, &id).await, before);
    }
);

both_backends!(
    bad_list_parameters_are_bad_requests,
    |app: TestApp| async move {
        let unit = app.login("unit").await;
        for query in [
            "state=finished",
            "kind=theory",
            "limit=0",
            "limit=101",
            "limit=ten",
            "limit=-1",
            "limit=",
            "limit=%2020",
            "kind=%20basic",
            "state=%20",
            "cursor=not-a-cursor",
            "sort=title",
        ] {
            unit.get(&format!("/api/registrations?{query}"))
                .await
                .expect_error(StatusCode::BAD_REQUEST, "bad_request");
        }
        let long_q = "%E5%AD%97".repeat(101);
        unit.get(&format!("/api/registrations?q={long_q}"))
            .await
            .expect_error(StatusCode::BAD_REQUEST, "bad_request");
        unit.get("/api/registrations?limit=100&state=&kind=&q=")
            .await
            .expect(StatusCode::OK);
    }
);
