//! The `transitions` function: the reviews, paper received, the decision and reopening, the next number and resolving objections.
//! API Gateway routes: `chengguo_lambda::routes::ROUTES`.

use chengguo_lambda::Function;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    chengguo_lambda::init_logging();
    let state = chengguo_lambda::state_from_env().await?;
    lambda_http::run(chengguo_lambda::router(Function::Transitions, state)).await
}
