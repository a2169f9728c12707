//! The `pages` function: the applicant and staff pages, the session, administration, projects and mail, and every path no other function claims.
//! API Gateway routes: `chengguo_lambda::routes::ROUTES`.

use chengguo_lambda::Function;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    chengguo_lambda::init_logging();
    let state = chengguo_lambda::state_from_env().await?;
    lambda_http::run(chengguo_lambda::router(Function::Pages, state)).await
}
