//! `chengguo`: serve, seed-demo, import-projects, setup-aws.

#[tokio::main]
async fn main() -> std::process::ExitCode {
    chengguo::cli::main().await
}
