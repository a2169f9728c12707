//! `POST /api/session`, `DELETE /api/session`, `GET /api/me`.

use axum::Json;
use axum::extract::State;
use axum::http::header::SET_COOKIE;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use chengguo_domain::org::Session;
use serde::Deserialize;
use serde_json::json;

use crate::auth::{self, CurrentUser};
use crate::error::{ApiError, ApiResult};
use crate::extract::JsonBody;
use crate::state::AppState;
use crate::views;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Credentials {
    username: String,
    password: String,
}

/// A hash to verify against when the username is unknown, so that the answer takes as long.
fn dummy_hash() -> &'static str {
    static HASH: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    HASH.get_or_init(|| auth::hash_password("not a password").unwrap_or_default())
}

/// The lock that serialises the login attempts of one account in this process.
fn login_gate(user_id: &str) -> std::sync::Arc<tokio::sync::Mutex<()>> {
    type Gates =
        std::sync::Mutex<std::collections::HashMap<String, std::sync::Arc<tokio::sync::Mutex<()>>>>;
    static GATES: std::sync::OnceLock<Gates> = std::sync::OnceLock::new();
    let mut gates = GATES
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    // Existing accounts only, so the map stays as small as the list of accounts.
    gates.entry(user_id.to_owned()).or_default().clone()
}

/// Logs in: a new session every time (never reusing a presented one), its token in an HttpOnly
/// cookie and its CSRF token in the answer.
pub async fn create_session(
    State(state): State<AppState>,
    parts: Parts,
    JsonBody(c): JsonBody<Credentials>,
) -> ApiResult<Response> {
    let wrong = || ApiError::unauthenticated("用户名或密码错误。");
    let now = state.clock.now();
    let Some(found) = state.store.find_user(c.username.trim()).await? else {
        auth::verify_password(&c.password, dummy_hash());
        return Err(wrong());
    };
    // One attempt at a time per account, reading the count afresh: failures sent in parallel
    // must not overwrite each other's count and slip past the lock-out.
    let gate = login_gate(&found.id);
    let _turn = gate.lock().await;
    let Some(mut user) = state.store.get_user(&found.id).await? else {
        return Err(wrong());
    };
    if let Some(until) = user.locked_until.filter(|t| *t > now) {
        let local = until.to_offset(chengguo_domain::ports::CHINA);
        return Err(ApiError::Locked(format!(
            "{:02}:{:02}",
            local.hour(),
            local.minute()
        )));
    }
    if !auth::verify_password(&c.password, &user.password_hash) || !user.active {
        user.failed_logins += 1;
        if user.failed_logins >= state.config.lockout_threshold {
            user.failed_logins = 0;
            user.locked_until = Some(now + state.config.lockout_duration);
        }
        state.store.update_user(&user).await?;
        return Err(wrong());
    }
    if user.failed_logins > 0 || user.locked_until.is_some() {
        user.failed_logins = 0;
        user.locked_until = None;
        state.store.update_user(&user).await?;
    }
    // A session presented with the login is ended, so a planted cookie never becomes logged in.
    if let Some(old) = auth::session_token(&parts) {
        state.store.delete_session(&auth::token_hash(&old)).await?;
    }
    let token = auth::random_token();
    let session = Session {
        token_hash: auth::token_hash(&token),
        user_id: user.id.clone(),
        csrf_token: auth::random_token(),
        created_at: now,
        expires_at: now + state.config.session_ttl,
    };
    state.store.put_session(&session).await?;
    let cookie = auth::session_cookie(
        &token,
        state.config.session_ttl.whole_seconds(),
        state.config.secure_cookies,
    );
    let body = Json(json!({"user": views::user(&user), "csrf_token": session.csrf_token}));
    Ok(([(SET_COOKIE, cookie)], body).into_response())
}

/// Logs out: the session is deleted and the cookie cleared.
pub async fn delete_session(
    State(state): State<AppState>,
    current: CurrentUser,
) -> ApiResult<Response> {
    state
        .store
        .delete_session(&current.session.token_hash)
        .await?;
    let cookie = auth::clear_cookie(state.config.secure_cookies);
    Ok(([(SET_COOKIE, cookie)], axum::http::StatusCode::NO_CONTENT).into_response())
}

/// The logged-in user and the session's CSRF token.
pub async fn get_me(current: CurrentUser) -> Json<serde_json::Value> {
    Json(json!({"user": views::user(&current.user), "csrf_token": current.session.csrf_token}))
}
