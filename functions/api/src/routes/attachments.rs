//! `/api/registrations/{id}/attachments`: announce an upload and get a signed URL, confirm it
//! (size, declared type and magic bytes checked; what fails is deleted), download through a
//! short-lived URL, delete. Unconfirmed uploads expire and are swept away.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::http::header::LOCATION;
use axum::response::{IntoResponse, Response};
use chengguo_domain::codes::{Role, State as RegState};
use chengguo_domain::materials::{self, FileType, REOPEN_EVIDENCE};
use chengguo_domain::org::User;
use chengguo_domain::record::{Attachment, AttachmentStatus, Registration};
use chengguo_domain::{DomainError, Problem, workflow};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::auth::CurrentUser;
use crate::error::{ApiError, ApiResult};
use crate::extract::{JsonBody, human_size};
use crate::service;
use crate::state::AppState;
use crate::views;

/// Most attachments one registration may hold.
pub const MAX_ATTACHMENTS: usize = 60;
/// Longest filename, in characters.
pub const FILENAME_MAX: usize = 120;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateAttachment {
    category: String,
    filename: String,
    content_type: String,
    size: u64,
}

/// Whether `c` changes the direction text is shown in (U+061C, U+200E/F, U+202A–U+202E,
/// U+2066–U+2069): in a filename it would make `报告\u{202E}gpj.pdf` show as `报告fdp.jpg`.
fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{061C}' | '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// Who may change the attachments of `reg` in `category` now.
fn ensure_may_change(user: &User, reg: &Registration, category: &str) -> ApiResult<()> {
    if category == REOPEN_EVIDENCE {
        if user.role != Role::Point {
            return Err(ApiError::forbidden(
                "只有成果登记点可以上传退回到未批复的佐证材料。",
            ));
        }
        if reg.state != RegState::Decided {
            return Err(DomainError::InvalidStateMsg(
                "只有已批复的成果登记可以上传退回到未批复的佐证材料。".into(),
            )
            .into());
        }
        return Ok(());
    }
    workflow::ensure_can_edit(user, reg)?;
    Ok(())
}

/// `POST .../attachments`: a pending attachment and the URL to PUT its bytes to.
pub async fn create_attachment(
    State(state): State<AppState>,
    current: CurrentUser,
    Path(id): Path<String>,
    JsonBody(req): JsonBody<CreateAttachment>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let user = &current.user;
    let reg = service::load_visible(&state, user, &id).await?;
    ensure_may_change(user, &reg, &req.category)?;
    let mut problems = Vec::new();
    if req.category != REOPEN_EVIDENCE && materials::label(reg.kind, &req.category).is_none() {
        problems.push(Problem::invalid(
            "category",
            match reg.kind {
                None => "请先选择成果类型，再上传材料。".to_owned(),
                Some(k) => format!("“{}”不是{}的材料类别。", req.category, k.label()),
            },
        ));
    }
    let filename = req.filename.trim();
    if filename.is_empty()
        || filename.chars().count() > FILENAME_MAX
        || filename
            .chars()
            .any(|c| c.is_control() || is_bidi_control(c) || c == '/' || c == '\\')
    {
        problems.push(Problem::invalid(
            "filename",
            format!(
                "文件名不能为空、不能超过{FILENAME_MAX}个字，且不能含有 / \\、控制字符或文字方向控制符。"
            ),
        ));
    }
    let ty = FileType::from_content_type(&req.content_type);
    match ty {
        None => problems.push(Problem::invalid(
            "content_type",
            "只接受 PDF（application/pdf）、JPG（image/jpeg）或 PNG（image/png）文件。",
        )),
        Some(t) if !t.matches_extension(filename) => problems.push(Problem::invalid(
            "filename",
            "文件扩展名与文件类型不符（PDF 应为 .pdf，JPG 应为 .jpg/.jpeg，PNG 应为 .png）。",
        )),
        Some(_) => {}
    }
    if req.size == 0 {
        problems.push(Problem::invalid("size", "文件不能为空。"));
    }
    if !problems.is_empty() {
        return Err(DomainError::problems(problems).into());
    }
    let ty = ty.expect("checked above");
    if req.size > ty.max_size() {
        return Err(ApiError::TooLarge(format!(
            "{} 文件 {}",
            if ty == FileType::Pdf { "PDF" } else { "图片" },
            human_size(ty.max_size() as usize)
        )));
    }
    let existing = service::live_attachments(&state, &id).await?;
    if existing.len() >= MAX_ATTACHMENTS {
        return Err(ApiError::invalid(
            "category",
            format!("每条成果登记最多上传{MAX_ATTACHMENTS}个文件，请先删除不需要的文件。"),
        ));
    }
    let now = state.clock.now();
    let aid = uuid::Uuid::new_v4().to_string();
    let key = Attachment::key_for(&reg.id, &aid);
    let upload = state
        .blobs
        .presign_put(&key, ty.content_type(), req.size, state.config.upload_ttl)
        .await?;
    let attachment = Attachment {
        id: aid,
        registration_id: reg.id.clone(),
        category: req.category,
        filename: filename.to_owned(),
        content_type: ty.content_type().to_owned(),
        size: req.size,
        status: AttachmentStatus::Pending,
        sha256: None,
        key,
        uploaded_by: user.username.clone(),
        created_at: now,
        // Time to finish the PUT after the URL expires, then the upload is swept away. Judged
        // by the app's clock: a presigned S3 URL's own expiry follows the real time instead.
        expires_at: now + state.config.upload_ttl + state.config.upload_ttl,
    };
    state.store.put_attachment(&attachment).await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({
            "attachment": views::attachment(&attachment, reg.kind),
            "upload": {
                "method": "PUT",
                "url": upload.url,
                "headers": upload.headers,
                "expires_at": views::rfc3339(upload.expires_at),
            }
        })),
    ))
}

/// `GET .../attachments`.
pub async fn list_attachments(
    State(state): State<AppState>,
    current: CurrentUser,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let reg = service::load_visible(&state, &current.user, &id).await?;
    let list = service::live_attachments(&state, &id).await?;
    let items: Vec<Value> = list
        .iter()
        .map(|a| views::attachment(a, reg.kind))
        .collect();
    Ok(Json(json!({"items": items})))
}

async fn load_attachment(
    state: &AppState,
    user: &User,
    id: &str,
    aid: &str,
) -> ApiResult<(Registration, Attachment)> {
    let reg = service::load_visible(state, user, id).await?;
    let a = state
        .store
        .get_attachment(id, aid)
        .await?
        .ok_or_else(ApiError::not_found)?;
    Ok((reg, a))
}

/// Deletes the bytes and the attachment, answering 422 with `message`.
async fn refuse(state: &AppState, a: &Attachment, field: &str, message: String) -> ApiError {
    if let Err(e) = state.blobs.delete(&a.key).await {
        tracing::warn!(key = %a.key, error = %e, "could not delete refused upload");
    }
    if let Err(e) = state
        .store
        .delete_attachment(&a.registration_id, &a.id)
        .await
    {
        tracing::warn!(id = %a.id, error = %e, "could not delete refused attachment");
    }
    DomainError::Validation {
        message: message.clone(),
        details: vec![Problem::invalid(field, message)],
    }
    .into()
}

/// `POST .../attachments/{aid}/confirm`: checks what arrived and marks it ready.
pub async fn confirm_attachment(
    State(state): State<AppState>,
    current: CurrentUser,
    Path((id, aid)): Path<(String, String)>,
) -> ApiResult<Json<Value>> {
    let (reg, a) = load_attachment(&state, &current.user, &id, &aid).await?;
    ensure_may_change(&current.user, &reg, &a.category)?;
    if a.status == AttachmentStatus::Ready {
        return Ok(Json(views::attachment(&a, reg.kind)));
    }
    if a.expires_at <= state.clock.now() {
        let _ = refuse(&state, &a, "attachment", String::new()).await;
        return Err(ApiError::not_found());
    }
    let Some(size) = state.blobs.size(&a.key).await? else {
        return Err(ApiError::invalid(
            "attachment",
            "尚未收到文件内容，请先上传文件。",
        ));
    };
    if size != a.size {
        let msg = format!(
            "收到的文件大小（{size} 字节）与声明的大小（{} 字节）不符，已删除，请重新上传。",
            a.size
        );
        return Err(refuse(&state, &a, "size", msg).await);
    }
    let ty = FileType::from_content_type(&a.content_type)
        .ok_or_else(|| ApiError::internal("stored type"))?;
    let head = state.blobs.head_bytes(&a.key, 16).await?;
    if !ty.matches_magic(&head) {
        let msg =
            "文件内容与声明的类型不符（不是有效的 PDF、JPG 或 PNG 文件），已删除，请重新上传。"
                .to_owned();
        return Err(refuse(&state, &a, "content_type", msg).await);
    }
    let sha256 = state.blobs.sha256(&a.key).await?;
    let mut ready = a.clone();
    ready.status = AttachmentStatus::Ready;
    ready.sha256 = Some(sha256);
    state.store.put_attachment(&ready).await?;
    Ok(Json(views::attachment(&ready, reg.kind)))
}

/// `GET .../attachments/{aid}/download`: 302 to a short-lived URL, for users in scope.
pub async fn download_attachment(
    State(state): State<AppState>,
    current: CurrentUser,
    Path((id, aid)): Path<(String, String)>,
) -> ApiResult<Response> {
    let (_, a) = load_attachment(&state, &current.user, &id, &aid).await?;
    if a.status != AttachmentStatus::Ready {
        return Err(ApiError::not_found());
    }
    let url = state
        .blobs
        .presign_get(
            &a.key,
            &a.filename,
            &a.content_type,
            state.config.download_ttl,
        )
        .await?;
    Ok((StatusCode::FOUND, [(LOCATION, url)]).into_response())
}

/// `DELETE .../attachments/{aid}`.
pub async fn delete_attachment(
    State(state): State<AppState>,
    current: CurrentUser,
    Path((id, aid)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    let (reg, a) = load_attachment(&state, &current.user, &id, &aid).await?;
    ensure_may_change(&current.user, &reg, &a.category)?;
    state.blobs.delete(&a.key).await?;
    state.store.delete_attachment(&id, &aid).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Removes uploads never confirmed in time; returns how many were removed.
pub async fn sweep_expired(state: &AppState) -> ApiResult<usize> {
    let expired = state
        .store
        .expired_attachments(state.clock.now(), 200)
        .await?;
    for a in &expired {
        state.blobs.delete(&a.key).await?;
        state
            .store
            .delete_attachment(&a.registration_id, &a.id)
            .await?;
    }
    Ok(expired.len())
}
