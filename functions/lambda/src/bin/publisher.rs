//! The `publisher` function: rebuilds the public site into the site bucket, writing only what
//! changed. Runs daily just after midnight in China (notices start and end) and after the
//! transitions that change the public site (the table's stream, filtered to new events).

use std::sync::Arc;

use lambda_http::{LambdaEvent, service_fn};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    chengguo_lambda::init_logging();
    // The site's templates and content are parsed on another thread while the AWS clients
    // are set up (a cold start waits for both).
    let site = tokio::task::spawn_blocking(chengguo_site::Site::from_embedded);
    let state = chengguo_lambda::state_from_env().await?;
    let site = site.await?.map_err(|e| format!("site: {e}"))?;
    let publisher = Arc::new(chengguo_lambda::jobs::site_publisher(&state, site).await?);
    lambda_http::lambda_runtime::run(service_fn(|event: LambdaEvent<Value>| {
        let (state, publisher) = (state.clone(), publisher.clone());
        async move { chengguo_lambda::jobs::publish(&state, &publisher, event).await }
    }))
    .await
}
