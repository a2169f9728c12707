//! The one error boundary: every refusal becomes `{"error": {"code", "message", "details"}}`
//! with the status of api.md.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chengguo_domain::ports::{BlobError, StoreError};
use chengguo_domain::{DomainError, Problem};
use serde_json::json;

/// An error answered to the client.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error(transparent)]
    Domain(#[from] DomainError),
    /// The body is larger than accepted.
    #[error("请求内容过大（上限 {0}）。")]
    TooLarge(String),
    /// A state-changing request without the right `X-CSRF-Token`.
    #[error("缺少或错误的 X-CSRF-Token 请求头，请刷新页面后重试。")]
    Csrf,
    /// Too many failed logins.
    #[error("登录失败次数过多，账号已锁定，请于 {0} 后再试。")]
    Locked(String),
    /// No such route.
    #[error("请求的地址不存在。")]
    NoRoute,
    #[error("不支持该请求方法。")]
    MethodNotAllowed,
    /// Too many requests from one address; the seconds until the window ends.
    #[error("提交过于频繁，请稍后再试。")]
    RateLimited(u64),
}

impl ApiError {
    /// Status and stable code.
    pub fn status_code(&self) -> (StatusCode, &'static str) {
        match self {
            ApiError::Domain(e) => match e {
                DomainError::BadRequest { .. } => (StatusCode::BAD_REQUEST, "bad_request"),
                DomainError::Unauthenticated(_) => (StatusCode::UNAUTHORIZED, "unauthenticated"),
                DomainError::Forbidden(_) => (StatusCode::FORBIDDEN, "forbidden"),
                DomainError::NotFound => (StatusCode::NOT_FOUND, "not_found"),
                DomainError::InvalidState { .. } | DomainError::InvalidStateMsg(_) => {
                    (StatusCode::CONFLICT, "invalid_state")
                }
                DomainError::StaleVersion => (StatusCode::CONFLICT, "stale_version"),
                DomainError::PaperNotReceived { .. } => {
                    (StatusCode::CONFLICT, "paper_not_received")
                }
                DomainError::Conflict(_) => (StatusCode::CONFLICT, "conflict"),
                DomainError::Validation { .. } => (StatusCode::UNPROCESSABLE_ENTITY, "validation"),
                DomainError::NumberTaken(_) => (StatusCode::UNPROCESSABLE_ENTITY, "number_taken"),
                DomainError::NoticeOpen(_) => (StatusCode::UNPROCESSABLE_ENTITY, "notice_open"),
                DomainError::OpenObjections => {
                    (StatusCode::UNPROCESSABLE_ENTITY, "open_objections")
                }
                DomainError::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
            },
            ApiError::TooLarge(_) => (StatusCode::PAYLOAD_TOO_LARGE, "too_large"),
            ApiError::Csrf => (StatusCode::FORBIDDEN, "csrf"),
            ApiError::Locked(_) => (StatusCode::UNAUTHORIZED, "account_locked"),
            ApiError::NoRoute => (StatusCode::NOT_FOUND, "not_found"),
            ApiError::MethodNotAllowed => (StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed"),
            ApiError::RateLimited(_) => (StatusCode::TOO_MANY_REQUESTS, "rate_limited"),
        }
    }

    fn details(&self) -> serde_json::Value {
        let problems = |d: &[Problem]| serde_json::to_value(d).unwrap_or_default();
        match self {
            ApiError::Domain(DomainError::BadRequest { details, .. })
            | ApiError::Domain(DomainError::Validation { details, .. }) => problems(details),
            ApiError::Domain(DomainError::PaperNotReceived { ids, .. }) => {
                json!(ids.iter().map(|id| json!({"id": id})).collect::<Vec<_>>())
            }
            ApiError::Domain(DomainError::NumberTaken(n)) => {
                json!([{"field": "number", "message": format!("成果登记号 {n} 已被使用。")}])
            }
            _ => json!([]),
        }
    }

    pub fn not_found() -> Self {
        DomainError::NotFound.into()
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        DomainError::Forbidden(message.into()).into()
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        DomainError::bad_request(message).into()
    }

    pub fn unauthenticated(message: impl Into<String>) -> Self {
        DomainError::Unauthenticated(message.into()).into()
    }

    pub fn invalid(field: &str, message: impl Into<String>) -> Self {
        DomainError::invalid(field, message).into()
    }

    pub fn internal(detail: impl std::fmt::Display) -> Self {
        DomainError::Internal(detail.to_string()).into()
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Conflict => DomainError::StaleVersion.into(),
            StoreError::NumberTaken(n) => DomainError::NumberTaken(n).into(),
            StoreError::AlreadyExists(what) => {
                DomainError::Conflict(format!("“{what}”已存在。")).into()
            }
            StoreError::BadCursor => ApiError::bad_request("分页参数 cursor 无效。"),
            StoreError::Backend(detail) => ApiError::internal(detail),
        }
    }
}

impl From<BlobError> for ApiError {
    fn from(e: BlobError) -> Self {
        ApiError::internal(e)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code) = self.status_code();
        if let ApiError::Domain(DomainError::Internal(detail)) = &self {
            tracing::error!(%detail, "internal error");
        }
        let body = json!({
            "error": {"code": code, "message": self.to_string(), "details": self.details()}
        });
        let mut resp = (status, axum::Json(body)).into_response();
        if let ApiError::RateLimited(secs) = &self
            && let Ok(v) = axum::http::HeaderValue::from_str(&secs.max(&1).to_string())
        {
            resp.headers_mut()
                .insert(axum::http::header::RETRY_AFTER, v);
        }
        resp.headers_mut().insert(
            axum::http::header::CACHE_CONTROL,
            axum::http::HeaderValue::from_static("no-store"),
        );
        resp
    }
}

/// Result of a handler.
pub type ApiResult<T> = Result<T, ApiError>;
