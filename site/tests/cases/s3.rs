//! The S3 sink against a local AWS-compatible server (ministack). Start it with
//! `scripts/ministack.sh start` and set `CHENGGUO_TEST_AWS_ENDPOINT`; without it these tests
//! print a skip line and pass.

use aws_sdk_s3::Client;
use chengguo_site::{S3Sink, publish};
use time::Duration;

use crate::support::{TODAY, fixture, site};

fn endpoint() -> Option<String> {
    match std::env::var("CHENGGUO_TEST_AWS_ENDPOINT") {
        Ok(e) if !e.trim().is_empty() => Some(e),
        _ => {
            println!("skipped: CHENGGUO_TEST_AWS_ENDPOINT not set");
            None
        }
    }
}

async fn fresh_bucket(client: &Client) -> String {
    let bucket = format!("chengguo-site-test-{}", uuid::Uuid::new_v4().simple());
    client
        .create_bucket()
        .bucket(&bucket)
        .send()
        .await
        .expect("create bucket");
    bucket
}

async fn drop_bucket(client: &Client, bucket: &str) {
    loop {
        let listed = client
            .list_objects_v2()
            .bucket(bucket)
            .send()
            .await
            .expect("list");
        let keys: Vec<String> = listed
            .contents()
            .iter()
            .filter_map(|o| o.key().map(str::to_owned))
            .collect();
        if keys.is_empty() {
            break;
        }
        for k in keys {
            client
                .delete_object()
                .bucket(bucket)
                .key(k)
                .send()
                .await
                .expect("delete");
        }
    }
    client
        .delete_bucket()
        .bucket(bucket)
        .send()
        .await
        .expect("delete bucket");
}

async fn keys(client: &Client, bucket: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let listed = client
            .list_objects_v2()
            .bucket(bucket)
            .set_continuation_token(token.clone())
            .send()
            .await
            .expect("list");
        out.extend(
            listed
                .contents()
                .iter()
                .filter_map(|o| o.key().map(str::to_owned)),
        );
        match listed.next_continuation_token() {
            Some(t) => token = Some(t.to_owned()),
            None => break,
        }
    }
    out.sort();
    out
}

#[tokio::test]
async fn the_site_bucket_gets_typed_objects_only_changes_and_deletions() {
    let Some(endpoint) = endpoint() else { return };
    let client = Client::from_conf(chengguo_aws::setup::s3_config_for_endpoint(&endpoint).build());
    let bucket = fresh_bucket(&client).await;
    let site = site();
    let mut input = fixture();
    let sink = S3Sink::new(client.clone(), &bucket);

    let first = publish(&site, &input, &sink).await.unwrap();
    let expected = site.render(&input).unwrap();
    assert_eq!(first.written.len(), expected.len());
    let mut want: Vec<String> = expected
        .keys()
        .map(|p| p.trim_start_matches('/').to_owned())
        .collect();
    want.push(".manifest.json".into());
    want.sort();
    assert_eq!(keys(&client, &bucket).await, want);

    let css = site
        .asset_path("site.css")
        .unwrap()
        .trim_start_matches('/')
        .to_owned();
    for (key, content_type, cache) in [
        (
            "index.html",
            "text/html; charset=utf-8",
            "public, max-age=300",
        ),
        (
            "notices/r-notice-1/index.html",
            "text/html; charset=utf-8",
            "public, max-age=300",
        ),
        (
            "registry/index.json",
            "application/json",
            "public, max-age=300",
        ),
        ("feed.xml", "application/atom+xml", "public, max-age=300"),
        (
            css.as_str(),
            "text/css; charset=utf-8",
            "public, max-age=31536000, immutable",
        ),
    ] {
        let head = client
            .head_object()
            .bucket(&bucket)
            .key(key)
            .send()
            .await
            .expect(key);
        assert_eq!(head.content_type(), Some(content_type), "{key}");
        assert_eq!(head.cache_control(), Some(cache), "{key}");
        let sha = expected[&format!("/{key}")].sha256();
        assert_eq!(
            head.metadata()
                .and_then(|m| m.get("sha256"))
                .map(String::as_str),
            Some(sha.as_str()),
            "{key}"
        );
    }
    let body = client
        .get_object()
        .bucket(&bucket)
        .key("registry/4422026Y0001/index.html")
        .send()
        .await
        .unwrap()
        .body
        .collect()
        .await
        .unwrap()
        .into_bytes();
    assert_eq!(
        body.as_ref(),
        expected["/registry/4422026Y0001/index.html"].bytes.as_ref()
    );

    // Same state: nothing written, nothing deleted.
    let again = publish(&site, &input, &sink).await.unwrap();
    assert!(again.written.is_empty(), "{:?}", again.written);
    assert!(again.deleted.is_empty());

    // The notice ends: its page is deleted from the bucket.
    input.today = TODAY + Duration::days(22);
    let later = publish(&site, &input, &sink).await.unwrap();
    assert_eq!(
        later.deleted,
        vec!["/notices/r-notice-1/index.html".to_owned()]
    );
    let gone = client
        .head_object()
        .bucket(&bucket)
        .key("notices/r-notice-1/index.html")
        .send()
        .await;
    assert!(gone.is_err(), "the removed page is still in the bucket");
    assert!(
        !keys(&client, &bucket)
            .await
            .contains(&"notices/r-notice-1/index.html".to_owned())
    );

    drop_bucket(&client, &bucket).await;
}
