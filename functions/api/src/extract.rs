//! Request extractors whose refusals speak the API's error envelope in Chinese.

use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::header::CONTENT_TYPE;
use axum::http::request::Parts;
use chengguo_domain::{DomainError, Problem};
use serde::de::DeserializeOwned;

use crate::error::ApiError;
use crate::state::AppState;

/// A JSON body, refused with 400 (malformed, unknown field, wrong type) or 413 (too large).
pub struct JsonBody<T>(pub T);

/// Reads the whole body, refusing more than `limit` bytes.
pub async fn read_body(req: Request, limit: usize) -> Result<bytes::Bytes, ApiError> {
    axum::body::to_bytes(req.into_body(), limit)
        .await
        .map_err(|_| ApiError::TooLarge(human_size(limit)))
}

/// `1048576` → `1 MB`.
pub fn human_size(n: usize) -> String {
    if n >= 1024 * 1024 {
        format!("{} MB", n / (1024 * 1024))
    } else {
        format!("{} KB", n.div_ceil(1024))
    }
}

/// Turns serde's words into a Chinese message naming the field.
pub fn json_error(e: &serde_json::Error) -> ApiError {
    use serde_json::error::Category;
    let detail = e.to_string();
    let quoted = |marker: &str| {
        detail
            .split_once(marker)
            .and_then(|(_, rest)| rest.split_once('`'))
            .map(|(name, _)| name.to_owned())
    };
    let message = match e.classify() {
        Category::Syntax | Category::Eof | Category::Io => format!(
            "请求体不是有效的 JSON（第 {} 行第 {} 列）。",
            e.line(),
            e.column()
        ),
        Category::Data => {
            if let Some(f) = quoted("unknown field `") {
                format!("请求中含有不支持的字段“{f}”。")
            } else if let Some(f) = quoted("missing field `") {
                format!("请求缺少字段“{f}”。")
            } else if detail.starts_with("invalid type") || detail.starts_with("invalid value") {
                "请求中有字段的类型不正确。".to_owned()
            } else {
                "请求内容不符合要求。".to_owned()
            }
        }
    };
    DomainError::BadRequest {
        message,
        details: vec![Problem::invalid("body", detail)],
    }
    .into()
}

/// Parses JSON bytes into `T` with the API's refusals.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(bytes).map_err(|e| json_error(&e))
}

impl<T: DeserializeOwned> FromRequest<AppState> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let is_json = req
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(|v| {
                v.split(';')
                    .next()
                    .unwrap_or("")
                    .trim()
                    .eq_ignore_ascii_case("application/json")
            })
            .unwrap_or(false);
        if !is_json {
            return Err(ApiError::bad_request(
                "请求体应为 JSON，并带有 Content-Type: application/json。",
            ));
        }
        let bytes = read_body(req, state.config.max_json_body).await?;
        parse_json(&bytes).map(JsonBody)
    }
}

/// Query parameters, refused with a Chinese 400.
pub struct QueryParams<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for QueryParams<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let query = parts.uri.query().unwrap_or("");
        serde_urlencoded_parse(query).map(QueryParams)
    }
}

fn serde_urlencoded_parse<T: DeserializeOwned>(query: &str) -> Result<T, ApiError> {
    axum::extract::Query::<T>::try_from_uri(
        &format!("/?{query}")
            .parse()
            .map_err(|_| ApiError::bad_request("查询参数无效。"))?,
    )
    .map(|q| q.0)
    .map_err(|e| DomainError::BadRequest {
        message: "查询参数无效。".into(),
        details: vec![Problem::invalid("query", e.body_text())],
    })
    .map_err(ApiError::from)
}
