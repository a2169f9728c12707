//! The file-store suite against `LocalFiles`, served by its router on a real loopback port, plus
//! what only the local store promises (its error bodies, headers and refusals).

use std::sync::Arc;

use chengguo_conformance::blobs::{self, Expiry};
use chengguo_domain::ports::{Blobs, ManualClock};
use chengguo_files_local::{LocalFiles, router};
use time::{Duration, OffsetDateTime};

struct Server {
    files: Arc<LocalFiles>,
    clock: Arc<ManualClock>,
    task: tokio::task::JoinHandle<()>,
    _dir: tempfile::TempDir,
}

impl Drop for Server {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn serve() -> Server {
    serve_on(true).await
}

/// A server on a manual clock starting now, or on the system clock.
async fn serve_on(manual: bool) -> Server {
    let dir = tempfile::tempdir().expect("temp dir");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let clock = Arc::new(ManualClock::new(OffsetDateTime::now_utc()));
    let mut files = LocalFiles::new(
        dir.path().join("files"),
        format!("http://{addr}"),
        *b"0123456789abcdef0123456789abcdef",
    );
    if manual {
        files = files.with_clock(clock.clone());
    }
    let files = Arc::new(files);
    let app = router(files.clone());
    let task = tokio::spawn(async move {
        axum::serve(listener, app).await.expect("serve");
    });
    Server {
        files,
        clock,
        task,
        _dir: dir,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn local_files_pass_the_suite() {
    let server = serve().await;
    let clock = server.clock.clone();
    let blobs: Arc<dyn Blobs> = server.files.clone();
    blobs::run_all_with(
        blobs,
        reqwest::Client::new(),
        Expiry::Advance(Arc::new(move |d| clock.advance(d))),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn urls_expire_in_real_time_too() {
    // On the system clock, URLs expire by waiting (what the S3 run does).
    let server = serve_on(false).await;
    blobs::expired_urls_are_refused(
        server.files.as_ref(),
        &reqwest::Client::new(),
        &Expiry::Wait,
    )
    .await;
}

async fn json_error(res: reqwest::Response) -> (u16, String, serde_json::Value) {
    let status = res.status().as_u16();
    let body: serde_json::Value = res.json().await.expect("a JSON error");
    let code = body["error"]["code"]
        .as_str()
        .expect("error.code")
        .to_owned();
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()),
        "a message: {body}"
    );
    assert!(body["error"]["details"].is_array(), "details: {body}");
    (status, code, body)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusals_are_json_with_codes() {
    let server = serve().await;
    let files = server.files.clone();
    let http = reqwest::Client::new();
    let key = blobs::fresh_key();
    let bytes = blobs::sample_pdf(1000);
    let up = files
        .presign_put(&key, "application/pdf", 1000, Duration::minutes(5))
        .await
        .unwrap();
    assert_eq!(up.headers.len(), 1, "only content-type: {:?}", up.headers);

    let put = |url: String, ct: &'static str, body: Vec<u8>| {
        let http = http.clone();
        async move {
            http.put(url)
                .header("content-type", ct)
                .body(body)
                .send()
                .await
                .unwrap()
        }
    };

    let (s, c, _) = json_error(put(up.url.clone(), "image/png", bytes.clone()).await).await;
    assert_eq!((s, c.as_str()), (400, "content_type_mismatch"));
    let (s, c, _) =
        json_error(put(up.url.clone(), "application/pdf", bytes[..999].to_vec()).await).await;
    assert_eq!((s, c.as_str()), (400, "size_mismatch"));
    let (s, c, body) = json_error(
        put(
            blobs::tamper_signature(&up.url),
            "application/pdf",
            bytes.clone(),
        )
        .await,
    )
    .await;
    assert_eq!((s, c.as_str()), (403, "bad_signature"));
    assert_eq!(body["error"]["message"], "上传链接无效或已过期。");
    let (s, c, _) = json_error(
        put(
            format!("{}/files/garbage", files.base_url()),
            "application/pdf",
            bytes.clone(),
        )
        .await,
    )
    .await;
    assert_eq!((s, c.as_str()), (403, "bad_signature"));
    assert_eq!(files.size(&key).await.unwrap(), None);

    // A download URL does not upload, an upload URL does not download.
    let get_url = files
        .presign_get(&key, "a.pdf", "application/pdf", Duration::minutes(5))
        .await
        .unwrap();
    let (s, c, _) = json_error(put(get_url.clone(), "application/pdf", bytes.clone()).await).await;
    assert_eq!((s, c.as_str()), (403, "bad_signature"));
    let (s, c, _) = json_error(http.get(&up.url).send().await.unwrap()).await;
    assert_eq!((s, c.as_str()), (403, "bad_signature"));
    let (s, c, _) = json_error(http.get(&get_url).send().await.unwrap()).await;
    assert_eq!((s, c.as_str()), (404, "not_found"));
    let (s, c, _) = json_error(http.post(&up.url).send().await.unwrap()).await;
    assert_eq!((s, c.as_str()), (405, "method_not_allowed"));

    let res = put(up.url.clone(), "application/pdf", bytes.clone()).await;
    assert!(res.status().is_success());
    let res = http.get(&get_url).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["x-content-type-options"], "nosniff");
    assert_eq!(
        res.headers()["content-disposition"],
        "attachment; filename*=UTF-8''a.pdf"
    );
    assert_eq!(res.headers()["content-length"], "1000");
    assert_eq!(res.bytes().await.unwrap().as_ref(), bytes.as_slice());

    // Expired, by the store's clock.
    server
        .clock
        .advance(Duration::minutes(5) + Duration::seconds(1));
    let (s, c, _) = json_error(put(up.url.clone(), "application/pdf", bytes.clone()).await).await;
    assert_eq!((s, c.as_str()), (403, "expired"));
    let (s, c, body) = json_error(http.get(&get_url).send().await.unwrap()).await;
    assert_eq!((s, c.as_str()), (403, "expired"));
    assert_eq!(body["error"]["message"], "下载链接无效或已过期。");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upload_without_content_length_is_refused() {
    let server = serve().await;
    let files = server.files.clone();
    let key = blobs::fresh_key();
    let up = files
        .presign_put(&key, "application/pdf", 10, Duration::minutes(5))
        .await
        .unwrap();
    // A chunked body carries no Content-Length: speak HTTP/1.1 by hand.
    let url = up.url.strip_prefix("http://").unwrap();
    let (host, path) = url.split_once('/').unwrap();
    let mut stream = tokio::net::TcpStream::connect(host).await.unwrap();
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let req = format!(
        "PUT /{path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/pdf\r\n\
         Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n14\r\n%PDF-1.7 twenty byte\r\n0\r\n\r\n"
    );
    stream.write_all(req.as_bytes()).await.unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).await.unwrap();
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
    assert!(answer.contains("size_mismatch"), "{answer}");
    assert_eq!(files.size(&key).await.unwrap(), None);
}
