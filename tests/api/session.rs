//! Logging in and out: wrong credentials, lock-out after repeated failures, the CSRF header on
//! every state-changing request, the session cookie's attributes, session fixation, `/api/me`.

use chengguo_tests::*;
use http::{Method, StatusCode, header};
use serde_json::{Value, json};

/// Tries to log in; returns the answer.
async fn try_login(app: &TestApp, username: &str, password: &str) -> Response {
    app.anonymous()
        .post(
            "/api/session",
            json!({"username": username, "password": password}),
        )
        .await
}

/// A client presenting `cookie` and optionally a CSRF token.
fn with_cookie<'a>(app: &'a TestApp, cookie: &str, csrf: Option<&str>) -> Client<'a> {
    Client {
        app,
        cookie: Some(cookie.to_owned()),
        csrf: csrf.map(str::to_owned),
    }
}

/// The ids the client lists.
async fn listed(client: &Client<'_>) -> Value {
    let items = client
        .get("/api/registrations?limit=100")
        .await
        .expect(StatusCode::OK)["items"]
        .clone();
    json!(
        items
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["id"].clone())
            .collect::<Vec<_>>()
    )
}

fn create_body() -> Value {
    json!({"kind": "applied", "source": "other_fiscal", "consent": true})
}

both_backends!(
    wrong_passwords_and_unknown_users_get_the_same_401,
    |app: TestApp| async move {
        let wrong = try_login(&app, "leader", "wrong-password").await;
        let e1 = wrong.expect_error(StatusCode::UNAUTHORIZED, "unauthenticated");
        assert!(
            wrong.headers.get(header::SET_COOKIE).is_none(),
            "no cookie for a failed login"
        );
        let unknown = try_login(&app, "nobody", "chengguo-demo").await;
        let e2 = unknown.expect_error(StatusCode::UNAUTHORIZED, "unauthenticated");
        assert!(unknown.headers.get(header::SET_COOKIE).is_none());
        // The same words: the answer does not reveal which accounts exist.
        assert_eq!(e1["error"]["message"], e2["error"]["message"]);
        try_login(&app, "leader", "")
            .await
            .expect_error(StatusCode::UNAUTHORIZED, "unauthenticated");
        try_login(&app, "leader", "CHENGGUO-DEMO")
            .await
            .expect_error(StatusCode::UNAUTHORIZED, "unauthenticated");
        // Malformed credentials are malformed requests.
        app.anonymous()
            .post("/api/session", json!({"username": "leader"}))
            .await
            .expect_error(StatusCode::BAD_REQUEST, "bad_request");
        app.anonymous()
            .post(
                "/api/session",
                json!({"username": "leader", "password": DEMO_PASSWORD, "remember": true}),
            )
            .await
            .expect_error(StatusCode::BAD_REQUEST, "bad_request");
        // The right password still works.
        app.login("leader").await;
    }
);

both_backends!(
    five_failed_logins_lock_the_account_for_fifteen_minutes,
    |app: TestApp| async move {
        for _ in 0..5 {
            try_login(&app, "leader", "wrong-password")
                .await
                .expect_error(StatusCode::UNAUTHORIZED, "unauthenticated");
        }
        // Locked: even the right password is refused, saying so.
        let r = try_login(&app, "leader", DEMO_PASSWORD).await;
        let e = r.expect_error(StatusCode::UNAUTHORIZED, "account_locked");
        assert!(
            e["error"]["message"].as_str().unwrap().contains("锁定"),
            "{e}"
        );
        assert!(r.headers.get(header::SET_COOKIE).is_none());
        try_login(&app, "leader", "wrong-password")
            .await
            .expect_error(StatusCode::UNAUTHORIZED, "account_locked");
        // Other accounts are not affected.
        app.login("leader-nodept").await;

        // Still locked after 14 minutes.
        app.clock.advance(time::Duration::minutes(14));
        try_login(&app, "leader", DEMO_PASSWORD)
            .await
            .expect_error(StatusCode::UNAUTHORIZED, "account_locked");
        // After 16 minutes in all, logging in works again.
        app.clock.advance(time::Duration::minutes(2));
        let leader = app.login("leader").await;
        leader.get("/api/me").await.expect(StatusCode::OK);
    }
);

both_backends!(
    an_administrators_unlock_starts_a_new_count_of_failures,
    |app: TestApp| async move {
        for _ in 0..5 {
            try_login(&app, "leader", "wrong-password")
                .await
                .expect_error(StatusCode::UNAUTHORIZED, "unauthenticated");
        }
        try_login(&app, "leader", DEMO_PASSWORD)
            .await
            .expect_error(StatusCode::UNAUTHORIZED, "account_locked");
        let id = app
            .state
            .store
            .find_user("leader")
            .await
            .expect("read")
            .expect("leader")
            .id;
        // A minute passes at each step, as it would between people's attempts.
        app.clock.advance(time::Duration::minutes(1));
        let admin = app.login("admin").await;
        let user = admin
            .patch(&format!("/api/admin/users/{id}"), json!({"unlock": true}))
            .await
            .expect(StatusCode::OK);
        assert_eq!(user["username"], "leader", "{user}");
        // A mistyped password after the unlock is the first failure of a new count, not the
        // sixth of the old one: it does not lock the account again.
        try_login(&app, "leader", "wrong-password")
            .await
            .expect_error(StatusCode::UNAUTHORIZED, "unauthenticated");
        app.clock.advance(time::Duration::minutes(1));
        app.login("leader").await;
        app.clock.advance(time::Duration::minutes(1));
        // Four more in a row still do not lock it; the fifth does.
        for _ in 0..4 {
            try_login(&app, "leader", "wrong-password")
                .await
                .expect_error(StatusCode::UNAUTHORIZED, "unauthenticated");
        }
        try_login(&app, "leader", "wrong-password")
            .await
            .expect_error(StatusCode::UNAUTHORIZED, "unauthenticated");
        try_login(&app, "leader", DEMO_PASSWORD)
            .await
            .expect_error(StatusCode::UNAUTHORIZED, "account_locked");
    }
);

both_backends!(
    a_successful_login_resets_the_count_of_failures,
    |app: TestApp| async move {
        for _ in 0..4 {
            try_login(&app, "unit", "wrong-password")
                .await
                .expect_error(StatusCode::UNAUTHORIZED, "unauthenticated");
        }
        app.login("unit").await;
        for _ in 0..4 {
            try_login(&app, "unit", "wrong-password")
                .await
                .expect_error(StatusCode::UNAUTHORIZED, "unauthenticated");
        }
        // Eight failures, but never five in a row: not locked.
        app.login("unit").await;
    }
);

both_backends!(
    state_changing_requests_need_the_sessions_csrf_token,
    |app: TestApp| async move {
        let leader = app.login("leader").await;
        let cookie = leader.cookie.clone().unwrap();
        let id = leader
            .post("/api/registrations", create_body())
            .await
            .expect(StatusCode::CREATED)["id"]
            .as_str()
            .unwrap()
            .to_owned();
        let before = leader.record(&id).await;
        let ids = listed(&leader).await;
        let other = app.login("leader-nodept").await;

        for csrf in [None, Some("wrong-token"), Some(""), other.csrf.as_deref()] {
            let c = with_cookie(&app, &cookie, csrf);
            c.post("/api/registrations", create_body())
                .await
                .expect_error(StatusCode::FORBIDDEN, "csrf");
            c.patch(
                &format!("/api/registrations/{id}"),
                json!({"version": before["version"], "fields": {"title": "跨站请求伪造"}}),
            )
            .await
            .expect_error(StatusCode::FORBIDDEN, "csrf");
            c.post(
                &format!("/api/registrations/{id}/actions/submit"),
                json!({"version": before["version"]}),
            )
            .await
            .expect_error(StatusCode::FORBIDDEN, "csrf");
            c.announce(&id, "tech_report", "a.pdf", "application/pdf", 100)
                .await
                .expect_error(StatusCode::FORBIDDEN, "csrf");
            c.delete("/api/session")
                .await
                .expect_error(StatusCode::FORBIDDEN, "csrf");
            // Reading needs no token.
            c.get("/api/me").await.expect(StatusCode::OK);
            c.get(&format!("/api/registrations/{id}"))
                .await
                .expect(StatusCode::OK);
            c.get("/api/registrations").await.expect(StatusCode::OK);
        }
        let after = leader.record(&id).await;
        assert_eq!(after["version"], before["version"]);
        assert_eq!(after["fields"], before["fields"]);
        assert_eq!(after["attachments"], json!([]));
        assert_eq!(listed(&leader).await, ids, "nothing was created");
        // The session survived the refused logout.
        leader.get("/api/me").await.expect(StatusCode::OK);
    }
);

both_backends!(
    requests_without_a_valid_session_are_unauthenticated,
    |app: TestApp| async move {
        let anon = app.anonymous();
        for path in [
            "/api/me",
            "/api/registrations",
            "/api/registrations/anything",
            "/api/projects",
        ] {
            anon.get(path)
                .await
                .expect_error(StatusCode::UNAUTHORIZED, "unauthenticated");
        }
        anon.post("/api/registrations", create_body())
            .await
            .expect_error(StatusCode::UNAUTHORIZED, "unauthenticated");
        anon.delete("/api/session")
            .await
            .expect_error(StatusCode::UNAUTHORIZED, "unauthenticated");
        // A made-up cookie is no session.
        let fake = with_cookie(
            &app,
            &format!("chengguo_session={}", "a".repeat(64)),
            Some("x"),
        );
        fake.get("/api/me")
            .await
            .expect_error(StatusCode::UNAUTHORIZED, "unauthenticated");
        fake.post("/api/registrations", create_body())
            .await
            .expect_error(StatusCode::UNAUTHORIZED, "unauthenticated");
        let admin = app.login("admin").await;
        assert_eq!(listed(&admin).await, json!([]), "nothing was created");
    }
);

both_backends!(
    logging_out_ends_the_session_and_clears_the_cookie,
    |app: TestApp| async move {
        let leader = app.login("leader").await;
        let other = app.login("leader").await;
        let r = leader.delete("/api/session").await;
        assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text());
        let set = r.headers[header::SET_COOKIE].to_str().unwrap();
        assert!(set.starts_with("chengguo_session=;"), "{set}");
        assert!(set.contains("Max-Age=0"), "{set}");
        // The old cookie no longer works, for reading or writing.
        leader
            .get("/api/me")
            .await
            .expect_error(StatusCode::UNAUTHORIZED, "unauthenticated");
        leader
            .post("/api/registrations", create_body())
            .await
            .expect_error(StatusCode::UNAUTHORIZED, "unauthenticated");
        leader
            .delete("/api/session")
            .await
            .expect_error(StatusCode::UNAUTHORIZED, "unauthenticated");
        // Another session of the same user is untouched.
        other.get("/api/me").await.expect(StatusCode::OK);
    }
);

both_backends!(
    the_session_cookie_is_httponly_and_samesite_strict,
    |app: TestApp| async move {
        let r = try_login(&app, "leader", DEMO_PASSWORD).await;
        r.expect(StatusCode::OK);
        let cookies: Vec<&str> = r
            .headers
            .get_all(header::SET_COOKIE)
            .iter()
            .map(|v| v.to_str().unwrap())
            .collect();
        assert_eq!(cookies.len(), 1, "{cookies:?}");
        let attrs: Vec<&str> = cookies[0].split(';').map(str::trim).collect();
        let (name, token) = attrs[0].split_once('=').unwrap();
        assert_eq!(name, "chengguo_session");
        assert!(token.len() >= 32, "a long random token: {token}");
        assert!(attrs.contains(&"HttpOnly"), "{cookies:?}");
        assert!(attrs.contains(&"SameSite=Strict"), "{cookies:?}");
        assert!(attrs.contains(&"Path=/"), "{cookies:?}");
        assert!(
            attrs.iter().any(|a| a.starts_with("Max-Age=")),
            "{cookies:?}"
        );
        // The token is not the CSRF token, and the answer is not cached.
        let body = r.json();
        assert_ne!(body["csrf_token"].as_str().unwrap(), token);
        assert_eq!(r.headers[header::CACHE_CONTROL], "no-store");
        // Two logins, two different sessions.
        let again = app.login("leader").await;
        assert_ne!(again.cookie.as_deref(), Some(attrs[0]));
    }
);

both_backends!(
    logging_in_with_an_old_session_cookie_ends_that_session,
    |app: TestApp| async move {
        let first = app.login("leader").await;
        let old_cookie = first.cookie.clone().unwrap();
        // Log in again (here as someone else) while presenting the old cookie.
        let r = with_cookie(&app, &old_cookie, None)
            .request(
                Method::POST,
                "/api/session",
                Some(json!({"username": "unit", "password": DEMO_PASSWORD})),
            )
            .await;
        let body = r.expect(StatusCode::OK);
        let new_cookie = r.headers[header::SET_COOKIE]
            .to_str()
            .unwrap()
            .split(';')
            .next()
            .unwrap()
            .to_owned();
        assert_ne!(
            new_cookie, old_cookie,
            "a new session token, never the presented one"
        );
        first
            .get("/api/me")
            .await
            .expect_error(StatusCode::UNAUTHORIZED, "unauthenticated");
        let new = with_cookie(&app, &new_cookie, body["csrf_token"].as_str());
        assert_eq!(
            new.get("/api/me").await.expect(StatusCode::OK)["user"]["username"],
            "unit"
        );

        // A planted cookie (a token an attacker chose) never becomes a logged-in session.
        let planted = format!("chengguo_session={}", "f".repeat(64));
        let r = with_cookie(&app, &planted, None)
            .request(
                Method::POST,
                "/api/session",
                Some(json!({"username": "leader", "password": DEMO_PASSWORD})),
            )
            .await;
        r.expect(StatusCode::OK);
        let issued = r.headers[header::SET_COOKIE]
            .to_str()
            .unwrap()
            .split(';')
            .next()
            .unwrap()
            .to_owned();
        assert_ne!(issued, planted);
        with_cookie(&app, &planted, None)
            .get("/api/me")
            .await
            .expect_error(StatusCode::UNAUTHORIZED, "unauthenticated");
    }
);

both_backends!(
    sessions_expire_after_twelve_hours,
    |app: TestApp| async move {
        let leader = app.login("leader").await;
        app.clock
            .advance(time::Duration::hours(11) + time::Duration::minutes(59));
        leader.get("/api/me").await.expect(StatusCode::OK);
        app.clock.advance(time::Duration::minutes(2));
        leader
            .get("/api/me")
            .await
            .expect_error(StatusCode::UNAUTHORIZED, "unauthenticated");
    }
);

both_backends!(
    me_returns_the_user_without_secrets,
    |app: TestApp| async move {
        let leader = app.login("leader").await;
        let me = leader.get("/api/me").await;
        let body = me.expect(StatusCode::OK);
        let user = &body["user"];
        assert_eq!(user["username"], "leader");
        assert_eq!(user["role"], "leader");
        assert_eq!(user["unit_id"], chengguo_api::seed::UNIT_ID);
        assert_eq!(user["department_id"], chengguo_api::seed::DEPT_ID);
        assert_eq!(body["csrf_token"].as_str(), leader.csrf.as_deref());
        let obj = user.as_object().unwrap();
        for secret in ["password_hash", "password", "failed_logins", "locked_until"] {
            assert!(!obj.contains_key(secret), "/api/me shows {secret}");
        }
        assert!(!me.text().contains("$argon2"), "{}", me.text());
        // The login answer shows the same user, also without the hash.
        let login = try_login(&app, "supervisor", DEMO_PASSWORD).await;
        let login = login.expect(StatusCode::OK);
        assert_eq!(
            login["user"]["supervised_unit_ids"],
            json!([chengguo_api::seed::UNIT_ID])
        );
        assert!(
            !login["user"]
                .as_object()
                .unwrap()
                .contains_key("password_hash")
        );
        assert!(!login.to_string().contains("$argon2"));
    }
);

both_backends!(
    failed_logins_sent_at_once_still_lock_the_account,
    |app: TestApp| async move {
        let anon = app.anonymous();
        let attempts = (0..10).map(|_| {
            anon.post(
                "/api/session",
                json!({"username": "leader", "password": "wrong-password"}),
            )
        });
        let answers = futures::future::join_all(attempts).await;
        for r in &answers {
            assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.text());
        }
        // Ten failures in parallel are at least five: the account is locked.
        try_login(&app, "leader", DEMO_PASSWORD)
            .await
            .expect_error(StatusCode::UNAUTHORIZED, "account_locked");
    }
);
