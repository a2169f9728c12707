//! Configuration of a function from its environment: the same `CHENGGUO_*` variables the
//! command line reads (`chengguo::backend::config_from_env`), always on the AWS backend.

use std::sync::Arc;

use anyhow::{Context, bail};
use chengguo::backend::{self, Backend};
use chengguo_api::AppState;

/// Every variable a function reads (besides the AWS runtime's own). `infra/template.yaml` may
/// set only these; its test checks that.
pub const ENV_VARS: &[&str] = &[
    "CHENGGUO_TABLE",
    "CHENGGUO_UPLOADS_BUCKET",
    "CHENGGUO_SITE_BUCKET",
    "CHENGGUO_MAIL_FROM",
    "CHENGGUO_PUBLIC_URL",
    "CHENGGUO_UNIT_NOTICE_DAYS",
    "CHENGGUO_WEBSITE_NOTICE_DAYS",
    "CHENGGUO_NOTICE_CONTACT",
    "CHENGGUO_SECURE_COOKIES",
    "CHENGGUO_TRUST_FORWARDED_FOR",
    "CHENGGUO_LOG",
];

/// Logs to stderr (CloudWatch) without colours or timestamps (CloudWatch adds its own), with
/// the filter of `CHENGGUO_LOG` (default `info`).
pub fn init_logging() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("CHENGGUO_LOG")
                .unwrap_or_else(|_| "info".into()),
        )
        .with_ansi(false)
        .without_time()
        .with_target(false)
        .with_writer(std::io::stderr)
        .try_init();
}

/// A variable that must be set.
pub fn required(name: &str) -> anyhow::Result<String> {
    match std::env::var(name) {
        Ok(v) if !v.trim().is_empty() => Ok(v),
        _ => bail!("{name} is not set"),
    }
}

fn optional(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

/// The API's state on DynamoDB (`CHENGGUO_TABLE`), S3 (`CHENGGUO_UPLOADS_BUCKET`, only for
/// the functions that touch attachments) and SES (`CHENGGUO_MAIL_FROM`), with the settings of
/// `CHENGGUO_*`. Mail is sent before the answer: a Lambda is frozen once it has answered, so a
/// background task would not run.
pub async fn state_from_env() -> anyhow::Result<AppState> {
    let table = required("CHENGGUO_TABLE")?;
    let uploads_bucket = optional("CHENGGUO_UPLOADS_BUCKET");
    let mut config = backend::config_from_env()?;
    config.mail_inline = true;
    if let Some(url) = optional("CHENGGUO_PUBLIC_URL") {
        config.public_url = url.trim_end_matches('/').to_owned();
    }
    let aws = Backend::Aws {
        table,
        // Functions without attachments have no bucket (and no permission on one).
        uploads_bucket: uploads_bucket.clone().unwrap_or_default(),
    };
    let mut state = backend::open(&aws, config, backend::system_clock())
        .await
        .context("opening the AWS backend")?;
    if uploads_bucket.is_some() {
        let origin = upload_origin(&state).await;
        let mut config = (*state.config).clone();
        config.upload_origin = origin;
        state.config = Arc::new(config);
    }
    Ok(state)
}

/// The origin browsers upload to (the bucket's), allowed by the pages' Content-Security-Policy:
/// read off a presigned URL, which is computed locally without a request.
pub async fn upload_origin(state: &AppState) -> Option<String> {
    let probe = state
        .blobs
        .presign_put(
            "origin-probe",
            "application/octet-stream",
            1,
            time::Duration::minutes(1),
        )
        .await
        .ok()?;
    origin_of(&probe.url)
}

/// `https://host[:port]` of an absolute URL.
pub fn origin_of(url: &str) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    let host = rest.split(['/', '?', '#']).next()?;
    (!host.is_empty()).then(|| format!("{scheme}://{host}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_origin_of_a_presigned_url_is_its_scheme_and_host() {
        assert_eq!(
            origin_of("https://b.s3.cn-north-1.amazonaws.com.cn/k?X-Amz-Signature=1").as_deref(),
            Some("https://b.s3.cn-north-1.amazonaws.com.cn")
        );
        assert_eq!(
            origin_of("http://127.0.0.1:4566/bucket/key").as_deref(),
            Some("http://127.0.0.1:4566")
        );
        assert_eq!(origin_of("no-scheme"), None);
    }
}
