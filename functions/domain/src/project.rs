//! In-system projects (系统中项目) of the provincial plan and their acceptance (验收).

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::error::DomainError;

/// Acceptance moves `pending → review_completed → doc_submitted → passed | failed`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AcceptanceStatus {
    Pending,
    ReviewCompleted,
    DocSubmitted,
    Passed,
    Failed,
}

impl AcceptanceStatus {
    pub const ALL: &'static [AcceptanceStatus] = &[
        AcceptanceStatus::Pending,
        AcceptanceStatus::ReviewCompleted,
        AcceptanceStatus::DocSubmitted,
        AcceptanceStatus::Passed,
        AcceptanceStatus::Failed,
    ];

    pub fn code(self) -> &'static str {
        match self {
            AcceptanceStatus::Pending => "pending",
            AcceptanceStatus::ReviewCompleted => "review_completed",
            AcceptanceStatus::DocSubmitted => "doc_submitted",
            AcceptanceStatus::Passed => "passed",
            AcceptanceStatus::Failed => "failed",
        }
    }

    pub fn parse(code: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|s| s.code() == code)
    }

    pub fn label(self) -> &'static str {
        match self {
            AcceptanceStatus::Pending => "待验收",
            AcceptanceStatus::ReviewCompleted => "已完成验收评审",
            AcceptanceStatus::DocSubmitted => "已提交验收书",
            AcceptanceStatus::Passed => "验收通过",
            AcceptanceStatus::Failed => "验收不通过",
        }
    }

    /// Whether the acceptance review (验收评审环节) is completed.
    pub fn review_completed(self) -> bool {
        !matches!(self, AcceptanceStatus::Pending)
    }

    /// The only status that may follow this one.
    pub fn can_move_to(self, to: AcceptanceStatus) -> bool {
        use AcceptanceStatus::*;
        matches!(
            (self, to),
            (Pending, ReviewCompleted)
                | (ReviewCompleted, DocSubmitted)
                | (DocSubmitted, Passed)
                | (DocSubmitted, Failed)
        )
    }
}

/// A project of the provincial plan, imported with its leader and unit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Project {
    pub id: String,
    /// 项目编号, unique.
    pub number: String,
    pub name: String,
    /// 计划类别.
    pub plan: String,
    /// The leader's username.
    pub leader_username: String,
    pub unit_id: String,
    pub acceptance: AcceptanceStatus,
    pub acceptance_opinion: Option<String>,
    /// The registration draft created when the review completed.
    pub registration_id: Option<String>,
    pub version: u64,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

impl Project {
    /// Checks an acceptance change against the order of statuses.
    pub fn check_move(&self, to: AcceptanceStatus) -> Result<(), DomainError> {
        if self.acceptance.can_move_to(to) {
            Ok(())
        } else {
            Err(DomainError::InvalidStateMsg(format!(
                "项目验收状态为“{}”，不能变更为“{}”。",
                self.acceptance.label(),
                to.label()
            )))
        }
    }
}
