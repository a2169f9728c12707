//! Argument parsing and the commands.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use clap::{Parser, Subcommand};

use crate::backend::{self, Backend};

#[derive(Parser)]
#[command(
    name = "chengguo",
    version,
    about = "科技成果登记 — registration of scientific and technological achievements"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Runs the local server: API and signed file URLs.
    Serve {
        /// Data folder of the embedded backend.
        #[arg(long, env = "CHENGGUO_DATA", default_value = "./data")]
        data: PathBuf,
        /// Address to listen on.
        #[arg(long, env = "CHENGGUO_ADDR", default_value = "127.0.0.1:8080")]
        addr: SocketAddr,
        /// Load the demo organisation and accounts when the store is empty.
        #[arg(long)]
        demo: bool,
        /// The URL browsers reach this server at (for signed file URLs); default http://ADDR.
        #[arg(long, env = "CHENGGUO_PUBLIC_URL")]
        public_url: Option<String>,
    },
    /// Loads the demo organisation and accounts.
    SeedDemo {
        #[arg(long, env = "CHENGGUO_DATA", default_value = "./data")]
        data: PathBuf,
    },
    /// Imports in-system projects from an xlsx workbook or a csv file (UTF-8), by extension,
    /// each with the Chinese header row.
    ImportProjects {
        #[arg(long, env = "CHENGGUO_DATA", default_value = "./data")]
        data: PathBuf,
        file: PathBuf,
    },
    /// Generates the public site from the stored state into a folder (only changed files are
    /// written; pages no longer produced are removed).
    BuildSite {
        #[arg(long, env = "CHENGGUO_DATA", default_value = "./data")]
        data: PathBuf,
        /// Output folder.
        #[arg(long)]
        out: PathBuf,
        /// The URL the site is published at (feed and sitemap links).
        #[arg(
            long,
            env = "CHENGGUO_PUBLIC_URL",
            default_value = "http://127.0.0.1:8080"
        )]
        public_url: String,
    },
    /// Creates a system administrator account (the first account of a new installation) in
    /// the backend CHENGGUO_BACKEND selects. The password is read from the first line of
    /// standard input, or from CHENGGUO_ADMIN_PASSWORD when set, never from the command line.
    CreateAdmin {
        #[arg(long, env = "CHENGGUO_DATA", default_value = "./data")]
        data: PathBuf,
        /// Login name: 3 to 32 letters, digits, dots, dashes or underscores.
        #[arg(long)]
        username: String,
        /// The name shown to others.
        #[arg(long, default_value = "系统管理员")]
        display_name: String,
        /// Email address for notifications.
        #[arg(long)]
        email: Option<String>,
    },
    /// Fills a new data folder with the demo organisation and N synthetic registrations that
    /// went through the workflow over the past years (for benchmarks and trials).
    SeedSynthetic {
        #[arg(long, env = "CHENGGUO_DATA", default_value = "./data")]
        data: PathBuf,
        /// How many registrations.
        #[arg(long)]
        count: usize,
    },
    /// Creates the DynamoDB table (with its GSIs) and the buckets when missing.
    SetupAws,
    /// Copies the embedded data folder (every record, event, number and file) into the AWS
    /// backend of CHENGGUO_TABLE and CHENGGUO_UPLOADS_BUCKET, then compares the counts; running
    /// it again copies only what is missing.
    Migrate {
        #[arg(long, env = "CHENGGUO_DATA", default_value = "./data")]
        data: PathBuf,
    },
}

/// Runs the command line; errors are printed and give exit code 1.
pub async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("CHENGGUO_LOG")
                .unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    match run(Cli::parse()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// A refusal of the API as the command line prints it: the message and each problem.
fn refusal(e: chengguo_api::ApiError) -> anyhow::Error {
    let message = e.to_string();
    let mut text = message.clone();
    if let chengguo_api::ApiError::Domain(chengguo_domain::DomainError::Validation {
        details,
        ..
    }) = &e
    {
        for p in details.iter().filter(|p| p.message != message) {
            text.push_str(&format!("\n  {}：{}", p.field, p.message));
        }
    }
    anyhow::anyhow!(text)
}

async fn state_for(
    data: &std::path::Path,
    public_url: &str,
) -> anyhow::Result<chengguo_api::AppState> {
    let backend = Backend::from_env(data, public_url)?;
    let mut config = backend::config_from_env()?;
    config.public_url = public_url.to_owned();
    backend::open(&backend, config, backend::system_clock()).await
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Serve {
            data,
            addr,
            demo,
            public_url,
        } => {
            let public_url = public_url.unwrap_or_else(|| format!("http://{addr}"));
            let state = state_for(&data, &public_url).await?;
            if demo && chengguo_api::seed::is_empty(state.store.as_ref()).await? {
                chengguo_api::seed::seed_demo(state.store.as_ref(), state.clock.now())
                    .await
                    .map_err(|e| anyhow::anyhow!("{e}"))?;
                eprintln!(
                    "已载入演示账号（密码 {}）。",
                    chengguo_api::seed::DEMO_PASSWORD
                );
            }
            serve(state, addr).await
        }
        Command::SeedDemo { data } => {
            let state = state_for(&data, "http://127.0.0.1:8080").await?;
            chengguo_api::seed::seed_demo(state.store.as_ref(), state.clock.now())
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            println!(
                "已载入演示机构与账号（密码 {}）。",
                chengguo_api::seed::DEMO_PASSWORD
            );
            Ok(())
        }
        Command::ImportProjects { data, file } => {
            let state = state_for(&data, "http://127.0.0.1:8080").await?;
            let bytes =
                std::fs::read(&file).with_context(|| format!("reading {}", file.display()))?;
            // By extension (.xlsx or .csv), by the first bytes otherwise.
            let format = chengguo_api::projects::ImportFormat::of_path(&file, &bytes)
                .map_err(|m| anyhow::anyhow!(m))?;
            let rows = chengguo_api::projects::parse_file(&bytes, format)
                .map_err(|m| anyhow::anyhow!(m))?;
            let report = chengguo_api::projects::import(&state, &rows)
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            println!(
                "新增 {} 个，更新 {} 个，未变 {} 个，拒绝 {} 行。",
                report.created.len(),
                report.updated.len(),
                report.unchanged.len(),
                report.refused.len()
            );
            for p in &report.refused {
                println!("第 {} 行：{}", p.row, p.reason);
            }
            Ok(())
        }
        Command::BuildSite {
            data,
            out,
            public_url,
        } => {
            let state = state_for(&data, &public_url).await?;
            let sink = std::sync::Arc::new(chengguo_site::DirSink::new(&out));
            let publisher = backend::site_publisher(&state.config, sink)?;
            let report = publisher
                .rebuild(state.store.as_ref(), state.clock.today())
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            println!(
                "公开网站已生成到 {}：写入 {} 个文件，删除 {} 个，未变 {} 个。",
                out.display(),
                report.written.len(),
                report.deleted.len(),
                report.unchanged
            );
            Ok(())
        }
        Command::CreateAdmin {
            data,
            username,
            display_name,
            email,
        } => {
            let password = match std::env::var("CHENGGUO_ADMIN_PASSWORD") {
                Ok(p) if !p.is_empty() => p,
                _ => {
                    let mut line = String::new();
                    std::io::stdin()
                        .read_line(&mut line)
                        .context("reading the password from standard input")?;
                    line.trim_end_matches(['\r', '\n']).to_owned()
                }
            };
            let state = state_for(&data, "http://127.0.0.1:8080").await?;
            let user = chengguo_api::routes::admin::create_administrator(
                &state,
                &username,
                &display_name,
                &password,
                email,
            )
            .await
            .map_err(refusal)?;
            println!("已创建系统管理员账号“{}”。", user.username);
            Ok(())
        }
        Command::Migrate { data } => crate::migrate::run(&data).await,
        Command::SeedSynthetic { data, count } => {
            let r = crate::synthetic::seed(&data, count).await?;
            println!(
                "已生成 {} 条成果登记（{} 个成果登记号）、{} 个单位、{} 个账号（密码 {}）。",
                r.registrations,
                r.numbers,
                r.units,
                r.accounts,
                chengguo_api::seed::DEMO_PASSWORD
            );
            for (state, n) in &r.by_state {
                println!("{state}\t{n}");
            }
            Ok(())
        }
        Command::SetupAws => {
            let (dynamo, s3) = chengguo_aws::setup::from_env().await;
            let table = std::env::var("CHENGGUO_TABLE").unwrap_or_else(|_| "chengguo".into());
            let created = chengguo_aws::setup::ensure_table(&dynamo, &table)
                .await
                .map_err(|e| anyhow::anyhow!(e))?;
            println!(
                "table {table}: {}",
                if created { "created" } else { "exists" }
            );
            for var in ["CHENGGUO_UPLOADS_BUCKET", "CHENGGUO_SITE_BUCKET"] {
                let default = if var.contains("UPLOADS") {
                    "chengguo-uploads"
                } else {
                    "chengguo-site"
                };
                let bucket = std::env::var(var).unwrap_or_else(|_| default.into());
                let created = chengguo_aws::setup::ensure_bucket(&s3, &bucket)
                    .await
                    .map_err(|e| anyhow::anyhow!(e))?;
                println!(
                    "bucket {bucket}: {}",
                    if created { "created" } else { "exists" }
                );
            }
            Ok(())
        }
    }
}

/// Serves the router until Ctrl-C or SIGTERM: the API, the pages and the public site (kept in
/// memory, rebuilt after each change it shows and every day after midnight in China), sending
/// due mail every minute and sweeping expired uploads every ten minutes.
pub async fn serve(mut state: chengguo_api::AppState, addr: SocketAddr) -> anyhow::Result<()> {
    let sink = chengguo_site::MemorySink::new();
    let publisher = backend::site_publisher(&state.config, sink.clone())?;
    let report = publisher
        .rebuild(state.store.as_ref(), state.clock.today())
        .await
        .map_err(|e| anyhow::anyhow!("building the public site: {e}"))?;
    tracing::info!(files = report.written.len(), "public site built");
    let changes = std::sync::Arc::new(chengguo_api::state::SiteChanges::default());
    state.site_changes = Some(changes.clone());
    let rebuilder = backend::spawn_site_rebuilder(state.clone(), publisher, changes);
    // Housekeeping: send due mail (retries included) every minute, sweep expired uploads every
    // ten minutes.
    let housekeeping = {
        let state = state.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(60));
            let mut round: u64 = 0;
            loop {
                tick.tick().await;
                match chengguo_api::notify::dispatch_due(&state, 100).await {
                    Ok(r) if r.sent + r.retrying + r.failed == 0 => {}
                    Ok(r) => tracing::info!(
                        sent = r.sent,
                        retrying = r.retrying,
                        failed = r.failed,
                        "mail dispatched"
                    ),
                    Err(e) => tracing::warn!(error = %e, "dispatching mail failed"),
                }
                if round.is_multiple_of(10) {
                    match chengguo_api::routes::attachments::sweep_expired(&state).await {
                        Ok(0) => {}
                        Ok(n) => tracing::info!(removed = n, "expired uploads removed"),
                        Err(e) => tracing::warn!(error = %e, "sweeping expired uploads failed"),
                    }
                }
                round += 1;
            }
        })
    };
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("listening on {addr}"))?;
    eprintln!("chengguo 正在 http://{addr} 提供服务");
    let app = crate::backend::app_router_with_site(state, sink)
        .into_make_service_with_connect_info::<SocketAddr>();
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown_signal())
        .await?;
    housekeeping.abort();
    rebuilder.abort();
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}
