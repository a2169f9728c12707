//! The router of one HTTP function: the shared router (the API, and for the pages function
//! the pages too) restricted to the routes [`crate::routes`] gives that function, with the
//! client's address taken from the Lambda event.

use std::net::{IpAddr, SocketAddr};

use axum::Router;
use axum::extract::Request;
use axum::extract::connect_info::ConnectInfo;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use chengguo_api::{ApiError, AppState};
use lambda_http::RequestExt;
use lambda_http::request::RequestContext;

use crate::routes::{Function, select};

/// The header CloudFront sets to the viewer's `address:port` when its origin request policy
/// forwards it (the distribution in `infra/template.yaml` does).
pub const VIEWER_ADDRESS: &str = "cloudfront-viewer-address";

/// What `lambda_http::run` serves for `function`: the shared router, answering a JSON 404 for
/// the routes API Gateway sends to another function. `GET /healthz` answers on every function,
/// so each can be checked through its own function URL.
pub fn router(function: Function, state: AppState) -> Router {
    router_with(function, state, LARGEST_INLINE_BODY)
}

/// [`router`] with the exports function answering bodies up to `inline_limit` bytes itself.
pub fn router_with(function: Function, state: AppState, inline_limit: usize) -> Router {
    let full = match function {
        Function::Pages => chengguo::backend::app_router(state.clone()),
        _ => chengguo_api::router(state.clone()),
    };
    let full = if function == Function::Exports {
        full.layer(axum::middleware::from_fn(
            move |req: Request, next: Next| {
                large_bodies_through_s3(state.clone(), inline_limit, req, next)
            },
        ))
    } else {
        full
    };
    full.layer(axum::middleware::from_fn(
        move |req: Request, next: Next| only_routes_of(function, req, next),
    ))
    .layer(axum::middleware::map_request(with_client_address))
}

/// The largest body the exports function answers itself. API Gateway and function URLs refuse
/// a response above 6 MB, and a binary body travels base64-encoded (a third larger).
pub const LARGEST_INLINE_BODY: usize = 4 * 1024 * 1024;

/// Where workbooks too large to answer inline are kept (the uploads bucket expires the prefix
/// after a day; see `infra/template.yaml`).
pub const LARGE_EXPORTS_PREFIX: &str = "exports/";

/// How long the download URL of a large workbook stays valid.
const LARGE_EXPORT_URL_TTL: time::Duration = time::Duration::minutes(10);

/// Answers a successful body larger than `limit` by putting it in the uploads bucket and
/// redirecting the client (303) to a short-lived download URL with the same file name and
/// type. Everything else passes unchanged.
async fn large_bodies_through_s3(
    state: AppState,
    limit: usize,
    req: Request,
    next: Next,
) -> Response {
    let response = next.run(req).await;
    if !response.status().is_success() {
        return response;
    }
    let (parts, body) = response.into_parts();
    // lambda_http holds the whole answer in memory anyway: reading it here costs nothing more.
    let bytes = match axum::body::to_bytes(body, usize::MAX).await {
        Ok(b) => b,
        Err(e) => return ApiError::internal(format!("reading the export: {e}")).into_response(),
    };
    if bytes.len() <= limit {
        return Response::from_parts(parts, axum::body::Body::from(bytes));
    }
    let header = |name: http::header::HeaderName| {
        parts
            .headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned()
    };
    let content_type = header(http::header::CONTENT_TYPE);
    let filename = filename_of(&header(http::header::CONTENT_DISPOSITION))
        .unwrap_or_else(|| "export.xlsx".to_owned());
    let key = format!("{LARGE_EXPORTS_PREFIX}{}", uuid::Uuid::new_v4().simple());
    let url = async {
        state.blobs.put(&key, bytes.to_vec(), &content_type).await?;
        state
            .blobs
            .presign_get(&key, &filename, &content_type, LARGE_EXPORT_URL_TTL)
            .await
    };
    match url.await {
        Ok(url) => (
            http::StatusCode::SEE_OTHER,
            [
                (http::header::LOCATION, url),
                (http::header::CACHE_CONTROL, "no-store".to_owned()),
            ],
        )
            .into_response(),
        Err(e) => ApiError::from(e).into_response(),
    }
}

/// The file name of a `Content-Disposition` header: its `filename*=UTF-8''…` form decoded,
/// else its plain `filename="…"`.
pub fn filename_of(disposition: &str) -> Option<String> {
    let mut plain = None;
    for part in disposition.split(';').map(str::trim) {
        if let Some(v) = part.strip_prefix("filename*=UTF-8''") {
            return percent_encoding::percent_decode_str(v)
                .decode_utf8()
                .ok()
                .map(String::from)
                .filter(|n| !n.is_empty());
        }
        if let Some(v) = part.strip_prefix("filename=") {
            plain = Some(v.trim_matches('"').to_owned()).filter(|n| !n.is_empty());
        }
    }
    plain
}

async fn only_routes_of(function: Function, req: Request, next: Next) -> Response {
    let path = req.uri().path();
    let healthz = path == "/healthz" && req.method() == http::Method::GET;
    if healthz || select(req.method().as_str(), path).0 == function {
        next.run(req).await
    } else {
        ApiError::NoRoute.into_response()
    }
}

/// Gives the handlers the client's address as the local server's connection would
/// (`ConnectInfo`): the viewer's, from CloudFront's header, when the request came through the
/// distribution; otherwise the address API Gateway or the function URL saw.
async fn with_client_address(mut req: Request) -> Request {
    if let Some(ip) = client_ip(&req) {
        req.extensions_mut()
            .insert(ConnectInfo(SocketAddr::new(ip, 0)));
    }
    req
}

/// The client's address of a Lambda HTTP event.
pub fn client_ip<B>(req: &http::Request<B>) -> Option<IpAddr> {
    let viewer = req
        .headers()
        .get(VIEWER_ADDRESS)
        .and_then(|v| v.to_str().ok())
        .and_then(parse_viewer_address);
    viewer.or_else(|| match req.request_context_ref()? {
        RequestContext::ApiGatewayV2(ctx) => ctx.http.source_ip.as_deref()?.trim().parse().ok(),
        #[allow(unreachable_patterns)]
        _ => None,
    })
}

/// `203.0.113.9:46532` or `2001:db8::1:443` (IPv6 without brackets, as CloudFront writes it:
/// the port always comes last, so it is split off first).
fn parse_viewer_address(v: &str) -> Option<IpAddr> {
    let v = v.trim();
    let (ip, port) = v.rsplit_once(':')?;
    port.parse::<u16>().ok()?;
    ip.trim_start_matches('[')
        .trim_end_matches(']')
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_file_name_of_a_content_disposition() {
        assert_eq!(
            filename_of(
                "attachment; filename=\"export.xlsx\"; filename*=UTF-8''%E8%A1%A8%201.xlsx"
            )
            .as_deref(),
            Some("表 1.xlsx")
        );
        assert_eq!(
            filename_of("attachment; filename=\"a.xlsx\"").as_deref(),
            Some("a.xlsx")
        );
        assert_eq!(filename_of("attachment; filename*=UTF-8''%E8%A"), None);
        assert_eq!(filename_of("inline"), None);
    }

    #[test]
    fn reads_viewer_addresses_as_cloudfront_writes_them() {
        assert_eq!(
            parse_viewer_address("203.0.113.9:46532"),
            Some("203.0.113.9".parse().unwrap())
        );
        assert_eq!(
            parse_viewer_address("2001:db8::1:443"),
            Some("2001:db8::1".parse().unwrap())
        );
        assert_eq!(
            parse_viewer_address("[2001:db8::1]:443"),
            Some("2001:db8::1".parse().unwrap())
        );
        assert_eq!(parse_viewer_address("not an address"), None);
        assert_eq!(parse_viewer_address("203.0.113.9"), None);
    }
}
