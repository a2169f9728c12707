//! `POST /api/session`, `DELETE /api/session`, `GET /api/me`.

use axum::Json;
use axum::extract::State;
use axum::http::header::SET_COOKIE;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;

use crate::auth::{self, CurrentUser};
use crate::error::ApiResult;
use crate::extract::JsonBody;
use crate::state::AppState;
use crate::views;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Credentials {
    username: String,
    password: String,
}

/// Logs in: a new session every time (never reusing a presented one), its token in an HttpOnly
/// cookie and its CSRF token in the answer.
pub async fn create_session(
    State(state): State<AppState>,
    parts: Parts,
    JsonBody(c): JsonBody<Credentials>,
) -> ApiResult<Response> {
    let old = auth::session_token(&parts);
    let (user, session, token) =
        auth::login(&state, &c.username, &c.password, old.as_deref()).await?;
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
