//! `/admin/registrations/{id}`: the record read-only (form, materials, history, notice
//! windows, objections, notifications) with the actions its viewer may take now. Each action
//! has its form twice: in a `<dialog>` on the record page (opened by `admin.js`) and on its
//! own page (`.../actions/{action}`) that works without script and shows refusals in place.

use std::collections::BTreeMap;

use axum::extract::{Path, Query, Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use chengguo_api::auth::CurrentUser;
use chengguo_api::extract::JsonBody;
use chengguo_api::{ApiError, service};
use chengguo_domain::codes::{Action, DecisionResult, Role, State as RegState};
use chengguo_domain::materials::{FileType, REOPEN_EVIDENCE};
use chengguo_domain::record::{Attachment, AttachmentStatus, Registration};
use chengguo_domain::workflow::{self, ActionRequest};
use chengguo_domain::{DomainError, Problem};
use serde::Deserialize;
use serde_json::{Value, json};

use super::forms::{FilePart, FormData, read_form};
use super::view::{self, time_text};
use super::{form_errors, may_export_notices, page_context, staff_only};
use crate::PageState;
use crate::guard::{PageUser, check_form_token, error_page};

/// Largest action form: the reopen evidence (a PDF of up to 20 MB) with the other fields.
pub const ACTION_FORM_LIMIT: usize = 21 * 1024 * 1024;

/// How an action is asked for: its label, whether an opinion is required, what it does.
pub fn action_spec(action: Action, reg: &Registration, state: &PageState) -> Value {
    let c = &state.app.config;
    let (opinion_required, opinion_label, hint, danger) = match action {
        Action::Pass => (
            false,
            "审核意见（选填）",
            match reg.state {
                RegState::DeptReview => "审核通过后，提交申报单位审核。".to_owned(),
                RegState::UnitReview => "审核通过后，提交成果登记点审核。".to_owned(),
                _ => "审核通过后，等待项目负责人报送纸质材料。".to_owned(),
            },
            false,
        ),
        Action::Return => (
            true,
            "退回意见",
            "退回后由项目负责人修改并重新提交；退回意见将显示给项目负责人。".to_owned(),
            true,
        ),
        Action::ReceivePaper => (
            false,
            "意见（选填）",
            format!(
                "确认已收到纸质材料。接收后开启单位内部公示（{}天）和网站公示（{}天），\
                 并通知项目负责人和申报单位下载、公布公示信息。",
                c.unit_notice_days, c.website_notice_days
            ),
            false,
        ),
        Action::Decide => (
            true,
            "批复意见",
            "予以登记须在网站公示期结束后、且没有未处理的异议；成果登记号可修改，不能与已有登记号重复。"
                .to_owned(),
            false,
        ),
        Action::Reopen => (
            true,
            "退回到未批复的意见",
            "退回到未批复须填写意见并上传佐证材料（PDF、JPG 或 PNG）；成果登记号保留，直至以其他登记号重新批复。"
                .to_owned(),
            true,
        ),
        _ => (false, "意见", String::new(), false),
    };
    json!({
        "code": action.code(),
        "label": action.label(),
        "opinion_required": opinion_required,
        "opinion_label": opinion_label,
        "hint": hint,
        "danger": danger,
        "href": format!("/admin/registrations/{}/actions/{}", reg.id, action.code()),
    })
}

/// What the person typed into an action form, kept when it is refused.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct ActionValues {
    pub opinion: String,
    pub result: String,
    pub number: String,
    pub evidence_attachment_id: String,
}

/// Everything the record page shows.
async fn record_context(
    state: &PageState,
    who: &PageUser,
    reg: &Registration,
) -> Result<tera::Context, ApiError> {
    let app = &state.app;
    let user = &who.user;
    let title = reg
        .fields
        .title
        .clone()
        .filter(|t| !t.trim().is_empty())
        .unwrap_or_else(|| "（未填写成果名称）".to_owned());
    let mut ctx = page_context(who, &title);
    let today = app.clock.today();
    let authorities = service::authorities(app).await?;
    let authority = authorities.iter().find(|a| a.id == reg.authority_id);
    let project = match &reg.project_id {
        Some(pid) => app.store.get_project(pid).await?,
        None => None,
    };
    let attachments = service::live_attachments(app, &reg.id).await?;
    let owner = app.store.get_user(&reg.owner_id).await?;
    let unit = app.store.get_unit(&reg.unit_id).await?;
    let department = match &reg.department_id {
        Some(d) => app.store.get_department(d).await?,
        None => None,
    };
    let events = app.store.list_events(&reg.id).await?;
    let objections = app.store.list_objections(&reg.id).await?;
    let mails = app
        .store
        .recent_mail_of_registration(&reg.id, chengguo_api::service::RECENT_MAIL)
        .await?;
    let sees_contacts = matches!(user.role, Role::Point | Role::Office | Role::Admin);

    let rec = json!({
        "id": reg.id,
        "title": title,
        "kind": reg.kind.map_or("未选择", |k| k.label()),
        "source": reg.source.label(),
        "state": reg.state.code(),
        "state_text": view::state_text(reg, today),
        "waiting_for": reg.state.waiting_for(),
        "number": reg.registration_number,
        "version": reg.version,
        "owner": owner.as_ref().map(|o| format!("{}（{}）", o.display_name, o.username)),
        "unit": unit.as_ref().map(|u| u.name.clone()),
        "department": department.as_ref().map(|d| d.name.clone()),
        "authority": authority.map(|a| a.name.clone()),
        "created": time_text(reg.created_at),
        "updated": time_text(reg.updated_at),
        "submitted": reg.submitted_at.map(time_text),
        "return_opinion": reg.return_opinion,
        "decision": reg.decision.as_ref().map(|d| json!({
            "result": d.result.label(),
            "registered": d.result == DecisionResult::Registered,
            "opinion": d.opinion,
            "by": d.by,
            "at": time_text(d.at),
        })),
    });
    ctx.insert("rec", &rec);
    ctx.insert(
        "sections",
        &view::form_sections(reg, authority.map(|a| a.name.as_str()), project.as_ref()),
    );
    ctx.insert("materials", &view::materials_view(reg, &attachments));
    ctx.insert("history", &view::history_view(&events));
    if let Some(n) = &reg.notice {
        ctx.insert("notice", &view::notice_view(n, today));
    }
    let objections: Vec<Value> = objections
        .iter()
        .map(|o| {
            let mut v = json!({
                "id": o.id,
                "content": o.content,
                "filed_at": time_text(o.filed_at),
                "resolved": o.resolution.is_some(),
                "resolution": o.resolution,
                "resolved_by": o.resolved_by,
                "resolved_at": o.resolved_at.map(time_text),
            });
            if sees_contacts {
                v["name"] = json!(o.name);
                v["unit"] = json!(o.unit);
                v["phone"] = json!(o.phone);
                v["email"] = json!(o.email);
            }
            v
        })
        .collect();
    ctx.insert("objections", &objections);
    ctx.insert("sees_contacts", &sees_contacts);
    ctx.insert("may_resolve", &(user.role == Role::Point));
    let notifications: Vec<Value> = mails
        .iter()
        .map(|m| {
            json!({
                "reason": m.reason,
                "to": m.to.join("，"),
                "subject": m.subject,
                "status": m.status.label(),
                "created": time_text(m.created_at),
                "sent": m.sent_at.map(time_text),
                "error": m.last_error,
            })
        })
        .collect();
    ctx.insert("notifications", &notifications);

    let allowed = workflow::allowed_actions(user, reg);
    let actions: Vec<Value> = allowed
        .iter()
        .map(|a| action_spec(*a, reg, state))
        .collect();
    ctx.insert("actions", &actions);
    let mut values = ActionValues::default();
    if allowed.contains(&Action::Decide) {
        values.result = "registered".into();
        values.number = service::next_number(app, user, &reg.id)
            .await
            .unwrap_or_default();
    }
    ctx.insert("values", &values);
    ctx.insert("field_errors", &BTreeMap::<String, String>::new());
    ctx.insert(
        "may_export",
        &(may_export_notices(user.role) && reg.notice.is_some()),
    );
    Ok(ctx)
}

#[derive(Debug, Default, Deserialize)]
pub struct RecordQuery {
    done: Option<String>,
}

/// `GET /admin/registrations/{id}`.
pub async fn show_record(
    State(state): State<PageState>,
    who: PageUser,
    Path(id): Path<String>,
    Query(qy): Query<RecordQuery>,
) -> Response {
    if let Err(r) = staff_only(&who) {
        return r;
    }
    let reg = match service::load_visible(&state.app, &who.user, &id).await {
        Ok(r) => r,
        Err(e) => return error_page(&state, Some(&who), &e),
    };
    match record_context(&state, &who, &reg).await {
        Ok(mut ctx) => {
            if let Some(a) = qy.done.as_deref().and_then(Action::parse) {
                ctx.insert("done", &format!("已完成“{}”。", a.label()));
            }
            state
                .pages
                .render(StatusCode::OK, "admin/record.html", &ctx)
        }
        Err(e) => error_page(&state, Some(&who), &e),
    }
}

/// The action named in a path, if a person may ask for it.
fn requested(action: &str) -> Option<Action> {
    Action::parse(action).filter(|a| Action::REQUESTABLE.contains(a) && *a != Action::Submit)
}

/// The page of one action's form, with the refusal (if any) in place.
async fn render_action(
    state: &PageState,
    who: &PageUser,
    reg: &Registration,
    action: Action,
    values: ActionValues,
    refusal: Option<&ApiError>,
) -> Response {
    let mut ctx = match record_context(state, who, reg).await {
        Ok(c) => c,
        Err(e) => return error_page(state, Some(who), &e),
    };
    let allowed = workflow::allowed_actions(&who.user, reg).contains(&action);
    let mut status = StatusCode::OK;
    if let Some(e) = refusal {
        let (message, fields) = form_errors(e);
        status = e.status_code().0;
        ctx.insert("error", &message);
        ctx.insert("field_errors", &fields);
    } else if !allowed {
        status = StatusCode::CONFLICT;
        let e = ApiError::from(DomainError::InvalidState {
            state: reg.state,
            action,
        });
        ctx.insert("error", &e.to_string());
    }
    ctx.insert("action", &action_spec(action, reg, state));
    ctx.insert("allowed", &allowed);
    let mut values = values;
    if action == Action::Decide && values.number.is_empty() && refusal.is_none() {
        values.number = service::next_number(&state.app, &who.user, &reg.id)
            .await
            .unwrap_or_default();
    }
    if action == Action::Decide && values.result.is_empty() {
        values.result = "registered".into();
    }
    ctx.insert("values", &values);
    ctx.insert("title", &format!("{} - {}", action.label(), reg_title(reg)));
    state.pages.render(status, "admin/action.html", &ctx)
}

fn reg_title(reg: &Registration) -> String {
    reg.fields
        .title
        .clone()
        .filter(|t| !t.trim().is_empty())
        .unwrap_or_else(|| "成果登记".to_owned())
}

/// `GET /admin/registrations/{id}/actions/{action}`: the action's form on its own page.
pub async fn show_action(
    State(state): State<PageState>,
    who: PageUser,
    Path((id, action)): Path<(String, String)>,
) -> Response {
    if let Err(r) = staff_only(&who) {
        return r;
    }
    let Some(action) = requested(&action) else {
        return error_page(&state, Some(&who), &ApiError::not_found());
    };
    let reg = match service::load_visible(&state.app, &who.user, &id).await {
        Ok(r) => r,
        Err(e) => return error_page(&state, Some(&who), &e),
    };
    render_action(&state, &who, &reg, action, ActionValues::default(), None).await
}

/// Stores the reopen evidence sent with the form itself (without script), as the API's
/// upload would after its checks: the point, a decided record, a PDF/JPG/PNG whose bytes
/// match its type and size limit.
async fn store_evidence(
    state: &PageState,
    who: &PageUser,
    reg: &Registration,
    file: &FilePart,
) -> Result<String, ApiError> {
    let app = &state.app;
    if who.user.role != Role::Point || reg.state != RegState::Decided {
        return Err(ApiError::forbidden(
            "只有成果登记点可以为已批复的成果登记上传退回到未批复的佐证材料。",
        ));
    }
    let filename = file
        .filename
        .rsplit(['/', '\\'])
        .next()
        .unwrap_or("")
        .trim()
        .to_owned();
    let bad = |m: &str| -> ApiError {
        DomainError::Validation {
            message: m.to_owned(),
            details: vec![Problem::invalid("evidence", m)],
        }
        .into()
    };
    if filename.is_empty()
        || filename.chars().count() > chengguo_api::routes::attachments::FILENAME_MAX
        || filename.chars().any(char::is_control)
    {
        return Err(bad("文件名不能为空，且不能超过120个字。"));
    }
    let ty = FileType::from_content_type(&file.content_type)
        .filter(|t| t.matches_extension(&filename))
        .or_else(|| {
            [FileType::Pdf, FileType::Jpeg, FileType::Png]
                .into_iter()
                .find(|t| t.matches_extension(&filename))
        })
        .ok_or_else(|| bad("佐证材料只接受 PDF、JPG 或 PNG 文件。"))?;
    if file.bytes.len() as u64 > ty.max_size() {
        return Err(bad(if ty == FileType::Pdf {
            "PDF 文件不能超过 20 MB。"
        } else {
            "图片文件不能超过 10 MB。"
        }));
    }
    if !ty.matches_magic(&file.bytes[..file.bytes.len().min(16)]) {
        return Err(bad(
            "文件内容与类型不符（不是有效的 PDF、JPG 或 PNG 文件）。",
        ));
    }
    let existing = service::live_attachments(app, &reg.id).await?;
    if existing.len() >= chengguo_api::routes::attachments::MAX_ATTACHMENTS {
        return Err(bad("该成果登记的文件数量已达上限。"));
    }
    let now = app.clock.now();
    let aid = chengguo_api::auth::random_token()[..32].to_owned();
    let key = Attachment::key_for(&reg.id, &aid);
    app.blobs
        .put(&key, file.bytes.to_vec(), ty.content_type())
        .await?;
    let sha256 = app.blobs.sha256(&key).await?;
    let attachment = Attachment {
        id: aid.clone(),
        registration_id: reg.id.clone(),
        category: REOPEN_EVIDENCE.to_owned(),
        filename,
        content_type: ty.content_type().to_owned(),
        size: file.bytes.len() as u64,
        status: AttachmentStatus::Ready,
        sha256: Some(sha256),
        key,
        uploaded_by: who.user.username.clone(),
        created_at: now,
        expires_at: now + app.config.upload_ttl + app.config.upload_ttl,
    };
    app.store.put_attachment(&attachment).await?;
    Ok(aid)
}

/// `POST /admin/registrations/{id}/actions/{action}`: performs the action, back to the
/// record; a refusal shows the form again with the message in place.
pub async fn submit_action(
    State(state): State<PageState>,
    who: PageUser,
    Path((id, action)): Path<(String, String)>,
    req: Request,
) -> Response {
    if let Err(r) = staff_only(&who) {
        return r;
    }
    let form: FormData = match read_form(req, &state, ACTION_FORM_LIMIT).await {
        Ok(f) => f,
        Err(e) => {
            return super::refuse(
                &state,
                &who,
                StatusCode::BAD_REQUEST,
                &e.message(ACTION_FORM_LIMIT),
            );
        }
    };
    if let Err(r) = check_form_token(&state, &who, form.get("csrf")) {
        return r;
    }
    let Some(action) = requested(&action) else {
        return error_page(&state, Some(&who), &ApiError::not_found());
    };
    let reg = match service::load_visible(&state.app, &who.user, &id).await {
        Ok(r) => r,
        Err(e) => return error_page(&state, Some(&who), &e),
    };
    let mut values = ActionValues {
        opinion: form.raw("opinion").unwrap_or("").to_owned(),
        result: form.get("result").to_owned(),
        number: form.get("number").to_owned(),
        evidence_attachment_id: form.get("evidence_attachment_id").to_owned(),
    };
    let Ok(version) = form.get("version").parse::<u64>() else {
        let e = ApiError::bad_request("表单缺少记录版本，请刷新页面后重试。");
        return render_action(&state, &who, &reg, action, values, Some(&e)).await;
    };
    if action == Action::Reopen
        && values.evidence_attachment_id.is_empty()
        && let Some(file) = form.file("evidence")
    {
        match store_evidence(&state, &who, &reg, file).await {
            Ok(aid) => values.evidence_attachment_id = aid,
            Err(e) => return render_action(&state, &who, &reg, action, values, Some(&e)).await,
        }
    }
    let result = if action == Action::Decide {
        match values.result.as_str() {
            "" => None,
            r => match DecisionResult::parse(r) {
                Some(r) => Some(r),
                None => {
                    let e = ApiError::invalid("result", "请选择批复结果：予以登记或不予登记。");
                    return render_action(&state, &who, &reg, action, values, Some(&e)).await;
                }
            },
        }
    } else {
        None
    };
    let number = (result == Some(DecisionResult::Registered))
        .then(|| values.number.clone())
        .filter(|n| !n.is_empty());
    let req = ActionRequest {
        version,
        opinion: Some(values.opinion.clone()).filter(|o| !o.trim().is_empty()),
        result,
        number,
        evidence_attachment_id: (action == Action::Reopen)
            .then(|| values.evidence_attachment_id.clone())
            .filter(|a| !a.is_empty()),
    };
    match service::act(&state.app, &who.user, &id, action, req).await {
        Ok(_) => Redirect::to(&format!(
            "/admin/registrations/{}?done={}",
            super::q(&id),
            action.code()
        ))
        .into_response(),
        Err(e) => {
            // Show the record as it is now: another reviewer may have changed it.
            let reg = match service::load_visible(&state.app, &who.user, &id).await {
                Ok(r) => r,
                Err(e2) => return error_page(&state, Some(&who), &e2),
            };
            render_action(&state, &who, &reg, action, values, Some(&e)).await
        }
    }
}

/// `POST /admin/objections/{id}/resolve`: the point resolves an objection with a note.
pub async fn submit_resolution(
    State(state): State<PageState>,
    who: PageUser,
    Path(id): Path<String>,
    axum::Form(form): axum::Form<Vec<(String, String)>>,
) -> Response {
    if let Err(r) = staff_only(&who) {
        return r;
    }
    let form = FormData {
        fields: form,
        files: Vec::new(),
    };
    if let Err(r) = check_form_token(&state, &who, form.get("csrf")) {
        return r;
    }
    let objection = match state.app.store.get_objection(&id).await {
        Ok(Some(o)) => o,
        Ok(None) => return error_page(&state, Some(&who), &ApiError::not_found()),
        Err(e) => return error_page(&state, Some(&who), &e.into()),
    };
    let body = serde_json::from_value(json!({"note": form.raw("note").unwrap_or("")}));
    let outcome = match body {
        Ok(body) => chengguo_api::routes::objections::resolve_objection(
            State(state.app.clone()),
            CurrentUser {
                user: who.user.clone(),
                session: who.session.clone(),
            },
            Path(id.clone()),
            JsonBody(body),
        )
        .await
        .map(|_| ()),
        Err(e) => Err(ApiError::internal(e)),
    };
    let reg_id = objection.registration_id.clone();
    match outcome {
        Ok(()) => Redirect::to(&format!(
            "/admin/registrations/{}#objections",
            super::q(&reg_id)
        ))
        .into_response(),
        Err(e) => {
            let reg = match service::load_visible(&state.app, &who.user, &reg_id).await {
                Ok(r) => r,
                Err(e2) => return error_page(&state, Some(&who), &e2),
            };
            match record_context(&state, &who, &reg).await {
                Ok(mut ctx) => {
                    let (message, _) = form_errors(&e);
                    ctx.insert(
                        "objection_error",
                        &json!({"id": id, "message": message, "note": form.raw("note").unwrap_or("")}),
                    );
                    state
                        .pages
                        .render(e.status_code().0, "admin/record.html", &ctx)
                }
                Err(e) => error_page(&state, Some(&who), &e),
            }
        }
    }
}
