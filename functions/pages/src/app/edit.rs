//! `/app/r/{id}/edit`: the kind-specific form. A plain POST saves the draft at any time (the
//! `PATCH` of every key on the form, guarded by the version the page was read at); 「添加一行」
//! and 「删除」 buttons save and show the list one row longer or shorter. Refused values come back
//! next to their fields, with what was typed kept.

use std::collections::HashMap;

use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use chengguo_api::ApiError;
use chengguo_api::service;
use chengguo_domain::record::Registration;
use chengguo_domain::{DomainError, Problem};
use serde::Deserialize;
use serde_json::Value;

use super::form::{self, FormContext, FormView, LISTS, Values};
use super::{context, flash, leader_only, load, record_facts};
use crate::PageState;
use crate::guard::{PageUser, check_form_token, error_page};

#[derive(Deserialize, Default)]
pub struct EditQuery {
    msg: Option<String>,
    /// A list to show one empty row longer.
    add: Option<String>,
    /// Show the problems of 「填写检查」 next to the fields.
    check: Option<String>,
}

/// What a failed save shows instead of the stored values.
enum Shown {
    Stored,
    /// The fields as they would be after the refused patch.
    Json(Value),
    /// What the browser sent, when it could not even be read (wrong numbers).
    Raw(HashMap<String, String>),
}

struct Render {
    status: StatusCode,
    shown: Shown,
    /// Extra empty rows by list.
    add: HashMap<String, usize>,
    problems: Vec<Problem>,
    /// An explanation above the form.
    summary: Option<String>,
    flash: Option<&'static str>,
    /// Problems of 「填写检查」 are shown.
    checked: bool,
}

async fn edit_page(state: &PageState, who: &PageUser, reg: &Registration, r: Render) -> Response {
    let Some(kind) = reg.kind else {
        return Redirect::to(&format!("/app/r/{}/kind", reg.id)).into_response();
    };
    let authorities = match service::authorities(&state.app).await {
        Ok(a) => a,
        Err(e) => return error_page(state, Some(who), &e),
    };
    let fc = FormContext {
        kind,
        source: reg.source,
        authorities: &authorities,
        add: &r.add,
    };
    let stored = serde_json::to_value(&reg.fields).unwrap_or_default();
    let mut view: FormView = match &r.shown {
        Shown::Stored => form::build(&fc, &Values::Stored(&stored)),
        Shown::Json(v) => form::build(&fc, &Values::Stored(v)),
        Shown::Raw(m) => form::build(&fc, &Values::Submitted(m)),
    };
    let (form_problems, material_problems): (Vec<Problem>, Vec<Problem>) = r
        .problems
        .into_iter()
        .partition(|p| !p.field.starts_with("materials.") && p.field != "kind");
    view.attach(&form_problems);
    let anchors = view.anchors();
    let problem_links: Vec<serde_json::Value> = form_problems
        .iter()
        .filter_map(|p| {
            let a = form::nearest_anchor(&anchors, &p.field)?;
            Some(serde_json::json!({
                "href": format!("#{a}"),
                "place": anchors[&a],
                "message": p.message,
            }))
        })
        .collect();
    let project = match &reg.project_id {
        Some(pid) => state.app.store.get_project(pid).await.ok().flatten(),
        None => None,
    };
    let mut ctx = context(who, "填写登记表");
    ctx.insert("reg", &record_facts(reg));
    ctx.insert("form", &view);
    ctx.insert("keys", &view.keys.join(","));
    ctx.insert("version", &reg.version);
    ctx.insert("has_errors", &view.has_errors());
    ctx.insert("problem_links", &problem_links);
    ctx.insert("checked", &r.checked);
    ctx.insert(
        "problem_count",
        &(form_problems.len() + material_problems.len()),
    );
    ctx.insert(
        "material_problems",
        &material_problems
            .iter()
            .map(|p| p.message.clone())
            .collect::<Vec<_>>(),
    );
    if let Some(p) = project {
        ctx.insert("project", &chengguo_api::views::project(&p));
    }
    if let Some(s) = r.summary {
        ctx.insert("summary", &s);
    }
    if let Some(f) = r.flash {
        ctx.insert("flash", f);
    }
    state.pages.render(r.status, "app/edit.html", &ctx)
}

/// Sends a record that cannot be edited now to its own page.
fn not_editable(reg: &Registration, who: &PageUser) -> Option<Response> {
    if reg.kind.is_none() {
        return Some(Redirect::to(&format!("/app/r/{}/kind", reg.id)).into_response());
    }
    if !chengguo_domain::workflow::can_edit(&who.user, reg) {
        return Some(Redirect::to(&format!("/app/r/{}", reg.id)).into_response());
    }
    None
}

/// `GET /app/r/{id}/edit`.
pub async fn show_edit(
    State(state): State<PageState>,
    who: PageUser,
    Path(id): Path<String>,
    Query(q): Query<EditQuery>,
) -> Response {
    if let Err(r) = leader_only(&who) {
        return r;
    }
    let reg = match load(&state, &who, &id).await {
        Ok(r) => r,
        Err(r) => return r,
    };
    if let Some(r) = not_editable(&reg, &who) {
        return r;
    }
    let checked = q.check.is_some();
    let problems = if checked {
        match service::check(&state.app, &who.user, &id).await {
            Ok(p) => p,
            Err(e) => return error_page(&state, Some(&who), &e),
        }
    } else {
        Vec::new()
    };
    let add = form::parse_add(q.add.as_deref());
    edit_page(
        &state,
        &who,
        &reg,
        Render {
            status: StatusCode::OK,
            shown: Shown::Stored,
            add,
            problems,
            summary: None,
            flash: flash(q.msg.as_deref()),
            checked,
        },
    )
    .await
}

/// Removes row `index` of `list` from a submitted form, moving later rows up.
pub(crate) fn remove_row(sub: &mut HashMap<String, String>, list: &str, index: usize) {
    let prefix = format!("{list}[");
    let moved: Vec<(String, String)> = sub
        .iter()
        .filter(|(k, _)| k.starts_with(&prefix))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    for (k, _) in &moved {
        sub.remove(k);
    }
    for (k, v) in moved {
        let rest = &k[prefix.len()..];
        let Some((n, tail)) = rest.split_once(']') else {
            continue;
        };
        let Ok(n) = n.parse::<usize>() else { continue };
        if n == index {
            continue;
        }
        let n = if n > index { n - 1 } else { n };
        sub.insert(format!("{prefix}{n}]{tail}"), v);
    }
}

/// `POST /app/r/{id}/edit`: save the draft, then go where the button said.
pub async fn submit_edit(
    State(state): State<PageState>,
    who: PageUser,
    Path(id): Path<String>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Response {
    if let Err(r) = leader_only(&who) {
        return r;
    }
    let mut sub: HashMap<String, String> = pairs.into_iter().collect();
    let csrf = sub.remove("csrf").unwrap_or_default();
    if let Err(r) = check_form_token(&state, &who, &csrf) {
        return r;
    }
    let reg = match load(&state, &who, &id).await {
        Ok(r) => r,
        Err(r) => return r,
    };
    if let Some(r) = not_editable(&reg, &who) {
        return r;
    }
    let Some(kind) = reg.kind else {
        return Redirect::to(&format!("/app/r/{id}/kind")).into_response();
    };
    let op = sub.remove("op").unwrap_or_else(|| "save".into());
    let version: u64 = sub
        .remove("version")
        .and_then(|v| v.parse().ok())
        .unwrap_or(reg.version);
    let mut added: Option<&str> = None;
    let mut anchor = String::new();
    if let Some(list) = op.strip_prefix("add:") {
        added = LISTS.iter().copied().find(|l| *l == list);
        if let Some(l) = added {
            anchor = format!("#{l}");
        }
    } else if let Some(rest) = op.strip_prefix("remove:")
        && let Some((list, i)) = rest.rsplit_once(':')
        && let Some(list) = LISTS.iter().copied().find(|l| *l == list)
        && let Ok(i) = i.parse::<usize>()
    {
        remove_row(&mut sub, list, i);
        anchor = format!("#{list}");
    }

    let authorities = match service::authorities(&state.app).await {
        Ok(a) => a,
        Err(e) => return error_page(&state, Some(&who), &e),
    };
    let no_extra = HashMap::new();
    let fc = FormContext {
        kind,
        source: reg.source,
        authorities: &authorities,
        add: &no_extra,
    };
    let view = form::build(&fc, &Values::Submitted(&sub));
    let patch = match form::to_patch(&view, &sub) {
        Ok(p) => p,
        Err(problems) => {
            return edit_page(
                &state,
                &who,
                &reg,
                Render {
                    status: StatusCode::UNPROCESSABLE_ENTITY,
                    shown: Shown::Raw(sub),
                    add: HashMap::new(),
                    summary: Some(format!(
                        "未保存：有 {} 处填写不正确，请按字段旁的提示修改后再保存。",
                        problems.len()
                    )),
                    problems,
                    flash: None,
                    checked: false,
                },
            )
            .await;
        }
    };
    // Empty rows are not saved; they stay on the page (with one more after 「添加一行」).
    let patched_rows = Value::Object(patch.clone());
    let mut extra: HashMap<String, usize> = HashMap::new();
    for l in LISTS {
        let sent = Values::Submitted(&sub).rows(l);
        let kept = form::lookup(&patched_rows, l)
            .and_then(Value::as_array)
            .map_or(0, Vec::len);
        // Every list shows one row even when empty.
        let n = sent.saturating_sub(kept.max(1)) + usize::from(added == Some(*l));
        if n > 0 {
            extra.insert((*l).to_owned(), n.min(10));
        }
    }
    // What the form would hold after the patch, to show again if it is refused.
    let as_patched = || {
        reg.fields
            .patched(&patch)
            .ok()
            .and_then(|f| serde_json::to_value(f).ok())
            .map_or_else(|| Shown::Raw(sub.clone()), Shown::Json)
    };
    match service::patch(&state.app, &who.user, &id, version, &patch).await {
        Ok(_) => {
            let target = match op.as_str() {
                "check" => format!("/app/r/{id}/check"),
                "materials" => format!("/app/r/{id}/materials"),
                "submit" => format!("/app/r/{id}/submit"),
                _ if extra.is_empty() => format!("/app/r/{id}/edit?msg=saved{anchor}"),
                _ => format!(
                    "/app/r/{id}/edit?msg=saved&add={}{anchor}",
                    form::format_add(&extra)
                ),
            };
            Redirect::to(&target).into_response()
        }
        Err(ApiError::Domain(DomainError::StaleVersion)) => {
            // Saved elsewhere meanwhile (another tab, or the autosave): keep what was typed and
            // offer to save it over the newer version.
            let current = match load(&state, &who, &id).await {
                Ok(r) => r,
                Err(r) => return r,
            };
            let shown = as_patched();
            edit_page(
                &state,
                &who,
                &current,
                Render {
                    status: StatusCode::CONFLICT,
                    shown,
                    add: extra.clone(),
                    problems: Vec::new(),
                    summary: Some(
                        "未保存：该登记表已在其他页面或通过自动保存更新。下方保留了您本次填写的内容，确认无误后请再次点击“保存草稿”。"
                            .into(),
                    ),
                    flash: None,
                    checked: false,
                },
            )
            .await
        }
        Err(e) => match super::create::errors_by_field(&e) {
            Some(_) => {
                let problems = match &e {
                    ApiError::Domain(DomainError::Validation { details, .. }) => details.clone(),
                    ApiError::Domain(DomainError::BadRequest { message, details }) => details
                        .iter()
                        .map(|p| Problem::invalid(p.field.clone(), message.clone()))
                        .collect(),
                    _ => Vec::new(),
                };
                let shown = as_patched();
                edit_page(
                    &state,
                    &who,
                    &reg,
                    Render {
                        status: StatusCode::UNPROCESSABLE_ENTITY,
                        shown,
                        add: extra.clone(),
                        summary: Some(format!(
                            "未保存：有 {} 处填写不正确，请按字段旁的提示修改后再保存。",
                            problems.len()
                        )),
                        problems,
                        flash: None,
                        checked: false,
                    },
                )
                .await
            }
            None => error_page(&state, Some(&who), &e),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn removing_a_row_moves_later_rows_up() {
        let mut sub: HashMap<String, String> = [
            ("units[0].name", "甲"),
            ("units[1].name", "乙"),
            ("units[2].name", "丙"),
            ("units[2].uscc", "X"),
            ("title", "t"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        remove_row(&mut sub, "units", 1);
        assert_eq!(sub["units[0].name"], "甲");
        assert_eq!(sub["units[1].name"], "丙");
        assert_eq!(sub["units[1].uscc"], "X");
        assert!(!sub.contains_key("units[2].name"));
        assert_eq!(sub["title"], "t");
    }
}
