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
    let full = match function {
        Function::Pages => chengguo::backend::app_router(state),
        _ => chengguo_api::router(state),
    };
    full.layer(axum::middleware::from_fn(
        move |req: Request, next: Next| only_routes_of(function, req, next),
    ))
    .layer(axum::middleware::map_request(with_client_address))
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
