//! `chengguo`: serve, seed-demo, import-projects, setup-aws.

/// mimalloc instead of the C library's allocator: a request allocates and frees many small
/// buffers (JSON documents, rows) across threads, where glibc's arenas spend a large share of
/// the server's CPU time.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    chengguo::cli::main().await
}
