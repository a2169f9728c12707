//! The site bucket: each file is an object under its path (without the leading `/`) with its
//! Content-Type and Cache-Control, and the manifest is the object `.manifest.json`. A publish
//! reads the manifest once, puts only changed objects and deletes removed ones.

use async_trait::async_trait;
use aws_sdk_s3::Client;
use aws_sdk_s3::error::DisplayErrorContext;
use aws_sdk_s3::primitives::ByteStream;

use crate::render::Page;
use crate::sink::{MANIFEST_NAME, Manifest, SinkError, SiteSink, relative_path};

/// The object metadata key holding a file's SHA-256 (`x-amz-meta-sha256`).
pub const SHA256_METADATA: &str = "sha256";

/// The site in an S3 bucket, optionally under a key prefix.
#[derive(Debug, Clone)]
pub struct S3Sink {
    client: Client,
    bucket: String,
    prefix: String,
}

fn backend(e: impl std::error::Error) -> SinkError {
    SinkError::Backend(DisplayErrorContext(e).to_string())
}

impl S3Sink {
    /// The whole bucket is the site.
    pub fn new(client: Client, bucket: impl Into<String>) -> S3Sink {
        S3Sink {
            client,
            bucket: bucket.into(),
            prefix: String::new(),
        }
    }

    /// The site lives under `prefix/` in the bucket.
    pub fn with_prefix(mut self, prefix: &str) -> S3Sink {
        let p = prefix.trim_matches('/');
        self.prefix = if p.is_empty() {
            String::new()
        } else {
            format!("{p}/")
        };
        self
    }

    pub fn bucket(&self) -> &str {
        &self.bucket
    }

    /// The object key of an output path.
    pub fn key(&self, path: &str) -> Result<String, SinkError> {
        Ok(format!("{}{}", self.prefix, relative_path(path)?))
    }
}

#[async_trait]
impl SiteSink for S3Sink {
    async fn manifest(&self) -> Result<Manifest, SinkError> {
        let key = format!("{}{MANIFEST_NAME}", self.prefix);
        let got = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(&key)
            .send()
            .await;
        let object = match got {
            Ok(o) => o,
            Err(e) if e.as_service_error().is_some_and(|s| s.is_no_such_key()) => {
                return Ok(Manifest::new());
            }
            Err(e) => return Err(backend(e)),
        };
        let bytes = object.body.collect().await.map_err(backend)?.into_bytes();
        serde_json::from_slice(&bytes)
            .map_err(|e| SinkError::Backend(format!("s3://{}/{key}: {e}", self.bucket)))
    }

    async fn write(&self, path: &str, page: &Page, sha256: &str) -> Result<(), SinkError> {
        self.client
            .put_object()
            .bucket(&self.bucket)
            .key(self.key(path)?)
            .content_type(page.content_type)
            .cache_control(page.cache_control)
            .metadata(SHA256_METADATA, sha256)
            .body(ByteStream::from(page.bytes.clone()))
            .send()
            .await
            .map_err(backend)?;
        Ok(())
    }

    async fn delete(&self, path: &str) -> Result<(), SinkError> {
        self.client
            .delete_object()
            .bucket(&self.bucket)
            .key(self.key(path)?)
            .send()
            .await
            .map_err(backend)?;
        Ok(())
    }

    async fn save_manifest(&self, manifest: &Manifest) -> Result<(), SinkError> {
        let body = serde_json::to_vec(manifest).map_err(|e| SinkError::Backend(e.to_string()))?;
        self.client
            .put_object()
            .bucket(&self.bucket)
            .key(format!("{}{MANIFEST_NAME}", self.prefix))
            .content_type("application/json")
            .cache_control("no-cache")
            .body(ByteStream::from(body))
            .send()
            .await
            .map_err(backend)?;
        Ok(())
    }
}
