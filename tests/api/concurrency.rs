//! Concurrent reviewers and concurrent decisions: one winner per version, numbers unique.

use chengguo_tests::*;
use http::StatusCode;
use serde_json::json;

use crate::workflow::{submitted_registration, to_decision_pending};

both_backends!(
    twenty_concurrent_passes_on_one_version_have_exactly_one_winner,
    |app: TestApp| async move {
        let leader = app.login("leader").await;
        let id = submitted_registration(&leader, "basic").await;
        let dept = app.login("dept").await;
        let version = dept.record(&id).await["version"].as_u64().unwrap();

        let path = format!("/api/registrations/{id}/actions/pass");
        let body = json!({"version": version, "opinion": "同意"});
        let mut statuses = Vec::new();
        let responses =
            futures_join((0..20).map(|_| dept.post(&path, body.clone())).collect()).await;
        let mut codes = Vec::new();
        for r in &responses {
            statuses.push(r.status);
            if r.status != StatusCode::OK {
                codes.push(
                    r.expect_error(StatusCode::CONFLICT, "stale_version")["error"]["code"].clone(),
                );
            }
        }
        assert_eq!(
            statuses.iter().filter(|s| **s == StatusCode::OK).count(),
            1,
            "{statuses:?}"
        );
        assert_eq!(codes.len(), 19);

        let record = dept.record(&id).await;
        assert_eq!(record["state"], "unit_review");
        assert_eq!(record["version"].as_u64().unwrap(), version + 1);
        let history = dept
            .get(&format!("/api/registrations/{id}/history"))
            .await
            .expect(StatusCode::OK);
        let passes = history["events"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["action"] == "pass")
            .count();
        assert_eq!(passes, 1, "history holds exactly one pass: {history}");
    }
);

both_backends!(
    two_decisions_with_the_same_number_one_wins_the_other_is_told_number_taken,
    |app: TestApp| async move {
        let leader = app.login("leader").await;
        let first = submitted_registration(&leader, "applied").await;
        let second = submitted_registration(&leader, "applied").await;
        to_decision_pending(&app, &first).await;
        to_decision_pending(&app, &second).await;
        app.advance_days(31);
        let point = app.login("point").await;

        let decide = |id: &str| {
            let v = id.to_owned();
            let point = &point;
            async move {
                let version = point.record(&v).await["version"].clone();
                point
                .post(
                    &format!("/api/registrations/{v}/actions/decide"),
                    json!({"version": version, "result": "registered", "opinion": "予以登记", "number": "4422026Y0042"}),
                )
                .await
            }
        };
        let (a, b) = tokio::join!(decide(&first), decide(&second));
        let (winner, loser) = if a.status == StatusCode::OK {
            (a, b)
        } else {
            (b, a)
        };
        winner.expect(StatusCode::OK);
        let refused = loser.expect_error(StatusCode::UNPROCESSABLE_ENTITY, "number_taken");
        assert!(
            refused["error"]["message"]
                .as_str()
                .unwrap()
                .contains("4422026Y0042")
        );

        // The loser is unchanged and can be decided with the next proposed number.
        let loser_id = if point.record(&first).await["state"] == "decided" {
            &second
        } else {
            &first
        };
        let rec = point.record(loser_id).await;
        assert_eq!(rec["state"], "decision_pending");
        assert_eq!(rec["registration_number"], serde_json::Value::Null);
        let next = point
            .get(&format!("/api/registrations/{loser_id}/next-number"))
            .await
            .expect(StatusCode::OK);
        assert_eq!(
            next["number"], "4422026Y0043",
            "highest used serial plus one"
        );
        point
            .act(
                loser_id,
                "decide",
                json!({"result": "registered", "opinion": "予以登记"}),
            )
            .await
            .expect(StatusCode::OK);
        assert_eq!(
            point.record(loser_id).await["registration_number"],
            "4422026Y0043"
        );
    }
);

both_backends!(
    concurrent_decisions_without_a_typed_number_each_get_the_next_free_one,
    |app: TestApp| async move {
        let leader = app.login("leader").await;
        let mut ids = Vec::new();
        for _ in 0..4 {
            let id = submitted_registration(&leader, "applied").await;
            to_decision_pending(&app, &id).await;
            ids.push(id);
        }
        app.advance_days(31);
        let point = app.login("point").await;
        // All four ask for the next number at once: each proposal a concurrent decision took
        // first is proposed again, so none is refused with number_taken.
        let answers = futures_join(
            ids.iter()
                .map(|id| {
                    point.act(
                        id,
                        "decide",
                        json!({"result": "registered", "opinion": "予以登记"}),
                    )
                })
                .collect(),
        )
        .await;
        let mut numbers = Vec::new();
        for a in &answers {
            let rec = a.expect(StatusCode::OK);
            numbers.push(rec["registration_number"].as_str().unwrap().to_owned());
        }
        numbers.sort();
        assert_eq!(
            numbers,
            [
                "4422026Y0001",
                "4422026Y0002",
                "4422026Y0003",
                "4422026Y0004"
            ]
        );
        // One decide event per record, whatever was tried before it.
        for id in &ids {
            let history = point
                .get(&format!("/api/registrations/{id}/history"))
                .await
                .expect(StatusCode::OK);
            let decides = history["events"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|e| e["action"] == "decide")
                .count();
            assert_eq!(decides, 1, "{id}");
        }
    }
);

/// Runs futures concurrently and returns their outputs in order.
async fn futures_join<F: std::future::Future>(futs: Vec<F>) -> Vec<F::Output> {
    futures::future::join_all(futs).await
}
