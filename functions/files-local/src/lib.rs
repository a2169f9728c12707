//! Attachments in a local folder, for the embedded backend.
//!
//! [`LocalFiles`] implements [`Blobs`] over a root folder. Keys are paths of ids
//! (`att/{registration_id}/{attachment_id}`); every segment must match `[A-Za-z0-9_-]{1,64}`
//! before it becomes a path, so no filename ever reaches the file system.
//!
//! Presigned URLs are `{base_url}/files/{token}`, where the token is
//! `base64url(JSON grant) "." base64url(HMAC-SHA256(secret, base64url(JSON grant)))`. The grant
//! names the operation, the key, the expiry and what the request must carry (content type and
//! size for an upload; filename and content type for a download). [`router`] serves them: it
//! checks the signature (constant time), the expiry against the [`Clock`], then the request, and
//! streams bodies to and from disk. Like an S3 presigned URL, a grant may be used more than
//! once until it expires.

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use async_trait::async_trait;
use axum::Json;
use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Path as UrlPath, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use chengguo_domain::ports::{BlobError, Blobs, Clock, PresignedUpload, SystemClock};
use futures::{Stream, StreamExt};
use hmac::{Hmac, KeyInit, Mac};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use time::{Duration, OffsetDateTime};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

type HmacSha256 = Hmac<Sha256>;

/// The shortest secret [`LocalFiles::new`] accepts, in bytes.
pub const MIN_SECRET_LEN: usize = 16;

/// The longest segment of a key.
const MAX_SEGMENT: usize = 64;
/// The most segments a key may have.
const MAX_SEGMENTS: usize = 8;
/// Read and write in pieces of this size.
const CHUNK: usize = 64 * 1024;

/// Files under a root folder, with signed, expiring upload and download URLs.
pub struct LocalFiles {
    root: PathBuf,
    base_url: String,
    secret: Vec<u8>,
    clock: Arc<dyn Clock>,
}

impl fmt::Debug for LocalFiles {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LocalFiles")
            .field("root", &self.root)
            .field("base_url", &self.base_url)
            .finish_non_exhaustive()
    }
}

impl LocalFiles {
    /// Files under `root`, with URLs under `base_url` (absolute, as the browser reaches the server,
    /// e.g. `http://127.0.0.1:8080`; a trailing `/` is dropped), signed with `secret`, on the
    /// system clock.
    ///
    /// # Panics
    /// When `secret` is shorter than [`MIN_SECRET_LEN`] bytes.
    pub fn new(
        root: impl Into<PathBuf>,
        base_url: impl Into<String>,
        secret: impl Into<Vec<u8>>,
    ) -> Self {
        let secret = secret.into();
        assert!(
            secret.len() >= MIN_SECRET_LEN,
            "the URL signing secret must have at least {MIN_SECRET_LEN} bytes"
        );
        let base_url = base_url.into().trim_end_matches('/').to_owned();
        LocalFiles {
            root: root.into(),
            base_url,
            secret,
            clock: Arc::new(SystemClock),
        }
    }

    /// The same store on another clock (expiry of URLs is judged by it).
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// The path of a key, refused unless every segment is `[A-Za-z0-9_-]{1,64}`.
    pub fn path_for(&self, key: &str) -> Result<PathBuf, BlobError> {
        let segments: Vec<&str> = key.split('/').collect();
        if segments.len() > MAX_SEGMENTS || !segments.iter().all(|s| valid_segment(s)) {
            return Err(BlobError::Backend(format!("invalid key {key:?}")));
        }
        let mut path = self.root.clone();
        path.extend(segments);
        Ok(path)
    }

    fn sign(&self, grant: &Grant) -> Result<String, BlobError> {
        let json = serde_json::to_vec(grant).map_err(|e| BlobError::Backend(e.to_string()))?;
        let payload = B64.encode(json);
        let mut mac = self.mac();
        mac.update(payload.as_bytes());
        let sig = B64.encode(mac.finalize().into_bytes());
        Ok(format!("{payload}.{sig}"))
    }

    /// The grant of a token: signature first (constant-time), then expiry.
    fn verify(&self, token: &str) -> Result<Grant, Refusal> {
        let (payload, sig) = token.split_once('.').ok_or(Refusal::BadSignature)?;
        let sig = B64.decode(sig).map_err(|_| Refusal::BadSignature)?;
        let mut mac = self.mac();
        mac.update(payload.as_bytes());
        mac.verify_slice(&sig).map_err(|_| Refusal::BadSignature)?;
        let json = B64.decode(payload).map_err(|_| Refusal::BadSignature)?;
        let grant: Grant = serde_json::from_slice(&json).map_err(|_| Refusal::BadSignature)?;
        let exp = OffsetDateTime::from_unix_timestamp(grant.exp()).map_err(|_| Refusal::Expired)?;
        if self.clock.now() > exp {
            return Err(Refusal::Expired);
        }
        Ok(grant)
    }

    fn mac(&self) -> HmacSha256 {
        // HMAC takes keys of any length.
        HmacSha256::new_from_slice(&self.secret).expect("HMAC accepts any key length")
    }

    /// The expiry of a URL made now for `ttl`, whole seconds since the epoch.
    fn expiry(&self, ttl: Duration) -> i64 {
        (self.clock.now() + ttl).unix_timestamp()
    }

    fn url(&self, token: &str) -> String {
        format!("{}/files/{token}", self.base_url)
    }
}

/// Whether a key segment is `[A-Za-z0-9_-]{1,64}`.
fn valid_segment(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= MAX_SEGMENT
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// What a signed URL allows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "lowercase")]
enum Grant {
    Put {
        key: String,
        content_type: String,
        size: u64,
        exp: i64,
    },
    Get {
        key: String,
        filename: String,
        content_type: String,
        exp: i64,
    },
}

impl Grant {
    fn exp(&self) -> i64 {
        match self {
            Grant::Put { exp, .. } | Grant::Get { exp, .. } => *exp,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Refusal {
    BadSignature,
    Expired,
}

fn io_error(e: io::Error) -> BlobError {
    BlobError::Backend(e.to_string())
}

fn open_error(key: &str, e: io::Error) -> BlobError {
    if e.kind() == io::ErrorKind::NotFound {
        BlobError::NotFound(key.to_owned())
    } else {
        io_error(e)
    }
}

/// Whether `ct` can travel as a header value unchanged.
fn valid_content_type(ct: &str) -> bool {
    !ct.is_empty() && ct.len() <= 255 && ct.bytes().all(|b| (0x20..0x7f).contains(&b))
}

#[async_trait]
impl Blobs for LocalFiles {
    async fn presign_put(
        &self,
        key: &str,
        content_type: &str,
        size: u64,
        ttl: Duration,
    ) -> Result<PresignedUpload, BlobError> {
        self.path_for(key)?;
        if !valid_content_type(content_type) {
            return Err(BlobError::Backend(format!(
                "invalid content type {content_type:?}"
            )));
        }
        let exp = self.expiry(ttl);
        let token = self.sign(&Grant::Put {
            key: key.to_owned(),
            content_type: content_type.to_owned(),
            size,
            exp,
        })?;
        let expires_at = OffsetDateTime::from_unix_timestamp(exp)
            .map_err(|e| BlobError::Backend(e.to_string()))?;
        Ok(PresignedUpload {
            url: self.url(&token),
            headers: [("content-type".to_owned(), content_type.to_owned())].into(),
            expires_at,
        })
    }

    async fn presign_get(
        &self,
        key: &str,
        filename: &str,
        content_type: &str,
        ttl: Duration,
    ) -> Result<String, BlobError> {
        self.path_for(key)?;
        if !valid_content_type(content_type) {
            return Err(BlobError::Backend(format!(
                "invalid content type {content_type:?}"
            )));
        }
        let token = self.sign(&Grant::Get {
            key: key.to_owned(),
            filename: filename.to_owned(),
            content_type: content_type.to_owned(),
            exp: self.expiry(ttl),
        })?;
        Ok(self.url(&token))
    }

    async fn size(&self, key: &str) -> Result<Option<u64>, BlobError> {
        let path = self.path_for(key)?;
        match tokio::fs::metadata(&path).await {
            Ok(m) if m.is_file() => Ok(Some(m.len())),
            Ok(_) => Ok(None),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io_error(e)),
        }
    }

    async fn head_bytes(&self, key: &str, n: u64) -> Result<Vec<u8>, BlobError> {
        let path = self.path_for(key)?;
        let file = tokio::fs::File::open(&path)
            .await
            .map_err(|e| open_error(key, e))?;
        let mut out = Vec::new();
        file.take(n).read_to_end(&mut out).await.map_err(io_error)?;
        Ok(out)
    }

    async fn sha256(&self, key: &str) -> Result<String, BlobError> {
        let path = self.path_for(key)?;
        let mut file = tokio::fs::File::open(&path)
            .await
            .map_err(|e| open_error(key, e))?;
        let mut hasher = Sha256::new();
        let mut buf = vec![0u8; CHUNK];
        loop {
            let n = file.read(&mut buf).await.map_err(io_error)?;
            if n == 0 {
                break;
            }
            hasher.update(&buf[..n]);
        }
        Ok(hex::encode(hasher.finalize()))
    }

    async fn get(&self, key: &str) -> Result<Vec<u8>, BlobError> {
        let path = self.path_for(key)?;
        tokio::fs::read(&path).await.map_err(|e| open_error(key, e))
    }

    async fn put(&self, key: &str, bytes: Vec<u8>, _content_type: &str) -> Result<(), BlobError> {
        let path = self.path_for(key)?;
        let size = bytes.len() as u64;
        let body = futures::stream::iter([Ok::<_, io::Error>(Bytes::from(bytes))]);
        match write_atomically(&path, size, body, Existing::Replace).await {
            Ok(()) => Ok(()),
            Err(WriteError::Io(e)) => Err(io_error(e)),
            Err(e) => Err(BlobError::Backend(e.to_string())),
        }
    }

    async fn delete(&self, key: &str) -> Result<(), BlobError> {
        let path = self.path_for(key)?;
        match tokio::fs::remove_file(&path).await {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(io_error(e)),
        }
    }
}

/// Why a streamed write did not happen.
#[derive(Debug)]
enum WriteError {
    /// More bytes than allowed.
    TooLarge,
    /// Fewer bytes than announced.
    Short(u64),
    /// The body failed while being received.
    Body(String),
    /// The key already holds an object, which this write may not replace.
    Exists,
    Io(io::Error),
}

/// What a write does when its key already holds an object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Existing {
    Replace,
    /// Leave it, and fail with [`WriteError::Exists`].
    Keep,
}

impl fmt::Display for WriteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WriteError::TooLarge => f.write_str("more bytes than announced"),
            WriteError::Short(n) => write!(f, "only {n} bytes, fewer than announced"),
            WriteError::Body(e) => write!(f, "body: {e}"),
            WriteError::Exists => f.write_str("the key already holds an object"),
            WriteError::Io(e) => write!(f, "{e}"),
        }
    }
}

impl From<io::Error> for WriteError {
    fn from(e: io::Error) -> Self {
        WriteError::Io(e)
    }
}

static TEMP_COUNTER: AtomicU64 = AtomicU64::new(0);

/// Streams exactly `size` bytes to a temporary file beside `path`, syncs it and moves it to
/// `path`: renamed over an existing file with [`Existing::Replace`], linked there only if
/// nothing is with [`Existing::Keep`] (one atomic step, so two writers racing for the same key
/// cannot both win). On any failure the temporary file is removed and `path` is untouched.
async fn write_atomically<S, B, E>(
    path: &Path,
    size: u64,
    body: S,
    existing: Existing,
) -> Result<(), WriteError>
where
    S: Stream<Item = Result<B, E>>,
    B: AsRef<[u8]>,
    E: fmt::Display,
{
    let dir = path
        .parent()
        .ok_or_else(|| WriteError::Io(io::Error::other("a key has a folder")))?;
    tokio::fs::create_dir_all(dir).await?;
    // Key segments never start with a dot, so a temporary name cannot be a key.
    let temp = dir.join(format!(
        ".upload-{}-{}",
        std::process::id(),
        TEMP_COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    let result = async {
        let mut file = tokio::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&temp)
            .await?;
        let mut written: u64 = 0;
        let mut body = std::pin::pin!(body);
        while let Some(chunk) = body.next().await {
            let chunk = chunk.map_err(|e| WriteError::Body(e.to_string()))?;
            let chunk = chunk.as_ref();
            written += chunk.len() as u64;
            if written > size {
                return Err(WriteError::TooLarge);
            }
            file.write_all(chunk).await?;
        }
        if written < size {
            return Err(WriteError::Short(written));
        }
        file.flush().await?;
        file.sync_all().await?;
        drop(file);
        match existing {
            Existing::Replace => tokio::fs::rename(&temp, path).await?,
            Existing::Keep => match tokio::fs::hard_link(&temp, path).await {
                Ok(()) => tokio::fs::remove_file(&temp).await?,
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                    return Err(WriteError::Exists);
                }
                Err(e) => return Err(e.into()),
            },
        }
        // Make the rename itself durable.
        if let Ok(d) = tokio::fs::File::open(dir).await {
            let _ = d.sync_all().await;
        }
        Ok(())
    }
    .await;
    if result.is_err() {
        let _ = tokio::fs::remove_file(&temp).await;
    }
    result
}

/// The routes of signed URLs: `PUT` and `GET /files/{token}`.
pub fn router(files: Arc<LocalFiles>) -> Router {
    Router::new()
        .route(
            "/files/{token}",
            get(download).put(upload).fallback(method_not_allowed),
        )
        .with_state(files)
}

fn error(status: StatusCode, code: &str, message: &str) -> Response {
    let body = serde_json::json!({
        "error": {"code": code, "message": message, "details": []}
    });
    let mut res = (status, Json(body)).into_response();
    res.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}

fn refused(r: Refusal, upload: bool) -> Response {
    let message = if upload {
        "上传链接无效或已过期。"
    } else {
        "下载链接无效或已过期。"
    };
    let code = match r {
        Refusal::BadSignature => "bad_signature",
        Refusal::Expired => "expired",
    };
    error(StatusCode::FORBIDDEN, code, message)
}

fn backend_failure(e: impl fmt::Display) -> Response {
    eprintln!("files-local: {e}");
    error(
        StatusCode::INTERNAL_SERVER_ERROR,
        "internal",
        "文件存储出错，请稍后重试。",
    )
}

async fn method_not_allowed() -> Response {
    error(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "不支持该请求方法。",
    )
}

/// Refused uploads whose declared body is at most this long are read to the end first, so the
/// client gets the answer instead of a reset connection; longer ones are cut off.
const DRAIN_LIMIT: u64 = 32 * 1024 * 1024;

/// Reads and drops what is left of a refused upload's body, if it is short enough.
async fn drain(body: Body, declared: Option<u64>) {
    if declared.is_none_or(|n| n > DRAIN_LIMIT) {
        return;
    }
    let mut read: u64 = 0;
    let mut stream = body.into_data_stream();
    while let Some(Ok(chunk)) = stream.next().await {
        read += chunk.len() as u64;
        if read > DRAIN_LIMIT {
            break;
        }
    }
}

/// The answer to a second upload through the same URL.
fn already_uploaded() -> Response {
    error(
        StatusCode::PRECONDITION_FAILED,
        "already_uploaded",
        "该文件已经上传，不能再次上传覆盖；如需更换，请删除后重新上传。",
    )
}

async fn upload(
    State(files): State<Arc<LocalFiles>>,
    UrlPath(token): UrlPath<String>,
    req: Request,
) -> Response {
    let (parts, body) = req.into_parts();
    let sent_len = parts
        .headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let (key, content_type, size) = match files.verify(&token) {
        Ok(Grant::Put {
            key,
            content_type,
            size,
            ..
        }) => (key, content_type, size),
        Ok(Grant::Get { .. }) => {
            drain(body, sent_len).await;
            return refused(Refusal::BadSignature, true);
        }
        Err(r) => {
            drain(body, sent_len).await;
            return refused(r, true);
        }
    };
    let sent_type = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok());
    if sent_type != Some(content_type.as_str()) {
        drain(body, sent_len).await;
        return error(
            StatusCode::BAD_REQUEST,
            "content_type_mismatch",
            "上传文件的类型与登记的类型不一致。",
        );
    }
    if sent_len != Some(size) {
        drain(body, sent_len).await;
        return error(
            StatusCode::BAD_REQUEST,
            "size_mismatch",
            "上传文件的大小与登记的大小不一致。",
        );
    }
    let path = match files.path_for(&key) {
        Ok(p) => p,
        Err(e) => return backend_failure(e),
    };
    // An upload URL creates its object once and never replaces it (as S3 does with the
    // `If-None-Match: *` the S3 store signs into its URLs): bytes checked and confirmed cannot
    // be swapped through a URL that has not expired yet.
    if tokio::fs::try_exists(&path).await.unwrap_or(false) {
        drain(body, sent_len).await;
        return already_uploaded();
    }
    match write_atomically(&path, size, body.into_data_stream(), Existing::Keep).await {
        Ok(()) => StatusCode::OK.into_response(),
        Err(WriteError::Exists) => already_uploaded(),
        Err(WriteError::TooLarge) => error(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_large",
            "上传文件超过登记的大小。",
        ),
        Err(WriteError::Short(_)) => error(
            StatusCode::BAD_REQUEST,
            "size_mismatch",
            "上传文件的大小与登记的大小不一致。",
        ),
        Err(e @ WriteError::Body(_)) => {
            eprintln!("files-local: upload of {key}: {e}");
            error(
                StatusCode::BAD_REQUEST,
                "upload_interrupted",
                "上传中断，请重新上传。",
            )
        }
        Err(WriteError::Io(e)) => backend_failure(e),
    }
}

async fn download(
    State(files): State<Arc<LocalFiles>>,
    UrlPath(token): UrlPath<String>,
) -> Response {
    let (key, filename, content_type) = match files.verify(&token) {
        Ok(Grant::Get {
            key,
            filename,
            content_type,
            ..
        }) => (key, filename, content_type),
        Ok(Grant::Put { .. }) => return refused(Refusal::BadSignature, false),
        Err(r) => return refused(r, false),
    };
    let path = match files.path_for(&key) {
        Ok(p) => p,
        Err(e) => return backend_failure(e),
    };
    let file = match tokio::fs::File::open(&path).await {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            return error(StatusCode::NOT_FOUND, "not_found", "文件不存在或已删除。");
        }
        Err(e) => return backend_failure(e),
    };
    let len = match file.metadata().await {
        Ok(m) if m.is_file() => m.len(),
        Ok(_) => return error(StatusCode::NOT_FOUND, "not_found", "文件不存在或已删除。"),
        Err(e) => return backend_failure(e),
    };
    let stream = futures::stream::try_unfold(file, |mut file| async move {
        let mut buf = vec![0u8; CHUNK];
        let n = file.read(&mut buf).await?;
        if n == 0 {
            return Ok::<_, io::Error>(None);
        }
        buf.truncate(n);
        Ok(Some((Bytes::from(buf), file)))
    });
    let content_type = HeaderValue::from_str(&content_type)
        .unwrap_or_else(|_| HeaderValue::from_static("application/octet-stream"));
    let disposition = HeaderValue::from_str(&content_disposition(&filename))
        .unwrap_or_else(|_| HeaderValue::from_static("attachment"));
    let mut res = Response::new(Body::from_stream(stream));
    let h = res.headers_mut();
    h.insert(header::CONTENT_TYPE, content_type);
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(len));
    h.insert(header::CONTENT_DISPOSITION, disposition);
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, no-store"),
    );
    res
}

/// `attachment; filename*=UTF-8''<percent-encoded name>` (RFC 6266 / RFC 8187); an empty name
/// becomes `download`.
pub fn content_disposition(filename: &str) -> String {
    let name = if filename.is_empty() {
        "download"
    } else {
        filename
    };
    let mut out = String::from("attachment; filename*=UTF-8''");
    for b in name.bytes() {
        // RFC 8187 attr-char.
        if b.is_ascii_alphanumeric() || b"!#$&+-.^_`|~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use chengguo_domain::ports::ManualClock;

    fn store(dir: &Path) -> LocalFiles {
        LocalFiles::new(dir, "http://127.0.0.1:9/", [7u8; 32])
    }

    #[tokio::test]
    async fn keys_are_ids_only() {
        let dir = tempfile::tempdir().unwrap();
        let files = store(dir.path());
        assert_eq!(
            files.path_for("att/r-1/a_2").unwrap(),
            dir.path().join("att").join("r-1").join("a_2")
        );
        let long = "a".repeat(65);
        let bad = [
            "",
            "/att/r/a",
            "att/r/a/",
            "att//a",
            "att/../a",
            "att/r/..",
            "..",
            ".",
            "att/r/a.pdf",
            "att/r\\a/b",
            "att/r%2Fa/b",
            "att/r a/b",
            "att/报告/b",
            "att/r/a\0",
            long.as_str(),
            "a/b/c/d/e/f/g/h/i",
        ];
        for key in bad {
            assert!(files.path_for(key).is_err(), "{key:?} must be refused");
            assert!(files.size(key).await.is_err(), "{key:?}");
            assert!(files.get(key).await.is_err(), "{key:?}");
            assert!(
                files
                    .put(key, b"x".to_vec(), "application/pdf")
                    .await
                    .is_err()
            );
            assert!(files.delete(key).await.is_err(), "{key:?}");
            assert!(
                files
                    .presign_put(key, "application/pdf", 1, Duration::minutes(5))
                    .await
                    .is_err()
            );
            assert!(
                files
                    .presign_get(key, "a.pdf", "application/pdf", Duration::minutes(5))
                    .await
                    .is_err()
            );
        }
        assert!(files.path_for(&"a".repeat(64)).is_ok());
        // Nothing escaped the root.
        assert!(!dir.path().parent().unwrap().join("a").exists());
    }

    #[tokio::test]
    async fn put_get_delete_and_absent_keys() {
        let dir = tempfile::tempdir().unwrap();
        let files = store(dir.path());
        let key = "att/r1/a1";
        assert_eq!(files.size(key).await.unwrap(), None);
        assert_eq!(
            files.get(key).await,
            Err(BlobError::NotFound(key.to_owned()))
        );
        assert_eq!(
            files.sha256(key).await,
            Err(BlobError::NotFound(key.to_owned()))
        );
        assert_eq!(
            files.head_bytes(key, 4).await,
            Err(BlobError::NotFound(key.to_owned()))
        );
        files.delete(key).await.unwrap();
        files
            .put(key, b"%PDF-1.7 hello".to_vec(), "application/pdf")
            .await
            .unwrap();
        assert_eq!(files.size(key).await.unwrap(), Some(14));
        assert_eq!(files.head_bytes(key, 5).await.unwrap(), b"%PDF-");
        assert_eq!(files.head_bytes(key, 100).await.unwrap().len(), 14);
        assert_eq!(
            files.sha256(key).await.unwrap(),
            hex::encode(Sha256::digest(b"%PDF-1.7 hello"))
        );
        files.put(key, b"new".to_vec(), "image/png").await.unwrap();
        assert_eq!(files.get(key).await.unwrap(), b"new");
        // No temporary file is left beside it.
        let names: Vec<_> = std::fs::read_dir(dir.path().join("att/r1"))
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("a1")]);
        files.delete(key).await.unwrap();
        assert_eq!(files.size(key).await.unwrap(), None);
    }

    #[tokio::test]
    async fn tokens_are_signed_and_expire() {
        let dir = tempfile::tempdir().unwrap();
        let start = OffsetDateTime::from_unix_timestamp(1_700_000_000).unwrap();
        let clock = Arc::new(ManualClock::new(start));
        let files = store(dir.path()).with_clock(clock.clone());
        let up = files
            .presign_put("att/r/a", "application/pdf", 10, Duration::minutes(15))
            .await
            .unwrap();
        assert_eq!(up.expires_at, start + Duration::minutes(15));
        assert_eq!(
            up.headers.into_iter().collect::<Vec<_>>(),
            vec![("content-type".to_owned(), "application/pdf".to_owned())]
        );
        let token = up.url.strip_prefix("http://127.0.0.1:9/files/").unwrap();
        assert!(matches!(
            files.verify(token),
            Ok(Grant::Put { size: 10, .. })
        ));

        // Another secret, a changed payload or a changed signature: refused.
        let other = LocalFiles::new(dir.path(), "http://x", [8u8; 32]);
        assert_eq!(other.verify(token), Err(Refusal::BadSignature));
        let (payload, sig) = token.split_once('.').unwrap();
        let forged = B64.encode(
            serde_json::to_vec(&Grant::Put {
                key: "att/r/a".into(),
                content_type: "application/pdf".into(),
                size: 1 << 40,
                exp: i64::MAX,
            })
            .unwrap(),
        );
        assert_eq!(
            files.verify(&format!("{forged}.{sig}")),
            Err(Refusal::BadSignature)
        );
        let mut bad_sig = sig.to_owned().into_bytes();
        bad_sig[3] = if bad_sig[3] == b'A' { b'B' } else { b'A' };
        let bad_sig = String::from_utf8(bad_sig).unwrap();
        assert_eq!(
            files.verify(&format!("{payload}.{bad_sig}")),
            Err(Refusal::BadSignature)
        );
        assert_eq!(files.verify(payload), Err(Refusal::BadSignature));
        assert_eq!(files.verify(""), Err(Refusal::BadSignature));

        clock.advance(Duration::minutes(15));
        assert!(files.verify(token).is_ok(), "valid up to its expiry");
        clock.advance(Duration::seconds(1));
        assert_eq!(files.verify(token), Err(Refusal::Expired));
    }

    #[tokio::test]
    async fn a_body_longer_than_signed_is_413_and_not_stored() {
        use tower::ServiceExt;
        let dir = tempfile::tempdir().unwrap();
        let files = Arc::new(store(dir.path()));
        let up = files
            .presign_put("att/r/a", "application/pdf", 4, Duration::minutes(5))
            .await
            .unwrap();
        let path = up.url.strip_prefix("http://127.0.0.1:9").unwrap();
        // The header matches; the body (no HTTP framing here) does not.
        let req = axum::http::Request::put(path)
            .header("content-type", "application/pdf")
            .header("content-length", "4")
            .body(Body::from("%PDF-1.7"))
            .unwrap();
        let res = router(files.clone()).oneshot(req).await.unwrap();
        assert_eq!(res.status(), StatusCode::PAYLOAD_TOO_LARGE);
        assert_eq!(files.size("att/r/a").await.unwrap(), None);
        let leftovers = std::fs::read_dir(dir.path().join("att/r")).unwrap().count();
        assert_eq!(leftovers, 0, "the temporary file is removed");
    }

    #[test]
    fn content_disposition_is_percent_encoded() {
        assert_eq!(
            content_disposition("技术 报告\";.pdf"),
            "attachment; filename*=UTF-8''%E6%8A%80%E6%9C%AF%20%E6%8A%A5%E5%91%8A%22%3B.pdf"
        );
        assert_eq!(
            content_disposition(""),
            "attachment; filename*=UTF-8''download"
        );
    }
}
