//! Serving a [`MemorySink`] over HTTP: the local server's `/` (the lead's `serve` mounts
//! [`router`] as the fallback of the API router and republishes into the same sink).
//!
//! `GET`/`HEAD` only. `/` and `/x/` answer `/index.html` and `/x/index.html`; `/x` redirects to
//! `/x/` when that is a page; anything else gets the 404 page with status 404. Answers carry an
//! ETag (the file's SHA-256) and honour `If-None-Match`.

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::render::ASSET_CACHE;
use crate::sink::MemorySink;

/// The site in `sink` at `/`, for any path the rest of the server does not answer.
pub fn router(sink: Arc<MemorySink>) -> Router {
    Router::new().fallback(serve_page).with_state(sink)
}

fn header_value(s: &str) -> HeaderValue {
    HeaderValue::from_str(s).unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// The handler behind [`router`]: one file of the sink, or its 404 page.
pub async fn serve_page(State(sink): State<Arc<MemorySink>>, req: Request) -> Response {
    let method = req.method().clone();
    if method != Method::GET && method != Method::HEAD {
        return (
            StatusCode::METHOD_NOT_ALLOWED,
            [(header::ALLOW, "GET, HEAD")],
            "method not allowed",
        )
            .into_response();
    }
    let path = req.uri().path();
    let lookup = if path.ends_with('/') {
        format!("{path}index.html")
    } else {
        path.to_owned()
    };
    let head = method == Method::HEAD;
    if let Some((page, hash)) = sink.get_with_hash(&lookup) {
        let etag = format!("\"{}\"", &hash[..32.min(hash.len())]);
        let fresh = req
            .headers()
            .get(header::IF_NONE_MATCH)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.split(',').any(|t| t.trim() == etag || t.trim() == "*"));
        // Locally every page is revalidated (cheap, thanks to the ETag) so a rebuild shows at once.
        let cache = if page.cache_control == ASSET_CACHE {
            ASSET_CACHE
        } else {
            "no-cache"
        };
        let mut res = if fresh {
            StatusCode::NOT_MODIFIED.into_response()
        } else {
            let len = page.bytes.len();
            let mut r = Response::new(if head {
                Body::empty()
            } else {
                Body::from(page.bytes.clone())
            });
            r.headers_mut()
                .insert(header::CONTENT_TYPE, header_value(page.content_type));
            r.headers_mut()
                .insert(header::CONTENT_LENGTH, HeaderValue::from(len));
            r
        };
        res.headers_mut().insert(header::ETAG, header_value(&etag));
        res.headers_mut()
            .insert(header::CACHE_CONTROL, header_value(cache));
        return res;
    }
    if !path.ends_with('/') && sink.get(&format!("{path}/index.html")).is_some() {
        let mut to = format!("{path}/");
        if let Some(q) = req.uri().query() {
            to.push('?');
            to.push_str(q);
        }
        return (
            StatusCode::PERMANENT_REDIRECT,
            [(header::LOCATION, header_value(&to))],
        )
            .into_response();
    }
    let (content_type, bytes) = match sink.get("/404.html") {
        Some(p) => (p.content_type, p.bytes),
        None => ("text/plain; charset=utf-8", "页面不存在".into()),
    };
    let len = bytes.len();
    let mut res = Response::new(if head {
        Body::empty()
    } else {
        Body::from(bytes)
    });
    *res.status_mut() = StatusCode::NOT_FOUND;
    res.headers_mut()
        .insert(header::CONTENT_TYPE, header_value(content_type));
    res.headers_mut()
        .insert(header::CONTENT_LENGTH, HeaderValue::from(len));
    res.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    res
}
