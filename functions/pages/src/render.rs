//! Rendering pages: the embedded templates, the context every page shares, the security
//! headers of every answer.

use std::collections::HashMap;
use std::sync::OnceLock;

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

/// The page templates. Each is parsed on its first use, together with the templates it
/// extends, imports or includes, rather than all of them when the server or a function starts:
/// parsing every template takes tens of milliseconds, which a cold Lambda would add to its
/// first answer even when that answer is no page at all.
pub struct Pages {
    templates: &'static [(&'static str, &'static str)],
    parsed: HashMap<&'static str, OnceLock<Result<Tera, String>>>,
}

impl Pages {
    /// The templates built into the binary.
    pub fn embedded() -> Pages {
        Pages::of(embedded::TEMPLATES)
    }

    /// The templates `templates` gives as (name, text).
    fn of(templates: &'static [(&'static str, &'static str)]) -> Pages {
        Pages {
            templates,
            parsed: templates
                .iter()
                .map(|(name, _)| (*name, OnceLock::new()))
                .collect(),
        }
    }

    /// The names of every template.
    pub fn names(&self) -> Vec<&str> {
        let mut names: Vec<&str> = self.parsed.keys().copied().collect();
        names.sort_unstable();
        names
    }

    /// `name` parsed with what it uses (once; later calls share the result).
    pub fn parse(&self, name: &str) -> Result<&Tera, String> {
        let cell = self
            .parsed
            .get(name)
            .ok_or_else(|| format!("no template named {name}"))?;
        cell.get_or_init(|| {
            let mut tera = Tera::default();
            // Escape everything written into HTML; the .txt templates are not used here.
            tera.autoescape_on(vec![".html"]);
            tera.add_raw_templates(with_dependencies(self.templates, name))
                .map_err(|e| format!("{e:?}"))?;
            Ok(tera)
        })
        .as_ref()
        .map_err(Clone::clone)
    }

    /// Renders `name` with `ctx` into an HTML answer with `status`.
    pub fn render(&self, status: StatusCode, name: &str, ctx: &Context) -> Response {
        match self
            .parse(name)
            .and_then(|tera| tera.render(name, ctx).map_err(|e| format!("{e:?}")))
        {
            Ok(html) => (status, Html(html)).into_response(),
            Err(e) => {
                tracing::error!(template = name, error = %e, "page template failed");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    Html("<!doctype html><html lang=\"zh-CN\"><meta charset=\"utf-8\"><title>系统错误</title><p>页面生成失败，请稍后重试。</p></html>".to_owned()),
                )
                    .into_response()
            }
        }
    }
}

/// `name` and every template it extends, imports or includes, directly or through another,
/// taken from `templates` (those not there are left out: Tera then names them when it refuses
/// `name`).
fn with_dependencies(
    templates: &'static [(&'static str, &'static str)],
    name: &str,
) -> Vec<(&'static str, &'static str)> {
    let mut out: Vec<(&'static str, &'static str)> = Vec::new();
    let mut todo = vec![name];
    while let Some(next) = todo.pop() {
        if out.iter().any(|(n, _)| *n == next) {
            continue;
        }
        if let Some((n, text)) = templates.iter().copied().find(|(n, _)| *n == next) {
            out.push((n, text));
            todo.extend(referenced(text));
        }
    }
    out
}

/// The names `text` gives in its `extends`, `import` and `include` tags.
fn referenced(text: &str) -> impl Iterator<Item = &str> {
    text.split("{%").skip(1).filter_map(|tag| {
        let tag = tag.trim_start_matches('-').trim_start();
        let rest = ["extends", "import", "include"]
            .iter()
            .find_map(|k| tag.strip_prefix(k))?
            .trim_start();
        let quote = rest.chars().next().filter(|c| matches!(c, '"' | '\''))?;
        let rest = &rest[1..];
        rest.find(quote).map(|end| &rest[..end])
    })
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_template_parses_with_what_it_extends_imports_and_includes() {
        let pages = Pages::embedded();
        let names = pages.names();
        assert!(names.len() > 20, "{names:?}");
        for name in names {
            let tera = pages.parse(name).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert!(tera.get_template_names().any(|n| n == name));
        }
        assert!(pages.parse("nowhere.html").is_err());
    }

    #[test]
    fn a_page_is_parsed_with_its_parent_and_macros_only() {
        let pages = Pages::embedded();
        let mut names: Vec<&str> = pages
            .parse("admin/queue.html")
            .unwrap()
            .get_template_names()
            .collect();
        names.sort_unstable();
        assert_eq!(
            names,
            ["admin/macros.html", "admin/queue.html", "base.html"]
        );
        // Parsed once: a second call answers the same templates.
        assert!(std::ptr::eq(
            pages.parse("admin/queue.html").unwrap(),
            pages.parse("admin/queue.html").unwrap()
        ));
    }

    #[test]
    fn finds_the_names_in_extends_import_and_include_tags() {
        let text = r#"{% extends "base.html" %}{%- import 'm.html' as m %}
            <p>import "not-a-tag.html"</p>{% include "part.html" %}{% if x %}{% endif %}"#;
        assert_eq!(
            referenced(text).collect::<Vec<_>>(),
            ["base.html", "m.html", "part.html"]
        );
    }

    #[test]
    fn a_missing_parent_is_named_when_the_page_is_refused() {
        static TEMPLATES: &[(&str, &str)] = &[
            (
                "child.html",
                r#"{% extends "gone.html" %}{% block b %}x{% endblock %}"#,
            ),
            ("page.html", r#"{% include "part.html" %}"#),
            ("part.html", "<p>{{ n }}</p>"),
        ];
        let pages = Pages::of(TEMPLATES);
        let err = pages.parse("child.html").unwrap_err();
        assert!(err.contains("gone.html"), "{err}");
        // Refused again from the kept result, and other pages are not affected.
        assert_eq!(pages.parse("child.html").unwrap_err(), err);
        let mut ctx = Context::new();
        ctx.insert("n", &7);
        let resp = pages.render(StatusCode::OK, "page.html", &ctx);
        assert_eq!(resp.status(), StatusCode::OK);
        let resp = pages.render(StatusCode::OK, "child.html", &ctx);
        assert_eq!(resp.status(), StatusCode::INTERNAL_SERVER_ERROR);
    }
}
