//! The router serves a memory sink: pages with their types, `/x/` as `/x/index.html`, a
//! redirect from `/x`, the 404 page with status 404, HEAD, ETags.

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use chengguo_site::{MemorySink, publish, router};
use http_body_util::BodyExt;
use tower::ServiceExt;

use crate::support::{fixture, site};

async fn app() -> axum::Router {
    let sink = MemorySink::new();
    publish(&site(), &fixture(), sink.as_ref()).await.unwrap();
    router(sink)
}

async fn send(app: &axum::Router, method: &str, uri: &str) -> axum::response::Response {
    app.clone()
        .oneshot(
            Request::builder()
                .method(method)
                .uri(uri)
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap()
}

async fn body(res: axum::response::Response) -> String {
    String::from_utf8(res.into_body().collect().await.unwrap().to_bytes().to_vec()).unwrap()
}

#[tokio::test]
async fn pages_are_served_with_their_content_types() {
    let app = app().await;
    let res = send(&app, "GET", "/").await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(
        res.headers()[header::CONTENT_TYPE],
        "text/html; charset=utf-8"
    );
    assert!(body(res).await.contains("<h1>中山市科技成果登记</h1>"));

    let res = send(&app, "GET", "/registry/4422026Y0001/").await;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(body(res).await.contains("4422026Y0001"));

    let res = send(&app, "GET", "/registry/index.json").await;
    assert_eq!(res.headers()[header::CONTENT_TYPE], "application/json");
    let res = send(&app, "GET", "/feed.xml").await;
    assert_eq!(res.headers()[header::CONTENT_TYPE], "application/atom+xml");
}

#[tokio::test]
async fn a_folder_without_its_slash_is_redirected() {
    let res = send(&app().await, "GET", "/notices?x=1").await;
    assert_eq!(res.status(), StatusCode::PERMANENT_REDIRECT);
    assert_eq!(res.headers()[header::LOCATION], "/notices/?x=1");
}

#[tokio::test]
async fn unknown_paths_get_the_404_page() {
    let res = send(&app().await, "GET", "/notices/gone/").await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    assert!(body(res).await.contains("<h1>页面不存在</h1>"));
}

#[tokio::test]
async fn head_has_no_body_and_etags_revalidate() {
    let app = app().await;
    let res = send(&app, "HEAD", "/guide/").await;
    assert_eq!(res.status(), StatusCode::OK);
    let etag = res.headers()[header::ETAG].clone();
    let length: usize = res.headers()[header::CONTENT_LENGTH]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(length > 1000);
    assert!(body(res).await.is_empty());

    let res = app
        .clone()
        .oneshot(
            Request::builder()
                .uri("/guide/")
                .header(header::IF_NONE_MATCH, etag)
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NOT_MODIFIED);
}

#[tokio::test]
async fn other_methods_are_refused() {
    let res = send(&app().await, "POST", "/").await;
    assert_eq!(res.status(), StatusCode::METHOD_NOT_ALLOWED);
}
