//! Attachments in an S3 bucket, uploaded and downloaded by the browser through presigned URLs.
//!
//! An upload URL is a presigned `PutObject` whose signature covers the content type and the
//! content length, so S3 refuses another type or another size; the headers to send are those
//! the presigned request carries. A download URL is a presigned `GetObject` that overrides the
//! response's `Content-Type` and `Content-Disposition`.

use std::collections::BTreeMap;
use std::fmt::Display;

use async_trait::async_trait;
use aws_sdk_s3::Client;
use aws_sdk_s3::error::{DisplayErrorContext, SdkError};
use aws_sdk_s3::presigning::PresigningConfig;
use aws_sdk_s3::primitives::ByteStream;
use chengguo_domain::ports::{BlobError, Blobs, PresignedUpload};
use sha2::{Digest, Sha256};
use time::{Duration, OffsetDateTime};

/// Files in one S3 bucket.
#[derive(Debug, Clone)]
pub struct S3Blobs {
    client: Client,
    bucket: String,
}

/// An S3 client from the shared AWS configuration. With an explicit endpoint
/// (`AWS_ENDPOINT_URL`, i.e. a local AWS-compatible server) it addresses buckets by path, since
/// such servers rarely resolve bucket subdomains.
pub fn s3_client(conf: &aws_config::SdkConfig) -> Client {
    let mut builder = aws_sdk_s3::config::Builder::from(conf);
    if conf.endpoint_url().is_some() {
        builder = builder.force_path_style(true);
    }
    Client::from_conf(builder.build())
}

impl S3Blobs {
    pub fn new(client: Client, bucket: impl Into<String>) -> Self {
        S3Blobs {
            client,
            bucket: bucket.into(),
        }
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    pub fn bucket(&self) -> &str {
        &self.bucket
    }
}

fn backend(e: impl std::error::Error) -> BlobError {
    BlobError::Backend(DisplayErrorContext(e).to_string())
}

fn backend_msg(e: impl Display) -> BlobError {
    BlobError::Backend(e.to_string())
}

/// The HTTP status of a failed call, when the service answered.
fn status_of<E, R>(e: &SdkError<E, R>) -> Option<u16>
where
    R: HttpStatus,
{
    e.raw_response().map(HttpStatus::status_code)
}

trait HttpStatus {
    fn status_code(&self) -> u16;
}

impl HttpStatus for aws_sdk_s3::config::http::HttpResponse {
    fn status_code(&self) -> u16 {
        self.status().as_u16()
    }
}

fn presigning(ttl: Duration) -> Result<PresigningConfig, BlobError> {
    let ttl = std::time::Duration::try_from(ttl)
        .map_err(|_| backend_msg(format!("a URL lifetime must be positive, not {ttl}")))?;
    PresigningConfig::expires_in(ttl).map_err(backend)
}

/// `attachment; filename*=UTF-8''<percent-encoded name>` (RFC 6266 / RFC 8187), the same as the
/// local store's; an empty name becomes `download`.
pub fn content_disposition(filename: &str) -> String {
    let name = if filename.is_empty() {
        "download"
    } else {
        filename
    };
    let mut out = String::from("attachment; filename*=UTF-8''");
    for b in name.bytes() {
        if b.is_ascii_alphanumeric() || b"!#$&+-.^_`|~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The headers a presigned request must be sent with: those it was signed with. On Lambda the
/// SDK adds `x-amzn-trace-id` (recursion detection) to every request, presigned ones included,
/// but never signs it; a browser need not send it (a redirect could not, and the bucket's CORS
/// rule would refuse it).
fn must_send(req: &aws_sdk_s3::presigning::PresignedRequest) -> impl Iterator<Item = (&str, &str)> {
    req.headers()
        .filter(|(k, _)| !k.eq_ignore_ascii_case("x-amzn-trace-id"))
}

#[async_trait]
impl Blobs for S3Blobs {
    async fn presign_put(
        &self,
        key: &str,
        content_type: &str,
        size: u64,
        ttl: Duration,
    ) -> Result<PresignedUpload, BlobError> {
        let size = i64::try_from(size).map_err(backend_msg)?;
        let expires_at = OffsetDateTime::now_utc() + ttl;
        let req = self
            .client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .content_type(content_type)
            .content_length(size)
            // Signed, so the client must send it: the URL creates the object once and never
            // replaces it, and bytes checked at confirmation cannot be swapped afterwards.
            .if_none_match("*")
            .presigned(presigning(ttl)?)
            .await
            .map_err(backend)?;
        let headers: BTreeMap<String, String> = must_send(&req)
            .map(|(k, v)| (k.to_ascii_lowercase(), v.to_owned()))
            .collect();
        Ok(PresignedUpload {
            url: req.uri().to_owned(),
            headers,
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
        let req = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .response_content_disposition(content_disposition(filename))
            .response_content_type(content_type)
            .presigned(presigning(ttl)?)
            .await
            .map_err(backend)?;
        // A redirect carries no headers: everything must be in the URL.
        if let Some((name, _)) = must_send(&req).next() {
            return Err(backend_msg(format!(
                "a presigned download needs header {name}, which a redirect cannot send"
            )));
        }
        Ok(req.uri().to_owned())
    }

    async fn size(&self, key: &str) -> Result<Option<u64>, BlobError> {
        match self
            .client
            .head_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
        {
            Ok(out) => {
                let len = out.content_length().unwrap_or(0);
                Ok(Some(u64::try_from(len).map_err(backend_msg)?))
            }
            Err(e)
                if e.as_service_error().is_some_and(|s| s.is_not_found())
                    || status_of(&e) == Some(404) =>
            {
                Ok(None)
            }
            Err(e) => Err(backend(e)),
        }
    }

    async fn head_bytes(&self, key: &str, n: u64) -> Result<Vec<u8>, BlobError> {
        if n == 0 {
            // No range names zero bytes; still say whether the object is there.
            return match self.size(key).await? {
                Some(_) => Ok(Vec::new()),
                None => Err(BlobError::NotFound(key.to_owned())),
            };
        }
        let res = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .range(format!("bytes=0-{}", n - 1))
            .send()
            .await;
        let out = match res {
            Ok(out) => out,
            // An empty object has no byte 0.
            Err(e) if status_of(&e) == Some(416) => return Ok(Vec::new()),
            Err(e) => return Err(get_error(key, e)),
        };
        let mut bytes = out
            .body
            .collect()
            .await
            .map_err(backend)?
            .into_bytes()
            .to_vec();
        bytes.truncate(usize::try_from(n).unwrap_or(usize::MAX));
        Ok(bytes)
    }

    async fn sha256(&self, key: &str) -> Result<String, BlobError> {
        let mut out = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
            .map_err(|e| get_error(key, e))?;
        let mut hasher = Sha256::new();
        while let Some(chunk) = out.body.try_next().await.map_err(backend)? {
            hasher.update(&chunk);
        }
        Ok(hex::encode(hasher.finalize()))
    }

    async fn get(&self, key: &str) -> Result<Vec<u8>, BlobError> {
        let out = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
            .map_err(|e| get_error(key, e))?;
        Ok(out
            .body
            .collect()
            .await
            .map_err(backend)?
            .into_bytes()
            .to_vec())
    }

    async fn put(&self, key: &str, bytes: Vec<u8>, content_type: &str) -> Result<(), BlobError> {
        self.client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .content_type(content_type)
            .body(ByteStream::from(bytes))
            .send()
            .await
            .map_err(backend)?;
        Ok(())
    }

    async fn delete(&self, key: &str) -> Result<(), BlobError> {
        // S3 answers 204 whether or not the key was there.
        self.client
            .delete_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
            .map_err(backend)?;
        Ok(())
    }
}

fn get_error(
    key: &str,
    e: SdkError<
        aws_sdk_s3::operation::get_object::GetObjectError,
        aws_sdk_s3::config::http::HttpResponse,
    >,
) -> BlobError {
    if e.as_service_error().is_some_and(|s| s.is_no_such_key()) || status_of(&e) == Some(404) {
        BlobError::NotFound(key.to_owned())
    } else {
        backend(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_disposition_matches_the_local_store() {
        assert_eq!(
            content_disposition("技术 报告\";.pdf"),
            "attachment; filename*=UTF-8''%E6%8A%80%E6%9C%AF%20%E6%8A%A5%E5%91%8A%22%3B.pdf"
        );
    }
}
