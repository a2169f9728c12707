use aws_sdk_s3::Client;
use aws_sdk_s3::config::{BehaviorVersion, Credentials, Region};
use chengguo_aws::s3::S3Blobs;
use chengguo_domain::ports::Blobs;
use time::Duration;

#[tokio::test]
async fn probe() {
    let conf = aws_sdk_s3::config::Builder::new()
        .behavior_version(BehaviorVersion::latest())
        .endpoint_url(&std::env::var("PROBE_EP").unwrap())
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("test", "test", None, None, "t"))
        .force_path_style(true)
        .build();
    let client = Client::from_conf(conf);
    let bucket = format!("probe-{}", uuid::Uuid::new_v4().simple());
    client.create_bucket().bucket(&bucket).send().await.unwrap();
    let s3 = S3Blobs::new(client.clone(), bucket.clone());
    let http = reqwest::Client::new();
    let body = vec![b'x'; 100];
    async fn show(what: &str, r: reqwest::Response, s3: &S3Blobs, key: &str) {
        let st = r.status();
        let t = r.text().await.unwrap();
        let code = t.split("<Code>").nth(1).and_then(|x| x.split('<').next()).unwrap_or("");
        let msg = t.split("<Message>").nth(1).and_then(|x| x.split('<').next()).unwrap_or("");
        println!("{what:45} -> {st} {code} | {msg} | stored={:?}", s3.size(key).await.unwrap());
    }
    let k = |n: &str| format!("att/probe/{n}");
    let up = s3.presign_put(&k("ct"), "application/pdf", 100, Duration::minutes(5)).await.unwrap();
    show("PUT other content-type", http.put(&up.url).header("content-type","image/png").body(body.clone()).send().await.unwrap(), &s3, &k("ct")).await;
    show("PUT no content-type", http.put(&up.url).body(body.clone()).send().await.unwrap(), &s3, &k("ct")).await;
    show("PUT content-type with charset", http.put(&up.url).header("content-type","application/pdf; charset=utf-8").body(body.clone()).send().await.unwrap(), &s3, &k("ct")).await;
    show("PUT 99 bytes", http.put(&up.url).header("content-type","application/pdf").body(vec![b'x';99]).send().await.unwrap(), &s3, &k("ct")).await;
    show("PUT 101 bytes", http.put(&up.url).header("content-type","application/pdf").body(vec![b'x';101]).send().await.unwrap(), &s3, &k("ct")).await;
    let sig = up.url.find("X-Amz-Signature=").unwrap() + 20;
    let mut t = up.url.clone().into_bytes(); t[sig] = if t[sig]==b'a' {b'b'} else {b'a'};
    show("PUT tampered signature", http.put(String::from_utf8(t).unwrap()).header("content-type","application/pdf").body(body.clone()).send().await.unwrap(), &s3, &k("ct")).await;
    let u2 = up.url.replace("X-Amz-Expires=300", "X-Amz-Expires=3000");
    show("PUT tampered X-Amz-Expires", http.put(u2).header("content-type","application/pdf").body(body.clone()).send().await.unwrap(), &s3, &k("ct")).await;
    let u3 = up.url.replace("/att/probe/ct?", "/att/probe/other?");
    show("PUT URL with another key", http.put(u3).header("content-type","application/pdf").body(body.clone()).send().await.unwrap(), &s3, &k("other")).await;
    let u4 = up.url.replace("Signature=", "Signature=00").replace("X-Amz-Algorithm=AWS4-HMAC-SHA256&", "");
    show("PUT without X-Amz-Algorithm", http.put(u4).header("content-type","application/pdf").body(body.clone()).send().await.unwrap(), &s3, &k("ct")).await;
    let plain = up.url.split('?').next().unwrap().to_string();
    show("PUT unsigned (no query at all)", http.put(&plain).header("content-type","application/pdf").body(body.clone()).send().await.unwrap(), &s3, &k("ct")).await;
    s3.delete(&k("ct")).await.unwrap();
    let other_secret = Client::from_conf(aws_sdk_s3::config::Builder::new()
        .behavior_version(BehaviorVersion::latest()).endpoint_url(&std::env::var("PROBE_EP").unwrap()).region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("test", "wrong-secret", None, None, "t")).force_path_style(true).build());
    let r = other_secret.put_object().bucket(&bucket).key(k("hdr")).body(body.clone().into()).send().await;
    println!("{:45} -> {:?} stored={:?}", "header-signed PUT with a wrong secret", r.is_ok(), s3.size(&k("hdr")).await.unwrap());
    let s3w = S3Blobs::new(other_secret, bucket.clone());
    let upw = s3w.presign_put(&k("w"), "application/pdf", 100, Duration::minutes(5)).await.unwrap();
    show("PUT presigned with a wrong secret", http.put(&upw.url).header("content-type","application/pdf").body(body.clone()).send().await.unwrap(), &s3, &k("w")).await;
    let exp = s3.presign_put(&k("exp"), "application/pdf", 100, Duration::seconds(1)).await.unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    show("PUT expired", http.put(&exp.url).header("content-type","application/pdf").body(body.clone()).send().await.unwrap(), &s3, &k("exp")).await;
    s3.put(&k("g"), body.clone(), "application/pdf").await.unwrap();
    let g = s3.presign_get(&k("g"), "a.pdf", "application/pdf", Duration::seconds(1)).await.unwrap();
    println!("GET url: {g}");
    let r = http.get(&g).send().await.unwrap();
    println!("GET ok: {} ct={:?} cd={:?}", r.status(), r.headers().get("content-type"), r.headers().get("content-disposition"));
    let gt = g.replace("response-content-type=application%2Fpdf", "response-content-type=text%2Fhtml");
    show("GET with changed response-content-type", http.get(&gt).send().await.unwrap(), &s3, &k("g")).await;
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    show("GET expired", http.get(&g).send().await.unwrap(), &s3, &k("g")).await;
    show("GET unsigned", http.get(g.split('?').next().unwrap()).send().await.unwrap(), &s3, &k("g")).await;
}
