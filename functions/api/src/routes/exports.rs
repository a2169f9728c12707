//! xlsx exports (api.md “Exports”): the 公示信息 of one record or of many, and the caller's list.
//!
//! The workbooks are built on the blocking pool (`spawn_blocking`): writing and compressing
//! them is CPU-bound. Batches and lists are streamed: records are loaded a few at a time and
//! handed to the writer through a bounded channel, so memory does not grow with the count.

use std::collections::{BTreeSet, HashMap, HashSet};

use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use chengguo_domain::org::User;
use chengguo_domain::record::Registration;
use chengguo_domain::scope::{self, ListScope};
use chengguo_domain::{DomainError, Role};
use futures::StreamExt;
use rust_xlsxwriter::XlsxError;
use serde::Deserialize;
use tokio::sync::mpsc;

use crate::auth::CurrentUser;
use crate::error::{ApiError, ApiResult};
use crate::exports::{self, ExportContext, NOTICE_TITLE, XLSX_CONTENT_TYPE};
use crate::extract::QueryParams;
use crate::routes::registrations::{ListQuery, MAX_LIMIT, parse_list_query};
use crate::service;
use crate::state::AppState;

/// The refusal of domain.md §8, word for word.
pub const PAPER_NOT_RECEIVED: &str =
    "您选择的成果登记，在成果登记点未接收纸质材料之前，无法导出公示信息。";

/// Most records in one batch export.
pub const MAX_BATCH: usize = 10_000;
/// Most rows of a list export.
pub const MAX_LIST_ROWS: usize = 100_000;
/// Records loaded at the same time.
const LOAD_CONCURRENCY: usize = 16;
/// Batches up to this size are kept in memory between the check and the writing; larger
/// ones are read again while writing, so memory stays bounded.
const KEEP_LOADED: usize = 500;
/// Records waiting between the loader and the writer.
const CHANNEL_DEPTH: usize = 64;

/// Whether `user` may export the 公示信息 of records in their scope: the leader (own records),
/// the unit (its records) and the point (records addressed to it).
fn ensure_may_export_notices(user: &User) -> ApiResult<()> {
    if matches!(user.role, Role::Leader | Role::Unit | Role::Point) {
        Ok(())
    } else {
        Err(ApiError::forbidden(
            "只有项目负责人、申报单位和成果登记点可以导出公示信息。",
        ))
    }
}

fn paper_not_received(ids: Vec<String>) -> ApiError {
    DomainError::PaperNotReceived {
        message: PAPER_NOT_RECEIVED.to_owned(),
        ids,
    }
    .into()
}

/// The names of the authorities and the in-system projects of the records to export.
async fn context(
    state: &AppState,
    project_ids: impl IntoIterator<Item = String>,
) -> ApiResult<ExportContext> {
    let authorities = service::authorities(state)
        .await?
        .into_iter()
        .map(|a| (a.id, a.name))
        .collect();
    let mut projects = HashMap::new();
    for id in project_ids {
        if let Some(p) = state.store.get_project(&id).await? {
            projects.insert(id, p);
        }
    }
    Ok(ExportContext {
        authorities,
        projects,
        objection_contact: state.config.notice_contact.clone(),
        generated_at: Some(state.clock.now()),
    })
}

/// An xlsx answer to download as `filename` (UTF-8), never cached.
fn xlsx_response(bytes: Vec<u8>, filename: &str, fallback: &str) -> Response {
    (
        [
            (header::CONTENT_TYPE, XLSX_CONTENT_TYPE.to_owned()),
            (
                header::CONTENT_DISPOSITION,
                exports::content_disposition(filename, fallback),
            ),
            (header::CACHE_CONTROL, "no-store".to_owned()),
        ],
        bytes,
    )
        .into_response()
}

/// Runs a workbook writer on the blocking pool.
async fn build<F>(f: F) -> ApiResult<Vec<u8>>
where
    F: FnOnce() -> Result<Vec<u8>, XlsxError> + Send + 'static,
{
    tokio::task::spawn_blocking(f)
        .await
        .map_err(ApiError::internal)?
        .map_err(ApiError::internal)
}

/// The records a blocking writer receives, one at a time.
struct Received(mpsc::Receiver<Registration>);

impl Iterator for Received {
    type Item = Registration;

    fn next(&mut self) -> Option<Registration> {
        self.0.blocking_recv()
    }
}

/// Starts a writer on the blocking pool fed through a bounded channel. Dropping the sender
/// ends its input; a writer that failed makes sending fail.
fn spawn_writer<F>(
    write: F,
) -> (
    mpsc::Sender<Registration>,
    tokio::task::JoinHandle<Result<Vec<u8>, XlsxError>>,
)
where
    F: FnOnce(Received) -> Result<Vec<u8>, XlsxError> + Send + 'static,
{
    let (tx, rx) = mpsc::channel(CHANNEL_DEPTH);
    let handle = tokio::task::spawn_blocking(move || write(Received(rx)));
    (tx, handle)
}

/// The writer's result once its input is complete.
async fn finish(
    tx: mpsc::Sender<Registration>,
    handle: tokio::task::JoinHandle<Result<Vec<u8>, XlsxError>>,
) -> ApiResult<Vec<u8>> {
    drop(tx);
    handle
        .await
        .map_err(ApiError::internal)?
        .map_err(ApiError::internal)
}

/// Today in China as `2026-11-28`.
fn today(state: &AppState) -> String {
    exports::date_text(state.clock.today())
}

/// `GET /api/registrations/{id}/notice.xlsx`: the 科技成果登记信息表 of one record.
pub async fn export_notice(
    State(state): State<AppState>,
    current: CurrentUser,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let reg = service::load_visible(&state, &current.user, &id).await?;
    ensure_may_export_notices(&current.user)?;
    if reg.notice.is_none() {
        return Err(paper_not_received(vec![reg.id]));
    }
    let ctx = context(&state, reg.project_id.clone()).await?;
    let name = exports::notice_file_name(&reg);
    let bytes = build(move || exports::notice_sheet(&reg, &ctx)).await?;
    Ok(xlsx_response(bytes, &name, "notice.xlsx"))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NoticesRequest {
    ids: Vec<String>,
}

/// Checks the ids of a batch: 1 to [`MAX_BATCH`], each given once.
fn check_ids(ids: &[String]) -> ApiResult<()> {
    if ids.is_empty() || ids.len() > MAX_BATCH {
        return Err(ApiError::invalid(
            "ids",
            format!("请选择 1 至 {MAX_BATCH} 项成果登记导出。"),
        ));
    }
    if ids.iter().any(|id| id.trim().is_empty()) {
        return Err(ApiError::invalid("ids", "成果登记编号不能为空。"));
    }
    if ids.iter().any(|id| id.len() > 100) {
        return Err(ApiError::invalid("ids", "成果登记编号无效。"));
    }
    let mut seen = HashSet::with_capacity(ids.len());
    if let Some(dup) = ids.iter().find(|id| !seen.insert(id.as_str())) {
        return Err(ApiError::invalid(
            "ids",
            format!("成果登记“{dup}”重复选择，请每项只选一次。"),
        ));
    }
    Ok(())
}

/// Loads records in order with bounded concurrency; a missing one is `None`.
fn load_all<'a>(
    state: &'a AppState,
    ids: &'a [String],
) -> impl futures::Stream<Item = ApiResult<Option<Registration>>> + 'a {
    futures::stream::iter(ids)
        .map(move |id| async move { Ok(state.store.get_registration(id).await?) })
        .buffered(LOAD_CONCURRENCY)
}

/// `POST /api/exports/notices` `{"ids"}`: the 公示信息 of many records in one workbook, refused
/// whole when any of them has not had its paper materials received.
pub async fn export_notices(
    State(state): State<AppState>,
    current: CurrentUser,
    crate::extract::JsonBody(req): crate::extract::JsonBody<NoticesRequest>,
) -> ApiResult<Response> {
    let user = &current.user;
    ensure_may_export_notices(user)?;
    let ids = req.ids;
    check_ids(&ids)?;

    // First pass: every record exists in scope and qualifies.
    let keep = ids.len() <= KEEP_LOADED;
    let mut kept = Vec::new();
    let mut refused = Vec::new();
    let mut project_ids = BTreeSet::new();
    {
        let mut loaded = std::pin::pin!(load_all(&state, &ids));
        while let Some(reg) = loaded.next().await {
            let reg = reg?
                .filter(|r| scope::can_see(user, r))
                .ok_or_else(ApiError::not_found)?;
            if reg.notice.is_none() {
                refused.push(reg.id.clone());
            }
            if let Some(p) = &reg.project_id {
                project_ids.insert(p.clone());
            }
            if keep {
                kept.push(reg);
            }
        }
    }
    if !refused.is_empty() {
        return Err(paper_not_received(refused));
    }
    let ctx = context(&state, project_ids).await?;
    let name = format!("{NOTICE_TITLE}-{}项-{}.xlsx", ids.len(), today(&state));
    if keep {
        let bytes = build(move || exports::batch_workbook(kept.into_iter(), &ctx)).await?;
        return Ok(xlsx_response(bytes, &name, "notices.xlsx"));
    }

    // Second pass for large batches: read again while writing.
    let (tx, writer) = spawn_writer(move |records| exports::batch_workbook(records, &ctx));
    let fed: ApiResult<()> = async {
        let mut loaded = std::pin::pin!(load_all(&state, &ids));
        while let Some(reg) = loaded.next().await {
            let reg = reg?
                .filter(|r| scope::can_see(user, r))
                .ok_or_else(ApiError::not_found)?;
            if reg.notice.is_none() {
                return Err(paper_not_received(vec![reg.id]));
            }
            if tx.send(reg).await.is_err() {
                // The writer stopped; its error is answered below.
                break;
            }
        }
        Ok(())
    }
    .await;
    fed?;
    let bytes = finish(tx, writer).await?;
    Ok(xlsx_response(bytes, &name, "notices.xlsx"))
}

/// `GET /api/exports/registrations.xlsx?state=&kind=&q=`: every record of the caller's list
/// query (all pages; `limit` and `cursor` are accepted and ignored).
pub async fn export_registrations(
    State(state): State<AppState>,
    current: CurrentUser,
    QueryParams(q): QueryParams<ListQuery>,
) -> ApiResult<Response> {
    let (filter, _) = parse_list_query(&q)?;
    let scope = ListScope::of(&current.user);
    let (tx, writer) = spawn_writer(exports::list_workbook);
    let fed: ApiResult<()> = async {
        let mut cursor: Option<String> = None;
        let mut count = 0usize;
        loop {
            let page = state
                .store
                .list_registrations(&scope, &filter, MAX_LIMIT, cursor.as_deref())
                .await?;
            for reg in page.items {
                count += 1;
                if count > MAX_LIST_ROWS {
                    return Err(ApiError::invalid(
                        "query",
                        format!(
                            "符合条件的成果登记超过 {MAX_LIST_ROWS} 项，无法一次导出。\
                             请按状态、成果类型或关键词缩小范围后分批导出。"
                        ),
                    ));
                }
                if tx.send(reg).await.is_err() {
                    return Ok(());
                }
            }
            match page.next_cursor {
                Some(c) => cursor = Some(c),
                None => return Ok(()),
            }
        }
    }
    .await;
    fed?;
    let bytes = finish(tx, writer).await?;
    let name = format!("成果登记列表-{}.xlsx", today(&state));
    Ok(xlsx_response(bytes, &name, "registrations.xlsx"))
}
