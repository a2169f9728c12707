//! Builds the API's state on either backend: the embedded default (SQLite, a local folder) or
//! AWS (DynamoDB, S3). Settings come from flags and `CHENGGUO_*` variables.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, bail};
use chengguo_api::{AppState, Config};
use chengguo_aws::dynamo::DynamoStore;
use chengguo_aws::s3::S3Blobs;
use chengguo_domain::ports::{Clock, SystemClock};
use chengguo_files_local::LocalFiles;
use chengguo_sqlite::SqliteStore;

/// Which backend holds the state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Backend {
    /// SQLite in the data folder, files in `DATA/files`.
    Embedded { data: PathBuf, public_url: String },
    /// DynamoDB table and S3 bucket; endpoint, region and credentials from the AWS SDK's variables.
    Aws {
        table: String,
        uploads_bucket: String,
    },
}

impl Backend {
    /// Reads `CHENGGUO_BACKEND` (`embedded` by default), `CHENGGUO_TABLE`,
    /// `CHENGGUO_UPLOADS_BUCKET`.
    pub fn from_env(data: &Path, public_url: &str) -> anyhow::Result<Backend> {
        let kind = std::env::var("CHENGGUO_BACKEND").unwrap_or_else(|_| "embedded".into());
        match kind.as_str() {
            "embedded" | "" => Ok(Backend::Embedded {
                data: data.to_path_buf(),
                public_url: public_url.to_owned(),
            }),
            "aws" => Ok(Backend::Aws {
                table: env_or("CHENGGUO_TABLE", "chengguo"),
                uploads_bucket: env_or("CHENGGUO_UPLOADS_BUCKET", "chengguo-uploads"),
            }),
            other => bail!("CHENGGUO_BACKEND must be `embedded` or `aws`, not `{other}`"),
        }
    }
}

fn env_or(name: &str, default: &str) -> String {
    std::env::var(name)
        .ok()
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| default.to_owned())
}

/// API settings from `CHENGGUO_*` variables.
pub fn config_from_env() -> anyhow::Result<Config> {
    let mut c = Config::default();
    let days = |name: &str, default: u16| -> anyhow::Result<u16> {
        match std::env::var(name) {
            Ok(v) if !v.is_empty() => {
                let d: u16 = v
                    .parse()
                    .with_context(|| format!("{name} must be a number of days"))?;
                if d == 0 || d > 365 {
                    bail!("{name} must be between 1 and 365");
                }
                Ok(d)
            }
            _ => Ok(default),
        }
    };
    c.unit_notice_days = days("CHENGGUO_UNIT_NOTICE_DAYS", 7)?;
    c.website_notice_days = days("CHENGGUO_WEBSITE_NOTICE_DAYS", 30)?;
    if let Ok(v) = std::env::var("CHENGGUO_NOTICE_CONTACT")
        && !v.trim().is_empty()
    {
        c.notice_contact = v;
    }
    c.trust_forwarded_for = matches!(
        std::env::var("CHENGGUO_TRUST_FORWARDED_FOR").as_deref(),
        Ok("1") | Ok("true")
    );
    c.secure_cookies = matches!(
        std::env::var("CHENGGUO_SECURE_COOKIES").as_deref(),
        Ok("1") | Ok("true")
    );
    Ok(c)
}

/// The URL-signing secret of the data folder, made on first use (32 random bytes, mode 0600).
pub fn local_secret(data: &Path) -> anyhow::Result<Vec<u8>> {
    let path = data.join("url-signing.key");
    if let Ok(hex_text) = std::fs::read_to_string(&path) {
        let key = hex::decode(hex_text.trim())
            .with_context(|| format!("{} is not hex", path.display()))?;
        if key.len() < 32 {
            bail!(
                "{} holds {} bytes, not 32: restore it from a backup, or delete it to make a new one (upload and download URLs already handed out stop working)",
                path.display(),
                key.len()
            );
        }
        return Ok(key);
    }
    let bytes: [u8; 32] = rand::random();
    write_private(&path, hex::encode(bytes).as_bytes())?;
    Ok(bytes.to_vec())
}

fn write_private(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    use std::io::Write;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts
        .open(path)
        .with_context(|| format!("creating {}", path.display()))?;
    f.write_all(bytes)?;
    f.sync_all()?;
    Ok(())
}

/// Opens the backend and returns the API's state.
pub async fn open(
    backend: &Backend,
    config: Config,
    clock: Arc<dyn Clock>,
) -> anyhow::Result<AppState> {
    match backend {
        Backend::Embedded { data, public_url } => {
            std::fs::create_dir_all(data)
                .with_context(|| format!("creating data folder {}", data.display()))?;
            let store = SqliteStore::open(&data.join("chengguo.db"))
                .with_context(|| format!("opening {}", data.join("chengguo.db").display()))?;
            let secret = local_secret(data)?;
            let files = Arc::new(
                LocalFiles::new(data.join("files"), public_url.clone(), secret)
                    .with_clock(clock.clone()),
            );
            let mailer = outbox(data, &config);
            Ok(AppState {
                store: Arc::new(store),
                blobs: files.clone(),
                clock,
                mailer: Arc::new(mailer),
                mail_templates: Arc::new(templates()?),
                config: Arc::new(config),
                local_files: Some(files),
                site_changes: None,
            })
        }
        Backend::Aws {
            table,
            uploads_bucket,
        } => {
            let (dynamo, s3) = chengguo_aws::setup::from_env().await;
            let sdk = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
            let ses =
                chengguo_aws::ses::SesMailer::new(chengguo_aws::ses::ses_client(&sdk), mail_from());
            Ok(AppState {
                store: Arc::new(DynamoStore::new(dynamo, table.clone())),
                blobs: Arc::new(S3Blobs::new(s3, uploads_bucket.clone())),
                clock,
                mailer: Arc::new(ses),
                mail_templates: Arc::new(templates()?),
                config: Arc::new(config),
                local_files: None,
                site_changes: None,
            })
        }
    }
}

/// The sender of notification email (`CHENGGUO_MAIL_FROM`).
pub fn mail_from() -> String {
    env_or(
        "CHENGGUO_MAIL_FROM",
        "科技成果登记系统 <no-reply@chengguo.local>",
    )
}

/// How long the outbox waits after a message for others to share its flush to disk, when mail
/// is sent in the background (nobody's answer waits for it).
const OUTBOX_GATHER: std::time::Duration = std::time::Duration::from_millis(50);

/// The outbox mailer of the data folder `data`: `<data>/outbox`, gathering messages into
/// batches when `config` sends mail in the background.
pub fn outbox(data: &Path, config: &Config) -> chengguo_mail::OutboxMailer {
    let mailer = chengguo_mail::OutboxMailer::new(data.join("outbox"), mail_from());
    if config.mail_inline {
        mailer
    } else {
        mailer.gathering(OUTBOX_GATHER)
    }
}

/// The notification texts, parsed once.
pub fn templates() -> anyhow::Result<chengguo_mail::Templates> {
    chengguo_mail::Templates::new().map_err(|e| anyhow::anyhow!("mail templates: {e}"))
}

/// The system clock, shared.
pub fn system_clock() -> Arc<dyn Clock> {
    Arc::new(SystemClock)
}

/// The API, the signed file URLs and the pages, with a JSON "not found" for other paths.
pub fn app_router(state: AppState) -> axum::Router {
    chengguo_api::router(state.clone()).merge(chengguo_pages::router(state))
}

/// Everything the local server answers: the API, the signed file URLs, the pages, and the
/// public site at `/` for every other path (unknown `/api/` paths still answer JSON).
pub fn app_router_with_site(state: AppState, site: Arc<chengguo_site::MemorySink>) -> axum::Router {
    use axum::response::IntoResponse;
    use tower::ServiceExt;
    let site = chengguo_site::router(site);
    chengguo_api::routes::api_routes(state.clone())
        .merge(chengguo_pages::router(state))
        .fallback(move |req: axum::extract::Request| {
            let site = site.clone();
            async move {
                if req.uri().path().starts_with("/api/") {
                    return chengguo_api::ApiError::NoRoute.into_response();
                }
                match site.oneshot(req).await {
                    Ok(resp) => resp.into_response(),
                    Err(never) => match never {},
                }
            }
        })
}

/// The public site's publisher for this server: pages kept in memory and served at `/`.
pub fn site_publisher(
    config: &Config,
    sink: Arc<dyn chengguo_site::SiteSink>,
) -> anyhow::Result<chengguo_site::Publisher> {
    let site = chengguo_site::Site::from_embedded().map_err(|e| anyhow::anyhow!("site: {e}"))?;
    Ok(publisher_of(site, config, sink))
}

/// The publisher of `site` (its templates and content already parsed) into `sink`, with the
/// public URL and the notice contact of `config`.
pub fn publisher_of(
    site: chengguo_site::Site,
    config: &Config,
    sink: Arc<dyn chengguo_site::SiteSink>,
) -> chengguo_site::Publisher {
    chengguo_site::Publisher::new(site, sink)
        .with_base_url(config.public_url.clone())
        .with_notice_contact(config.notice_contact.clone())
}

/// Rebuilds the public site whenever `changes` is told (paper received, decided, reopened) and
/// a minute past every midnight in China, when notices start and end.
pub fn spawn_site_rebuilder(
    state: AppState,
    publisher: chengguo_site::Publisher,
    changes: Arc<chengguo_api::state::SiteChanges>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            let now = state.clock.now().to_offset(chengguo_domain::ports::CHINA);
            let next_day = (now.date() + time::Duration::days(1))
                .midnight()
                .assume_offset(chengguo_domain::ports::CHINA);
            let wait = (next_day - now + time::Duration::minutes(1))
                .try_into()
                .unwrap_or(std::time::Duration::from_secs(3600));
            // After a change only the changed records are read and their pages rendered again;
            // each day the whole site is rebuilt from the store, so notices end on time.
            let changed = tokio::select! {
                _ = changes.changed() => Some(changes.take()),
                _ = tokio::time::sleep(wait) => None,
            };
            let today = state.clock.today();
            let result = match changed {
                Some(ids) if ids.is_empty() => continue,
                Some(ids) => {
                    publisher
                        .rebuild_records(state.store.as_ref(), today, &ids)
                        .await
                }
                None => {
                    changes.take();
                    publisher.rebuild(state.store.as_ref(), today).await
                }
            };
            match result {
                Ok(r) => tracing::info!(
                    written = r.written.len(),
                    deleted = r.deleted.len(),
                    "public site rebuilt"
                ),
                Err(e) => tracing::warn!(error = %e, "rebuilding the public site failed"),
            }
        }
    })
}
