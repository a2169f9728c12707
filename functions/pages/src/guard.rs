//! Who is asking: the logged-in user of a page request (or a redirect to the login page), and
//! the form token every state-changing form carries.

use axum::extract::FromRequestParts;
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Redirect, Response};
use chengguo_api::auth;
use chengguo_domain::org::{Session, User};

use crate::PageState;
use crate::render::base_context;

/// The logged-in user of a page; without one the browser is sent to the login page, which says
/// whether the session expired.
pub struct PageUser {
    pub user: User,
    pub session: Session,
}

/// Where to send someone who must log in first, coming back to `path` afterwards.
pub fn login_redirect(parts: &Parts) -> Response {
    let next = parts
        .uri
        .path_and_query()
        .map(|p| p.as_str())
        .unwrap_or("/app/");
    let expired = auth::session_token(parts).is_some();
    let mut target = format!("/login?next={}", encode(next));
    if expired {
        target.push_str("&expired=1");
    }
    Redirect::to(&target).into_response()
}

/// Percent-encodes a query value.
pub fn encode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~/".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

impl FromRequestParts<PageState> for PageUser {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &PageState) -> Result<Self, Response> {
        match auth::current(&state.app, parts).await {
            Ok(Some((user, session))) => Ok(PageUser { user, session }),
            Ok(None) => Err(login_redirect(parts)),
            Err(e) => Err(error_page(state, None, &e)),
        }
    }
}

/// Refuses a form whose token is not the session's (403 page).
// The error is the answer itself, returned straight from a handler; boxing it gains nothing.
#[allow(clippy::result_large_err)]
pub fn check_form_token(state: &PageState, who: &PageUser, given: &str) -> Result<(), Response> {
    if auth::constant_time_eq(given, &who.session.csrf_token) {
        Ok(())
    } else {
        let mut ctx = base_context(Some(&who.user), Some(&who.session));
        ctx.insert("title", "页面已过期");
        ctx.insert("message", "表单已过期或来源不明，请返回上一页刷新后重试。");
        Err(state
            .pages
            .render(StatusCode::FORBIDDEN, "error.html", &ctx))
    }
}

/// An API error as a page, with the same status and the Chinese message.
pub fn error_page(
    state: &PageState,
    who: Option<&PageUser>,
    e: &chengguo_api::ApiError,
) -> Response {
    let (status, _) = e.status_code();
    let mut ctx = base_context(who.map(|w| &w.user), who.map(|w| &w.session));
    ctx.insert(
        "title",
        match status {
            StatusCode::NOT_FOUND => "未找到",
            StatusCode::FORBIDDEN => "无权操作",
            _ => "无法完成操作",
        },
    );
    ctx.insert("message", &e.to_string());
    state.pages.render(status, "error.html", &ctx)
}
