//! The use cases handlers share: loading a record in scope, gathering the facts a transition's
//! guards need, and committing the result as one atomic write.

use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use chengguo_domain::check::{self, CheckContext};
use chengguo_domain::codes::{Action, DecisionResult, Kind, Source, State};
use chengguo_domain::fields::{Fields, ProjectInfo, UnitEntry};
use chengguo_domain::numbering;
use chengguo_domain::org::{Authority, User};
use chengguo_domain::ports::{RegistrationWrite, WriteSet};
use chengguo_domain::project::Project;
use chengguo_domain::record::{Attachment, AttachmentStatus, Event, MailSummary, Registration};
use chengguo_domain::workflow::{self, ActionRequest, Facts};
use chengguo_domain::{DomainError, Problem, Role, scope};
use serde::ser::{Serialize, SerializeMap, Serializer};
use serde_json::{Map, Value};
use time::OffsetDateTime;

use crate::error::{ApiError, ApiResult};
use crate::routes::mail::{self, MailView};
use crate::state::AppState;
use crate::views;

/// The registration `id` if `user` may see it; otherwise "not found", never its data.
pub async fn load_visible(state: &AppState, user: &User, id: &str) -> ApiResult<Registration> {
    let found = state.store.get_registration(id).await?;
    visible(user, found, |reg| reg)
}

/// What was found, if `user` may see the record in it. A record outside `user`'s scope
/// answers exactly as one that does not exist, so ids cannot be probed.
fn visible<T>(
    user: &User,
    found: Option<T>,
    reg: impl FnOnce(&T) -> &Registration,
) -> ApiResult<T> {
    match found {
        Some(found) if scope::can_see(user, reg(&found)) => Ok(found),
        _ => Err(ApiError::not_found()),
    }
}

/// Attachments of a record, leaving out pending uploads that have expired.
pub async fn live_attachments(state: &AppState, reg_id: &str) -> ApiResult<Vec<Attachment>> {
    let list = state.store.list_attachments(reg_id).await?;
    Ok(live(state, list))
}

fn live(state: &AppState, mut list: Vec<Attachment>) -> Vec<Attachment> {
    let now = state.clock.now();
    list.retain(|a| a.status == AttachmentStatus::Ready || a.expires_at > now);
    list
}

/// The configured approving authorities.
pub async fn authorities(state: &AppState) -> ApiResult<Vec<Authority>> {
    Ok(state.store.list_authorities().await?)
}

/// How many of a record's mails its view lists, newest first (mail still pending or failed
/// is also listed by `GET /api/admin/mail`, whatever its record).
pub const RECENT_MAIL: usize = 20;

/// What a record's view shows from outside the record that a transition does not change: its
/// live attachments and its project. A transition loads them for its guards; its answer
/// reuses them instead of reading them again.
struct Related {
    attachments: Vec<Attachment>,
    project: Option<Project>,
}

impl Related {
    async fn load(state: &AppState, reg: &Registration) -> ApiResult<Related> {
        let attachments = live_attachments(state, &reg.id).await?;
        Related::with(state, reg, attachments).await
    }

    async fn with(
        state: &AppState,
        reg: &Registration,
        attachments: Vec<Attachment>,
    ) -> ApiResult<Related> {
        let project = match &reg.project_id {
            Some(pid) => state.store.get_project(pid).await?,
            None => None,
        };
        Ok(Related {
            attachments,
            project,
        })
    }

    /// [`load_visible`] with what the record's view shows from outside it, the record and its
    /// attachments read together.
    async fn load_visible(
        state: &AppState,
        user: &User,
        id: &str,
    ) -> ApiResult<(Registration, Related)> {
        let found = state.store.registration_with_attachments(id).await?;
        let (reg, attachments) = visible(user, found, |(reg, _)| reg)?;
        let related = Related::with(state, &reg, live(state, attachments)).await?;
        Ok((reg, related))
    }
}

/// The full JSON of a record as `user` sees it.
pub async fn record_view(
    state: &AppState,
    user: &User,
    reg: &Registration,
) -> ApiResult<RecordView> {
    let related = Related::load(state, reg).await?;
    view_with(state, user, reg, &related).await
}

/// The record `id` as `user` sees it, if `user` may see it (see [`load_visible`]).
pub async fn visible_record_view(state: &AppState, user: &User, id: &str) -> ApiResult<RecordView> {
    let (reg, related) = Related::load_visible(state, user, id).await?;
    view_with(state, user, &reg, &related).await
}

/// A record as its view shows it: [`views::registration`] and the newest mails the record
/// caused, as `notifications`. The mails are written straight from their summaries when the
/// view is serialized; they are most of its bytes. Serializes to the object with
/// `notifications` set to their [`MailView`]s, written last.
#[derive(Debug)]
pub struct RecordView {
    /// An object without `notifications`.
    view: Value,
    notifications: Vec<MailSummary>,
}

impl RecordView {
    /// The view as a `Value`.
    pub fn into_value(self) -> Value {
        let mut view = self.view;
        view["notifications"] = self.notifications.iter().map(mail::view).collect();
        view
    }
}

impl Serialize for RecordView {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let Some(fields) = self.view.as_object() else {
            return self.view.serialize(serializer);
        };
        let mut map = serializer.serialize_map(Some(fields.len() + 1))?;
        for (key, value) in fields {
            map.serialize_entry(key, value)?;
        }
        let mails: Vec<MailView> = self.notifications.iter().map(MailView::from).collect();
        map.serialize_entry("notifications", &mails)?;
        map.end()
    }
}

/// Room for a record's view without its mails, and for each mail: the answer is written into
/// one buffer of about its final size instead of one that grows from a few bytes.
const VIEW_BYTES: usize = 8 * 1024;
const MAIL_VIEW_BYTES: usize = 512;

impl IntoResponse for RecordView {
    fn into_response(self) -> Response {
        let mut body = Vec::with_capacity(VIEW_BYTES + MAIL_VIEW_BYTES * self.notifications.len());
        match serde_json::to_writer(&mut body, &self) {
            Ok(()) => (
                [(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("application/json"),
                )],
                body,
            )
                .into_response(),
            Err(e) => ApiError::internal(format!("encode the record: {e}")).into_response(),
        }
    }
}

async fn view_with(
    state: &AppState,
    user: &User,
    reg: &Registration,
    related: &Related,
) -> ApiResult<RecordView> {
    // Staff follow the mail a record caused; the leader is the one who receives it.
    let (objections, notifications) = if user.role == chengguo_domain::Role::Leader {
        (state.store.list_objections(&reg.id).await?, Vec::new())
    } else {
        state
            .store
            .objections_and_recent_mail(&reg.id, RECENT_MAIL)
            .await?
    };
    let view = views::registration(
        reg,
        user,
        &related.attachments,
        &objections,
        related.project.as_ref(),
    );
    Ok(RecordView {
        view,
        notifications,
    })
}

fn check_context<'a>(state: &AppState, authorities: &'a [Authority]) -> CheckContext<'a> {
    CheckContext {
        today: state.clock.today(),
        authorities,
    }
}

/// A new registration draft with the defaults of its owner's unit and authority.
pub fn new_draft(
    id: String,
    owner: &User,
    unit: Option<&chengguo_domain::org::Unit>,
    authority_id: &str,
    source: Source,
    kind: Option<Kind>,
    now: OffsetDateTime,
) -> (Registration, Event) {
    let fields = Fields {
        authority_id: Some(authority_id.to_owned()),
        units: unit
            .map(|u| {
                vec![UnitEntry {
                    name: Some(u.name.clone()),
                    uscc: Some(u.uscc.clone()),
                }]
            })
            .unwrap_or_default(),
        secrecy: Some("none".into()),
        ..Fields::default()
    };
    let reg = Registration {
        id,
        kind,
        consent: kind.is_some(),
        source,
        state: State::Draft,
        version: 1,
        owner_id: owner.id.clone(),
        unit_id: owner.unit_id.clone().unwrap_or_default(),
        department_id: owner.department_id.clone(),
        authority_id: authority_id.to_owned(),
        project_id: None,
        fields,
        registration_number: None,
        decision: None,
        notice: None,
        return_opinion: None,
        submitted_at: None,
        event_count: 1,
        created_at: now,
        updated_at: now,
    };
    let event = Event {
        registration_id: reg.id.clone(),
        seq: 1,
        action: Action::Create,
        from: None,
        to: State::Draft,
        actor: owner.username.clone(),
        role: Some(owner.role),
        opinion: None,
        at: now,
    };
    (reg, event)
}

/// What a leader sends to create a 计划外 registration.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateRequest {
    pub kind: String,
    pub source: String,
    #[serde(default)]
    pub consent: bool,
    pub authority_id: Option<String>,
    pub project: Option<ProjectInfo>,
}

/// 「新增计划外项目成果登记」.
pub async fn create_registration(
    state: &AppState,
    user: &User,
    req: CreateRequest,
) -> ApiResult<Registration> {
    if user.role != Role::Leader {
        return Err(ApiError::forbidden("只有项目负责人可以新增成果登记。"));
    }
    let mut problems = Vec::new();
    let kind = Kind::parse(&req.kind);
    if kind.is_none() {
        problems.push(Problem::invalid(
            "kind",
            "成果类型应为：基础理论成果（basic）、应用技术成果（applied）或软科学研究成果（soft）。",
        ));
    }
    let source = Source::parse(&req.source);
    match source {
        None => problems.push(Problem::invalid(
            "source",
            "登记对象应为：其他财政投入（other_fiscal）或非财政投入（non_fiscal）产生的科技成果。",
        )),
        Some(Source::ProvincialPlan) => problems.push(Problem::invalid(
            "source",
            "省科技计划产生的科技成果由系统在项目完成验收评审后自动生成，请在该项目的成果登记上填写。",
        )),
        Some(_) => {}
    }
    if !req.consent {
        problems.push(Problem::invalid(
            "consent",
            "请阅读并同意《科技成果登记与信息公开知情同意书》。",
        ));
    }
    let all = authorities(state).await?;
    let authority = match req.authority_id.as_deref() {
        Some(id) => all.iter().find(|a| a.id == id),
        None => all.first(),
    };
    if authority.is_none() {
        problems.push(Problem::invalid(
            "authority_id",
            "批准登记单位不在可选范围内。",
        ));
    }
    let (Some(kind), Some(source), Some(authority), true) =
        (kind, source, authority, problems.is_empty())
    else {
        return Err(DomainError::Validation {
            message: problems
                .first()
                .map(|p| p.message.clone())
                .unwrap_or_default(),
            details: problems,
        }
        .into());
    };
    let unit = match &user.unit_id {
        Some(id) => state.store.get_unit(id).await?,
        None => None,
    };
    if unit.is_none() {
        return Err(ApiError::forbidden(
            "您的账号未关联申报单位，请联系单位管理员。",
        ));
    }
    let (mut reg, event) = new_draft(
        uuid::Uuid::new_v4().to_string(),
        user,
        unit.as_ref(),
        &authority.id,
        source,
        Some(kind),
        state.clock.now(),
    );
    if let Some(project) = req.project {
        reg.fields.project = Some(project);
        let ctx = check_context(state, &all);
        let problems = check::check_form(&reg, &ctx);
        let bad = check::invalid_in(&problems, &["project"]);
        if !bad.is_empty() {
            return Err(DomainError::problems(bad.into_iter().cloned().collect()).into());
        }
    }
    state
        .store
        .commit(WriteSet {
            registrations: vec![RegistrationWrite {
                record: reg.clone(),
                expected_version: None,
                event: Some(event),
            }],
            ..WriteSet::default()
        })
        .await?;
    Ok(reg)
}

/// Writes a changed record guarded by the version it was read at.
async fn commit_one(
    state: &AppState,
    record: Registration,
    expected_version: u64,
    event: Option<Event>,
    claim_number: Option<String>,
    release_number: Option<String>,
) -> ApiResult<Registration> {
    let mails = match &event {
        Some(e) => crate::notify::mail_for(state, &record, e)
            .await?
            .into_iter()
            .collect(),
        None => Vec::new(),
    };
    let id = record.id.clone();
    state
        .store
        .commit(WriteSet {
            registrations: vec![RegistrationWrite {
                record: record.clone(),
                expected_version: Some(expected_version),
                event,
            }],
            project: None,
            claim_number: claim_number.map(|n| (n, id)),
            release_number,
            mails: mails.clone(),
        })
        .await?;
    crate::notify::after_commit(state, mails).await;
    Ok(record)
}

/// Chooses the kind of a system-created draft, with consent.
pub async fn choose_kind(
    state: &AppState,
    user: &User,
    id: &str,
    kind: &str,
    consent: bool,
) -> ApiResult<Registration> {
    let reg = load_visible(state, user, id).await?;
    let kind = Kind::parse(kind)
        .ok_or_else(|| ApiError::invalid("kind", "成果类型应为 basic、applied 或 soft。"))?;
    let (next, event) = workflow::choose_kind(&reg, user, kind, consent, state.clock.now())?;
    commit_one(state, next, reg.version, Some(event), None, None).await
}

/// `PATCH`: replaces the given top-level keys of the form, refusing wrong values.
pub async fn patch(
    state: &AppState,
    user: &User,
    id: &str,
    version: u64,
    patch: &Map<String, Value>,
) -> ApiResult<Registration> {
    let reg = load_visible(state, user, id).await?;
    workflow::ensure_can_edit(user, &reg)?;
    if version != reg.version {
        return Err(DomainError::StaleVersion.into());
    }
    let fields = reg.fields.patched(patch).map_err(|e| {
        let field = e.field.unwrap_or_else(|| "fields".into());
        DomainError::BadRequest {
            message: format!("字段“{field}”的格式不正确或不被支持。"),
            details: vec![Problem::invalid(field, e.detail)],
        }
    })?;
    if reg.kind.is_none()
        && let Some(key) = ["applied", "basic", "soft"]
            .into_iter()
            .find(|k| patch.contains_key(*k))
    {
        return Err(ApiError::invalid(
            key,
            "请先选择成果类型，再填写该类型的内容。",
        ));
    }
    if reg.source == Source::ProvincialPlan && patch.contains_key("project") {
        return Err(ApiError::invalid(
            "project",
            "系统中项目的项目信息自动关联，不能修改。",
        ));
    }
    let mut next = reg.clone();
    next.fields = fields;
    let all = authorities(state).await?;
    let ctx = check_context(state, &all);
    let problems = check::check_form(&next, &ctx);
    let keys: Vec<&str> = patch.keys().map(String::as_str).collect();
    let bad = check::invalid_in(&problems, &keys);
    if !bad.is_empty() {
        return Err(DomainError::problems(bad.into_iter().cloned().collect()).into());
    }
    if let Some(a) = next.fields.authority_id.clone() {
        next.authority_id = a;
    }
    next.version += 1;
    next.updated_at = state.clock.now();
    commit_one(state, next, reg.version, None, None, None).await
}

/// 「填写检查」: every problem at once.
pub async fn check(state: &AppState, user: &User, id: &str) -> ApiResult<Vec<Problem>> {
    let reg = load_visible(state, user, id).await?;
    let attachments = live_attachments(state, id).await?;
    let all = authorities(state).await?;
    Ok(check::check(
        &reg,
        &attachments,
        &check_context(state, &all),
    ))
}

/// The number proposed for a registered decision: highest used serial plus one.
pub async fn proposed_number(
    state: &AppState,
    reg: &Registration,
    authority: &Authority,
) -> ApiResult<Option<String>> {
    let Some(kind) = reg.kind else {
        return Ok(None);
    };
    let prefix = numbering::prefix(&authority.code, state.clock.today().year(), kind);
    let max = state.store.max_serial(&prefix).await?;
    Ok(Some(numbering::next(&prefix, max)))
}

/// `GET next-number`, for the point deciding the record.
pub async fn next_number(state: &AppState, user: &User, id: &str) -> ApiResult<String> {
    let reg = load_visible(state, user, id).await?;
    if user.role != Role::Point {
        return Err(ApiError::forbidden("只有成果登记点可以获取成果登记号。"));
    }
    if !matches!(reg.state, State::DecisionPending | State::Decided) {
        return Err(DomainError::InvalidStateMsg(format!(
            "成果登记处于“{}”状态，尚不能分配成果登记号。",
            reg.state.label()
        ))
        .into());
    }
    // A reopened record keeps its number until it is decided with another (domain.md §6).
    if let Some(n) = &reg.registration_number {
        return Ok(n.clone());
    }
    let all = authorities(state).await?;
    let authority = all
        .iter()
        .find(|a| a.id == reg.authority_id)
        .ok_or_else(|| ApiError::internal("record without authority"))?;
    proposed_number(state, &reg, authority)
        .await?
        .ok_or_else(|| ApiError::internal("decision pending without kind"))
}

/// How often a registered decision without a typed number is tried with a fresh proposal.
const PROPOSALS: usize = 32;

/// Performs a workflow action as one atomic, version-guarded write with its event.
///
/// A registered decision without a number takes the next free one; when a concurrent decision
/// took that number first, the next one is proposed again (the point asked for the next
/// number, not for that one). A number the point typed is never replaced: that refusal is
/// answered as `number_taken`.
pub async fn act(
    state: &AppState,
    user: &User,
    id: &str,
    action: Action,
    req: ActionRequest,
) -> ApiResult<Registration> {
    act_related(state, user, id, action, req)
        .await
        .map(|(record, _)| record)
}

/// [`act`], answered with the record's view as `user` now sees it.
pub async fn act_and_view(
    state: &AppState,
    user: &User,
    id: &str,
    action: Action,
    req: ActionRequest,
) -> ApiResult<RecordView> {
    let (record, related) = act_related(state, user, id, action, req).await?;
    view_with(state, user, &record, &related).await
}

async fn act_related(
    state: &AppState,
    user: &User,
    id: &str,
    action: Action,
    req: ActionRequest,
) -> ApiResult<(Registration, Related)> {
    let proposing = action == Action::Decide
        && req.result == Some(DecisionResult::Registered)
        && req.number.is_none();
    let mut tries = 1;
    loop {
        match act_once(state, user, id, action, &req).await {
            Err(ApiError::Domain(DomainError::NumberTaken(_)))
                if proposing && tries < PROPOSALS =>
            {
                tries += 1;
            }
            done => return done,
        }
    }
}

async fn act_once(
    state: &AppState,
    user: &User,
    id: &str,
    action: Action,
    req: &ActionRequest,
) -> ApiResult<(Registration, Related)> {
    let (reg, related) = Related::load_visible(state, user, id).await?;
    let all = authorities(state).await?;
    let authority = all.iter().find(|a| a.id == reg.authority_id);
    let mut open_objections = 0;
    let mut proposed = None;
    if action == Action::Decide && reg.state == State::DecisionPending {
        open_objections = state
            .store
            .list_objections(id)
            .await?
            .iter()
            .filter(|o| o.resolution.is_none())
            .count();
        if req.result == Some(DecisionResult::Registered)
            && req.number.is_none()
            && let Some(a) = authority
        {
            proposed = proposed_number(state, &reg, a).await?;
        }
    }
    let facts = Facts {
        now: state.clock.now(),
        today: state.clock.today(),
        authorities: &all,
        authority,
        attachments: &related.attachments,
        project: related.project.as_ref(),
        open_objections,
        proposed_number: proposed,
        unit_notice_days: state.config.unit_notice_days,
        website_notice_days: state.config.website_notice_days,
    };
    let outcome = workflow::apply(&reg, user, action, req, &facts)?;
    let public = matches!(
        action,
        Action::ReceivePaper | Action::Decide | Action::Reopen
    );
    let record = commit_one(
        state,
        outcome.record,
        reg.version,
        Some(outcome.event),
        outcome.claim_number,
        outcome.release_number,
    )
    .await?;
    if public && let Some(changes) = &state.site_changes {
        changes.record(id);
    }
    Ok((record, related))
}

#[cfg(test)]
mod tests {
    use chengguo_domain::record::MailStatus;
    use serde_json::json;
    use time::macros::datetime;

    use super::*;

    fn summary(id: &str, status: MailStatus, sent: bool) -> MailSummary {
        MailSummary {
            id: id.into(),
            registration_id: Some("r1".into()),
            reason: "return".into(),
            to: vec!["a@example.org".into(), "b@example.org".into()],
            subject: "成果登记被退回\"引号\"".into(),
            status,
            attempts: 2,
            last_error: (!sent).then(|| "连接被拒绝".into()),
            next_attempt_at: datetime!(2026-11-28 09:15:00.5 +00:00),
            created_at: datetime!(2026-11-28 09:14:00 +00:00),
            sent_at: sent.then_some(datetime!(2026-11-28 09:14:01.25 +00:00)),
        }
    }

    #[test]
    fn a_mail_is_shown_with_every_field_of_its_summary_and_its_label() {
        let m = summary("m1", MailStatus::Failed, false);
        assert_eq!(
            mail::view(&m),
            json!({
                "id": "m1",
                "registration_id": "r1",
                "reason": "return",
                "to": ["a@example.org", "b@example.org"],
                "subject": "成果登记被退回\"引号\"",
                "status": "failed",
                "status_label": MailStatus::Failed.label(),
                "attempts": 2,
                "last_error": "连接被拒绝",
                "next_attempt_at": "2026-11-28T09:15:00.5Z",
                "created_at": "2026-11-28T09:14:00Z",
                "sent_at": null,
            })
        );
    }

    #[tokio::test]
    async fn a_record_view_answers_with_what_its_value_holds() {
        let mails = vec![
            summary("m2", MailStatus::Sent, true),
            summary("m1", MailStatus::Pending, false),
        ];
        for (view, notifications) in [
            (
                json!({"allowed_actions": ["pass"], "version": 3, "id": "r1"}),
                mails,
            ),
            (json!({"state": "draft"}), Vec::new()),
            (json!({}), Vec::new()),
        ] {
            let expected = RecordView {
                view: view.clone(),
                notifications: notifications.clone(),
            }
            .into_value();
            let response = RecordView {
                view,
                notifications,
            }
            .into_response();
            assert_eq!(response.status(), axum::http::StatusCode::OK);
            assert_eq!(response.headers()[header::CONTENT_TYPE], "application/json");
            let body = axum::body::to_bytes(response.into_body(), usize::MAX)
                .await
                .expect("body");
            let written: Value = serde_json::from_slice(&body).expect("JSON");
            assert_eq!(written, expected);
        }
    }
}
