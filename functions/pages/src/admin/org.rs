//! Administration of the organisation: approving authorities and units (system administrator),
//! departments (the system or the unit's administrator), accounts (the system administrator
//! creates any; a unit's administrator creates its leaders and department accounts, resets
//! their passwords, unlocks and deactivates them).
//!
//! The forms call the API's own handlers, so the rules (USCC check digit, unique codes and
//! usernames, who may create whom) are written once.

use std::collections::{BTreeMap, HashMap};

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use chengguo_api::ApiError;
use chengguo_api::auth::CurrentUser;
use chengguo_api::error::ApiResult;
use chengguo_api::extract::JsonBody;
use chengguo_api::routes::admin;
use chengguo_domain::Role;
use chengguo_domain::org::{Department, User};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use super::forms::FormData;
use super::view::time_text;
use super::{form_errors, page_context, staff_only};
use crate::PageState;
use crate::guard::{PageUser, check_form_token, error_page};

/// The API's view of who is asking.
pub fn current(who: &PageUser) -> CurrentUser {
    CurrentUser {
        user: who.user.clone(),
        session: who.session.clone(),
    }
}

/// A JSON body for an API handler, built from form values.
pub fn body<T: DeserializeOwned>(v: Value) -> ApiResult<JsonBody<T>> {
    serde_json::from_value(v)
        .map(JsonBody)
        .map_err(|e| ApiError::bad_request(format!("表单内容无效：{e}")))
}

/// A submitted url-encoded form.
type Fields = axum::Form<Vec<(String, String)>>;

fn form_of(f: Fields) -> FormData {
    FormData {
        fields: f.0,
        files: Vec::new(),
    }
}

#[derive(Debug, Default, Deserialize)]
pub struct DoneQuery {
    done: Option<String>,
}

fn done_message(done: Option<&str>) -> Option<&'static str> {
    Some(match done? {
        "created" => "已创建。",
        "password" => "密码已重置。",
        "unlock" => "账号已解除锁定。",
        "deactivate" => "账号已停用。",
        "activate" => "账号已启用。",
        _ => return None,
    })
}

/// What a refused form shows: the message and each field's.
struct Refusal {
    status: StatusCode,
    message: String,
    fields: BTreeMap<String, String>,
}

impl Refusal {
    fn of(e: &ApiError) -> Refusal {
        let (message, fields) = form_errors(e);
        Refusal {
            status: e.status_code().0,
            message,
            fields,
        }
    }
}

fn insert_refusal(ctx: &mut tera::Context, r: Option<&Refusal>) {
    match r {
        Some(r) => {
            ctx.insert("error", &r.message);
            ctx.insert("errors", &r.fields);
        }
        None => ctx.insert("errors", &BTreeMap::<String, String>::new()),
    }
}

// ---------------------------------------------------------------------------------------------
// Authorities

async fn authorities_page(
    state: &PageState,
    who: &PageUser,
    values: Value,
    refusal: Option<Refusal>,
    done: Option<&str>,
) -> Response {
    let items = match state.app.store.list_authorities().await {
        Ok(i) => i,
        Err(e) => return error_page(state, Some(who), &e.into()),
    };
    let mut ctx = page_context(who, "批准登记单位");
    ctx.insert("items", &items);
    ctx.insert("values", &values);
    ctx.insert("done", &done_message(done));
    insert_refusal(&mut ctx, refusal.as_ref());
    let status = refusal.map_or(StatusCode::OK, |r| r.status);
    state.pages.render(status, "admin/authorities.html", &ctx)
}

fn admin_only(state: &PageState, who: &PageUser) -> Result<(), Response> {
    staff_only(who)?;
    if who.user.role == Role::Admin {
        Ok(())
    } else {
        Err(super::refuse(
            state,
            who,
            StatusCode::FORBIDDEN,
            "只有系统管理员可以进行此操作。",
        ))
    }
}

/// `GET /admin/authorities`.
pub async fn show_authorities(
    State(state): State<PageState>,
    who: PageUser,
    Query(qy): Query<DoneQuery>,
) -> Response {
    if let Err(r) = admin_only(&state, &who) {
        return r;
    }
    authorities_page(&state, &who, json!({}), None, qy.done.as_deref()).await
}

/// `POST /admin/authorities` (`name`, `code`).
pub async fn submit_authority(
    State(state): State<PageState>,
    who: PageUser,
    f: Fields,
) -> Response {
    let form = form_of(f);
    if let Err(r) = check_form_token(&state, &who, form.get("csrf")) {
        return r;
    }
    if let Err(r) = admin_only(&state, &who) {
        return r;
    }
    let values = json!({"name": form.get("name"), "code": form.get("code")});
    let outcome = match body(values.clone()) {
        Ok(b) => admin::create_authority(State(state.app.clone()), current(&who), b)
            .await
            .map(|_| ()),
        Err(e) => Err(e),
    };
    match outcome {
        Ok(()) => Redirect::to("/admin/authorities?done=created").into_response(),
        Err(e) => authorities_page(&state, &who, values, Some(Refusal::of(&e)), None).await,
    }
}

// ---------------------------------------------------------------------------------------------
// Units

async fn units_page(
    state: &PageState,
    who: &PageUser,
    values: Value,
    refusal: Option<Refusal>,
    done: Option<&str>,
) -> Response {
    let items = match state.app.store.list_units().await {
        Ok(i) => i,
        Err(e) => return error_page(state, Some(who), &e.into()),
    };
    let mut ctx = page_context(who, "申报单位");
    ctx.insert("items", &items);
    ctx.insert("values", &values);
    ctx.insert("done", &done_message(done));
    insert_refusal(&mut ctx, refusal.as_ref());
    let status = refusal.map_or(StatusCode::OK, |r| r.status);
    state.pages.render(status, "admin/units.html", &ctx)
}

/// `GET /admin/units`.
pub async fn show_units(
    State(state): State<PageState>,
    who: PageUser,
    Query(qy): Query<DoneQuery>,
) -> Response {
    if let Err(r) = admin_only(&state, &who) {
        return r;
    }
    units_page(&state, &who, json!({}), None, qy.done.as_deref()).await
}

/// `POST /admin/units` (`name`, `uscc`): the USCC's check digit is verified.
pub async fn submit_unit(State(state): State<PageState>, who: PageUser, f: Fields) -> Response {
    let form = form_of(f);
    if let Err(r) = check_form_token(&state, &who, form.get("csrf")) {
        return r;
    }
    if let Err(r) = admin_only(&state, &who) {
        return r;
    }
    let values = json!({"name": form.get("name"), "uscc": form.get("uscc")});
    let outcome = match body(values.clone()) {
        Ok(b) => admin::create_unit(State(state.app.clone()), current(&who), b)
            .await
            .map(|_| ()),
        Err(e) => Err(e),
    };
    match outcome {
        Ok(()) => Redirect::to("/admin/units?done=created").into_response(),
        Err(e) => units_page(&state, &who, values, Some(Refusal::of(&e)), None).await,
    }
}

// ---------------------------------------------------------------------------------------------
// Departments

/// Whether `user` administers unit `unit_id`.
fn administers(user: &User, unit_id: &str) -> bool {
    user.role == Role::Admin
        || (user.role == Role::Unit && user.unit_id.as_deref() == Some(unit_id))
}

async fn departments_page(
    state: &PageState,
    who: &PageUser,
    unit_id: &str,
    values: Value,
    refusal: Option<Refusal>,
    done: Option<&str>,
) -> Response {
    if staff_only(who).is_err() || !administers(&who.user, unit_id) {
        return error_page(state, Some(who), &ApiError::not_found());
    }
    let unit = match state.app.store.get_unit(unit_id).await {
        Ok(Some(u)) => u,
        Ok(None) => return error_page(state, Some(who), &ApiError::not_found()),
        Err(e) => return error_page(state, Some(who), &e.into()),
    };
    let items = match state.app.store.list_departments(unit_id).await {
        Ok(i) => i,
        Err(e) => return error_page(state, Some(who), &e.into()),
    };
    let mut ctx = page_context(who, &format!("{}的二级部门", unit.name));
    ctx.insert("unit", &unit);
    ctx.insert("items", &items);
    ctx.insert("values", &values);
    ctx.insert("done", &done_message(done));
    insert_refusal(&mut ctx, refusal.as_ref());
    let status = refusal.map_or(StatusCode::OK, |r| r.status);
    state.pages.render(status, "admin/departments.html", &ctx)
}

/// `GET /admin/units/{id}/departments`.
pub async fn show_departments(
    State(state): State<PageState>,
    who: PageUser,
    Path(id): Path<String>,
    Query(qy): Query<DoneQuery>,
) -> Response {
    departments_page(&state, &who, &id, json!({}), None, qy.done.as_deref()).await
}

/// `POST /admin/units/{id}/departments` (`name`).
pub async fn submit_department(
    State(state): State<PageState>,
    who: PageUser,
    Path(id): Path<String>,
    f: Fields,
) -> Response {
    let form = form_of(f);
    if let Err(r) = check_form_token(&state, &who, form.get("csrf")) {
        return r;
    }
    let values = json!({"name": form.get("name")});
    let outcome = match body(values.clone()) {
        Ok(b) => {
            admin::create_department(State(state.app.clone()), current(&who), Path(id.clone()), b)
                .await
                .map(|_| ())
        }
        Err(e) => Err(e),
    };
    match outcome {
        Ok(()) => Redirect::to(&format!(
            "/admin/units/{}/departments?done=created",
            super::q(&id)
        ))
        .into_response(),
        Err(e) => departments_page(&state, &who, &id, values, Some(Refusal::of(&e)), None).await,
    }
}

// ---------------------------------------------------------------------------------------------
// Accounts

/// Whether `me` may reset, unlock or deactivate `u` (as the API's `update_user` allows).
fn manages(me: &User, u: &User) -> bool {
    me.id != u.id
        && (me.role == Role::Admin
            || (me.role == Role::Unit
                && matches!(u.role, Role::Leader | Role::Department)
                && u.unit_id.is_some()
                && u.unit_id == me.unit_id))
}

fn accounts_allowed(state: &PageState, who: &PageUser) -> Result<(), Response> {
    staff_only(who)?;
    if matches!(who.user.role, Role::Admin | Role::Unit) {
        Ok(())
    } else {
        Err(super::refuse(
            state,
            who,
            StatusCode::FORBIDDEN,
            "只有系统管理员或单位管理员可以管理账号。",
        ))
    }
}

async fn accounts_page(
    state: &PageState,
    who: &PageUser,
    values: Value,
    refusal: Option<Refusal>,
    done: Option<&str>,
) -> Response {
    match accounts_context(state, who, values, refusal.as_ref(), done).await {
        Ok(ctx) => {
            let status = refusal.map_or(StatusCode::OK, |r| r.status);
            state.pages.render(status, "admin/accounts.html", &ctx)
        }
        Err(e) => error_page(state, Some(who), &e),
    }
}

async fn accounts_context(
    state: &PageState,
    who: &PageUser,
    values: Value,
    refusal: Option<&Refusal>,
    done: Option<&str>,
) -> ApiResult<tera::Context> {
    let me = &who.user;
    let app = &state.app;
    let is_admin = me.role == Role::Admin;
    let unit_filter = if is_admin {
        None
    } else {
        me.unit_id.as_deref()
    };
    let users = if !is_admin && unit_filter.is_none() {
        Vec::new()
    } else {
        app.store.list_users(unit_filter).await?
    };
    let units = app.store.list_units().await?;
    let unit_names: HashMap<&str, &str> = units
        .iter()
        .map(|u| (u.id.as_str(), u.name.as_str()))
        .collect();
    let mut departments: Vec<(Department, String)> = Vec::new();
    for u in &units {
        if is_admin || me.unit_id.as_deref() == Some(u.id.as_str()) {
            for d in app.store.list_departments(&u.id).await? {
                departments.push((d, u.name.clone()));
            }
        }
    }
    let dept_names: HashMap<&str, &str> = departments
        .iter()
        .map(|(d, _)| (d.id.as_str(), d.name.as_str()))
        .collect();
    let authorities = app.store.list_authorities().await?;
    let now = app.clock.now();
    let rows: Vec<Value> = users
        .iter()
        .map(|u| {
            let locked = u.locked_until.filter(|t| *t > now);
            json!({
                "id": u.id,
                "username": u.username,
                "display_name": u.display_name,
                "role": u.role.label(),
                "email": u.email,
                "unit": u.unit_id.as_deref().and_then(|id| unit_names.get(id).copied()),
                "department": u.department_id.as_deref().and_then(|id| dept_names.get(id).copied()),
                "active": u.active,
                "locked_until": locked.map(time_text),
                "last_login": u.last_login_at.map(time_text),
                "manageable": manages(me, u),
            })
        })
        .collect();
    let roles: Vec<Value> = Role::ALL
        .iter()
        .filter(|r| is_admin || matches!(r, Role::Leader | Role::Department))
        .map(|r| json!({"code": r.code(), "label": r.label()}))
        .collect();
    let dept_options: Vec<Value> = departments
        .iter()
        .map(|(d, unit)| json!({"id": d.id, "label": if is_admin { format!("{unit} / {}", d.name) } else { d.name.clone() }}))
        .collect();
    let mut ctx = page_context(who, "账号管理");
    ctx.insert("rows", &rows);
    ctx.insert("roles", &roles);
    ctx.insert("units", &units);
    ctx.insert("departments", &dept_options);
    ctx.insert("authorities", &authorities);
    ctx.insert("is_admin", &is_admin);
    ctx.insert("values", &values);
    ctx.insert("done", &done_message(done));
    ctx.insert("password_min", &admin::PASSWORD_MIN);
    insert_refusal(&mut ctx, refusal);
    Ok(ctx)
}

/// The new-account form as first shown.
fn empty_account() -> Value {
    json!({
        "role": "leader", "username": "", "display_name": "", "email": "",
        "unit_id": "", "department_id": "", "authority_id": "", "supervised_unit_ids": [],
    })
}

/// `GET /admin/accounts`.
pub async fn show_accounts(
    State(state): State<PageState>,
    who: PageUser,
    Query(qy): Query<DoneQuery>,
) -> Response {
    if let Err(r) = accounts_allowed(&state, &who) {
        return r;
    }
    let values = empty_account();
    accounts_page(&state, &who, values, None, qy.done.as_deref()).await
}

/// `POST /admin/accounts`: a new account.
pub async fn submit_account(State(state): State<PageState>, who: PageUser, f: Fields) -> Response {
    let form = form_of(f);
    if let Err(r) = check_form_token(&state, &who, form.get("csrf")) {
        return r;
    }
    if let Err(r) = accounts_allowed(&state, &who) {
        return r;
    }
    let role = form.get("role").to_owned();
    let mut v = json!({
        "username": form.get("username"),
        "display_name": form.get("display_name"),
        "password": form.raw("password").unwrap_or(""),
        "role": role,
        "email": form.opt("email"),
        "unit_id": form.opt("unit_id"),
        "department_id": form.opt("department_id"),
        "authority_id": form.opt("authority_id"),
        "supervised_unit_ids": form.all("supervised_unit_ids"),
    });
    // Only the fields of the chosen role are sent; the others stay as typed in the form.
    let mut sent = v.clone();
    match Role::parse(&role) {
        Some(Role::Leader) | Some(Role::Department) => {
            sent["authority_id"] = Value::Null;
            sent["supervised_unit_ids"] = json!([]);
        }
        Some(Role::Unit) => {
            sent["department_id"] = Value::Null;
            sent["authority_id"] = Value::Null;
            sent["supervised_unit_ids"] = json!([]);
        }
        Some(Role::Point) => {
            sent["unit_id"] = Value::Null;
            sent["department_id"] = Value::Null;
            sent["supervised_unit_ids"] = json!([]);
        }
        Some(Role::Supervisor) => {
            sent["unit_id"] = Value::Null;
            sent["department_id"] = Value::Null;
            sent["authority_id"] = Value::Null;
        }
        _ => {
            sent["unit_id"] = Value::Null;
            sent["department_id"] = Value::Null;
            sent["authority_id"] = Value::Null;
            sent["supervised_unit_ids"] = json!([]);
        }
    }
    let outcome = match body(sent) {
        Ok(b) => admin::create_user(State(state.app.clone()), current(&who), b)
            .await
            .map(|_| ()),
        Err(e) => Err(e),
    };
    match outcome {
        Ok(()) => Redirect::to("/admin/accounts?done=created").into_response(),
        Err(e) => {
            v["password"] = json!("");
            accounts_page(&state, &who, v, Some(Refusal::of(&e)), None).await
        }
    }
}

/// `POST /admin/accounts/{id}` (`op` = `password` with `password`, `unlock`, `deactivate`,
/// `activate`).
pub async fn submit_account_change(
    State(state): State<PageState>,
    who: PageUser,
    Path(id): Path<String>,
    f: Fields,
) -> Response {
    let form = form_of(f);
    if let Err(r) = check_form_token(&state, &who, form.get("csrf")) {
        return r;
    }
    if let Err(r) = accounts_allowed(&state, &who) {
        return r;
    }
    let op = form.get("op").to_owned();
    if id == who.user.id && op != "password" {
        return super::refuse(
            &state,
            &who,
            StatusCode::FORBIDDEN,
            "不能停用或解锁自己的账号。",
        );
    }
    let change = match op.as_str() {
        "password" => json!({"password": form.raw("password").unwrap_or("")}),
        "unlock" => json!({"unlock": true}),
        "deactivate" => json!({"active": false}),
        "activate" => json!({"active": true}),
        _ => {
            return super::refuse(&state, &who, StatusCode::BAD_REQUEST, "未知的操作。");
        }
    };
    let outcome: ApiResult<Json<Value>> = match body(change) {
        Ok(b) => admin::update_user(State(state.app.clone()), current(&who), Path(id), b).await,
        Err(e) => Err(e),
    };
    match outcome {
        Ok(_) => Redirect::to(&format!("/admin/accounts?done={op}")).into_response(),
        Err(e) => {
            let values = empty_account();
            accounts_page(&state, &who, values, Some(Refusal::of(&e)), None).await
        }
    }
}
