//! The public site as the local server keeps it: rebuilt after the transitions it shows.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chengguo_tests::*;
use http::{Method, StatusCode};
use serde_json::json;

use crate::workflow::{submitted_registration, to_decision_pending};

/// Waits (bounded) until `path` of the in-memory site satisfies `pred`.
async fn wait_for(
    sink: &chengguo_site::MemorySink,
    path: &str,
    pred: impl Fn(&str) -> bool,
) -> String {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let text = sink
            .get(path)
            .map(|p| String::from_utf8_lossy(&p.bytes).into_owned())
            .unwrap_or_default();
        if pred(&text) {
            return text;
        }
        assert!(
            Instant::now() < deadline,
            "{path} never matched; last:\n{text}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

both_backends!(
    the_site_follows_paper_received_decided_and_reopened,
    |app: TestApp| async move {
        let mut state = app.state.clone();
        let sink = chengguo_site::MemorySink::new();
        let publisher = chengguo::backend::site_publisher(&state.config, sink.clone()).unwrap();
        publisher
            .rebuild(state.store.as_ref(), state.clock.today())
            .await
            .unwrap();
        let changes = Arc::new(chengguo_api::state::SiteChanges::default());
        state.site_changes = Some(changes.clone());
        let rebuilder = chengguo::backend::spawn_site_rebuilder(state.clone(), publisher, changes);
        let site = chengguo::backend::app_router_with_site(state.clone(), sink.clone());

        let app = app.with_state(state.clone());
        let leader = app.login("leader").await;
        let id = submitted_registration(&leader, "applied").await;
        let title = leader.record(&id).await["title"]
            .as_str()
            .unwrap()
            .to_owned();
        assert!(
            !sink
                .get("/notices/index.html")
                .map(|p| String::from_utf8_lossy(&p.bytes).contains(&title))
                .unwrap_or(false)
        );

        // Paper received: the announcement appears.
        let api = &app;
        to_decision_pending(api, &id).await;
        let list = wait_for(&sink, "/notices/index.html", |t| t.contains(&title)).await;
        assert!(list.contains("2026"), "notice dates are shown");

        // The server answers it at `/notices/`, and never with contact details.
        let resp = tower::ServiceExt::oneshot(
            site.clone(),
            http::Request::builder()
                .method(Method::GET)
                .uri("/notices/")
                .body(axum::body::Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
        assert_eq!(resp.status(), StatusCode::OK);
        let body = http_body_util::BodyExt::collect(resp.into_body())
            .await
            .unwrap()
            .to_bytes();
        let html = String::from_utf8_lossy(&body);
        assert!(html.contains(&title));
        assert!(
            !html.contains("13800138000"),
            "no contact mobile on public pages"
        );

        // Decided `registered` after the notice: the registry shows it with its number.
        api.advance_days(30);
        let point = api.login("point").await;
        point
            .act(
                &id,
                "decide",
                json!({"result": "registered", "opinion": "予以登记"}),
            )
            .await
            .expect(StatusCode::OK);
        wait_for(&sink, "/registry/index.html", |t| {
            t.contains("4422026Y0001")
        })
        .await;

        // Reopened: out of the registry again.
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
            .act(
                &id,
                "reopen",
                json!({"opinion": "需更正", "evidence_attachment_id": evidence["id"]}),
            )
            .await
            .expect(StatusCode::OK);
        wait_for(&sink, "/registry/index.html", |t| {
            !t.contains("4422026Y0001")
        })
        .await;
        rebuilder.abort();
    }
);
