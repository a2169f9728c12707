//! The errors of the domain, each of which the API maps to one status and code.

use serde::Serialize;

use crate::codes::{Action, State};

/// One problem with the form or the request: the field at fault and a Chinese message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    /// A path such as `contact.mobile`, `completers[0].name` or `materials.evaluation`.
    pub field: String,
    pub message: String,
    /// `true` when the value is missing; a draft may be saved with missing values but not
    /// with wrong ones.
    #[serde(skip)]
    pub missing: bool,
}

impl Problem {
    /// A value that is present but wrong.
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        Problem {
            field: field.into(),
            message: message.into(),
            missing: false,
        }
    }

    /// A required value that is missing.
    pub fn missing(field: impl Into<String>, message: impl Into<String>) -> Self {
        Problem {
            field: field.into(),
            message: message.into(),
            missing: true,
        }
    }

    /// The top-level key of the form this problem belongs to.
    pub fn top_key(&self) -> &str {
        let end = self.field.find(['.', '[']).unwrap_or(self.field.len());
        &self.field[..end]
    }
}

/// Everything that can refuse a request, in domain terms.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DomainError {
    /// The request cannot be understood (bad JSON shape, unknown field, wrong type).
    #[error("{message}")]
    BadRequest {
        message: String,
        details: Vec<Problem>,
    },
    /// Not logged in.
    #[error("{0}")]
    Unauthenticated(String),
    /// Logged in but the role may not do this.
    #[error("{0}")]
    Forbidden(String),
    /// Does not exist, or is outside the caller's scope.
    #[error("未找到该记录，或您无权查看。")]
    NotFound,
    /// The action is not valid in the current state.
    #[error("当前状态（{}）下不能执行“{}”操作。", .state.label(), .action.label())]
    InvalidState { state: State, action: Action },
    /// Not valid in the current state, with its own message (e.g. editing outside draft).
    #[error("{0}")]
    InvalidStateMsg(String),
    /// Someone changed the record first.
    #[error("该记录已被他人修改，请刷新后重试。")]
    StaleVersion,
    /// Paper materials not received (exports).
    #[error("{message}")]
    PaperNotReceived { message: String, ids: Vec<String> },
    /// Field or guard problems.
    #[error("{message}")]
    Validation {
        message: String,
        details: Vec<Problem>,
    },
    /// The registration number is already used.
    #[error("成果登记号 {0} 已被使用，请更换。")]
    NumberTaken(String),
    /// The website notice has not ended.
    #[error("网站公示期（至 {0}）尚未结束，不能予以登记。")]
    NoticeOpen(String),
    /// Objections remain unresolved.
    #[error("该成果尚有未处理的异议，处理后方可予以登记。")]
    OpenObjections,
    /// Something already exists (e.g. a username).
    #[error("{0}")]
    Conflict(String),
    /// Storage or files failed; details are for the log, not the user.
    #[error("系统暂时无法完成操作，请稍后重试。")]
    Internal(String),
}

impl DomainError {
    /// A validation error with one problem.
    pub fn invalid(field: &str, message: impl Into<String>) -> Self {
        let message = message.into();
        DomainError::Validation {
            message: message.clone(),
            details: vec![Problem::invalid(field, message)],
        }
    }

    /// A validation error listing problems of the form.
    pub fn problems(details: Vec<Problem>) -> Self {
        DomainError::Validation {
            message: format!("填写检查未通过，共 {} 处问题。", details.len()),
            details,
        }
    }

    /// A malformed request.
    pub fn bad_request(message: impl Into<String>) -> Self {
        DomainError::BadRequest {
            message: message.into(),
            details: Vec::new(),
        }
    }
}
