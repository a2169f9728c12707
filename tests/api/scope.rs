//! Who sees what (domain.md §4): outside its scope a record does not exist — every route about it
//! answers 404 and no listing shows it; read-only roles read but never act; list filters and
//! paging.

use std::collections::BTreeSet;

use chengguo_tests::*;
use http::{Method, StatusCode};
use serde_json::{Value, json};

use crate::workflow::submitted_registration;

/// Creates a 计划外 draft of `leader` with a title; returns its id.
async fn draft(leader: &Client<'_>, kind: &str, title: &str) -> String {
    let created = leader
        .post(
            "/api/registrations",
            json!({
                "kind": kind, "source": "non_fiscal", "consent": true,
                "project": {"name": "自筹经费研发项目", "funding": "企业自筹"}
            }),
        )
        .await
        .expect(StatusCode::CREATED);
    let id = created["id"].as_str().expect("id").to_owned();
    leader
        .patch(
            &format!("/api/registrations/{id}"),
            json!({"version": created["version"], "fields": {"title": title}}),
        )
        .await
        .expect(StatusCode::OK);
    id
}

/// Percent-encodes a query value (cursors are opaque and may hold any character).
fn enc(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// The ids of every record `client` lists (all pages).
async fn listed(client: &Client<'_>, query: &str) -> Vec<String> {
    let mut ids = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut path = format!("/api/registrations?limit=100{query}");
        if let Some(c) = &cursor {
            path.push_str(&format!("&cursor={}", enc(c)));
        }
        let page = client.get(&path).await.expect(StatusCode::OK);
        for item in page["items"].as_array().expect("items") {
            ids.push(item["id"].as_str().expect("id").to_owned());
        }
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => return ids,
        }
    }
}

/// What the owner sees of a record: version, fields, attachments and history length.
async fn snapshot(owner: &Client<'_>, id: &str) -> (Value, Value, Value, usize) {
    let r = owner.record(id).await;
    let history = owner
        .get(&format!("/api/registrations/{id}/history"))
        .await
        .expect(StatusCode::OK);
    (
        r["version"].clone(),
        r["fields"].clone(),
        r["attachments"].clone(),
        history["events"].as_array().expect("events").len(),
    )
}

/// Asserts a 404 `not_found` that does not leak the record's title.
#[track_caller]
fn assert_not_found(resp: &Response, what: &str, title: &str) {
    assert_eq!(
        resp.status,
        StatusCode::NOT_FOUND,
        "{what}: {}",
        resp.text()
    );
    resp.expect_error(StatusCode::NOT_FOUND, "not_found");
    assert!(
        !resp.text().contains(title),
        "{what} leaks the record: {}",
        resp.text()
    );
}

/// Every route about record `id` and its attachment `aid`, tried by `outsider`: all 404.
async fn every_route_is_not_found(
    outsider: &Client<'_>,
    id: &str,
    aid: &str,
    version: &Value,
    title: &str,
) {
    let base = format!("/api/registrations/{id}");
    for path in [
        base.clone(),
        format!("{base}/check"),
        format!("{base}/history"),
        format!("{base}/next-number"),
        format!("{base}/attachments"),
        format!("{base}/attachments/{aid}/download"),
    ] {
        assert_not_found(&outsider.get(&path).await, &format!("GET {path}"), title);
    }
    for action in [
        "submit",
        "pass",
        "return",
        "receive_paper",
        "decide",
        "reopen",
    ] {
        let r = outsider
            .post(
                &format!("{base}/actions/{action}"),
                json!({"version": version, "opinion": "越权操作", "result": "rejected"}),
            )
            .await;
        assert_not_found(&r, action, title);
    }
    let r = outsider
        .patch(
            &base,
            json!({"version": version, "fields": {"title": "被他人修改"}}),
        )
        .await;
    assert_not_found(&r, "PATCH", title);
    let r = outsider
        .post(
            &format!("{base}/kind"),
            json!({"kind": "basic", "consent": true}),
        )
        .await;
    assert_not_found(&r, "choose kind", title);
    let r = outsider
        .announce(id, "tech_report", "x.pdf", "application/pdf", 100)
        .await;
    assert_not_found(&r, "announce", title);
    let r = outsider
        .post(&format!("{base}/attachments/{aid}/confirm"), json!({}))
        .await;
    assert_not_found(&r, "confirm", title);
    let r = outsider
        .request(Method::DELETE, &format!("{base}/attachments/{aid}"), None)
        .await;
    assert_not_found(&r, "delete attachment", title);
    assert!(
        !listed(outsider, "").await.contains(&id.to_owned()),
        "the listing of an outsider shows the record"
    );
}

both_backends!(
    users_of_another_unit_get_not_found_for_every_route_of_a_record,
    |app: TestApp| async move {
        let leader = app.login("leader").await;
        let title = "示范单位不公开的成果名称";
        let id = draft(&leader, "applied", title).await;
        let pdf = pdf_bytes("scope");
        let a = leader
            .upload(
                &id,
                "tech_report",
                "技术研究报告.pdf",
                "application/pdf",
                &pdf,
            )
            .await
            .expect(StatusCode::OK);
        let aid = a["id"].as_str().unwrap().to_owned();
        let before = snapshot(&leader, &id).await;

        for outsider in ["unit-b", "leader-b", "leader-nodept"] {
            let c = app.login(outsider).await;
            every_route_is_not_found(&c, &id, &aid, &before.0, title).await;
        }

        // Nothing changed, and the attachment still downloads for the owner.
        assert_eq!(snapshot(&leader, &id).await, before);
        let r = leader
            .get(&format!(
                "/api/registrations/{id}/attachments/{aid}/download"
            ))
            .await;
        assert_eq!(r.status, StatusCode::FOUND);
        let url = r.headers["location"].to_str().unwrap();
        assert_eq!(app.get_url(url).await, (StatusCode::OK, pdf));
    }
);

both_backends!(
    users_of_another_unit_get_not_found_for_a_submitted_record_too,
    |app: TestApp| async move {
        let leader = app.login("leader").await;
        let id = submitted_registration(&leader, "soft").await;
        let record = leader.record(&id).await;
        let title = record["fields"]["title"].as_str().unwrap().to_owned();
        let aid = record["attachments"][0]["id"].as_str().unwrap().to_owned();
        let before = snapshot(&leader, &id).await;
        for outsider in ["unit-b", "leader-b"] {
            let c = app.login(outsider).await;
            every_route_is_not_found(&c, &id, &aid, &before.0, &title).await;
        }
        assert_eq!(snapshot(&leader, &id).await, before);
        assert_eq!(leader.record(&id).await["state"], "dept_review");
    }
);

both_backends!(
    the_supervisor_reads_only_its_units_records_and_never_acts,
    |app: TestApp| async move {
        let leader = app.login("leader").await;
        let leader_b = app.login("leader-b").await;
        let ours = submitted_registration(&leader, "applied").await;
        let theirs_title = "创新研究院的成果";
        let theirs = draft(&leader_b, "basic", theirs_title).await;

        let supervisor = app.login("supervisor").await;
        let ids = listed(&supervisor, "").await;
        assert_eq!(
            ids,
            vec![ours.clone()],
            "the supervisor lists only records of `unit`"
        );

        // The other unit's record does not exist for it.
        let r = supervisor
            .get(&format!("/api/registrations/{theirs}"))
            .await;
        assert_not_found(&r, "GET other unit", theirs_title);
        let r = supervisor
            .get(&format!("/api/registrations/{theirs}/history"))
            .await;
        assert_not_found(&r, "history other unit", theirs_title);

        // Its own unit's record: read, check and track, but no action.
        let before = snapshot(&leader, &ours).await;
        let seen = supervisor.record(&ours).await;
        assert_eq!(seen["allowed_actions"], json!([]));
        assert_eq!(seen["editable"], false);
        supervisor
            .get(&format!("/api/registrations/{ours}/history"))
            .await
            .expect(StatusCode::OK);
        supervisor
            .get(&format!("/api/registrations/{ours}/check"))
            .await
            .expect(StatusCode::OK);
        for action in [
            "submit",
            "pass",
            "return",
            "receive_paper",
            "decide",
            "reopen",
        ] {
            supervisor
                .act(
                    &ours,
                    action,
                    json!({"opinion": "主管部门意见", "result": "rejected"}),
                )
                .await
                .expect_error(StatusCode::FORBIDDEN, "forbidden");
        }
        supervisor
            .patch(
                &format!("/api/registrations/{ours}"),
                json!({"version": before.0, "fields": {"title": "主管部门修改"}}),
            )
            .await
            .expect_error(StatusCode::FORBIDDEN, "forbidden");
        supervisor
            .announce(&ours, "tech_report", "x.pdf", "application/pdf", 100)
            .await
            .expect_error(StatusCode::FORBIDDEN, "forbidden");
        supervisor
            .get(&format!("/api/registrations/{ours}/next-number"))
            .await
            .expect_error(StatusCode::FORBIDDEN, "forbidden");
        supervisor
            .post(
                "/api/registrations",
                json!({"kind": "basic", "source": "non_fiscal", "consent": true}),
            )
            .await
            .expect_error(StatusCode::FORBIDDEN, "forbidden");
        assert_eq!(snapshot(&leader, &ours).await, before);
        assert_eq!(listed(&supervisor, "").await, vec![ours]);
    }
);

both_backends!(
    a_department_sees_its_leaders_records_but_not_those_outside_it,
    |app: TestApp| async move {
        let leader = app.login("leader").await;
        let nodept = app.login("leader-nodept").await;
        let in_dept = draft(&leader, "applied", "研发中心的成果").await;
        let outside_title = "单位直属项目负责人的成果";
        let outside = draft(&nodept, "soft", outside_title).await;

        let dept = app.login("dept").await;
        assert_eq!(listed(&dept, "").await, vec![in_dept.clone()]);
        dept.record(&in_dept).await;
        let r = dept.get(&format!("/api/registrations/{outside}")).await;
        assert_not_found(&r, "dept GET outside", outside_title);

        // The unit sees both; each leader only their own.
        let unit = app.login("unit").await;
        let all: BTreeSet<String> = listed(&unit, "").await.into_iter().collect();
        assert_eq!(all, BTreeSet::from([in_dept.clone(), outside.clone()]));
        assert_eq!(listed(&leader, "").await, vec![in_dept.clone()]);
        assert_eq!(listed(&nodept, "").await, vec![outside.clone()]);
        let r = leader.get(&format!("/api/registrations/{outside}")).await;
        assert_not_found(&r, "leader GET colleague's", outside_title);

        // The other unit sees neither.
        let unit_b = app.login("unit-b").await;
        assert_eq!(listed(&unit_b, "").await, Vec::<String>::new());
    }
);

both_backends!(
    office_admin_and_point_see_every_record_and_office_and_admin_only_read,
    |app: TestApp| async move {
        let leader = app.login("leader").await;
        let nodept = app.login("leader-nodept").await;
        let leader_b = app.login("leader-b").await;
        let a = submitted_registration(&leader, "basic").await;
        let b = draft(&nodept, "applied", "单位直属成果").await;
        let c = draft(&leader_b, "soft", "创新研究院成果").await;
        let everything = BTreeSet::from([a.clone(), b.clone(), c.clone()]);

        for who in ["office", "admin", "point"] {
            let client = app.login(who).await;
            let ids: BTreeSet<String> = listed(&client, "").await.into_iter().collect();
            assert_eq!(ids, everything, "{who} lists every record");
            for id in [&a, &b, &c] {
                client.record(id).await;
            }
        }
        let before = snapshot(&leader, &a).await;
        for who in ["office", "admin"] {
            let client = app.login(who).await;
            assert_eq!(client.record(&a).await["allowed_actions"], json!([]));
            client
                .act(&a, "pass", json!({"opinion": "同意"}))
                .await
                .expect_error(StatusCode::FORBIDDEN, "forbidden");
            client
                .act(&a, "return", json!({"opinion": "退回"}))
                .await
                .expect_error(StatusCode::FORBIDDEN, "forbidden");
        }
        assert_eq!(snapshot(&leader, &a).await, before);
    }
);

both_backends!(
    the_list_filters_by_state_kind_and_text,
    |app: TestApp| async move {
        let leader = app.login("leader").await;
        let submitted = submitted_registration(&leader, "basic").await;
        let applied = draft(&leader, "applied", "Alpha 伺服驱动控制技术").await;
        let soft = draft(&leader, "soft", "中山市科技金融政策研究").await;
        let basic_draft = draft(&leader, "basic", "纳米材料表面效应理论").await;
        let unit = app.login("unit").await;

        let set = |v: Vec<String>| v.into_iter().collect::<BTreeSet<String>>();
        assert_eq!(
            set(listed(&unit, "&state=dept_review").await),
            BTreeSet::from([submitted.clone()])
        );
        assert_eq!(
            set(listed(&unit, "&state=draft").await),
            BTreeSet::from([applied.clone(), soft.clone(), basic_draft.clone()])
        );
        assert_eq!(set(listed(&unit, "&state=decided").await), BTreeSet::new());
        assert_eq!(
            set(listed(&unit, "&kind=soft").await),
            BTreeSet::from([soft.clone()])
        );
        assert_eq!(
            set(listed(&unit, "&kind=basic").await),
            BTreeSet::from([submitted.clone(), basic_draft.clone()])
        );
        assert_eq!(
            set(listed(&unit, "&kind=basic&state=draft").await),
            BTreeSet::from([basic_draft.clone()])
        );
        // Text: case-insensitive, in the title or the first completing unit.
        assert_eq!(
            set(listed(&unit, "&q=alpha").await),
            BTreeSet::from([applied.clone()])
        );
        let q = "%E7%A7%91%E6%8A%80%E9%87%91%E8%9E%8D"; // 科技金融
        assert_eq!(
            set(listed(&unit, &format!("&q={q}")).await),
            BTreeSet::from([soft.clone()])
        );
        assert_eq!(
            set(listed(&unit, "&q=zzz-no-such-title").await),
            BTreeSet::new()
        );
        // The summaries carry what a list shows.
        let page = unit
            .get("/api/registrations?kind=soft")
            .await
            .expect(StatusCode::OK);
        let item = &page["items"][0];
        assert_eq!(item["title"], "中山市科技金融政策研究");
        assert_eq!(item["state"], "draft");
        assert_eq!(item["kind"], "soft");
        // Filters never widen the scope.
        let unit_b = app.login("unit-b").await;
        assert_eq!(set(listed(&unit_b, "&q=alpha").await), BTreeSet::new());
    }
);

both_backends!(
    paging_with_limit_and_cursor_shows_every_record_exactly_once,
    |app: TestApp| async move {
        let leader = app.login("leader").await;
        let nodept = app.login("leader-nodept").await;
        let mut created = BTreeSet::new();
        for i in 0..5 {
            // Same instant for all (the clock stands still): paging must not depend on distinct times.
            let who = if i % 2 == 0 { &leader } else { &nodept };
            created.insert(draft(who, "applied", &format!("分页测试成果{i}")).await);
        }
        // Another unit's record never shows up on a page.
        let leader_b = app.login("leader-b").await;
        draft(&leader_b, "applied", "分页测试成果（其他单位）").await;

        let unit = app.login("unit").await;
        let mut seen = Vec::new();
        let mut cursor: Option<String> = None;
        let mut pages = 0;
        loop {
            let path = match &cursor {
                Some(c) => format!("/api/registrations?limit=2&cursor={}", enc(c)),
                None => "/api/registrations?limit=2".to_owned(),
            };
            let page = unit.get(&path).await.expect(StatusCode::OK);
            let items = page["items"].as_array().unwrap();
            assert!(
                items.len() <= 2,
                "page larger than the limit: {}",
                items.len()
            );
            pages += 1;
            assert!(pages <= 5, "paging does not end");
            seen.extend(items.iter().map(|i| i["id"].as_str().unwrap().to_owned()));
            match page["next_cursor"].as_str() {
                Some(c) => {
                    assert!(!items.is_empty(), "an empty page with a cursor");
                    cursor = Some(c.to_owned());
                }
                None => break,
            }
        }
        assert_eq!(seen.len(), 5, "every record once: {seen:?}");
        assert_eq!(seen.iter().cloned().collect::<BTreeSet<_>>(), created);
        assert!(pages >= 3);

        // Paging a filtered list, too.
        let dept_ids = {
            let dept = app.login("dept").await;
            let mut ids = Vec::new();
            let mut cursor: Option<String> = None;
            loop {
                let path = match &cursor {
                    Some(c) => format!("/api/registrations?limit=1&state=draft&cursor={}", enc(c)),
                    None => "/api/registrations?limit=1&state=draft".to_owned(),
                };
                let page = dept.get(&path).await.expect(StatusCode::OK);
                ids.extend(
                    page["items"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|i| i["id"].as_str().unwrap().to_owned()),
                );
                match page["next_cursor"].as_str() {
                    Some(c) => cursor = Some(c.to_owned()),
                    None => break,
                }
            }
            ids
        };
        assert_eq!(
            dept_ids.len(),
            3,
            "the three records of `leader`: {dept_ids:?}"
        );
        assert_eq!(dept_ids.iter().collect::<BTreeSet<_>>().len(), 3);
    }
);
