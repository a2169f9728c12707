//! Who sees which registrations (domain.md §4). Outside scope a record does not exist.

use crate::Role;
use crate::org::User;
use crate::record::Registration;

/// The set of registrations a user may list; storage turns it into an index query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ListScope {
    Owner(String),
    Department(String),
    Unit(String),
    Authority(String),
    Units(Vec<String>),
    All,
    /// Sees nothing (an account missing its attachment).
    Nothing,
}

impl ListScope {
    /// The scope of a user.
    pub fn of(user: &User) -> ListScope {
        let some = |id: &Option<String>, f: fn(String) -> ListScope| match id {
            Some(id) => f(id.clone()),
            None => ListScope::Nothing,
        };
        match user.role {
            Role::Leader => ListScope::Owner(user.id.clone()),
            Role::Department => some(&user.department_id, ListScope::Department),
            Role::Unit => some(&user.unit_id, ListScope::Unit),
            Role::Point => some(&user.authority_id, ListScope::Authority),
            Role::Supervisor => ListScope::Units(user.supervised_unit_ids.clone()),
            Role::Office | Role::Admin => ListScope::All,
        }
    }

    /// Whether a registration falls inside this scope.
    pub fn contains(&self, reg: &Registration) -> bool {
        match self {
            ListScope::Owner(id) => reg.owner_id == *id,
            ListScope::Department(id) => reg.department_id.as_deref() == Some(id.as_str()),
            ListScope::Unit(id) => reg.unit_id == *id,
            ListScope::Authority(id) => reg.authority_id == *id,
            ListScope::Units(ids) => ids.contains(&reg.unit_id),
            ListScope::All => true,
            ListScope::Nothing => false,
        }
    }
}

/// Whether `user` may see `reg` at all.
pub fn can_see(user: &User, reg: &Registration) -> bool {
    user.active && ListScope::of(user).contains(reg)
}
