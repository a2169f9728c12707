//! Staff and administration pages under `/admin/`: the work queue and search, the record with
//! the actions its viewer may take, the 公示信息 exports, and the administration of authorities,
//! units, departments, accounts and in-system projects.
//!
//! Every page is a plain GET or a POSTed form carrying the session's form token (`csrf`); the
//! little script `admin.js` only opens the action forms as dialogs and uploads the reopen
//! evidence with progress. The rules are the API's: pages call the same use cases (and, for
//! administration, the same handlers), so a page can never allow what the API refuses.

// Guards return the refusal page itself, straight from a handler; boxing it gains nothing.
#![allow(clippy::result_large_err)]

pub mod exports;
pub mod forms;
pub mod org;
pub mod projects;
pub mod queue;
pub mod record;
pub mod view;

use std::collections::BTreeMap;

use axum::Router;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use chengguo_api::ApiError;
use chengguo_domain::{DomainError, Role};
use tera::Context;

use crate::PageState;
use crate::guard::PageUser;
use crate::render::base_context;

/// The staff routes, to merge into the pages router before its state is given.
pub fn routes() -> Router<PageState> {
    Router::new()
        .route("/admin", get(|| async { Redirect::permanent("/admin/") }))
        .route("/admin/", get(queue::show_queue))
        .route("/admin/search", get(queue::show_search))
        .route("/admin/registrations/{id}", get(record::show_record))
        .route(
            "/admin/registrations/{id}/actions/{action}",
            get(record::show_action).post(record::submit_action),
        )
        .route(
            "/admin/objections/{id}/resolve",
            post(record::submit_resolution),
        )
        .route("/admin/exports/notices", post(exports::export_notices))
        .route(
            "/admin/exports/registrations.xlsx",
            get(exports::export_list),
        )
        .route(
            "/admin/authorities",
            get(org::show_authorities).post(org::submit_authority),
        )
        .route("/admin/units", get(org::show_units).post(org::submit_unit))
        .route(
            "/admin/units/{id}/departments",
            get(org::show_departments).post(org::submit_department),
        )
        .route(
            "/admin/accounts",
            get(org::show_accounts).post(org::submit_account),
        )
        .route("/admin/accounts/{id}", post(org::submit_account_change))
        .route("/admin/projects", get(projects::show_projects))
        .route("/admin/projects/import", post(projects::submit_import))
        .route(
            "/admin/projects/{id}/acceptance",
            post(projects::submit_acceptance),
        )
        .route("/print/{id}", get(crate::print::show_print))
}

/// Staff pages are not for project leaders: they go to their own pages.
pub fn staff_only(who: &PageUser) -> Result<(), Response> {
    if who.user.role == Role::Leader {
        Err(Redirect::to("/app/").into_response())
    } else {
        Ok(())
    }
}

/// The context of a staff page with its title.
pub fn page_context(who: &PageUser, title: &str) -> Context {
    let mut ctx = base_context(Some(&who.user), Some(&who.session));
    ctx.insert("title", title);
    ctx.insert("role", who.user.role.code());
    ctx
}

/// A page of `who` refusing with `status` and `message`.
pub fn refuse(state: &PageState, who: &PageUser, status: StatusCode, message: &str) -> Response {
    let mut ctx = page_context(
        who,
        match status {
            StatusCode::NOT_FOUND => "未找到",
            StatusCode::FORBIDDEN => "无权操作",
            _ => "无法完成操作",
        },
    );
    ctx.insert("message", message);
    state.pages.render(status, "error.html", &ctx)
}

/// An API refusal split for a form: the message for the whole form and the message of each
/// field at fault (`number_taken` belongs to the number field).
pub fn form_errors(e: &ApiError) -> (String, BTreeMap<String, String>) {
    let mut fields = BTreeMap::new();
    match e {
        ApiError::Domain(DomainError::Validation { details, .. })
        | ApiError::Domain(DomainError::BadRequest { details, .. }) => {
            for p in details {
                fields
                    .entry(p.field.clone())
                    .or_insert_with(|| p.message.clone());
            }
        }
        ApiError::Domain(DomainError::NumberTaken(_)) => {
            fields.insert("number".to_owned(), e.to_string());
        }
        _ => {}
    }
    (e.to_string(), fields)
}

/// Whether the role acts in the workflow (rather than only reading).
pub fn is_reviewer(role: Role) -> bool {
    matches!(role, Role::Department | Role::Unit | Role::Point)
}

/// Whether the role may export 公示信息 (leaders from their own pages).
pub fn may_export_notices(role: Role) -> bool {
    matches!(role, Role::Unit | Role::Point)
}

/// Whether the role sees the registrations of several units.
pub fn sees_several_units(role: Role) -> bool {
    matches!(
        role,
        Role::Point | Role::Supervisor | Role::Office | Role::Admin
    )
}

/// Percent-encodes a query value.
pub fn q(v: &str) -> String {
    crate::guard::encode(v).replace('/', "%2F")
}
