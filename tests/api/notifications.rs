//! Notification email: who gets what after each notifying action, and what happens when the
//! mail transport fails (the transition stands; the failure is recorded, visible and retried).

use chengguo_tests::*;
use http::StatusCode;
use serde_json::json;

use crate::workflow::{submitted_registration, to_decision_pending};

fn addr(username: &str) -> String {
    format!("{username}@demo.chengguo.local")
}

/// The mails sent so far whose subject contains `needle`.
async fn mails_about(app: &TestApp, needle: &str) -> Vec<SentMail> {
    app.sent_mail()
        .await
        .into_iter()
        .filter(|m| m.subject.contains(needle))
        .collect()
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

both_backends!(
    each_notifying_action_mails_the_right_people,
    |app: TestApp| async move {
        let leader = app.login("leader").await;
        let id = submitted_registration(&leader, "applied").await;
        let title = leader.record(&id).await["title"]
            .as_str()
            .unwrap()
            .to_owned();
        assert!(app.sent_mail().await.is_empty(), "submitting sends nothing");

        // A return reaches the leader alone, with the opinion.
        let dept = app.login("dept").await;
        dept.act(&id, "return", json!({"opinion": "请补充检测报告的盖章页"}))
            .await
            .expect(StatusCode::OK);
        let sent = app.sent_mail().await;
        assert_eq!(sent.len(), 1, "{sent:#?}");
        assert_eq!(sent[0].to, vec![addr("leader")]);
        assert_eq!(
            sent[0].subject,
            format!("【科技成果登记】“{title}”已被退回修改")
        );
        assert!(
            sent[0].body.contains("请补充检测报告的盖章页"),
            "{}",
            sent[0].body
        );
        assert!(sent[0].body.contains("二级部门"), "{}", sent[0].body);

        leader
            .act(&id, "submit", json!({}))
            .await
            .expect(StatusCode::OK);
        to_decision_pending(&app, &id).await;

        // Paper received: the leader and the unit's administrators, with both notice windows.
        let paper: Vec<SentMail> = app
            .sent_mail()
            .await
            .into_iter()
            .filter(|m| m.body.contains("2026年12月4日"))
            .collect();
        assert_eq!(paper.len(), 1, "{paper:#?}");
        assert_eq!(
            sorted(paper[0].to.clone()),
            sorted(vec![addr("leader"), addr("unit")])
        );
        assert!(
            paper[0].body.contains("2026年11月28日"),
            "{}",
            paper[0].body
        );
        assert!(
            paper[0].body.contains("2026年12月27日"),
            "{}",
            paper[0].body
        );
        assert!(paper[0].body.contains("公示"), "{}", paper[0].body);
        assert_eq!(
            paper[0].subject,
            format!("【科技成果登记】“{title}”纸质材料已接收，请下载并发布公示信息")
        );
        assert!(!paper[0].to.contains(&addr("unit-b")));

        // The decision: leader and unit, with the number.
        app.advance_days(30);
        let point = app.login("point").await;
        point
            .act(
                &id,
                "decide",
                json!({"result": "registered", "opinion": "同意登记"}),
            )
            .await
            .expect(StatusCode::OK);
        let decided: Vec<SentMail> = app
            .sent_mail()
            .await
            .into_iter()
            .filter(|m| m.body.contains("4422026Y0001"))
            .collect();
        assert_eq!(decided.len(), 1, "{decided:#?}");
        assert_eq!(
            sorted(decided[0].to.clone()),
            sorted(vec![addr("leader"), addr("unit")])
        );
        assert!(decided[0].body.contains("予以登记"));
        assert_eq!(
            decided[0].subject,
            format!("【科技成果登记】“{title}”已批复：予以登记")
        );

        // Reopening tells them too.
        let evidence = point
            .upload(
                &id,
                "reopen_evidence",
                "佐证.pdf",
                "application/pdf",
                &pdf_bytes("e"),
            )
            .await
            .expect(StatusCode::OK);
        point
        .act(&id, "reopen", json!({"opinion": "成果名称有误，需更正", "evidence_attachment_id": evidence["id"]}))
        .await
        .expect(StatusCode::OK);
        let reopened = mails_about(&app, "").await;
        let reopened: Vec<&SentMail> = reopened
            .iter()
            .filter(|m| m.body.contains("成果名称有误，需更正"))
            .collect();
        assert_eq!(reopened.len(), 1);
        assert_eq!(
            sorted(reopened[0].to.clone()),
            sorted(vec![addr("leader"), addr("unit")])
        );
        assert_eq!(
            reopened[0].subject,
            format!("【科技成果登记】“{title}”已退回到未批复")
        );
        assert!(
            reopened[0].body.contains("4422026Y0001"),
            "the kept number is mentioned"
        );

        // Everyone in scope sees what was sent on the record.
        let unit = app.login("unit").await;
        let record = unit.record(&id).await;
        let notes = record["notifications"].as_array().unwrap();
        assert_eq!(notes.len(), 4, "{notes:#?}");
        assert!(notes.iter().all(|n| n["status"] == "sent"));
    }
);

async fn a_failing_transport_never_blocks_and_is_retried(app: TestApp) {
    let leader = app.login("leader").await;
    let id = submitted_registration(&leader, "soft").await;
    let dept = app.login("dept").await;

    // The transport fails: the return is done all the same.
    let r = dept
        .act(&id, "return", json!({"opinion": "请完善社会效益说明"}))
        .await
        .expect(StatusCode::OK);
    assert_eq!(r["state"], "returned");
    assert!(app.sent_mail().await.is_empty());
    // The leader receives mail and does not see the queue; staff do.
    assert_eq!(leader.record(&id).await["notifications"], json!([]));
    let record = dept.record(&id).await;
    let note = &record["notifications"][0];
    assert_eq!(note["status"], "pending", "{note}");
    assert_eq!(note["attempts"], 1);
    assert!(
        !note["last_error"].as_str().unwrap_or("").is_empty(),
        "{note}"
    );

    // Staff see it waiting.
    let admin = app.login("admin").await;
    let pending = admin
        .get("/api/admin/mail?status=pending")
        .await
        .expect(StatusCode::OK);
    assert_eq!(pending["items"].as_array().unwrap().len(), 1);
    leader
        .get("/api/admin/mail?status=pending")
        .await
        .expect_error(StatusCode::FORBIDDEN, "forbidden");

    // Not due yet: nothing is tried.
    let report = chengguo_api::notify::dispatch_due(&app.state, 10)
        .await
        .unwrap();
    assert_eq!(report, chengguo_api::notify::DispatchReport::default());

    // Repaired and due: the retry delivers it.
    app.repair_mail().await;
    app.clock.advance(time::Duration::minutes(2));
    let report = chengguo_api::notify::dispatch_due(&app.state, 10)
        .await
        .unwrap();
    assert_eq!(report.sent, 1, "{report:?}");
    let sent = app.sent_mail().await;
    assert_eq!(sent.len(), 1);
    assert!(sent[0].body.contains("请完善社会效益说明"));
    let admin = app.login("admin").await;
    let note = &admin.record(&id).await["notifications"][0];
    assert_eq!(note["status"], "sent");
    assert_eq!(note["attempts"], 2);
}

async fn a_mail_that_keeps_failing_is_marked_failed_and_can_be_queued_again(app: TestApp) {
    let leader = app.login("leader").await;
    let id = submitted_registration(&leader, "basic").await;
    let dept = app.login("dept").await;
    dept.act(&id, "return", json!({"opinion": "退回"}))
        .await
        .expect(StatusCode::OK);
    for _ in 1..chengguo_api::notify::MAX_ATTEMPTS {
        app.clock.advance(time::Duration::hours(7));
        chengguo_api::notify::dispatch_due(&app.state, 10)
            .await
            .unwrap();
    }
    let admin = app.login("admin").await;
    let failed = admin
        .get("/api/admin/mail?status=failed")
        .await
        .expect(StatusCode::OK);
    let items = failed["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{failed}");
    assert_eq!(items[0]["attempts"], chengguo_api::notify::MAX_ATTEMPTS);
    let mail_id = items[0]["id"].as_str().unwrap().to_owned();

    app.repair_mail().await;
    let retried = admin
        .post(&format!("/api/admin/mail/{mail_id}/retry"), json!({}))
        .await
        .expect(StatusCode::OK);
    assert_eq!(retried["status"], "sent", "{retried}");
    assert_eq!(app.sent_mail().await.len(), 1);
}

mod failing_transport {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn embedded() {
        let app = TestApp::with_mail(Backend::Embedded, false).await.unwrap();
        a_failing_transport_never_blocks_and_is_retried(app).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn aws() {
        let Some(app) = TestApp::with_mail(Backend::Aws, false).await else {
            eprintln!("skipped: CHENGGUO_TEST_AWS_ENDPOINT not set");
            return;
        };
        a_failing_transport_never_blocks_and_is_retried(app).await;
    }
}

mod failing_for_good {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn embedded() {
        let app = TestApp::with_mail(Backend::Embedded, false).await.unwrap();
        a_mail_that_keeps_failing_is_marked_failed_and_can_be_queued_again(app).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn aws() {
        let Some(app) = TestApp::with_mail(Backend::Aws, false).await else {
            eprintln!("skipped: CHENGGUO_TEST_AWS_ENDPOINT not set");
            return;
        };
        a_mail_that_keeps_failing_is_marked_failed_and_can_be_queued_again(app).await;
    }
}
