//! The file-store suite against `S3Blobs` on a local AWS-compatible server (ministack).
//!
//! Start it with `scripts/ministack.sh start` and set
//! `CHENGGUO_TEST_AWS_ENDPOINT=http://127.0.0.1:4566`; without the variable the tests are skipped.

use std::sync::Arc;

use aws_sdk_s3::Client;
use aws_sdk_s3::config::{BehaviorVersion, Credentials, Region};
use chengguo_aws::s3::S3Blobs;
use chengguo_conformance::blobs;
use chengguo_domain::ports::Blobs;
use time::Duration;

fn endpoint() -> Option<String> {
    match std::env::var("CHENGGUO_TEST_AWS_ENDPOINT") {
        Ok(e) if !e.trim().is_empty() => Some(e),
        _ => {
            println!("skipped: CHENGGUO_TEST_AWS_ENDPOINT not set");
            None
        }
    }
}

/// A client for the test server: its endpoint, path-style addressing, and the credentials it
/// accepts, whatever the shell says.
fn client(endpoint: &str) -> Client {
    let conf = aws_sdk_s3::config::Builder::new()
        .behavior_version(BehaviorVersion::latest())
        .endpoint_url(endpoint)
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new(
            "test",
            "test",
            None,
            None,
            "chengguo-tests",
        ))
        .force_path_style(true)
        .build();
    Client::from_conf(conf)
}

/// A bucket of its own for one test, emptied and removed by [`drop_bucket`].
async fn fresh_bucket(client: &Client) -> String {
    let bucket = format!("chengguo-test-{}", uuid::Uuid::new_v4().simple());
    client
        .create_bucket()
        .bucket(&bucket)
        .send()
        .await
        .expect("create bucket");
    bucket
}

async fn drop_bucket(client: &Client, bucket: &str) {
    let listed = client
        .list_objects_v2()
        .bucket(bucket)
        .send()
        .await
        .expect("list");
    for obj in listed.contents() {
        if let Some(key) = obj.key() {
            client
                .delete_object()
                .bucket(bucket)
                .key(key)
                .send()
                .await
                .expect("delete object");
        }
    }
    client
        .delete_bucket()
        .bucket(bucket)
        .send()
        .await
        .expect("delete bucket");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_blobs_pass_the_suite() {
    let Some(endpoint) = endpoint() else { return };
    let client = client(&endpoint);
    let bucket = fresh_bucket(&client).await;
    let blobs: Arc<dyn Blobs> = Arc::new(S3Blobs::new(client.clone(), bucket.clone()));
    blobs::run_all(blobs, reqwest::Client::new()).await;
    drop_bucket(&client, &bucket).await;
}

/// What the upload URL asks the browser to send: the signed content type, and the signed length
/// (which the browser derives from the body).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upload_urls_sign_type_and_length() {
    let Some(endpoint) = endpoint() else { return };
    let client = client(&endpoint);
    let bucket = fresh_bucket(&client).await;
    let s3 = S3Blobs::new(client.clone(), bucket.clone());
    let up = s3
        .presign_put("att/r/a", "image/png", 1234, Duration::minutes(15))
        .await
        .unwrap();
    println!("presigned upload: {up:#?}");
    assert_eq!(
        up.headers.get("content-type").map(String::as_str),
        Some("image/png")
    );
    assert_eq!(
        up.headers.get("content-length").map(String::as_str),
        Some("1234")
    );
    let signed = up
        .url
        .split(['?', '&'])
        .find_map(|p| p.strip_prefix("X-Amz-SignedHeaders="))
        .expect("X-Amz-SignedHeaders");
    assert!(signed.contains("content-length"), "{signed}");
    assert!(signed.contains("content-type"), "{signed}");
    assert!(up.url.contains("X-Amz-Expires=900"), "{}", up.url);
    drop_bucket(&client, &bucket).await;
}
