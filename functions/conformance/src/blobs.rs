//! The file-store suite: every [`Blobs`] backend must pass it, with presigned URLs exercised over
//! real HTTP the way a browser uses them.
//!
//! The uploader sends the bytes with the returned headers, except those a browser may not set
//! (`content-length`, which is always derived from the body, and `host`). Refusals are any 4xx
//! status; a refused upload must store nothing.
//!
//! Expiry is reached either by waiting ([`Expiry::Wait`], ~1.5 s for a URL presigned for 1 s) or by
//! moving the backend's clock ([`Expiry::Advance`]).
//!
//! Call [`run_all`] (or [`run_all_with`]) from the backend's tests; each case is also public.

use std::fmt;
use std::sync::Arc;

use chengguo_domain::ports::{BlobError, Blobs};
use sha2::{Digest, Sha256};
use time::Duration;

/// How the suite makes a presigned URL expire.
#[derive(Clone)]
pub enum Expiry {
    /// Presign for 1 s and wait 1.5 s of real time (what S3 needs).
    Wait,
    /// Presign for 1 s and move the backend's clock by the given span (2 s is passed). The clock
    /// should start near the real time: `expires_at` is checked against it.
    Advance(Arc<dyn Fn(Duration) + Send + Sync>),
}

impl fmt::Debug for Expiry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Expiry::Wait => f.write_str("Expiry::Wait"),
            Expiry::Advance(_) => f.write_str("Expiry::Advance(..)"),
        }
    }
}

impl Expiry {
    /// Lets presigned URLs made for 1 s expire.
    pub async fn pass(&self) {
        match self {
            Expiry::Wait => tokio::time::sleep(std::time::Duration::from_millis(1500)).await,
            Expiry::Advance(advance) => advance(Duration::seconds(2)),
        }
    }
}

/// The lifetime of URLs the suite expects to work.
const TTL: Duration = Duration::minutes(10);
/// The lifetime of URLs the suite lets expire.
const SHORT_TTL: Duration = Duration::seconds(1);

/// Runs every case, waiting for expiry in real time.
pub async fn run_all(blobs: Arc<dyn Blobs>, http: reqwest::Client) {
    run_all_with(blobs, http, Expiry::Wait).await;
}

/// Runs every case, reaching expiry as `expiry` says.
pub async fn run_all_with(blobs: Arc<dyn Blobs>, http: reqwest::Client, expiry: Expiry) {
    let b = blobs.as_ref();
    absent_keys(b).await;
    put_get_and_overwrite(b).await;
    upload_roundtrip(b, &http).await;
    upload_url_creates_the_object_once(b, &http).await;
    upload_refuses_other_content_type(b, &http).await;
    upload_refuses_other_length(b, &http).await;
    upload_refuses_tampered_url(b, &http).await;
    download_roundtrip(b, &http).await;
    download_refuses_tampered_url(b, &http).await;
    download_of_absent_object_is_not_found(b, &http).await;
    expired_urls_are_refused(b, &http, &expiry).await;
    delete_removes(b).await;
}

/// A fresh key of the attachment shape.
pub fn fresh_key() -> String {
    format!(
        "att/{}/{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    )
}

/// `len` bytes starting like a PDF, varied enough that a mix-up shows.
pub fn sample_pdf(len: usize) -> Vec<u8> {
    let mut out = b"%PDF-1.7\n".to_vec();
    let mut x: u32 = 0x1234_5678;
    while out.len() < len {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        out.push((x >> 24) as u8);
    }
    out.truncate(len);
    out
}

fn hex_sha256(bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// Sends a presigned upload as a browser would: the returned headers except `content-length`
/// and `host`, which come from the body and the URL.
pub async fn send_upload(
    http: &reqwest::Client,
    upload: &chengguo_domain::ports::PresignedUpload,
    url: &str,
    body: Vec<u8>,
    content_type: Option<&str>,
) -> reqwest::Response {
    let mut req = http.put(url);
    for (name, value) in &upload.headers {
        let lower = name.to_ascii_lowercase();
        if lower == "content-length" || lower == "host" {
            continue;
        }
        if lower == "content-type" {
            if let Some(ct) = content_type {
                req = req.header(name.as_str(), ct);
            }
            continue;
        }
        req = req.header(name.as_str(), value.as_str());
    }
    if let Some(ct) = content_type
        && !upload
            .headers
            .keys()
            .any(|k| k.eq_ignore_ascii_case("content-type"))
    {
        req = req.header("content-type", ct);
    }
    req.body(body)
        .send()
        .await
        .unwrap_or_else(|e| panic!("PUT {url}: {e}"))
}

async fn assert_refused(res: reqwest::Response, what: &str) {
    let status = res.status();
    let body = res.text().await.unwrap_or_default();
    assert!(
        status.is_client_error(),
        "{what}: expected a 4xx refusal, got {status}: {body}"
    );
}

async fn assert_absent(blobs: &dyn Blobs, key: &str, what: &str) {
    assert_eq!(
        blobs.size(key).await.expect("size"),
        None,
        "{what}: nothing may be stored"
    );
}

/// Changes one character of the URL's signature (`X-Amz-Signature` on S3, the part after the
/// token's `.` on the local store).
pub fn tamper_signature(url: &str) -> String {
    let pos = if let Some(i) = url.find("X-Amz-Signature=") {
        i + "X-Amz-Signature=".len() + 5
    } else {
        url.rfind('.').expect("a signed token has a '.'") + 6
    };
    flip(url, pos)
}

/// Changes what the URL grants while leaving its signature: a longer `X-Amz-Expires` on S3, a
/// character of the signed payload on the local store.
pub fn tamper_grant(url: &str) -> String {
    if let Some(i) = url.find("X-Amz-Expires=") {
        let start = i + "X-Amz-Expires=".len();
        let end = url[start..]
            .find('&')
            .map(|e| start + e)
            .unwrap_or(url.len());
        return format!("{}604800{}", &url[..start], &url[end..]);
    }
    let pos = url.rfind("/files/").expect("a local signed URL") + "/files/".len() + 12;
    flip(url, pos)
}

/// Changes one letter or digit of `url`: the first at or after `pos` (a base64url token also
/// holds `-` and `_`, which are left alone).
fn flip(url: &str, pos: usize) -> String {
    let mut bytes = url.as_bytes().to_vec();
    let pos = (pos..bytes.len())
        .find(|&i| bytes[i].is_ascii_alphanumeric())
        .unwrap_or_else(|| panic!("no letter or digit to change from {pos} of {url}"));
    bytes[pos] = if bytes[pos] == b'a' { b'b' } else { b'a' };
    String::from_utf8(bytes).expect("ASCII")
}

/// Uploads `bytes` through a presigned URL and checks it was accepted.
pub async fn upload_ok(blobs: &dyn Blobs, http: &reqwest::Client, key: &str, bytes: &[u8]) {
    let up = blobs
        .presign_put(key, "application/pdf", bytes.len() as u64, TTL)
        .await
        .expect("presign_put");
    let res = send_upload(http, &up, &up.url, bytes.to_vec(), Some("application/pdf")).await;
    let status = res.status();
    let body = res.text().await.unwrap_or_default();
    assert!(status.is_success(), "upload: {status}: {body}");
}

/// Absent keys: no size, `NotFound` on reads, deleting is fine.
pub async fn absent_keys(blobs: &dyn Blobs) {
    let key = fresh_key();
    assert_eq!(blobs.size(&key).await.expect("size"), None);
    assert_eq!(blobs.get(&key).await, Err(BlobError::NotFound(key.clone())));
    assert_eq!(
        blobs.head_bytes(&key, 8).await,
        Err(BlobError::NotFound(key.clone()))
    );
    assert_eq!(
        blobs.sha256(&key).await,
        Err(BlobError::NotFound(key.clone()))
    );
    blobs.delete(&key).await.expect("deleting an absent key");
}

/// `put` stores, reads agree, a second `put` replaces.
pub async fn put_get_and_overwrite(blobs: &dyn Blobs) {
    let key = fresh_key();
    let bytes = sample_pdf(1000);
    blobs
        .put(&key, bytes.clone(), "application/pdf")
        .await
        .expect("put");
    assert_eq!(blobs.size(&key).await.expect("size"), Some(1000));
    assert_eq!(blobs.get(&key).await.expect("get"), bytes);
    assert_eq!(
        blobs.sha256(&key).await.expect("sha256"),
        hex_sha256(&bytes)
    );
    let png = b"\x89PNG\r\n\x1a\nsmall".to_vec();
    blobs
        .put(&key, png.clone(), "image/png")
        .await
        .expect("put again");
    assert_eq!(blobs.get(&key).await.expect("get"), png);
    assert_eq!(
        blobs.size(&key).await.expect("size"),
        Some(png.len() as u64)
    );
    blobs.delete(&key).await.expect("delete");
}

/// A presigned upload of the exact bytes succeeds, and every read agrees with them.
pub async fn upload_roundtrip(blobs: &dyn Blobs, http: &reqwest::Client) {
    let key = fresh_key();
    // Several hundred KiB, so streaming paths see more than one chunk.
    let bytes = sample_pdf(300 * 1024 + 17);
    let up = blobs
        .presign_put(&key, "application/pdf", bytes.len() as u64, TTL)
        .await
        .expect("presign_put");
    assert!(
        up.url.starts_with("http://") || up.url.starts_with("https://"),
        "an absolute URL: {}",
        up.url
    );
    let now = time::OffsetDateTime::now_utc();
    assert!(
        up.expires_at > now + Duration::minutes(9)
            && up.expires_at <= now + TTL + Duration::seconds(5),
        "expires_at {} for a 10 minute URL",
        up.expires_at
    );
    assert_eq!(
        up.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case("content-type"))
            .map(|(_, v)| v.as_str()),
        Some("application/pdf"),
        "the upload names its content type: {:?}",
        up.headers
    );
    if let Some((_, len)) = up
        .headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
    {
        assert_eq!(len, &bytes.len().to_string(), "signed content-length");
    }

    let res = send_upload(http, &up, &up.url, bytes.clone(), Some("application/pdf")).await;
    let status = res.status();
    let body = res.text().await.unwrap_or_default();
    assert!(status.is_success(), "upload: {status}: {body}");

    assert_eq!(
        blobs.size(&key).await.expect("size"),
        Some(bytes.len() as u64)
    );
    assert_eq!(blobs.head_bytes(&key, 5).await.expect("head"), b"%PDF-");
    assert_eq!(
        blobs.head_bytes(&key, 8).await.expect("head"),
        bytes[..8].to_vec()
    );
    assert_eq!(
        blobs
            .head_bytes(&key, bytes.len() as u64 + 100)
            .await
            .expect("head past the end"),
        bytes
    );
    assert_eq!(
        blobs.head_bytes(&key, 0).await.expect("head 0"),
        Vec::<u8>::new()
    );
    assert_eq!(
        blobs.sha256(&key).await.expect("sha256"),
        hex_sha256(&bytes)
    );
    assert_eq!(blobs.get(&key).await.expect("get"), bytes);

    blobs.delete(&key).await.expect("delete");
}

/// An upload URL creates its object once: a second PUT through it, with the announced headers
/// or only the content type, is refused while the URL is still valid, and the first bytes stay.
/// After the object is deleted the URL may create it again.
pub async fn upload_url_creates_the_object_once(blobs: &dyn Blobs, http: &reqwest::Client) {
    let key = fresh_key();
    let first = sample_pdf(4096);
    let up = blobs
        .presign_put(&key, "application/pdf", first.len() as u64, TTL)
        .await
        .expect("presign_put");
    let res = send_upload(http, &up, &up.url, first.clone(), Some("application/pdf")).await;
    assert!(res.status().is_success(), "first upload: {}", res.status());

    let mut other = sample_pdf(first.len());
    other[first.len() - 1] ^= 0xFF;
    let res = send_upload(http, &up, &up.url, other.clone(), Some("application/pdf")).await;
    assert_refused(res, "a second upload through the same URL").await;
    let res = http
        .put(&up.url)
        .header("content-type", "application/pdf")
        .body(other.clone())
        .send()
        .await
        .expect("PUT");
    assert_refused(res, "a second upload without the announced headers").await;
    assert_eq!(
        blobs.get(&key).await.expect("get"),
        first,
        "the first bytes stay"
    );
    assert_eq!(blobs.sha256(&key).await.expect("sha"), hex_sha256(&first));

    blobs.delete(&key).await.expect("delete");
    let res = send_upload(http, &up, &up.url, other.clone(), Some("application/pdf")).await;
    assert!(
        res.status().is_success(),
        "after a delete: {}",
        res.status()
    );
    assert_eq!(blobs.get(&key).await.expect("get"), other);
    blobs.delete(&key).await.expect("delete");
}

/// An upload with another content type, or none, is refused and stores nothing.
pub async fn upload_refuses_other_content_type(blobs: &dyn Blobs, http: &reqwest::Client) {
    let key = fresh_key();
    let bytes = sample_pdf(2048);
    let up = blobs
        .presign_put(&key, "application/pdf", bytes.len() as u64, TTL)
        .await
        .expect("presign_put");
    let res = send_upload(http, &up, &up.url, bytes.clone(), Some("image/png")).await;
    assert_refused(res, "other content type").await;
    assert_absent(blobs, &key, "other content type").await;
    let res = send_upload(http, &up, &up.url, bytes, None).await;
    assert_refused(res, "no content type").await;
    assert_absent(blobs, &key, "no content type").await;
}

/// An upload of fewer or more bytes than presigned is refused and stores nothing.
pub async fn upload_refuses_other_length(blobs: &dyn Blobs, http: &reqwest::Client) {
    let key = fresh_key();
    let bytes = sample_pdf(4096);
    let up = blobs
        .presign_put(&key, "application/pdf", bytes.len() as u64, TTL)
        .await
        .expect("presign_put");
    let shorter = bytes[..bytes.len() - 1].to_vec();
    let res = send_upload(http, &up, &up.url, shorter, Some("application/pdf")).await;
    assert_refused(res, "one byte short").await;
    assert_absent(blobs, &key, "one byte short").await;
    let mut longer = bytes.clone();
    longer.push(b'\n');
    let res = send_upload(http, &up, &up.url, longer, Some("application/pdf")).await;
    assert_refused(res, "one byte more").await;
    assert_absent(blobs, &key, "one byte more").await;
    let mut much_longer = bytes;
    much_longer.extend(sample_pdf(1 << 20));
    let res = send_upload(http, &up, &up.url, much_longer, Some("application/pdf")).await;
    assert_refused(res, "a MiB more").await;
    assert_absent(blobs, &key, "a MiB more").await;
}

/// An upload URL with a changed signature or grant is refused and stores nothing.
pub async fn upload_refuses_tampered_url(blobs: &dyn Blobs, http: &reqwest::Client) {
    let key = fresh_key();
    let bytes = sample_pdf(512);
    let up = blobs
        .presign_put(&key, "application/pdf", bytes.len() as u64, TTL)
        .await
        .expect("presign_put");
    for (what, url) in [
        ("changed signature", tamper_signature(&up.url)),
        ("changed grant", tamper_grant(&up.url)),
    ] {
        assert_ne!(url, up.url);
        let res = send_upload(http, &up, &url, bytes.clone(), Some("application/pdf")).await;
        assert_refused(res, what).await;
        assert_absent(blobs, &key, what).await;
    }
    // A URL for another key does not write this one.
    let other = fresh_key();
    let up_other = blobs
        .presign_put(&other, "application/pdf", bytes.len() as u64, TTL)
        .await
        .expect("presign_put");
    let res = send_upload(
        http,
        &up_other,
        &up_other.url,
        bytes,
        Some("application/pdf"),
    )
    .await;
    assert!(res.status().is_success());
    assert_absent(blobs, &key, "another key's URL").await;
    blobs.delete(&other).await.expect("delete");
}

/// The percent-encoded `filename*` both backends put in `Content-Disposition`.
fn encoded_filename(name: &str) -> String {
    let mut out = String::new();
    for b in name.bytes() {
        if b.is_ascii_alphanumeric() || b"!#$&+-.^_`|~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A presigned download returns the same bytes, as the given type and filename.
pub async fn download_roundtrip(blobs: &dyn Blobs, http: &reqwest::Client) {
    let key = fresh_key();
    let bytes = sample_pdf(200 * 1024 + 3);
    upload_ok(blobs, http, &key, &bytes).await;
    let filename = "技术研究报告 第1版.pdf";
    let url = blobs
        .presign_get(&key, filename, "application/pdf", TTL)
        .await
        .expect("presign_get");
    let res = http
        .get(&url)
        .send()
        .await
        .unwrap_or_else(|e| panic!("GET {url}: {e}"));
    assert_eq!(res.status(), reqwest::StatusCode::OK, "download");
    let header = |name: &str| {
        res.headers()
            .get(name)
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
    };
    assert_eq!(header("content-type").as_deref(), Some("application/pdf"));
    let disposition = header("content-disposition").expect("a Content-Disposition");
    assert!(
        disposition.starts_with("attachment"),
        "downloaded as an attachment: {disposition}"
    );
    assert!(
        disposition.contains(&format!("filename*=UTF-8''{}", encoded_filename(filename))),
        "the filename, percent-encoded: {disposition}"
    );
    let got = res.bytes().await.expect("body");
    assert_eq!(got.len(), bytes.len());
    assert!(got.as_ref() == bytes.as_slice(), "the same bytes");

    // Another type and name for the same object.
    let url = blobs
        .presign_get(&key, "scan.png", "image/png", TTL)
        .await
        .expect("presign_get");
    let res = http.get(&url).send().await.expect("GET");
    assert_eq!(res.status(), reqwest::StatusCode::OK);
    assert_eq!(
        res.headers().get("content-type").map(|v| v.as_bytes()),
        Some(&b"image/png"[..])
    );
    blobs.delete(&key).await.expect("delete");
}

/// A download URL with a changed signature or grant is refused.
pub async fn download_refuses_tampered_url(blobs: &dyn Blobs, http: &reqwest::Client) {
    let key = fresh_key();
    upload_ok(blobs, http, &key, &sample_pdf(100)).await;
    let url = blobs
        .presign_get(&key, "a.pdf", "application/pdf", TTL)
        .await
        .expect("presign_get");
    for (what, bad) in [
        ("changed signature", tamper_signature(&url)),
        ("changed grant", tamper_grant(&url)),
    ] {
        assert_ne!(bad, url);
        let res = http.get(&bad).send().await.expect("GET");
        assert_refused(res, what).await;
    }
    // Using a download URL to upload is refused too.
    let res = http
        .put(&url)
        .header("content-type", "application/pdf")
        .body(sample_pdf(100))
        .send()
        .await
        .expect("PUT");
    assert_refused(res, "PUT to a download URL").await;
    blobs.delete(&key).await.expect("delete");
}

/// A valid download URL for an object that is not there answers 404.
pub async fn download_of_absent_object_is_not_found(blobs: &dyn Blobs, http: &reqwest::Client) {
    let key = fresh_key();
    let url = blobs
        .presign_get(&key, "a.pdf", "application/pdf", TTL)
        .await
        .expect("presign_get");
    let res = http.get(&url).send().await.expect("GET");
    assert_eq!(res.status(), reqwest::StatusCode::NOT_FOUND);
}

/// Upload and download URLs are refused once expired; nothing is stored.
pub async fn expired_urls_are_refused(blobs: &dyn Blobs, http: &reqwest::Client, expiry: &Expiry) {
    let stored = fresh_key();
    let bytes = sample_pdf(300);
    upload_ok(blobs, http, &stored, &bytes).await;
    let put_key = fresh_key();
    let up = blobs
        .presign_put(&put_key, "application/pdf", bytes.len() as u64, SHORT_TTL)
        .await
        .expect("presign_put");
    let get_url = blobs
        .presign_get(&stored, "a.pdf", "application/pdf", SHORT_TTL)
        .await
        .expect("presign_get");
    expiry.pass().await;
    let res = send_upload(http, &up, &up.url, bytes, Some("application/pdf")).await;
    assert_refused(res, "expired upload URL").await;
    assert_absent(blobs, &put_key, "expired upload URL").await;
    let res = http.get(&get_url).send().await.expect("GET");
    assert_refused(res, "expired download URL").await;
    blobs.delete(&stored).await.expect("delete");
}

/// `delete` removes the object; deleting again is fine.
pub async fn delete_removes(blobs: &dyn Blobs) {
    let key = fresh_key();
    blobs
        .put(&key, sample_pdf(64), "application/pdf")
        .await
        .expect("put");
    assert_eq!(blobs.size(&key).await.expect("size"), Some(64));
    blobs.delete(&key).await.expect("delete");
    assert_eq!(blobs.size(&key).await.expect("size"), None);
    assert_eq!(blobs.get(&key).await, Err(BlobError::NotFound(key.clone())));
    blobs.delete(&key).await.expect("delete again");
}
