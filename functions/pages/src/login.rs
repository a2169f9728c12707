//! `/login` and `/logout`: the login form (with a clear page for a locked account or an expired
//! session) and logging out.

use axum::Form;
use axum::extract::{Query, State};
use axum::http::header::SET_COOKIE;
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use chengguo_api::{ApiError, auth};
use chengguo_domain::Role;
use serde::Deserialize;

use crate::PageState;
use crate::guard::PageUser;
use crate::render::base_context;

/// The cookie holding the login form's token (double submit: no session exists yet).
const LOGIN_COOKIE: &str = "chengguo_login";

#[derive(Deserialize, Default)]
pub struct LoginQuery {
    next: Option<String>,
    expired: Option<String>,
}

/// Only paths of this site are followed after login.
fn safe_next(next: Option<&str>) -> Option<&str> {
    next.filter(|n| n.starts_with('/') && !n.starts_with("//") && !n.contains('\\'))
}

/// Where a role lands after login.
pub fn home_of(role: Role) -> &'static str {
    match role {
        Role::Leader => "/app/",
        _ => "/admin/",
    }
}

fn login_cookie_value(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(axum::http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == LOGIN_COOKIE)
        .map(|(_, v)| v.to_owned())
}

fn login_form(
    state: &PageState,
    status: StatusCode,
    next: Option<&str>,
    message: Option<&str>,
    notice: Option<&str>,
) -> Response {
    let token = auth::random_token();
    let mut ctx = base_context(None, None);
    ctx.insert("title", "登录");
    ctx.insert("login_token", &token);
    ctx.insert("next", next.unwrap_or(""));
    if let Some(m) = message {
        ctx.insert("error", m);
    }
    if let Some(n) = notice {
        ctx.insert("notice", n);
    }
    let mut resp = state.pages.render(status, "login.html", &ctx);
    let cookie = format!(
        "{LOGIN_COOKIE}={token}; Path=/login; HttpOnly; SameSite=Strict; Max-Age=3600{}",
        if state.app.config.secure_cookies {
            "; Secure"
        } else {
            ""
        }
    );
    if let Ok(v) = cookie.parse() {
        resp.headers_mut().append(SET_COOKIE, v);
    }
    resp
}

/// `GET /login`.
pub async fn show_login(State(state): State<PageState>, Query(q): Query<LoginQuery>) -> Response {
    let notice = q.expired.is_some().then_some("登录已过期，请重新登录。");
    login_form(
        &state,
        StatusCode::OK,
        safe_next(q.next.as_deref()),
        None,
        notice,
    )
}

#[derive(Deserialize)]
pub struct LoginForm {
    username: String,
    password: String,
    #[serde(default)]
    next: String,
    #[serde(default)]
    login_token: String,
}

/// `POST /login`.
pub async fn submit_login(
    State(state): State<PageState>,
    parts: Parts,
    Form(f): Form<LoginForm>,
) -> Response {
    let next = safe_next(Some(f.next.as_str())).filter(|n| !n.is_empty());
    let expected = login_cookie_value(&parts.headers).unwrap_or_default();
    if expected.is_empty() || !auth::constant_time_eq(&expected, &f.login_token) {
        return login_form(
            &state,
            StatusCode::FORBIDDEN,
            next,
            Some("登录页面已过期，请重新输入用户名和密码。"),
            None,
        );
    }
    let old = auth::session_token(&parts);
    match auth::login(&state.app, &f.username, &f.password, old.as_deref()).await {
        Ok((user, _session, token)) => {
            let cookie = auth::session_cookie(
                &token,
                state.app.config.session_ttl.whole_seconds(),
                state.app.config.secure_cookies,
            );
            let target = next.unwrap_or(home_of(user.role)).to_owned();
            ([(SET_COOKIE, cookie)], Redirect::to(&target)).into_response()
        }
        Err(ApiError::Locked(until)) => {
            let mut ctx = base_context(None, None);
            ctx.insert("title", "账号已锁定");
            ctx.insert("until", &until);
            state
                .pages
                .render(StatusCode::FORBIDDEN, "locked.html", &ctx)
        }
        Err(e) => {
            let (status, _) = e.status_code();
            login_form(&state, status, next, Some(&e.to_string()), None)
        }
    }
}

#[derive(Deserialize)]
pub struct LogoutForm {
    // A form without its token gets the same refusal page as one with a wrong token.
    #[serde(default)]
    csrf: String,
}

/// `POST /logout`.
pub async fn submit_logout(
    State(state): State<PageState>,
    who: PageUser,
    Form(f): Form<LogoutForm>,
) -> Response {
    if let Err(r) = crate::guard::check_form_token(&state, &who, &f.csrf) {
        return r;
    }
    if let Err(e) = state
        .app
        .store
        .delete_session(&who.session.token_hash)
        .await
    {
        tracing::warn!(error = %e, "logout: deleting the session failed");
    }
    let cookie = auth::clear_cookie(state.app.config.secure_cookies);
    ([(SET_COOKIE, cookie)], Redirect::to("/login")).into_response()
}
