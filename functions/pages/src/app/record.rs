//! A record as its leader sees it: progress tracking (进度跟踪) with the history as a timeline
//! and the return opinion highlighted; 「填写检查」 with every problem linked to its field;
//! submitting after a summary of everything that will be sent.

use std::collections::{BTreeMap, HashMap};

use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use chengguo_api::ApiError;
use chengguo_api::service;
use chengguo_domain::codes::{Action, State as RegState};
use chengguo_domain::materials;
use chengguo_domain::record::Registration;
use chengguo_domain::workflow::{self, ActionRequest};
use chengguo_domain::{DomainError, Problem};
use serde::Deserialize;
use serde_json::{Value, json};

use super::form::{self, FormContext, FormView, Values};
use super::{MsgQuery, china_time, context, flash, leader_only, load, page, record_facts};
use crate::PageState;
use crate::guard::{PageUser, check_form_token, error_page};

/// The read-only form of a record, when its kind is chosen.
async fn read_only_form(
    state: &PageState,
    reg: &Registration,
) -> Result<Option<FormView>, ApiError> {
    let Some(kind) = reg.kind else {
        return Ok(None);
    };
    let authorities = service::authorities(&state.app).await?;
    let stored = serde_json::to_value(&reg.fields).unwrap_or_default();
    let fc = FormContext {
        kind,
        source: reg.source,
        authorities: &authorities,
        add: &HashMap::new(),
    };
    Ok(Some(form::build(&fc, &Values::Stored(&stored))))
}

/// The history of a record as the timeline shows it, oldest first.
async fn timeline(state: &PageState, reg: &Registration) -> Result<Vec<Value>, ApiError> {
    let events = state.app.store.list_events(&reg.id).await?;
    let mut names: HashMap<String, String> = HashMap::new();
    let mut out = Vec::with_capacity(events.len());
    for e in &events {
        let who = if e.actor == "system" {
            "系统".to_owned()
        } else {
            match names.get(&e.actor) {
                Some(n) => n.clone(),
                None => {
                    let n = state
                        .app
                        .store
                        .find_user(&e.actor)
                        .await?
                        .map(|u| u.display_name)
                        .unwrap_or_else(|| e.actor.clone());
                    names.insert(e.actor.clone(), n.clone());
                    n
                }
            }
        };
        out.push(json!({
            "seq": e.seq,
            "at": china_time(e.at),
            "datetime": chengguo_api::views::rfc3339(e.at),
            "action": e.action.code(),
            "action_label": e.action.label(),
            "from_label": e.from.map(|s| s.label()),
            "to_label": e.to.label(),
            "who": who,
            "role_label": e.role.map(|r| r.label()),
            "opinion": e.opinion,
            "note_label": if e.action == Action::ChooseKind { "成果类型" } else { "意见" },
            "returned": e.action == Action::Return || e.action == Action::AcceptanceFailed,
        }));
    }
    Ok(out)
}

/// `GET /app/r/{id}`: progress tracking.
pub async fn show_record(
    State(state): State<PageState>,
    who: PageUser,
    Path(id): Path<String>,
    Query(q): Query<MsgQuery>,
) -> Response {
    if let Err(r) = leader_only(&who) {
        return r;
    }
    let reg = match load(&state, &who, &id).await {
        Ok(r) => r,
        Err(r) => return r,
    };
    let result = async {
        Ok::<_, ApiError>((
            timeline(&state, &reg).await?,
            read_only_form(&state, &reg).await?,
            super::materials::checklist(&state, &reg).await?,
        ))
    }
    .await;
    let (events, view, materials) = match result {
        Ok(x) => x,
        Err(e) => return error_page(&state, Some(&who), &e),
    };
    let project = match &reg.project_id {
        Some(pid) => state.app.store.get_project(pid).await.ok().flatten(),
        None => None,
    };
    let allowed = workflow::allowed_actions(&who.user, &reg);
    let mut ctx = context(&who, "成果登记进度");
    ctx.insert(
        "reg",
        &super::record_facts_on(&reg, state.app.clock.today()),
    );
    ctx.insert("events", &events);
    ctx.insert("form", &view);
    ctx.insert("materials", &materials);
    ctx.insert("can_edit", &workflow::can_edit(&who.user, &reg));
    ctx.insert("can_submit", &allowed.contains(&Action::Submit));
    ctx.insert(
        "paper_due",
        &matches!(reg.state, RegState::PointReview | RegState::PaperPending),
    );
    if let Some(p) = project {
        ctx.insert("project", &chengguo_api::views::project(&p));
    }
    if let Some(m) = flash(q.msg.as_deref()) {
        ctx.insert("flash", m);
    }
    page(&state, "app/record.html", &ctx)
}

/// Each problem with a link to where it is fixed and a readable place name.
fn linked_problems(
    reg: &Registration,
    view: Option<&FormView>,
    problems: &[Problem],
) -> Vec<Value> {
    let anchors: BTreeMap<String, String> = view.map(FormView::anchors).unwrap_or_default();
    problems
        .iter()
        .map(|p| {
            let (href, place) = if p.field == "kind" {
                (format!("/app/r/{}/kind", reg.id), "成果类型".to_owned())
            } else if let Some(cat) = p.field.strip_prefix("materials.") {
                (
                    format!("/app/r/{}/materials#{}", reg.id, p.field),
                    format!(
                        "材料 · {}",
                        materials::label(reg.kind, cat).unwrap_or("材料")
                    ),
                )
            } else {
                match form::nearest_anchor(&anchors, &p.field) {
                    Some(a) => (
                        format!("/app/r/{}/edit?check=1#{}", reg.id, a),
                        anchors[&a].clone(),
                    ),
                    None => (
                        format!("/app/r/{}/edit?check=1", reg.id),
                        "登记表".to_owned(),
                    ),
                }
            };
            json!({"field": p.field, "message": p.message, "href": href, "place": place})
        })
        .collect()
}

/// `GET /app/r/{id}/check`: 「填写检查」.
pub async fn show_check(
    State(state): State<PageState>,
    who: PageUser,
    Path(id): Path<String>,
) -> Response {
    if let Err(r) = leader_only(&who) {
        return r;
    }
    let reg = match load(&state, &who, &id).await {
        Ok(r) => r,
        Err(r) => return r,
    };
    let result = async {
        Ok::<_, ApiError>((
            service::check(&state.app, &who.user, &id).await?,
            read_only_form(&state, &reg).await?,
        ))
    }
    .await;
    let (problems, view) = match result {
        Ok(x) => x,
        Err(e) => return error_page(&state, Some(&who), &e),
    };
    let allowed = workflow::allowed_actions(&who.user, &reg);
    let mut ctx = context(&who, "填写检查");
    ctx.insert("reg", &record_facts(&reg));
    ctx.insert("problems", &linked_problems(&reg, view.as_ref(), &problems));
    ctx.insert("can_edit", &workflow::can_edit(&who.user, &reg));
    ctx.insert("can_submit", &allowed.contains(&Action::Submit));
    page(&state, "app/check.html", &ctx)
}

async fn submit_page(
    state: &PageState,
    who: &PageUser,
    reg: &Registration,
    status: StatusCode,
    error: Option<String>,
) -> Response {
    let result = async {
        Ok::<_, ApiError>((
            service::check(&state.app, &who.user, &reg.id).await?,
            read_only_form(state, reg).await?,
            super::materials::checklist(state, reg).await?,
        ))
    }
    .await;
    let (problems, view, materials) = match result {
        Ok(x) => x,
        Err(e) => return error_page(state, Some(who), &e),
    };
    let project = match &reg.project_id {
        Some(pid) => state.app.store.get_project(pid).await.ok().flatten(),
        None => None,
    };
    let next = if reg.department_id.is_some() {
        RegState::DeptReview
    } else {
        RegState::UnitReview
    };
    let mut ctx = context(who, "确认提交");
    ctx.insert("reg", &record_facts(reg));
    ctx.insert("version", &reg.version);
    ctx.insert("problems", &linked_problems(reg, view.as_ref(), &problems));
    ctx.insert("form", &view);
    ctx.insert("materials", &materials);
    ctx.insert("next_label", next.label());
    ctx.insert("next_waiting", next.waiting_for());
    if let Some(p) = project {
        ctx.insert("project", &chengguo_api::views::project(&p));
    }
    if let Some(e) = error {
        ctx.insert("error", &e);
    }
    state.pages.render(status, "app/submit.html", &ctx)
}

/// `GET /app/r/{id}/submit`: everything that will be sent, then 「确认提交」.
pub async fn show_submit(
    State(state): State<PageState>,
    who: PageUser,
    Path(id): Path<String>,
) -> Response {
    if let Err(r) = leader_only(&who) {
        return r;
    }
    let reg = match load(&state, &who, &id).await {
        Ok(r) => r,
        Err(r) => return r,
    };
    if reg.kind.is_none() {
        return Redirect::to(&format!("/app/r/{id}/kind")).into_response();
    }
    if !workflow::allowed_actions(&who.user, &reg).contains(&Action::Submit) {
        return Redirect::to(&format!("/app/r/{id}")).into_response();
    }
    submit_page(&state, &who, &reg, StatusCode::OK, None).await
}

#[derive(Deserialize)]
pub struct SubmitForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    version: String,
}

/// `POST /app/r/{id}/submit`.
pub async fn submit_submit(
    State(state): State<PageState>,
    who: PageUser,
    Path(id): Path<String>,
    Form(f): Form<SubmitForm>,
) -> Response {
    if let Err(r) = leader_only(&who) {
        return r;
    }
    if let Err(r) = check_form_token(&state, &who, &f.csrf) {
        return r;
    }
    let reg = match load(&state, &who, &id).await {
        Ok(r) => r,
        Err(r) => return r,
    };
    let version = f.version.parse().unwrap_or(0);
    let req = ActionRequest {
        version,
        ..ActionRequest::default()
    };
    match service::act(&state.app, &who.user, &id, Action::Submit, req).await {
        Ok(_) => Redirect::to(&format!("/app/r/{id}?msg=submitted")).into_response(),
        Err(ApiError::Domain(DomainError::StaleVersion)) => {
            let current = match load(&state, &who, &id).await {
                Ok(r) => r,
                Err(r) => return r,
            };
            submit_page(
                &state,
                &who,
                &current,
                StatusCode::CONFLICT,
                Some("未提交：登记表在您确认前已被修改，请核对下方内容后再次确认提交。".into()),
            )
            .await
        }
        Err(e @ ApiError::Domain(DomainError::Validation { .. })) => {
            submit_page(
                &state,
                &who,
                &reg,
                StatusCode::UNPROCESSABLE_ENTITY,
                Some(format!("未提交：{e}")),
            )
            .await
        }
        Err(e) => error_page(&state, Some(&who), &e),
    }
}
