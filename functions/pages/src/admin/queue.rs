//! `/admin/` (what waits for me) and `/admin/search` (filters and paging). Both are plain GET
//! pages; their result tables carry checkboxes for the batch 公示信息 export.

use std::collections::HashMap;

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use chengguo_api::ApiError;
use chengguo_domain::codes::{Kind, Role, State as RegState};
use chengguo_domain::org::{Unit, User};
use chengguo_domain::ports::{ListFilter, china_date};
use chengguo_domain::record::Registration;
use chengguo_domain::scope::ListScope;
use chengguo_domain::workflow::{self, TABLE};
use serde::Deserialize;
use serde_json::{Value, json};
use time::Date;

use super::view::{self, parse_date};
use super::{may_export_notices, page_context, q, sees_several_units, staff_only};
use crate::PageState;
use crate::guard::{PageUser, error_page};

/// Records listed per group of the queue.
pub const QUEUE_GROUP_LIMIT: usize = 50;
/// Records per search page.
pub const PAGE_SIZE: usize = 20;
/// Most records looked at for one search page when filters are applied after the query
/// (unit for some roles, dates); the page then offers to continue.
pub const MAX_SCAN: usize = 2000;

/// The units `user` may filter by: those whose records the role can see.
pub async fn visible_units(state: &PageState, user: &User) -> Result<Vec<Unit>, ApiError> {
    let all = state.app.store.list_units().await?;
    Ok(all
        .into_iter()
        .filter(|u| match user.role {
            Role::Admin | Role::Office | Role::Point => true,
            Role::Supervisor => user.supervised_unit_ids.contains(&u.id),
            _ => user.unit_id.as_deref() == Some(u.id.as_str()),
        })
        .collect())
}

/// Unit names by id.
pub async fn unit_names(state: &PageState) -> Result<HashMap<String, String>, ApiError> {
    Ok(state
        .app
        .store
        .list_units()
        .await?
        .into_iter()
        .map(|u| (u.id, u.name))
        .collect())
}

/// The states in which `role` acts on records, in workflow order; a decided record (which the
/// point may reopen) is not waiting for anyone.
pub fn waiting_states(role: Role) -> Vec<RegState> {
    RegState::ALL
        .iter()
        .copied()
        .filter(|s| *s != RegState::Decided)
        .filter(|s| TABLE.iter().any(|r| r.from == *s && r.actor == role))
        .collect()
}

/// Rows of records, with what `user` may do with each.
fn rows(
    records: &[Registration],
    user: &User,
    today: Date,
    units: &HashMap<String, String>,
) -> Vec<Value> {
    records
        .iter()
        .map(|r| {
            let mut row = view::list_row(r, today, units.get(&r.unit_id).map(String::as_str));
            let actions: Vec<&str> = workflow::allowed_actions(user, r)
                .into_iter()
                .map(|a| a.label())
                .collect();
            row["actions"] = json!(actions);
            row
        })
        .collect()
}

/// `GET /admin/`: what waits for me, grouped by state.
pub async fn show_queue(State(state): State<PageState>, who: PageUser) -> Response {
    if let Err(r) = staff_only(&who) {
        return r;
    }
    match queue_context(&state, &who).await {
        Ok(ctx) => state.pages.render(StatusCode::OK, "admin/queue.html", &ctx),
        Err(e) => error_page(&state, Some(&who), &e),
    }
}

async fn queue_context(state: &PageState, who: &PageUser) -> Result<tera::Context, ApiError> {
    let user = &who.user;
    let mut ctx = page_context(who, "待办事项");
    let scope = ListScope::of(user);
    let today = state.app.clock.today();
    let units = unit_names(state).await?;
    let mut groups = Vec::new();
    let mut total = 0;
    for s in waiting_states(user.role) {
        let filter = ListFilter {
            state: Some(s),
            ..ListFilter::default()
        };
        let page = state
            .app
            .store
            .list_registrations(&scope, &filter, QUEUE_GROUP_LIMIT, None)
            .await?;
        total += page.items.len();
        groups.push(json!({
            "state": s.code(),
            "label": s.label(),
            "items": rows(&page.items, user, today, &units),
            "more": page.next_cursor.is_some(),
            "search": format!("/admin/search?state={}", s.code()),
        }));
    }
    ctx.insert("groups", &groups);
    ctx.insert("total", &total);
    ctx.insert("reviewer", &super::is_reviewer(user.role));
    ctx.insert("may_export", &may_export_notices(user.role));
    ctx.insert("is_admin", &(user.role == Role::Admin));
    ctx.insert("is_unit_admin", &(user.role == Role::Unit));
    ctx.insert("is_office", &(user.role == Role::Office));
    ctx.insert("unit_id", &user.unit_id);
    Ok(ctx)
}

/// The search form's parameters (all optional; unknown ones ignored).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct SearchQuery {
    pub state: Option<String>,
    pub kind: Option<String>,
    pub unit: Option<String>,
    pub from: Option<String>,
    pub to: Option<String>,
    pub q: Option<String>,
    pub cursor: Option<String>,
    pub limit: Option<String>,
}

fn given(v: &Option<String>) -> Option<&str> {
    v.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

/// A parsed search: the store's filter and scope, and what is checked on each record after.
#[derive(Debug, Clone)]
pub struct Search {
    pub scope: ListScope,
    pub filter: ListFilter,
    /// Checked after the query when the scope could not be narrowed to the unit.
    pub unit: Option<String>,
    pub from: Option<Date>,
    pub to: Option<Date>,
}

impl Search {
    /// Parses the query for `user`; the problems are shown on the form.
    pub fn parse(user: &User, qy: &SearchQuery) -> Result<Search, Vec<(String, String)>> {
        let mut problems = Vec::new();
        let mut bad = |f: &str, m: &str| problems.push((f.to_owned(), m.to_owned()));
        let state = match given(&qy.state) {
            Some(s) => RegState::parse(s).or_else(|| {
                bad("state", "请选择有效的状态。");
                None
            }),
            None => None,
        };
        let kind = match given(&qy.kind) {
            Some(s) => Kind::parse(s).or_else(|| {
                bad("kind", "请选择有效的成果类型。");
                None
            }),
            None => None,
        };
        let text = given(&qy.q).map(str::to_owned);
        if text.as_ref().is_some_and(|t| t.chars().count() > 100) {
            bad("q", "搜索词不能超过100个字。");
        }
        let date = |v: &Option<String>, field: &str, bad: &mut dyn FnMut(&str, &str)| {
            given(v).and_then(|s| {
                parse_date(s).or_else(|| {
                    bad(field, "日期格式应为 年-月-日，例如 2026-11-28。");
                    None
                })
            })
        };
        let from = date(&qy.from, "from", &mut bad);
        let to = date(&qy.to, "to", &mut bad);
        if let (Some(f), Some(t)) = (from, to)
            && f > t
        {
            bad("to", "结束日期不能早于开始日期。");
        }
        if !problems.is_empty() {
            return Err(problems);
        }
        let mut scope = ListScope::of(user);
        let mut unit = given(&qy.unit).map(str::to_owned);
        if let Some(u) = unit.clone() {
            match &scope {
                ListScope::All => {
                    scope = ListScope::Unit(u);
                    unit = None;
                }
                ListScope::Units(ids) => {
                    scope = if ids.contains(&u) {
                        ListScope::Unit(u)
                    } else {
                        ListScope::Nothing
                    };
                    unit = None;
                }
                ListScope::Unit(id) if *id == u => unit = None,
                _ => {}
            }
        }
        Ok(Search {
            scope,
            filter: ListFilter {
                state,
                kind,
                q: text,
            },
            unit,
            from,
            to,
        })
    }

    fn keeps(&self, reg: &Registration) -> bool {
        let day = china_date(reg.created_at);
        self.unit.as_ref().is_none_or(|u| *u == reg.unit_id)
            && self.from.is_none_or(|f| day >= f)
            && self.to.is_none_or(|t| day <= t)
    }
}

/// One page of a search.
#[derive(Debug, Clone, Default)]
pub struct Found {
    pub items: Vec<Registration>,
    pub next_cursor: Option<String>,
    /// The page stopped after [`MAX_SCAN`] records without filling up.
    pub partial: bool,
}

/// Runs a search from `cursor`: asks the store for just as many records as still fit the
/// page, so that every page ends on one of the store's own cursors and none is skipped.
pub async fn run_search(
    state: &PageState,
    s: &Search,
    limit: usize,
    cursor: Option<String>,
) -> Result<Found, ApiError> {
    let mut found = Found::default();
    let mut cursor = cursor;
    let mut scanned = 0;
    loop {
        let need = limit - found.items.len();
        let page = state
            .app
            .store
            .list_registrations(&s.scope, &s.filter, need, cursor.as_deref())
            .await?;
        for reg in page.items {
            scanned += 1;
            // Newest first: once older than `from`, nothing further matches.
            if s.from.is_some_and(|f| china_date(reg.created_at) < f) {
                return Ok(found);
            }
            if s.keeps(&reg) {
                found.items.push(reg);
            }
        }
        cursor = page.next_cursor;
        if found.items.len() >= limit || cursor.is_none() {
            found.next_cursor = cursor;
            return Ok(found);
        }
        if scanned >= MAX_SCAN {
            found.next_cursor = cursor;
            found.partial = true;
            return Ok(found);
        }
    }
}

/// The query string of a search without its cursor.
pub fn query_string(qy: &SearchQuery) -> String {
    let pairs = [
        ("state", &qy.state),
        ("kind", &qy.kind),
        ("unit", &qy.unit),
        ("from", &qy.from),
        ("to", &qy.to),
        ("q", &qy.q),
    ];
    pairs
        .iter()
        .filter_map(|(k, v)| given(v).map(|v| format!("{k}={}", q(v))))
        .collect::<Vec<_>>()
        .join("&")
}

/// `GET /admin/search`.
pub async fn show_search(
    State(state): State<PageState>,
    who: PageUser,
    Query(qy): Query<SearchQuery>,
) -> Response {
    if let Err(r) = staff_only(&who) {
        return r;
    }
    match search_context(&state, &who, &qy).await {
        Ok((status, ctx)) => state.pages.render(status, "admin/search.html", &ctx),
        Err(e) => error_page(&state, Some(&who), &e),
    }
}

async fn search_context(
    state: &PageState,
    who: &PageUser,
    qy: &SearchQuery,
) -> Result<(StatusCode, tera::Context), ApiError> {
    let user = &who.user;
    let mut ctx = page_context(who, "查询成果登记");
    let units = visible_units(state, user).await?;
    let states: Vec<Value> = RegState::ALL
        .iter()
        .map(|s| json!({"code": s.code(), "label": s.label()}))
        .collect();
    let kinds: Vec<Value> = Kind::ALL
        .iter()
        .map(|k| json!({"code": k.code(), "label": k.label()}))
        .collect();
    ctx.insert("states", &states);
    ctx.insert("kinds", &kinds);
    ctx.insert("units", &units);
    ctx.insert("several_units", &sees_several_units(user.role));
    ctx.insert("may_export", &may_export_notices(user.role));
    let form = json!({
        "state": given(&qy.state).unwrap_or(""),
        "kind": given(&qy.kind).unwrap_or(""),
        "unit": given(&qy.unit).unwrap_or(""),
        "from": given(&qy.from).unwrap_or(""),
        "to": given(&qy.to).unwrap_or(""),
        "q": given(&qy.q).unwrap_or(""),
    });
    ctx.insert("form", &form);
    ctx.insert("errors", &HashMap::<String, String>::new());
    let base = query_string(qy);
    ctx.insert(
        "export_href",
        &format!("/admin/exports/registrations.xlsx?{base}"),
    );
    let search = match Search::parse(user, qy) {
        Ok(s) => s,
        Err(problems) => {
            let errors: HashMap<String, String> = problems.into_iter().collect();
            ctx.insert("errors", &errors);
            ctx.insert("rows", &Vec::<Value>::new());
            return Ok((StatusCode::BAD_REQUEST, ctx));
        }
    };
    let limit = given(&qy.limit)
        .and_then(|l| l.parse::<usize>().ok())
        .filter(|l| (1..=100).contains(l))
        .unwrap_or(PAGE_SIZE);
    let cursor = given(&qy.cursor).map(str::to_owned);
    let paged = cursor.is_some();
    let found = match run_search(state, &search, limit, cursor).await {
        Ok(f) => f,
        Err(ApiError::Domain(chengguo_domain::DomainError::BadRequest { .. })) => {
            ctx.insert("message", "分页参数无效，已回到第一页。");
            run_search(state, &search, limit, None).await?
        }
        Err(e) => return Err(e),
    };
    let names = unit_names(state).await?;
    let today = state.app.clock.today();
    ctx.insert("rows", &rows(&found.items, user, today, &names));
    ctx.insert("partial", &found.partial);
    ctx.insert("paged", &paged);
    let mut first = "/admin/search".to_owned();
    if !base.is_empty() {
        first = format!("{first}?{base}");
    }
    ctx.insert("first_href", &first);
    if let Some(c) = &found.next_cursor {
        let sep = if base.is_empty() { "" } else { "&" };
        let limit_part = if limit == PAGE_SIZE {
            String::new()
        } else {
            format!("&limit={limit}")
        };
        ctx.insert(
            "next_href",
            &format!("/admin/search?{base}{sep}cursor={}{limit_part}", q(c)),
        );
    }
    Ok((StatusCode::OK, ctx))
}
