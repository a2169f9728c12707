//! The event-driven functions: the site publisher and housekeeping. Each takes any event (an
//! EventBridge schedule, a DynamoDB stream batch, a manual `{}`), does its whole job and
//! answers a short JSON report; an error makes Lambda retry (the stream batch is kept).

use std::sync::Arc;

use chengguo_api::AppState;
use chengguo_site::{Publisher, S3Sink, Site};
use lambda_http::{Error, LambdaEvent};
use serde_json::{Value, json};

use crate::wiring::required;

/// The publisher of `site` into `CHENGGUO_SITE_BUCKET`, with the public URL and the notice
/// contact of the configuration.
pub async fn site_publisher(state: &AppState, site: Site) -> anyhow::Result<Publisher> {
    let bucket = required("CHENGGUO_SITE_BUCKET")?;
    let (_, s3) = chengguo_aws::setup::from_env().await;
    Ok(chengguo::backend::publisher_of(
        site,
        &state.config,
        Arc::new(S3Sink::new(s3, bucket)),
    ))
}

/// What started a run, for the log and the report.
pub fn trigger_of(event: &Value) -> String {
    if let Some(records) = event.get("Records").and_then(Value::as_array) {
        let source = records
            .first()
            .and_then(|r| r.get("eventSource"))
            .and_then(Value::as_str)
            .unwrap_or("records");
        return format!("{source} ({} records)", records.len());
    }
    match event.get("source").and_then(Value::as_str) {
        Some(source) => source.to_owned(),
        None => "direct invocation".to_owned(),
    }
}

/// Rebuilds the public site from the stored state on today's date (China).
pub async fn publish(
    state: &AppState,
    publisher: &Publisher,
    event: LambdaEvent<Value>,
) -> Result<Value, Error> {
    let trigger = trigger_of(&event.payload);
    let report = publisher
        .rebuild(state.store.as_ref(), state.clock.today())
        .await
        .map_err(|e| format!("rebuilding the public site: {e}"))?;
    tracing::info!(
        trigger,
        written = report.written.len(),
        deleted = report.deleted.len(),
        unchanged = report.unchanged,
        "public site published"
    );
    Ok(json!({
        "trigger": trigger,
        "written": report.written.len(),
        "deleted": report.deleted.len(),
        "unchanged": report.unchanged,
    }))
}

/// Sends due mail (first attempts and retries) and removes uploads never confirmed in time.
pub async fn housekeep(state: &AppState, event: LambdaEvent<Value>) -> Result<Value, Error> {
    let trigger = trigger_of(&event.payload);
    let mail = chengguo_api::notify::dispatch_due(state, 100)
        .await
        .map_err(|e| format!("dispatching mail: {e}"))?;
    let removed = chengguo_api::routes::attachments::sweep_expired(state)
        .await
        .map_err(|e| format!("sweeping expired uploads: {e}"))?;
    tracing::info!(
        trigger,
        sent = mail.sent,
        retrying = mail.retrying,
        failed = mail.failed,
        removed,
        "housekeeping done"
    );
    Ok(json!({
        "trigger": trigger,
        "mail": {"sent": mail.sent, "retrying": mail.retrying, "failed": mail.failed},
        "removed_uploads": removed,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_the_trigger_of_schedules_streams_and_direct_calls() {
        assert_eq!(
            trigger_of(&json!({"source": "aws.scheduler", "detail": {}})),
            "aws.scheduler"
        );
        assert_eq!(
            trigger_of(&json!({"Records": [{"eventSource": "aws:dynamodb"}, {}]})),
            "aws:dynamodb (2 records)"
        );
        assert_eq!(trigger_of(&json!({})), "direct invocation");
    }
}
