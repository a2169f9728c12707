//! The organisation: approving authorities, units, departments, accounts and sessions.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::codes::Role;

/// 批准登记单位, e.g. 中山市科学技术局 with code `442`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Authority {
    pub id: String,
    pub name: String,
    /// Three digits that start every registration number it assigns.
    pub code: String,
}

/// 申报单位: a legal entity with a USCC.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Unit {
    pub id: String,
    pub name: String,
    pub uscc: String,
}

/// 二级部门 of a unit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Department {
    pub id: String,
    pub unit_id: String,
    pub name: String,
}

/// An account. Scope comes from the role and the ids it is attached to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct User {
    pub id: String,
    pub username: String,
    pub display_name: String,
    pub role: Role,
    /// argon2id PHC string.
    pub password_hash: String,
    pub email: Option<String>,
    /// For leader, department and unit accounts.
    pub unit_id: Option<String>,
    /// For department accounts and leaders in a department.
    pub department_id: Option<String>,
    /// For point accounts.
    pub authority_id: Option<String>,
    /// For supervisor accounts.
    pub supervised_unit_ids: Vec<String>,
    /// Consecutive failed logins since the last success.
    pub failed_logins: u32,
    #[serde(with = "time::serde::rfc3339::option")]
    pub locked_until: Option<OffsetDateTime>,
    /// The last successful login; failed logins are counted afresh after it.
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub last_login_at: Option<OffsetDateTime>,
    /// The last time an administrator cleared a lock-out; failed logins are counted afresh
    /// after it too.
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub unlocked_at: Option<OffsetDateTime>,
    pub active: bool,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

/// A login session; only the hash of its token is stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Session {
    pub token_hash: String,
    pub user_id: String,
    pub csrf_token: String,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: OffsetDateTime,
}
