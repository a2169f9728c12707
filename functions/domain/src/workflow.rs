//! The workflow as one table: (state, action) → next state, actor, guards (domain.md §5).
//!
//! [`TABLE`] is read by [`allowed_actions`], by [`apply`], by the documentation's flow diagram and
//! by the tests. [`apply`] is pure: it takes the record and the facts its guards need and returns
//! the new record and its audit event, or the precise reason for refusing.

use time::{Date, OffsetDateTime};

use crate::check::{self, CheckContext};
use crate::codes::{Action, DecisionResult, Kind, Role, Source, State};
use crate::error::{DomainError, Problem};
use crate::materials::REOPEN_EVIDENCE;
use crate::numbering;
use crate::org::{Authority, User};
use crate::project::{AcceptanceStatus, Project};
use crate::record::{Attachment, AttachmentStatus, Decision, Event, Notice, Registration};
use crate::scope;

/// Where a transition leads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    State(State),
    /// `dept_review` when the record has a department, else `unit_review`.
    FirstReview,
}

/// One row of the transition table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rule {
    pub from: State,
    pub action: Action,
    pub to: Target,
    pub actor: Role,
    /// The guard, in Chinese, as documentation.
    pub guard: &'static str,
}

const fn rule(from: State, action: Action, to: Target, actor: Role, guard: &'static str) -> Rule {
    Rule {
        from,
        action,
        to,
        actor,
        guard,
    }
}

use Action as A;
use Role as R;
use State as S;

/// The transition table: the only ways a person moves a registration.
pub const TABLE: &[Rule] = &[
    rule(
        S::Draft,
        A::Submit,
        Target::FirstReview,
        R::Leader,
        "已选择成果类型并同意知情同意书；填写检查通过；必需材料齐全；系统中项目已完成验收评审环节",
    ),
    rule(
        S::Returned,
        A::Submit,
        Target::FirstReview,
        R::Leader,
        "已选择成果类型并同意知情同意书；填写检查通过；必需材料齐全；系统中项目已完成验收评审环节",
    ),
    rule(
        S::DeptReview,
        A::Pass,
        Target::State(S::UnitReview),
        R::Department,
        "",
    ),
    rule(
        S::DeptReview,
        A::Return,
        Target::State(S::Returned),
        R::Department,
        "须填写退回意见",
    ),
    rule(
        S::UnitReview,
        A::Pass,
        Target::State(S::PointReview),
        R::Unit,
        "",
    ),
    rule(
        S::UnitReview,
        A::Return,
        Target::State(S::Returned),
        R::Unit,
        "须填写退回意见",
    ),
    rule(
        S::PointReview,
        A::Pass,
        Target::State(S::PaperPending),
        R::Point,
        "省科技计划项目须已通过验收",
    ),
    rule(
        S::PointReview,
        A::Return,
        Target::State(S::Returned),
        R::Point,
        "须填写退回意见",
    ),
    rule(
        S::PaperPending,
        A::ReceivePaper,
        Target::State(S::DecisionPending),
        R::Point,
        "开启单位公示与网站公示",
    ),
    rule(
        S::PaperPending,
        A::Return,
        Target::State(S::Returned),
        R::Point,
        "须填写退回意见",
    ),
    rule(
        S::DecisionPending,
        A::Decide,
        Target::State(S::Decided),
        R::Point,
        "须填写批复意见；予以登记须有成果登记号、网站公示期已结束、无未处理异议",
    ),
    rule(
        S::Decided,
        A::Reopen,
        Target::State(S::DecisionPending),
        R::Point,
        "须填写意见并上传佐证材料",
    ),
];

/// The rule for `action` in `state`, if any.
pub fn rule_for(state: State, action: Action) -> Option<&'static Rule> {
    TABLE.iter().find(|r| r.from == state && r.action == action)
}

/// Whether `role` performs `action` anywhere in the table.
pub fn role_performs(role: Role, action: Action) -> bool {
    TABLE.iter().any(|r| r.action == action && r.actor == role)
}

/// The actions `user` may take on `reg` now, by state, role and scope (guards not evaluated).
pub fn allowed_actions(user: &User, reg: &Registration) -> Vec<Action> {
    if !scope::can_see(user, reg) {
        return Vec::new();
    }
    TABLE
        .iter()
        .filter(|r| r.from == reg.state && r.actor == user.role)
        .map(|r| r.action)
        .collect()
}

/// Whether `user` may edit the form and attachments of `reg` now.
pub fn can_edit(user: &User, reg: &Registration) -> bool {
    user.role == Role::Leader && reg.owner_id == user.id && reg.state.is_editable()
}

/// Refusal for edits outside draft/returned or by someone else.
pub fn ensure_can_edit(user: &User, reg: &Registration) -> Result<(), DomainError> {
    if !scope::can_see(user, reg) {
        return Err(DomainError::NotFound);
    }
    if user.role != Role::Leader || reg.owner_id != user.id {
        return Err(DomainError::Forbidden(
            "只有该成果登记的项目负责人可以修改登记表和材料。".into(),
        ));
    }
    if !reg.state.is_editable() {
        return Err(DomainError::InvalidStateMsg(format!(
            "成果登记处于“{}”状态，只有“待提交”或“退回修改”时可以修改。",
            reg.state.label()
        )));
    }
    Ok(())
}

/// What a person asks for.
#[derive(Debug, Clone, Default)]
pub struct ActionRequest {
    pub version: u64,
    pub opinion: Option<String>,
    pub result: Option<DecisionResult>,
    pub number: Option<String>,
    pub evidence_attachment_id: Option<String>,
}

/// What the guards need to know, gathered by the caller before [`apply`].
pub struct Facts<'a> {
    pub now: OffsetDateTime,
    /// Today in China.
    pub today: Date,
    pub authorities: &'a [Authority],
    /// The record's authority (numbering).
    pub authority: Option<&'a Authority>,
    /// Confirmed and pending attachments of the record.
    pub attachments: &'a [Attachment],
    /// The linked in-system project.
    pub project: Option<&'a Project>,
    /// Unresolved objections on the record.
    pub open_objections: usize,
    /// The proposed number when deciding `registered` without one.
    pub proposed_number: Option<String>,
    pub unit_notice_days: u16,
    pub website_notice_days: u16,
}

/// The result of a transition: the record to write, its event, and number changes.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub record: Registration,
    pub event: Event,
    /// A number to claim atomically with the write.
    pub claim_number: Option<String>,
    /// A number the record no longer holds.
    pub release_number: Option<String>,
}

/// Longest opinion, in characters.
pub const OPINION_MAX: usize = 2000;

fn opinion(req: &ActionRequest, required: bool, what: &str) -> Result<Option<String>, DomainError> {
    let text = req
        .opinion
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty());
    match text {
        None if required => Err(DomainError::invalid("opinion", format!("请填写{what}。"))),
        Some(t) if t.chars().count() > OPINION_MAX => Err(DomainError::invalid(
            "opinion",
            format!("{what}不能超过{OPINION_MAX}个字。"),
        )),
        t => Ok(t.map(str::to_owned)),
    }
}

/// Applies `action` by `user` to `reg`, or says exactly why not.
///
/// Order of refusals: outside scope → not found; a role that never performs the action →
/// forbidden; another version → stale; the wrong state → invalid state; then the guards.
pub fn apply(
    reg: &Registration,
    user: &User,
    action: Action,
    req: &ActionRequest,
    facts: &Facts,
) -> Result<Outcome, DomainError> {
    if !scope::can_see(user, reg) {
        return Err(DomainError::NotFound);
    }
    if !Action::REQUESTABLE.contains(&action) || !role_performs(user.role, action) {
        return Err(DomainError::Forbidden(format!(
            "{}不能执行“{}”操作。",
            user.role.label(),
            action.label()
        )));
    }
    if req.version != reg.version {
        return Err(DomainError::StaleVersion);
    }
    let rule = rule_for(reg.state, action)
        .filter(|r| r.actor == user.role)
        .ok_or(DomainError::InvalidState {
            state: reg.state,
            action,
        })?;
    if action == Action::Submit && reg.owner_id != user.id {
        return Err(DomainError::Forbidden(
            "只有该成果登记的项目负责人可以提交。".into(),
        ));
    }

    let mut next = reg.clone();
    let mut claim_number = None;
    let mut release_number = None;
    let event_opinion: Option<String>;

    match action {
        Action::Submit => {
            let ctx = CheckContext {
                today: facts.today,
                authorities: facts.authorities,
            };
            let problems = check::check(reg, facts.attachments, &ctx);
            if !problems.is_empty() {
                return Err(DomainError::problems(problems));
            }
            if reg.source == Source::ProvincialPlan {
                let done = facts
                    .project
                    .is_some_and(|p| p.acceptance.review_completed());
                if !done {
                    return Err(DomainError::invalid(
                        "project",
                        "该项目尚未完成验收评审环节，暂不能提交成果登记。",
                    ));
                }
            }
            next.submitted_at.get_or_insert(facts.now);
            next.return_opinion = None;
            event_opinion = opinion(req, false, "意见")?;
        }
        Action::Pass => {
            if reg.state == State::PointReview && reg.source == Source::ProvincialPlan {
                let passed = facts
                    .project
                    .is_some_and(|p| p.acceptance == AcceptanceStatus::Passed);
                if !passed {
                    return Err(DomainError::invalid(
                        "project",
                        "该省科技计划项目尚未在系统中通过验收，成果登记点暂不能审核通过。",
                    ));
                }
            }
            event_opinion = opinion(req, false, "审核意见")?;
        }
        Action::Return => {
            let text = opinion(req, true, "退回意见")?;
            next.return_opinion = text.clone();
            event_opinion = text;
        }
        Action::ReceivePaper => {
            next.notice = Some(Notice::open(
                facts.today,
                facts.unit_notice_days,
                facts.website_notice_days,
            ));
            event_opinion = opinion(req, false, "意见")?;
        }
        Action::Decide => {
            let result = req.result.ok_or_else(|| {
                DomainError::invalid("result", "请选择批复结果：予以登记或不予登记。")
            })?;
            let text = opinion(req, true, "批复意见")?;
            match result {
                DecisionResult::Registered => {
                    let (kind, authority) = match (reg.kind, facts.authority) {
                        (Some(k), Some(a)) => (k, a),
                        _ => {
                            return Err(DomainError::Internal(
                                "decided record without kind or authority".into(),
                            ));
                        }
                    };
                    let number = req
                        .number
                        .as_deref()
                        .map(str::trim)
                        .filter(|n| !n.is_empty())
                        .map(str::to_owned)
                        // A reopened record keeps its number until decided with another
                        // (domain.md §6): the proposal is only for a record without one.
                        .or_else(|| reg.registration_number.clone())
                        .or_else(|| facts.proposed_number.clone())
                        .ok_or_else(|| DomainError::invalid("number", "请填写成果登记号。"))?;
                    numbering::validate(&number, &authority.code, kind)
                        .map_err(|m| DomainError::invalid("number", m))?;
                    let notice = reg.notice.as_ref().ok_or_else(|| {
                        DomainError::Internal("decision pending without notice".into())
                    })?;
                    if !notice.website_ended_by(facts.today) {
                        return Err(DomainError::NoticeOpen(notice.website_to.to_string()));
                    }
                    if facts.open_objections > 0 {
                        return Err(DomainError::OpenObjections);
                    }
                    if reg.registration_number.as_deref() != Some(number.as_str()) {
                        claim_number = Some(number.clone());
                        release_number = reg.registration_number.clone();
                    }
                    next.registration_number = Some(number);
                }
                DecisionResult::Rejected => {
                    release_number = next.registration_number.take();
                }
            }
            next.decision = Some(Decision {
                result,
                opinion: text.clone().unwrap_or_default(),
                by: user.username.clone(),
                at: facts.now,
            });
            event_opinion = text;
        }
        Action::Reopen => {
            let text = opinion(req, true, "退回到未批复意见")?;
            let evidence = req
                .evidence_attachment_id
                .as_deref()
                .and_then(|id| {
                    facts
                        .attachments
                        .iter()
                        .find(|a| a.id == id && a.registration_id == reg.id)
                })
                .filter(|a| a.category == REOPEN_EVIDENCE && a.status == AttachmentStatus::Ready);
            if evidence.is_none() {
                return Err(DomainError::invalid(
                    "evidence_attachment_id",
                    "请先上传并确认佐证材料（退回到未批复佐证材料）。",
                ));
            }
            next.decision = None;
            event_opinion = text;
        }
        _ => unreachable!("non-requestable actions were refused above"),
    }

    next.state = match rule.to {
        Target::State(s) => s,
        Target::FirstReview if reg.department_id.is_some() => State::DeptReview,
        Target::FirstReview => State::UnitReview,
    };
    let event = next_event(&mut next, action, reg.state, user, event_opinion, facts.now);
    Ok(Outcome {
        record: next,
        event,
        claim_number,
        release_number,
    })
}

/// Bumps the version and event count of `next` and returns the event for the change.
pub fn next_event(
    next: &mut Registration,
    action: Action,
    from: State,
    user: &User,
    opinion: Option<String>,
    now: OffsetDateTime,
) -> Event {
    next.version += 1;
    next.event_count += 1;
    next.updated_at = now;
    Event {
        registration_id: next.id.clone(),
        seq: next.event_count,
        action,
        from: Some(from),
        to: next.state,
        actor: user.username.clone(),
        role: Some(user.role),
        opinion,
        at: now,
    }
}

/// The system's return of a submitted record whose project failed acceptance.
pub fn return_for_failed_acceptance(
    reg: &Registration,
    project: &Project,
    now: OffsetDateTime,
) -> Option<(Registration, Event)> {
    if !reg.state.is_under_review() {
        return None;
    }
    let opinion = format!(
        "项目“{}”（{}）验收不通过，系统自动退回成果登记，请项目负责人修改。",
        project.name, project.number
    );
    let mut next = reg.clone();
    next.state = State::Returned;
    next.return_opinion = Some(opinion.clone());
    next.version += 1;
    next.event_count += 1;
    next.updated_at = now;
    let event = Event {
        registration_id: next.id.clone(),
        seq: next.event_count,
        action: Action::AcceptanceFailed,
        from: Some(reg.state),
        to: State::Returned,
        actor: "system".into(),
        role: None,
        opinion: Some(opinion),
        at: now,
    };
    Some((next, event))
}

/// Chooses the kind of a draft, with consent; never after it was chosen.
pub fn choose_kind(
    reg: &Registration,
    user: &User,
    kind: Kind,
    consent: bool,
    now: OffsetDateTime,
) -> Result<(Registration, Event), DomainError> {
    ensure_can_edit(user, reg)?;
    if reg.kind.is_some() {
        return Err(DomainError::InvalidStateMsg(
            "成果类型已选择，选择之后不可修改。".into(),
        ));
    }
    if !consent {
        return Err(DomainError::invalid(
            "consent",
            "请阅读并同意《科技成果登记与信息公开知情同意书》。",
        ));
    }
    let mut next = reg.clone();
    next.kind = Some(kind);
    next.consent = true;
    let event = next_event(
        &mut next,
        Action::ChooseKind,
        reg.state,
        user,
        Some(kind.label().to_owned()),
        now,
    );
    Ok((next, event))
}

/// Problems shown in the check endpoint, for convenience of callers.
pub fn problems_of(
    reg: &Registration,
    attachments: &[Attachment],
    ctx: &CheckContext,
) -> Vec<Problem> {
    check::check(reg, attachments, ctx)
}

#[cfg(test)]
mod tests;
