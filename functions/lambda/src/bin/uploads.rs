//! The `uploads` function: attachments: presigned upload, confirmation, presigned download and removal.
//! API Gateway routes: `chengguo_lambda::routes::ROUTES`.

use chengguo_lambda::Function;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    chengguo_lambda::init_logging();
    let state = chengguo_lambda::state_from_env().await?;
    lambda_http::run(chengguo_lambda::router(Function::Uploads, state)).await
}
