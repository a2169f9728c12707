//! The exports staff start from the pages: the 公示信息 of the records ticked in a list (one
//! workbook, refused whole with the rules' wording when any of them has not had its paper
//! materials received), and the list of a search as xlsx.

use axum::extract::{Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use chengguo_api::auth::CurrentUser;
use chengguo_api::exports as xlsx;
use chengguo_api::extract::JsonBody;
use chengguo_api::routes::exports::{MAX_LIST_ROWS, PAPER_NOT_RECEIVED};
use chengguo_api::{ApiError, service};
use chengguo_domain::DomainError;
use serde_json::{Value, json};

use super::queue::{Search, SearchQuery, run_search};
use super::{page_context, staff_only};
use crate::PageState;
use crate::guard::{PageUser, check_form_token, error_page};

/// Where to go back to after a refused export: a staff page, never elsewhere.
fn back_link(v: &str) -> String {
    if v.starts_with("/admin/") && !v.starts_with("//") && !v.contains('\\') {
        v.to_owned()
    } else {
        "/admin/search".to_owned()
    }
}

/// `POST /admin/exports/notices` (`csrf`, `ids` repeated): one workbook of the 公示信息 of the
/// ticked records, through the API's own export.
pub async fn export_notices(
    State(state): State<PageState>,
    who: PageUser,
    axum::Form(fields): axum::Form<Vec<(String, String)>>,
) -> Response {
    if let Err(r) = staff_only(&who) {
        return r;
    }
    let form = super::forms::FormData {
        fields,
        files: Vec::new(),
    };
    if let Err(r) = check_form_token(&state, &who, form.get("csrf")) {
        return r;
    }
    let back = back_link(form.get("back"));
    let ids = form.all("ids");
    let body = match serde_json::from_value(json!({ "ids": ids })) {
        Ok(b) => b,
        Err(e) => return error_page(&state, Some(&who), &ApiError::internal(e)),
    };
    let answer = chengguo_api::routes::exports::export_notices(
        State(state.app.clone()),
        CurrentUser {
            user: who.user.clone(),
            session: who.session.clone(),
        },
        JsonBody(body),
    )
    .await;
    match answer {
        Ok(resp) => resp,
        Err(e) => {
            let mut ctx = page_context(&who, "无法导出公示信息");
            ctx.insert("back", &back);
            let blocked: Vec<Value> = match &e {
                ApiError::Domain(DomainError::PaperNotReceived { ids, .. }) => {
                    ctx.insert("message", PAPER_NOT_RECEIVED);
                    let mut out = Vec::new();
                    for id in ids {
                        if let Ok(reg) = service::load_visible(&state.app, &who.user, id).await {
                            out.push(json!({
                                "id": reg.id,
                                "title": reg.fields.title.clone().unwrap_or_else(|| "（未填写成果名称）".to_owned()),
                                "state": reg.state.label(),
                            }));
                        }
                    }
                    out
                }
                other => {
                    let (message, fields) = super::form_errors(other);
                    ctx.insert(
                        "message",
                        fields.get("ids").map(String::as_str).unwrap_or(&message),
                    );
                    Vec::new()
                }
            };
            ctx.insert("blocked", &blocked);
            state
                .pages
                .render(e.status_code().0, "admin/export_refused.html", &ctx)
        }
    }
}

/// `GET /admin/exports/registrations.xlsx?<search filters>`: every record the search finds.
pub async fn export_list(
    State(state): State<PageState>,
    who: PageUser,
    Query(qy): Query<SearchQuery>,
) -> Response {
    if let Err(r) = staff_only(&who) {
        return r;
    }
    let search = match Search::parse(&who.user, &qy) {
        Ok(s) => s,
        Err(problems) => {
            let msg = problems
                .into_iter()
                .map(|(_, m)| m)
                .collect::<Vec<_>>()
                .join(" ");
            return super::refuse(&state, &who, StatusCode::BAD_REQUEST, &msg);
        }
    };
    match list_workbook(&state, &search).await {
        Ok(bytes) => {
            let name = format!(
                "成果登记列表-{}.xlsx",
                xlsx::date_text(state.app.clock.today())
            );
            (
                [
                    (header::CONTENT_TYPE, xlsx::XLSX_CONTENT_TYPE.to_owned()),
                    (
                        header::CONTENT_DISPOSITION,
                        xlsx::content_disposition(&name, "registrations.xlsx"),
                    ),
                ],
                bytes,
            )
                .into_response()
        }
        Err(e) => error_page(&state, Some(&who), &e),
    }
}

async fn list_workbook(state: &PageState, search: &Search) -> Result<Vec<u8>, ApiError> {
    let mut records = Vec::new();
    let mut cursor = None;
    loop {
        let found = run_search(state, search, 100, cursor).await?;
        records.extend(found.items);
        if records.len() > MAX_LIST_ROWS {
            return Err(ApiError::invalid(
                "query",
                format!(
                    "符合条件的成果登记超过 {MAX_LIST_ROWS} 项，无法一次导出。请缩小查询范围后分批导出。"
                ),
            ));
        }
        match found.next_cursor {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    tokio::task::spawn_blocking(move || xlsx::list_workbook(records.into_iter()))
        .await
        .map_err(ApiError::internal)?
        .map_err(ApiError::internal)
}
