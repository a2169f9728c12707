//! `/app/`: the leader's own registrations with their state, who they wait for, number and
//! notice dates.

use axum::extract::{Query, State};
use axum::response::Response;
use chengguo_domain::ports::ListFilter;
use chengguo_domain::scope::ListScope;
use serde::Deserialize;

use super::{context, flash, leader_only, page, record_facts_on};
use crate::PageState;
use crate::guard::{PageUser, error_page};

/// Records per page.
const PAGE_SIZE: usize = 50;

#[derive(Deserialize, Default)]
pub struct DashboardQuery {
    cursor: Option<String>,
    msg: Option<String>,
}

/// `GET /app/`.
pub async fn show_dashboard(
    State(state): State<PageState>,
    who: PageUser,
    Query(q): Query<DashboardQuery>,
) -> Response {
    if let Err(r) = leader_only(&who) {
        return r;
    }
    let cursor = q.cursor.as_deref().filter(|c| !c.is_empty());
    let page_result = state
        .app
        .store
        .list_registrations(
            &ListScope::Owner(who.user.id.clone()),
            &ListFilter::default(),
            PAGE_SIZE,
            cursor,
        )
        .await;
    let list = match page_result {
        Ok(p) => p,
        Err(e) => return error_page(&state, Some(&who), &e.into()),
    };
    let today = state.app.clock.today();
    let items: Vec<serde_json::Value> = list
        .items
        .iter()
        .map(|r| record_facts_on(r, today))
        .collect();
    let mut ctx = context(&who, "我的成果登记");
    ctx.insert("items", &items);
    ctx.insert("next_cursor", &list.next_cursor);
    ctx.insert("first_page", &cursor.is_none());
    if let Some(m) = flash(q.msg.as_deref()) {
        ctx.insert("flash", m);
    }
    page(&state, "app/dashboard.html", &ctx)
}
