//! Rendering pages: the embedded templates, the context every page shares, the security
//! headers of every answer.

use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Response};
use chengguo_domain::org::{Session, User};
use tera::{Context, Tera};

use crate::PageState;

mod embedded {
    include!(concat!(env!("OUT_DIR"), "/templates.rs"));
}

/// The page templates, parsed once.
pub struct Pages {
    tera: Tera,
}

impl Pages {
    /// The templates built into the binary.
    pub fn embedded() -> Pages {
        let mut tera = Tera::default();
        // Escape everything written into HTML; the .txt templates are not used here.
        tera.autoescape_on(vec![".html"]);
        tera.add_raw_templates(embedded::TEMPLATES.iter().copied())
            .expect("page templates parse");
        Pages { tera }
    }

    /// The names of every template.
    pub fn names(&self) -> Vec<&str> {
        self.tera.get_template_names().collect()
    }

    /// Renders `name` with `ctx` into an HTML answer with `status`.
    pub fn render(&self, status: StatusCode, name: &str, ctx: &Context) -> Response {
        match self.tera.render(name, ctx) {
            Ok(html) => (status, Html(html)).into_response(),
            Err(e) => {
                tracing::error!(template = name, error = ?e, "page template failed");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    Html("<!doctype html><html lang=\"zh-CN\"><meta charset=\"utf-8\"><title>系统错误</title><p>页面生成失败，请稍后重试。</p></html>".to_owned()),
                )
                    .into_response()
            }
        }
    }
}

/// The context every page starts from: who is logged in and the form token.
pub fn base_context(user: Option<&User>, session: Option<&Session>) -> Context {
    let mut ctx = Context::new();
    if let Some(u) = user {
        ctx.insert("user", &chengguo_api::views::user(u));
        ctx.insert(
            "is_staff",
            &!matches!(u.role, chengguo_domain::Role::Leader),
        );
    }
    if let Some(s) = session {
        ctx.insert("csrf", &s.csrf_token);
    }
    ctx
}

/// Headers on every page: a strict Content-Security-Policy without inline script, no framing,
/// no sniffing.
pub async fn security_headers(
    State(state): State<PageState>,
    req: Request,
    next: Next,
) -> Response {
    let mut resp = next.run(req).await;
    let connect = match &state.app.config.upload_origin {
        Some(origin) => format!("'self' {origin}"),
        None => "'self'".to_owned(),
    };
    let csp = format!(
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
         connect-src {connect}; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; \
         object-src 'none'"
    );
    let h = resp.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&csp) {
        h.insert(header::CONTENT_SECURITY_POLICY, v);
    }
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    h.entry(header::CACHE_CONTROL)
        .or_insert(HeaderValue::from_static("no-store"));
    resp
}
