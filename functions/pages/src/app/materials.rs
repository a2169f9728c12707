//! `/app/r/{id}/materials`: the materials checklist of the record's kind (资料提交) with what was
//! uploaded for each category. Uploading goes from the browser straight to the signed URL
//! (announce → PUT with progress → confirm, in `app.js`); deleting is a plain form.

use axum::Form;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use chengguo_api::ApiError;
use chengguo_api::service;
use chengguo_domain::materials::{self, REOPEN_EVIDENCE};
use chengguo_domain::record::AttachmentStatus;
use chengguo_domain::workflow;
use serde::Deserialize;
use serde_json::json;

use super::{MsgQuery, context, flash, leader_only, load, page, record_facts};
use crate::PageState;
use crate::guard::{PageUser, check_form_token, error_page};

/// A size as people read it: 812 字节, 35.2 KB, 4.8 MB.
pub(crate) fn human_size(n: u64) -> String {
    if n < 1024 {
        format!("{n} 字节")
    } else if n < 1024 * 1024 {
        format!("{:.1} KB", n as f64 / 1024.0)
    } else {
        format!("{:.1} MB", n as f64 / (1024.0 * 1024.0))
    }
}

/// The checklist of a record with its attachments, as the templates show it.
pub(crate) async fn checklist(
    state: &PageState,
    reg: &chengguo_domain::Registration,
) -> Result<Vec<serde_json::Value>, ApiError> {
    let Some(kind) = reg.kind else {
        return Ok(Vec::new());
    };
    let attachments = service::live_attachments(&state.app, &reg.id).await?;
    Ok(materials::checklist(kind)
        .iter()
        .map(|m| {
            let files: Vec<serde_json::Value> = attachments
                .iter()
                .filter(|a| a.category == m.category)
                .map(|a| {
                    json!({
                        "id": a.id,
                        "filename": a.filename,
                        "size": human_size(a.size),
                        "ready": a.status == AttachmentStatus::Ready,
                        "uploaded_at": super::china_time(a.created_at),
                        "download": format!("/api/registrations/{}/attachments/{}/download", reg.id, a.id),
                    })
                })
                .collect();
            let present = files.iter().any(|f| f["ready"] == true);
            let required =
                !(reg.fields.contract_has_lists && m.category == materials::UNIT_PEOPLE_LIST);
            json!({
                "category": m.category,
                "anchor": format!("materials.{}", m.category),
                "label": m.label,
                "hint": m.hint,
                "required": required,
                "present": present,
                "files": files,
            })
        })
        .collect())
}

/// `GET /app/r/{id}/materials`.
pub async fn show_materials(
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
    if reg.kind.is_none() {
        return Redirect::to(&format!("/app/r/{id}/kind")).into_response();
    }
    let list = match checklist(&state, &reg).await {
        Ok(l) => l,
        Err(e) => return error_page(&state, Some(&who), &e),
    };
    let missing = list
        .iter()
        .filter(|m| m["required"] == true && m["present"] == false)
        .count();
    let mut ctx = context(&who, "上传材料");
    ctx.insert("reg", &record_facts(&reg));
    ctx.insert("materials", &list);
    ctx.insert("missing", &missing);
    ctx.insert("editable", &workflow::can_edit(&who.user, &reg));
    ctx.insert("api", &format!("/api/registrations/{id}/attachments"));
    if let Some(m) = flash(q.msg.as_deref()) {
        ctx.insert("flash", m);
    }
    page(&state, "app/materials.html", &ctx)
}

#[derive(Deserialize)]
pub struct DeleteForm {
    #[serde(default)]
    csrf: String,
}

/// `POST /app/r/{id}/materials/{aid}/delete`.
pub async fn submit_delete(
    State(state): State<PageState>,
    who: PageUser,
    Path((id, aid)): Path<(String, String)>,
    Form(f): Form<DeleteForm>,
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
    if let Err(e) = workflow::ensure_can_edit(&who.user, &reg) {
        return error_page(&state, Some(&who), &e.into());
    }
    let a = match state.app.store.get_attachment(&id, &aid).await {
        Ok(Some(a)) if a.category != REOPEN_EVIDENCE => a,
        Ok(_) => return error_page(&state, Some(&who), &ApiError::not_found()),
        Err(e) => return error_page(&state, Some(&who), &e.into()),
    };
    if let Err(e) = state.app.blobs.delete(&a.key).await {
        return error_page(&state, Some(&who), &e.into());
    }
    if let Err(e) = state.app.store.delete_attachment(&id, &aid).await {
        return error_page(&state, Some(&who), &e.into());
    }
    Redirect::to(&format!(
        "/app/r/{id}/materials?msg=deleted#materials.{}",
        a.category
    ))
    .into_response()
}
