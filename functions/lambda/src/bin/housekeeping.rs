//! The `housekeeping` function: sends due mail (retries included) and removes uploads never
//! confirmed in time. Runs every few minutes on a schedule.

use lambda_http::{LambdaEvent, service_fn};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    chengguo_lambda::init_logging();
    let state = chengguo_lambda::state_from_env().await?;
    lambda_http::lambda_runtime::run(service_fn(|event: LambdaEvent<Value>| {
        let state = state.clone();
        async move { chengguo_lambda::jobs::housekeep(&state, event).await }
    }))
    .await
}
