//! `/api/admin/...`: authorities, units, departments and accounts.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use chengguo_domain::org::{Authority, Department, Unit, User};
use chengguo_domain::{DomainError, Problem, Role, uscc};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::auth::{self, CurrentUser};
use crate::error::{ApiError, ApiResult};
use crate::extract::JsonBody;
use crate::state::AppState;
use crate::views;

fn require_admin(user: &User) -> ApiResult<()> {
    if user.role == Role::Admin {
        Ok(())
    } else {
        Err(ApiError::forbidden("只有系统管理员可以进行此操作。"))
    }
}

/// Whether `user` administers unit `unit_id` (system admin, or that unit's administrator).
fn administers_unit(user: &User, unit_id: &str) -> bool {
    user.role == Role::Admin
        || (user.role == Role::Unit && user.unit_id.as_deref() == Some(unit_id))
}

fn text(field: &str, label: &str, v: &str, max: usize, problems: &mut Vec<Problem>) {
    let n = v.trim().chars().count();
    if n == 0 || n > max {
        problems.push(Problem::invalid(
            field,
            format!("“{label}”不能为空，且不超过{max}个字。"),
        ));
    }
}

fn refuse_if(problems: Vec<Problem>) -> ApiResult<()> {
    if problems.is_empty() {
        Ok(())
    } else {
        Err(DomainError::problems(problems).into())
    }
}

/// `GET /api/admin/authorities`: every logged-in user may read them (the form offers them).
pub async fn list_authorities(
    State(state): State<AppState>,
    _u: CurrentUser,
) -> ApiResult<Json<Value>> {
    let items = state.store.list_authorities().await?;
    Ok(Json(json!({"items": items})))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewAuthority {
    id: Option<String>,
    name: String,
    code: String,
}

/// `POST /api/admin/authorities`.
pub async fn create_authority(
    State(state): State<AppState>,
    current: CurrentUser,
    JsonBody(b): JsonBody<NewAuthority>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    require_admin(&current.user)?;
    let mut problems = Vec::new();
    text("name", "名称", &b.name, 100, &mut problems);
    if b.code.len() != 3 || !b.code.bytes().all(|c| c.is_ascii_digit()) {
        problems.push(Problem::invalid("code", "登记机构代码应为3位数字。"));
    }
    refuse_if(problems)?;
    let all = state.store.list_authorities().await?;
    let id = chosen_id(b.id, |id| all.iter().any(|a| a.id == id))?;
    if all.iter().any(|a| a.code == b.code) {
        return Err(DomainError::Conflict(format!("登记机构代码 {} 已被使用。", b.code)).into());
    }
    let a = Authority {
        id,
        name: b.name.trim().to_owned(),
        code: b.code,
    };
    state.store.put_authority(&a).await?;
    Ok((StatusCode::CREATED, Json(json!(a))))
}

/// The id asked for, or a new one; an id already in use is never overwritten.
fn chosen_id(requested: Option<String>, exists: impl Fn(&str) -> bool) -> ApiResult<String> {
    match requested {
        None => Ok(uuid::Uuid::new_v4().to_string()),
        Some(id) if !is_slug(&id) => Err(ApiError::invalid(
            "id",
            "编号只能包含字母、数字、横线或下划线，且不超过64个字符。",
        )),
        Some(id) if exists(&id) => Err(DomainError::Conflict(format!("编号“{id}”已存在。")).into()),
        Some(id) => Ok(id),
    }
}

fn is_slug(s: &str) -> bool {
    (1..=64).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// `GET /api/admin/units`: all for administrators and the city's staff, own or supervised
/// units for others.
pub async fn list_units(
    State(state): State<AppState>,
    current: CurrentUser,
) -> ApiResult<Json<Value>> {
    let u = &current.user;
    let items: Vec<Unit> = state
        .store
        .list_units()
        .await?
        .into_iter()
        .filter(|unit| match u.role {
            Role::Admin | Role::Office | Role::Point => true,
            Role::Supervisor => u.supervised_unit_ids.contains(&unit.id),
            _ => u.unit_id.as_deref() == Some(unit.id.as_str()),
        })
        .collect();
    Ok(Json(json!({"items": items})))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewUnit {
    id: Option<String>,
    name: String,
    uscc: String,
}

/// `POST /api/admin/units`: USCC check digit verified.
pub async fn create_unit(
    State(state): State<AppState>,
    current: CurrentUser,
    JsonBody(b): JsonBody<NewUnit>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    require_admin(&current.user)?;
    let mut problems = Vec::new();
    text("name", "单位名称", &b.name, 100, &mut problems);
    let code = b.uscc.trim().to_uppercase();
    if let Err(e) = uscc::validate(&code) {
        problems.push(Problem::invalid("uscc", e.message()));
    }
    refuse_if(problems)?;
    if state
        .store
        .list_units()
        .await?
        .iter()
        .any(|u| u.uscc == code)
    {
        return Err(
            DomainError::Conflict(format!("统一社会信用代码 {code} 的单位已存在。")).into(),
        );
    }
    let existing = match &b.id {
        Some(id) => state.store.get_unit(id).await?.is_some(),
        None => false,
    };
    let id = chosen_id(b.id, |_| existing)?;
    let unit = Unit {
        id,
        name: b.name.trim().to_owned(),
        uscc: code,
    };
    state.store.put_unit(&unit).await?;
    Ok((StatusCode::CREATED, Json(json!(unit))))
}

/// `GET /api/admin/units/{id}/departments`.
pub async fn list_departments(
    State(state): State<AppState>,
    current: CurrentUser,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let u = &current.user;
    let visible = administers_unit(u, &id)
        || matches!(u.role, Role::Office | Role::Point)
        || u.unit_id.as_deref() == Some(id.as_str());
    if !visible {
        return Err(ApiError::not_found());
    }
    let items = state.store.list_departments(&id).await?;
    Ok(Json(json!({"items": items})))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewDepartment {
    id: Option<String>,
    name: String,
}

/// `POST /api/admin/units/{id}/departments`: by the system or the unit's administrator.
pub async fn create_department(
    State(state): State<AppState>,
    current: CurrentUser,
    Path(id): Path<String>,
    JsonBody(b): JsonBody<NewDepartment>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    if !administers_unit(&current.user, &id) {
        return Err(ApiError::forbidden(
            "只有系统管理员或本单位管理员可以设置二级部门。",
        ));
    }
    state
        .store
        .get_unit(&id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    let mut problems = Vec::new();
    text("name", "部门名称", &b.name, 100, &mut problems);
    refuse_if(problems)?;
    let existing = match &b.id {
        Some(id) => state.store.get_department(id).await?.is_some(),
        None => false,
    };
    let department_id = chosen_id(b.id, |_| existing)?;
    let d = Department {
        id: department_id,
        unit_id: id,
        name: b.name.trim().to_owned(),
    };
    state.store.put_department(&d).await?;
    Ok((StatusCode::CREATED, Json(json!(d))))
}

/// `GET /api/admin/users`: all for the system administrator, the unit's for its administrator.
pub async fn list_users(
    State(state): State<AppState>,
    current: CurrentUser,
) -> ApiResult<Json<Value>> {
    let u = &current.user;
    let unit = match u.role {
        Role::Admin => None,
        Role::Unit => u.unit_id.as_deref(),
        _ => {
            return Err(ApiError::forbidden(
                "只有系统管理员或单位管理员可以管理账号。",
            ));
        }
    };
    if u.role == Role::Unit && unit.is_none() {
        return Ok(Json(json!({"items": []})));
    }
    let items: Vec<Value> = state
        .store
        .list_users(unit)
        .await?
        .iter()
        .map(views::user)
        .collect();
    Ok(Json(json!({"items": items})))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewUser {
    username: String,
    display_name: String,
    password: String,
    role: String,
    email: Option<String>,
    unit_id: Option<String>,
    department_id: Option<String>,
    authority_id: Option<String>,
    #[serde(default)]
    supervised_unit_ids: Vec<String>,
}

/// Shortest password accepted.
pub const PASSWORD_MIN: usize = 8;

/// `POST /api/admin/users`: the system administrator creates any account; a unit's
/// administrator creates leaders and department accounts of its unit.
pub async fn create_user(
    State(state): State<AppState>,
    current: CurrentUser,
    JsonBody(b): JsonBody<NewUser>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let user = insert_user(&state, Some(&current.user), b).await?;
    Ok((StatusCode::CREATED, Json(views::user(&user))))
}

/// Creates a system administrator account for the operator at the command line
/// (`chengguo create-admin`), who needs no session: the first account of a new installation.
/// The same checks as `POST /api/admin/users`.
pub async fn create_administrator(
    state: &AppState,
    username: &str,
    display_name: &str,
    password: &str,
    email: Option<String>,
) -> ApiResult<User> {
    let b = NewUser {
        username: username.to_owned(),
        display_name: display_name.to_owned(),
        password: password.to_owned(),
        role: Role::Admin.code().to_owned(),
        email,
        unit_id: None,
        department_id: None,
        authority_id: None,
        supervised_unit_ids: Vec::new(),
    };
    insert_user(state, None, b).await
}

/// Checks and stores a new account created by `me`, or by the operator when `me` is `None`.
async fn insert_user(state: &AppState, me: Option<&User>, b: NewUser) -> ApiResult<User> {
    let mut problems = Vec::new();
    let role = Role::parse(&b.role);
    if role.is_none() {
        problems.push(Problem::invalid("role", "角色无效。"));
    }
    let username = b.username.trim();
    if !(3..=32).contains(&username.len())
        || !username
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_' || c == b'.')
    {
        problems.push(Problem::invalid(
            "username",
            "用户名应为3至32位字母、数字、点、横线或下划线。",
        ));
    }
    text("display_name", "姓名", &b.display_name, 50, &mut problems);
    if b.password.chars().count() < PASSWORD_MIN || b.password.len() > 256 {
        problems.push(Problem::invalid(
            "password",
            format!("密码至少{PASSWORD_MIN}位。"),
        ));
    }
    if let Some(e) = b.email.as_deref().filter(|e| !e.is_empty())
        && !chengguo_domain::check::is_email(e)
    {
        problems.push(Problem::invalid("email", "电子邮箱格式不正确。"));
    }
    refuse_if(problems)?;
    let role = role.expect("checked");
    let mut unit_id = b.unit_id.filter(|s| !s.is_empty());
    match me {
        Some(me) if me.role == Role::Unit => {
            if !matches!(role, Role::Leader | Role::Department) {
                return Err(ApiError::forbidden(
                    "单位管理员只能创建本单位的项目负责人和二级部门账号。",
                ));
            }
            unit_id = me.unit_id.clone();
        }
        Some(me) => require_admin(me)?,
        None => {}
    }
    let department_id = b.department_id.filter(|s| !s.is_empty());
    let authority_id = b.authority_id.filter(|s| !s.is_empty());
    let needs = |cond: bool, field: &str, msg: &str| -> ApiResult<()> {
        if cond {
            Ok(())
        } else {
            Err(ApiError::invalid(field, msg))
        }
    };
    match role {
        Role::Leader | Role::Unit | Role::Department => {
            let uid = unit_id.as_deref().unwrap_or("");
            needs(
                state.store.get_unit(uid).await?.is_some(),
                "unit_id",
                "请选择有效的申报单位。",
            )?;
        }
        Role::Point => {
            let id = authority_id.as_deref().unwrap_or("");
            let ok = state
                .store
                .list_authorities()
                .await?
                .iter()
                .any(|a| a.id == id);
            needs(ok, "authority_id", "请选择有效的批准登记单位。")?;
        }
        _ => {}
    }
    if role == Role::Department || department_id.is_some() {
        let d = match department_id.as_deref() {
            Some(id) => state.store.get_department(id).await?,
            None => None,
        };
        let ok = d.is_some_and(|d| Some(d.unit_id.as_str()) == unit_id.as_deref());
        needs(ok, "department_id", "请选择本单位有效的二级部门。")?;
    }
    let now = state.clock.now();
    let user = User {
        id: uuid::Uuid::new_v4().to_string(),
        username: username.to_owned(),
        display_name: b.display_name.trim().to_owned(),
        role,
        password_hash: auth::hash_password(&b.password)?,
        email: b.email.filter(|e| !e.is_empty()),
        unit_id: if matches!(role, Role::Leader | Role::Unit | Role::Department) {
            unit_id
        } else {
            None
        },
        department_id: if matches!(role, Role::Leader | Role::Department) {
            department_id
        } else {
            None
        },
        authority_id: if role == Role::Point {
            authority_id
        } else {
            None
        },
        supervised_unit_ids: if role == Role::Supervisor {
            b.supervised_unit_ids
        } else {
            Vec::new()
        },
        failed_logins: 0,
        locked_until: None,
        last_login_at: None,
        unlocked_at: None,
        active: true,
        created_at: now,
    };
    state.store.create_user(&user).await.map_err(|e| match e {
        chengguo_domain::ports::StoreError::AlreadyExists(_) => ApiError::from(
            DomainError::Conflict(format!("用户名“{}”已被使用。", user.username)),
        ),
        e => e.into(),
    })?;
    Ok(user)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserChange {
    display_name: Option<String>,
    email: Option<String>,
    password: Option<String>,
    active: Option<bool>,
    /// Clears a lock-out.
    #[serde(default)]
    unlock: bool,
}

/// `PATCH /api/admin/users/{id}`: reset password, unlock, activate or deactivate.
pub async fn update_user(
    State(state): State<AppState>,
    current: CurrentUser,
    Path(id): Path<String>,
    JsonBody(b): JsonBody<UserChange>,
) -> ApiResult<Json<Value>> {
    let me = &current.user;
    let mut u = state
        .store
        .get_user(&id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    let allowed = me.role == Role::Admin
        || (me.role == Role::Unit
            && matches!(u.role, Role::Leader | Role::Department)
            && u.unit_id.is_some()
            && u.unit_id == me.unit_id);
    if !allowed {
        return Err(ApiError::not_found());
    }
    if let Some(n) = b.display_name {
        let mut p = Vec::new();
        text("display_name", "姓名", &n, 50, &mut p);
        refuse_if(p)?;
        u.display_name = n.trim().to_owned();
    }
    if let Some(e) = b.email {
        if !e.is_empty() && !chengguo_domain::check::is_email(&e) {
            return Err(ApiError::invalid("email", "电子邮箱格式不正确。"));
        }
        u.email = Some(e).filter(|e| !e.is_empty());
    }
    if let Some(p) = b.password {
        if p.chars().count() < PASSWORD_MIN || p.len() > 256 {
            return Err(ApiError::invalid(
                "password",
                format!("密码至少{PASSWORD_MIN}位。"),
            ));
        }
        u.password_hash = auth::hash_password(&p)?;
    }
    if let Some(a) = b.active {
        u.active = a;
    }
    if b.unlock {
        u.failed_logins = 0;
        u.locked_until = None;
        u.unlocked_at = Some(state.clock.now());
    }
    state.store.update_user(&u).await?;
    Ok(Json(views::user(&u)))
}
