//! The applicant's pages (项目负责人) under `/app/`: the dashboard of own registrations,
//! 「新增计划外项目成果登记」, the kind choice with consent, the form with save-as-draft, 「填写检查」,
//! the materials checklist with uploads, submitting with a summary, and progress tracking.
//!
//! Every page works with plain forms; the script adds autosave on leaving and uploads with
//! progress bars (uploads need it: the bytes go straight to the signed URL).

// A refusal here is the page to show instead (a redirect or an error page): boxing it would
// only move the bytes.
#![allow(clippy::result_large_err)]

pub mod create;
pub mod dashboard;
pub mod edit;
pub mod form;
pub mod materials;
pub mod record;

use axum::Router;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use chengguo_domain::Role;
use chengguo_domain::record::Registration;
use serde::Deserialize;
use tera::Context;
use time::{Date, OffsetDateTime};

use crate::PageState;
use crate::guard::{PageUser, error_page};
use crate::render::base_context;

/// The applicant's routes; merged into the pages router (its state and security headers).
pub fn routes() -> Router<PageState> {
    Router::new()
        .route("/app", get(|| async { Redirect::permanent("/app/") }))
        .route("/app/", get(dashboard::show_dashboard))
        .route("/app/new", get(create::show_new).post(create::submit_new))
        .route("/app/r/{id}", get(record::show_record))
        .route(
            "/app/r/{id}/kind",
            get(create::show_kind).post(create::submit_kind),
        )
        .route(
            "/app/r/{id}/edit",
            get(edit::show_edit).post(edit::submit_edit),
        )
        .route("/app/r/{id}/check", get(record::show_check))
        .route("/app/r/{id}/materials", get(materials::show_materials))
        .route(
            "/app/r/{id}/materials/{aid}/delete",
            post(materials::submit_delete),
        )
        .route(
            "/app/r/{id}/submit",
            get(record::show_submit).post(record::submit_submit),
        )
}

/// Only leaders use these pages; staff are sent to their own.
pub(crate) fn leader_only(who: &PageUser) -> Result<(), Response> {
    if who.user.role == Role::Leader {
        Ok(())
    } else {
        Err(Redirect::to(crate::login::home_of(who.user.role)).into_response())
    }
}

/// The context of an applicant page.
pub(crate) fn context(who: &PageUser, title: &str) -> Context {
    let mut ctx = base_context(Some(&who.user), Some(&who.session));
    ctx.insert("title", title);
    ctx
}

/// Renders a page with status 200.
pub(crate) fn page(state: &PageState, name: &str, ctx: &Context) -> Response {
    state.pages.render(StatusCode::OK, name, ctx)
}

/// The record `id` if the leader may see it, or the error page.
pub(crate) async fn load(
    state: &PageState,
    who: &PageUser,
    id: &str,
) -> Result<Registration, Response> {
    chengguo_api::service::load_visible(&state.app, &who.user, id)
        .await
        .map_err(|e| error_page(state, Some(who), &e))
}

/// The short messages shown after a redirect (`?msg=`); fixed texts, never user input.
pub(crate) fn flash(code: Option<&str>) -> Option<&'static str> {
    Some(match code? {
        "created" => "成果登记已创建，请填写登记表。",
        "kind" => "已选择成果类型，请填写登记表。",
        "saved" => "已保存草稿。",
        "deleted" => "已删除该材料。",
        "submitted" => "已提交，请等待审核。",
        _ => return None,
    })
}

/// Query of pages that show a message after a redirect.
#[derive(Deserialize, Default)]
pub struct MsgQuery {
    pub msg: Option<String>,
}

/// A date as 2026-11-28.
pub(crate) fn date(d: Date) -> String {
    format!("{:04}-{:02}-{:02}", d.year(), u8::from(d.month()), d.day())
}

/// An instant in China time as 2026-11-28 10:00.
pub(crate) fn china_time(t: OffsetDateTime) -> String {
    let t = t.to_offset(chengguo_domain::ports::CHINA);
    format!("{} {:02}:{:02}", date(t.date()), t.hour(), t.minute())
}

/// 公示中 or 公示期满 while a record waits for the decision.
pub(crate) fn notice_phase(reg: &Registration, today: Date) -> Option<&'static str> {
    let n = reg.notice.as_ref()?;
    if reg.state != chengguo_domain::State::DecisionPending {
        return None;
    }
    Some(if n.website_ended_by(today) {
        "公示期满"
    } else {
        "公示中"
    })
}

/// [`record_facts`] with the notice phase of today.
pub(crate) fn record_facts_on(reg: &Registration, today: Date) -> serde_json::Value {
    let mut v = record_facts(reg);
    v["phase"] = serde_json::json!(notice_phase(reg, today));
    v
}

/// The facts of a record the dashboard and the record page show.
pub(crate) fn record_facts(reg: &Registration) -> serde_json::Value {
    let notice = reg.notice.as_ref().map(|n| {
        serde_json::json!({
            "paper_received_on": date(n.paper_received_on),
            "unit": format!("{} 至 {}", date(n.unit_from), date(n.unit_to)),
            "website": format!("{} 至 {}", date(n.website_from), date(n.website_to)),
        })
    });
    serde_json::json!({
        "id": reg.id,
        "title": reg.fields.title.as_deref().map(str::trim).filter(|t| !t.is_empty()),
        "kind": reg.kind.map(|k| k.code()),
        "kind_label": reg.kind.map(|k| k.label()),
        "source_label": reg.source.label(),
        "state": reg.state.code(),
        "state_label": reg.state.label(),
        "waiting_for": reg.state.waiting_for(),
        "number": reg.registration_number,
        "notice": notice,
        "decision": reg.decision.as_ref().map(|d| serde_json::json!({
            "result": d.result.code(),
            "result_label": d.result.label(),
            "opinion": d.opinion,
            "at": china_time(d.at),
        })),
        "return_opinion": reg.return_opinion,
        "editable": reg.state.is_editable(),
        "updated_at": china_time(reg.updated_at),
    })
}

#[cfg(test)]
mod tests;
