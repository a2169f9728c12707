//! The demo organisation of api.md: one authority, two units, a department and an account of
//! every role, all with the password `chengguo-demo`.

use chengguo_domain::Role;
use chengguo_domain::org::{Authority, Department, Unit, User};
use chengguo_domain::ports::{Store, StoreError};
use time::OffsetDateTime;

use crate::auth;
use crate::error::ApiError;

/// The demo accounts' password.
pub const DEMO_PASSWORD: &str = "chengguo-demo";
/// 中山市科学技术局.
pub const AUTHORITY_ID: &str = "zs-kjj";
pub const UNIT_ID: &str = "unit-zs-tech";
pub const UNIT_B_ID: &str = "unit-zs-institute";
pub const DEPT_ID: &str = "dept-rd";

/// Whether the store holds nothing yet (no authority and no admin account).
pub async fn is_empty(store: &dyn Store) -> Result<bool, StoreError> {
    Ok(store.list_authorities().await?.is_empty() && store.find_user("admin").await?.is_none())
}

/// Loads the demo organisation and accounts. Existing accounts are left as they are.
pub async fn seed_demo(store: &dyn Store, now: OffsetDateTime) -> Result<(), ApiError> {
    store
        .put_authority(&Authority {
            id: AUTHORITY_ID.into(),
            name: "中山市科学技术局".into(),
            code: "442".into(),
        })
        .await?;
    for (id, name, uscc) in [
        (UNIT_ID, "中山市示范科技有限公司", "91442000MA4UJ8K30D"),
        (UNIT_B_ID, "中山市创新研究院", "12442000MB2C07820F"),
    ] {
        store
            .put_unit(&Unit {
                id: id.into(),
                name: name.into(),
                uscc: uscc.into(),
            })
            .await?;
    }
    store
        .put_department(&Department {
            id: DEPT_ID.into(),
            unit_id: UNIT_ID.into(),
            name: "研发中心".into(),
        })
        .await?;
    let hash = auth::hash_password(DEMO_PASSWORD)?;
    let account = |username: &str, name: &str, role: Role| User {
        id: format!("user-{username}"),
        username: username.into(),
        display_name: name.into(),
        role,
        password_hash: hash.clone(),
        email: Some(format!("{username}@demo.chengguo.local")),
        unit_id: None,
        department_id: None,
        authority_id: None,
        supervised_unit_ids: Vec::new(),
        failed_logins: 0,
        locked_until: None,
        last_login_at: None,
        unlocked_at: None,
        active: true,
        created_at: now,
    };
    let unit = |mut u: User, unit: &str, dept: Option<&str>| {
        u.unit_id = Some(unit.into());
        u.department_id = dept.map(Into::into);
        u
    };
    let mut point = account("point", "中山市科学技术局成果登记点", Role::Point);
    point.authority_id = Some(AUTHORITY_ID.into());
    let mut supervisor = account("supervisor", "主管部门", Role::Supervisor);
    supervisor.supervised_unit_ids = vec![UNIT_ID.into()];
    let users = [
        account("admin", "系统管理员", Role::Admin),
        account("office", "业务处室", Role::Office),
        supervisor,
        point,
        unit(
            account("unit", "示范科技单位管理员", Role::Unit),
            UNIT_ID,
            None,
        ),
        unit(
            account("unit-b", "创新研究院单位管理员", Role::Unit),
            UNIT_B_ID,
            None,
        ),
        unit(
            account("dept", "研发中心", Role::Department),
            UNIT_ID,
            Some(DEPT_ID),
        ),
        unit(
            account("leader", "张明", Role::Leader),
            UNIT_ID,
            Some(DEPT_ID),
        ),
        unit(
            account("leader-nodept", "李华", Role::Leader),
            UNIT_ID,
            None,
        ),
        unit(account("leader-b", "王芳", Role::Leader), UNIT_B_ID, None),
    ];
    for u in &users {
        match store.create_user(u).await {
            Ok(()) | Err(StoreError::AlreadyExists(_)) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}
