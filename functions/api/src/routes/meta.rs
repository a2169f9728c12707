//! `GET /healthz` and `GET /api/openapi.json`.

use axum::Json;
use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::response::IntoResponse;
use serde_json::json;

use crate::error::ApiResult;
use crate::state::AppState;

/// The OpenAPI document of this API.
pub const OPENAPI: &str = include_str!("../../openapi.json");

/// `GET /healthz`: 200 when storage answers.
pub async fn get_health(State(state): State<AppState>) -> ApiResult<Json<serde_json::Value>> {
    state.store.list_authorities().await?;
    Ok(Json(json!({"status": "ok"})))
}

/// `GET /api/openapi.json`.
pub async fn get_openapi() -> impl IntoResponse {
    ([(CONTENT_TYPE, "application/json")], OPENAPI)
}
