//! The workflow of domain.md §5, tested against an independent restatement of its table: every
//! state × requestable action × role × scope, then each guard on its own.

use super::*;
use crate::fields::Fields;
use crate::materials;
use time::Duration;
use time::macros::{date, datetime};

const APPLIED: &str = include_str!("../../../../tests/fixtures/form_applied.json");
const BASIC: &str = include_str!("../../../../tests/fixtures/form_basic.json");
const SOFT: &str = include_str!("../../../../tests/fixtures/form_soft.json");

const TODAY: Date = date!(2026 - 11 - 28);
const NOW: OffsetDateTime = datetime!(2026-11-28 10:00 +8);
const EARLIER: OffsetDateTime = datetime!(2026-09-01 09:30 +8);
const OPINION: &str = "材料齐全，同意。";
const EVIDENCE_ID: &str = "att-evidence";
const REG_ID: &str = "reg-1";

// ---------------------------------------------------------------------------------------------
// domain.md §5, restated: the expected outcomes are computed from this, never from `TABLE`.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum To {
    /// dept_review when the leader belongs to a department, else unit_review.
    FirstReview,
    Is(State),
}

/// (from, action, to, actor) of every row of the table of domain.md §5.
const SPEC: &[(State, Action, To, Role)] = &[
    (State::Draft, Action::Submit, To::FirstReview, Role::Leader),
    (
        State::Returned,
        Action::Submit,
        To::FirstReview,
        Role::Leader,
    ),
    (
        State::DeptReview,
        Action::Pass,
        To::Is(State::UnitReview),
        Role::Department,
    ),
    (
        State::UnitReview,
        Action::Pass,
        To::Is(State::PointReview),
        Role::Unit,
    ),
    (
        State::PointReview,
        Action::Pass,
        To::Is(State::PaperPending),
        Role::Point,
    ),
    (
        State::DeptReview,
        Action::Return,
        To::Is(State::Returned),
        Role::Department,
    ),
    (
        State::UnitReview,
        Action::Return,
        To::Is(State::Returned),
        Role::Unit,
    ),
    (
        State::PointReview,
        Action::Return,
        To::Is(State::Returned),
        Role::Point,
    ),
    (
        State::PaperPending,
        Action::Return,
        To::Is(State::Returned),
        Role::Point,
    ),
    (
        State::PaperPending,
        Action::ReceivePaper,
        To::Is(State::DecisionPending),
        Role::Point,
    ),
    (
        State::DecisionPending,
        Action::Decide,
        To::Is(State::Decided),
        Role::Point,
    ),
    (
        State::Decided,
        Action::Reopen,
        To::Is(State::DecisionPending),
        Role::Point,
    ),
];

const STATES: [State; 8] = [
    State::Draft,
    State::Returned,
    State::DeptReview,
    State::UnitReview,
    State::PointReview,
    State::PaperPending,
    State::DecisionPending,
    State::Decided,
];

const ROLES: [Role; 7] = [
    Role::Leader,
    Role::Department,
    Role::Unit,
    Role::Point,
    Role::Supervisor,
    Role::Office,
    Role::Admin,
];

const REQUESTABLE: [Action; 6] = [
    Action::Submit,
    Action::Pass,
    Action::Return,
    Action::ReceivePaper,
    Action::Decide,
    Action::Reopen,
];

/// One kind per source, so the exhaustive test covers every kind and every source.
const CASES: [(Kind, Source); 3] = [
    (Kind::Applied, Source::ProvincialPlan),
    (Kind::Basic, Source::OtherFiscal),
    (Kind::Soft, Source::NonFiscal),
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expect {
    NotFound,
    Forbidden,
    InvalidState,
    Moves(State),
}

/// Whether a user of `role`, attached to the record's side (`attached`) or not, sees it.
fn sees(role: Role, attached: bool, has_department: bool) -> bool {
    match role {
        Role::Office | Role::Admin => true,
        Role::Department => attached && has_department,
        _ => attached,
    }
}

fn expected(state: State, action: Action, role: Role, sees: bool, has_department: bool) -> Expect {
    if !sees {
        return Expect::NotFound;
    }
    if !SPEC.iter().any(|r| r.1 == action && r.3 == role) {
        return Expect::Forbidden;
    }
    match SPEC
        .iter()
        .find(|r| r.0 == state && r.1 == action && r.3 == role)
    {
        None => Expect::InvalidState,
        Some((_, _, To::Is(s), _)) => Expect::Moves(*s),
        Some((_, _, To::FirstReview, _)) if has_department => Expect::Moves(State::DeptReview),
        Some(_) => Expect::Moves(State::UnitReview),
    }
}

// ---------------------------------------------------------------------------------------------
// Builders

fn fixture(kind: Kind) -> Fields {
    let text = match kind {
        Kind::Applied => APPLIED,
        Kind::Basic => BASIC,
        Kind::Soft => SOFT,
    };
    serde_json::from_str(text).expect("the fixture has the shape of `Fields`")
}

fn valid_fields(kind: Kind, source: Source) -> Fields {
    let mut f = fixture(kind);
    if source == Source::NonFiscal {
        let method = match kind {
            Kind::Applied => "third_party",
            Kind::Basic => "appraisal",
            Kind::Soft => "third_party_review",
        };
        f.evaluation.as_mut().unwrap().method = Some(method.into());
    }
    f
}

fn held_number(kind: Kind) -> String {
    format!("4422026{}0003", kind.flag())
}

fn proposed_number(kind: Kind) -> String {
    format!("4422026{}0008", kind.flag())
}

/// A notice whose website window ended yesterday.
fn ended_notice() -> Notice {
    Notice::open(TODAY - Duration::days(30), 7, 30)
}

/// A record of `kind` from `source` in `state`, as the workflow would have left it there.
fn record(state: State, kind: Kind, source: Source, has_department: bool) -> Registration {
    let submitted = !matches!(state, State::Draft);
    let noticed = matches!(state, State::DecisionPending | State::Decided);
    Registration {
        id: REG_ID.into(),
        kind: Some(kind),
        consent: true,
        source,
        state,
        version: 7,
        owner_id: "u-leader".into(),
        unit_id: "unit-a".into(),
        department_id: has_department.then(|| "dept-a".into()),
        authority_id: "zs-kjj".into(),
        project_id: (source == Source::ProvincialPlan).then(|| "p-1".into()),
        fields: valid_fields(kind, source),
        registration_number: (state == State::Decided).then(|| held_number(kind)),
        decision: (state == State::Decided).then(|| Decision {
            result: DecisionResult::Registered,
            opinion: "予以登记。".into(),
            by: "point".into(),
            at: EARLIER,
        }),
        notice: noticed.then(ended_notice),
        return_opinion: (state == State::Returned).then(|| "请补充检测报告。".into()),
        submitted_at: submitted.then_some(EARLIER),
        event_count: 5,
        created_at: EARLIER,
        updated_at: EARLIER,
    }
}

fn applied(state: State) -> Registration {
    record(state, Kind::Applied, Source::OtherFiscal, true)
}

fn provincial(state: State) -> Registration {
    record(state, Kind::Applied, Source::ProvincialPlan, true)
}

/// A user of `role`, attached to the record's owner/department/unit/authority/supervised unit
/// when `attached`, else to another one.
fn user(role: Role, attached: bool) -> User {
    let pick = |a: &str, b: &str| Some(if attached { a } else { b }.to_string());
    let mut u = User {
        id: format!("u-{}", role.code()),
        username: role.code().to_string(),
        display_name: role.label().to_string(),
        role,
        password_hash: String::new(),
        email: None,
        unit_id: None,
        department_id: None,
        authority_id: None,
        supervised_unit_ids: Vec::new(),
        failed_logins: 0,
        locked_until: None,
        last_login_at: None,
        unlocked_at: None,
        active: true,
        created_at: EARLIER,
    };
    match role {
        Role::Leader => {
            u.id = if attached { "u-leader" } else { "u-leader-b" }.into();
            u.username = if attached { "leader" } else { "leader-b" }.into();
            u.unit_id = pick("unit-a", "unit-b");
            u.department_id = pick("dept-a", "dept-b");
        }
        Role::Department => {
            u.unit_id = Some("unit-a".into());
            u.department_id = pick("dept-a", "dept-b");
        }
        Role::Unit => u.unit_id = pick("unit-a", "unit-b"),
        Role::Point => u.authority_id = pick("zs-kjj", "gz-kjj"),
        Role::Supervisor => u.supervised_unit_ids = vec![pick("unit-a", "unit-b").unwrap()],
        Role::Office | Role::Admin => {}
    }
    u
}

fn attachment(registration_id: &str, id: &str, category: &str) -> Attachment {
    Attachment {
        id: id.into(),
        registration_id: registration_id.into(),
        category: category.into(),
        filename: format!("{category}.pdf"),
        content_type: "application/pdf".into(),
        size: 2048,
        status: AttachmentStatus::Ready,
        sha256: Some("a".repeat(64)),
        key: Attachment::key_for(registration_id, id),
        uploaded_by: "leader".into(),
        created_at: EARLIER,
        expires_at: EARLIER,
    }
}

/// Everything the guards look at, satisfying all of them.
struct World {
    authorities: Vec<Authority>,
    attachments: Vec<Attachment>,
    project: Project,
    open_objections: usize,
    proposed: Option<String>,
    today: Date,
}

impl World {
    fn new(kind: Kind) -> World {
        let mut attachments: Vec<Attachment> = materials::checklist(kind)
            .iter()
            .map(|m| attachment(REG_ID, &format!("att-{}", m.category), m.category))
            .collect();
        attachments.push(attachment(REG_ID, EVIDENCE_ID, materials::REOPEN_EVIDENCE));
        World {
            authorities: vec![
                Authority {
                    id: "zs-kjj".into(),
                    name: "中山市科学技术局".into(),
                    code: "442".into(),
                },
                Authority {
                    id: "gz-kjj".into(),
                    name: "广州市科学技术局".into(),
                    code: "440".into(),
                },
            ],
            attachments,
            project: Project {
                id: "p-1".into(),
                number: "2023A0101".into(),
                name: "灯饰产品智能检测关键技术研究".into(),
                plan: "广东省重点领域研发计划".into(),
                leader_username: "leader".into(),
                unit_id: "unit-a".into(),
                acceptance: AcceptanceStatus::Passed,
                acceptance_opinion: None,
                registration_id: Some(REG_ID.into()),
                version: 4,
                created_at: EARLIER,
                updated_at: EARLIER,
            },
            open_objections: 0,
            proposed: Some(proposed_number(kind)),
            today: TODAY,
        }
    }

    fn facts(&self, reg: &Registration) -> Facts<'_> {
        Facts {
            now: NOW,
            today: self.today,
            authorities: &self.authorities,
            authority: self.authorities.iter().find(|a| a.id == reg.authority_id),
            attachments: &self.attachments,
            project: reg.project_id.as_ref().map(|_| &self.project),
            open_objections: self.open_objections,
            proposed_number: self.proposed.clone(),
            unit_notice_days: 7,
            website_notice_days: 30,
        }
    }
}

/// A request that satisfies every guard of every action.
fn request(reg: &Registration) -> ActionRequest {
    ActionRequest {
        version: reg.version,
        opinion: Some(OPINION.into()),
        result: Some(DecisionResult::Registered),
        number: None,
        evidence_attachment_id: Some(EVIDENCE_ID.into()),
    }
}

/// Applies `action` by the attached user of `role` with all guards satisfied.
fn act(reg: &Registration, role: Role, action: Action) -> Result<Outcome, DomainError> {
    let world = World::new(reg.kind.unwrap());
    apply(
        reg,
        &user(role, true),
        action,
        &request(reg),
        &world.facts(reg),
    )
}

#[track_caller]
fn validation_fields(r: Result<Outcome, DomainError>) -> Vec<String> {
    match r {
        Err(DomainError::Validation { message, details }) => {
            assert!(!message.is_empty());
            details.into_iter().map(|p| p.field).collect()
        }
        other => panic!("expected a validation error, got {other:?}"),
    }
}

// ---------------------------------------------------------------------------------------------
// The whole table

#[test]
fn the_table_has_exactly_the_rows_of_the_specification() {
    let mut table: Vec<(State, Action, To, Role)> = TABLE
        .iter()
        .map(|r| {
            let to = match r.to {
                Target::State(s) => To::Is(s),
                Target::FirstReview => To::FirstReview,
            };
            (r.from, r.action, to, r.actor)
        })
        .collect();
    let mut spec = SPEC.to_vec();
    let key = |r: &(State, Action, To, Role)| (r.0, r.1, r.3);
    table.sort_by_key(key);
    spec.sort_by_key(key);
    assert_eq!(table, spec);
    assert!(
        TABLE
            .iter()
            .all(|r| !r.guard.is_empty() || r.action == Action::Pass)
    );
}

#[test]
fn every_state_action_role_and_scope_has_the_documented_outcome() {
    let mut failures = Vec::new();
    let mut cases = 0;
    let mut moves = 0;
    for (kind, source) in CASES {
        for has_department in [true, false] {
            for state in STATES {
                for action in REQUESTABLE {
                    for role in ROLES {
                        for attached in [true, false] {
                            cases += 1;
                            let reg = record(state, kind, source, has_department);
                            let world = World::new(kind);
                            let u = user(role, attached);
                            let want = expected(
                                state,
                                action,
                                role,
                                sees(role, attached, has_department),
                                has_department,
                            );
                            let got = apply(&reg, &u, action, &request(&reg), &world.facts(&reg));
                            let case = format!(
                                "{kind}/{source}/dept={has_department} {state} {action} by {role} \
                                 attached={attached}"
                            );
                            match (want, got) {
                                (Expect::NotFound, Err(DomainError::NotFound))
                                | (Expect::Forbidden, Err(DomainError::Forbidden(_))) => {}
                                (
                                    Expect::InvalidState,
                                    Err(DomainError::InvalidState {
                                        state: s,
                                        action: a,
                                    }),
                                ) => {
                                    if (s, a) != (state, action) {
                                        failures
                                            .push(format!("{case}: invalid state names {s} {a}"));
                                    }
                                }
                                (Expect::Moves(to), Ok(o)) => {
                                    moves += 1;
                                    if let Err(e) = check_outcome(&reg, &u, action, to, &world, &o)
                                    {
                                        failures.push(format!("{case}: {e}"));
                                    }
                                }
                                (want, got) => {
                                    failures.push(format!("{case}: expected {want:?}, got {got:?}"))
                                }
                            }
                        }
                    }
                }
            }
        }
    }
    assert_eq!(cases, 3 * 2 * 8 * 6 * 7 * 2);
    // Each source and department setting: 12 rows by their actor; office and admin never act.
    assert!(moves > 0);
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// The record and event of a successful transition, field by field.
fn check_outcome(
    reg: &Registration,
    u: &User,
    action: Action,
    to: State,
    world: &World,
    o: &Outcome,
) -> Result<(), String> {
    let mut want = reg.clone();
    want.state = to;
    want.version = reg.version + 1;
    want.event_count = reg.event_count + 1;
    want.updated_at = NOW;
    let (mut claim, mut release) = (None, None);
    match action {
        Action::Submit => {
            want.submitted_at = reg.submitted_at.or(Some(NOW));
            want.return_opinion = None;
        }
        Action::Pass => {}
        Action::Return => want.return_opinion = Some(OPINION.into()),
        Action::ReceivePaper => {
            want.notice = Some(Notice {
                paper_received_on: TODAY,
                unit_from: TODAY,
                unit_to: TODAY + Duration::days(6),
                website_from: TODAY,
                website_to: TODAY + Duration::days(29),
            })
        }
        Action::Decide => {
            want.registration_number = world.proposed.clone();
            want.decision = Some(Decision {
                result: DecisionResult::Registered,
                opinion: OPINION.into(),
                by: u.username.clone(),
                at: NOW,
            });
            claim = world.proposed.clone();
            release = reg.registration_number.clone();
        }
        Action::Reopen => want.decision = None,
        other => return Err(format!("{other} is not requestable")),
    }
    if o.record != want {
        return Err(format!("record\n{:#?}\nexpected\n{want:#?}", o.record));
    }
    let event = Event {
        registration_id: reg.id.clone(),
        seq: reg.event_count + 1,
        action,
        from: Some(reg.state),
        to,
        actor: u.username.clone(),
        role: Some(u.role),
        opinion: Some(OPINION.into()),
        at: NOW,
    };
    if o.event != event {
        return Err(format!("event {:?}, expected {event:?}", o.event));
    }
    if (o.claim_number.clone(), o.release_number.clone()) != (claim.clone(), release.clone()) {
        return Err(format!(
            "numbers claim={:?} release={:?}, expected claim={claim:?} release={release:?}",
            o.claim_number, o.release_number
        ));
    }
    Ok(())
}

#[test]
fn allowed_actions_are_the_table_filtered_by_role_state_and_scope() {
    for has_department in [true, false] {
        for state in STATES {
            for role in ROLES {
                for attached in [true, false] {
                    let reg = record(state, Kind::Soft, Source::OtherFiscal, has_department);
                    let got = allowed_actions(&user(role, attached), &reg);
                    let want: Vec<Action> = if sees(role, attached, has_department) {
                        SPEC.iter()
                            .filter(|r| r.0 == state && r.3 == role)
                            .map(|r| r.1)
                            .collect()
                    } else {
                        Vec::new()
                    };
                    let (mut got_sorted, mut want_sorted) = (got.clone(), want);
                    got_sorted.sort();
                    want_sorted.sort();
                    assert_eq!(
                        got_sorted, want_sorted,
                        "{state} {role} attached={attached} dept={has_department}"
                    );
                }
            }
        }
    }
}

#[test]
fn an_inactive_account_sees_nothing_and_may_do_nothing() {
    for role in ROLES {
        let mut u = user(role, true);
        u.active = false;
        let reg = applied(State::PointReview);
        assert!(allowed_actions(&u, &reg).is_empty());
        let world = World::new(Kind::Applied);
        for action in REQUESTABLE {
            assert_eq!(
                apply(&reg, &u, action, &request(&reg), &world.facts(&reg)).unwrap_err(),
                DomainError::NotFound
            );
        }
    }
}

#[test]
fn actions_that_are_not_requestable_are_forbidden_to_everyone() {
    let world = World::new(Kind::Applied);
    for action in [Action::Create, Action::ChooseKind, Action::AcceptanceFailed] {
        for role in ROLES {
            for state in STATES {
                let reg = applied(state);
                let r = apply(
                    &reg,
                    &user(role, true),
                    action,
                    &request(&reg),
                    &world.facts(&reg),
                );
                assert!(
                    matches!(r, Err(DomainError::Forbidden(_))),
                    "{action} by {role} in {state}: {r:?}"
                );
            }
        }
    }
}

#[test]
fn submit_goes_to_the_department_only_when_the_leader_has_one() {
    for state in [State::Draft, State::Returned] {
        let with = record(state, Kind::Basic, Source::OtherFiscal, true);
        assert_eq!(
            act(&with, Role::Leader, Action::Submit)
                .unwrap()
                .record
                .state,
            State::DeptReview
        );
        let without = record(state, Kind::Basic, Source::OtherFiscal, false);
        assert_eq!(
            act(&without, Role::Leader, Action::Submit)
                .unwrap()
                .record
                .state,
            State::UnitReview
        );
    }
}

#[test]
fn a_full_journey_from_draft_to_decided_numbers_its_events() {
    let mut reg = record(State::Draft, Kind::Applied, Source::ProvincialPlan, true);
    reg.event_count = 1;
    reg.submitted_at = None;
    let mut world = World::new(Kind::Applied);
    let steps = [
        (Role::Leader, Action::Submit, State::DeptReview),
        (Role::Department, Action::Pass, State::UnitReview),
        (Role::Unit, Action::Pass, State::PointReview),
        (Role::Point, Action::Pass, State::PaperPending),
        (Role::Point, Action::ReceivePaper, State::DecisionPending),
    ];
    for (i, (role, action, to)) in steps.into_iter().enumerate() {
        let o = apply(
            &reg,
            &user(role, true),
            action,
            &request(&reg),
            &world.facts(&reg),
        )
        .unwrap();
        assert_eq!(o.record.state, to);
        assert_eq!(o.event.seq, 2 + i as u64);
        reg = o.record;
    }
    // The website notice runs 30 days from today: deciding waits for it to end.
    assert!(matches!(
        apply(
            &reg,
            &user(Role::Point, true),
            Action::Decide,
            &request(&reg),
            &world.facts(&reg)
        ),
        Err(DomainError::NoticeOpen(_))
    ));
    world.today = TODAY + Duration::days(30);
    let o = apply(
        &reg,
        &user(Role::Point, true),
        Action::Decide,
        &request(&reg),
        &world.facts(&reg),
    )
    .unwrap();
    assert_eq!(o.record.state, State::Decided);
    assert_eq!(
        o.record.registration_number,
        Some(proposed_number(Kind::Applied))
    );
    assert_eq!(o.event.seq, 7);
    assert_eq!(o.record.version, 7 + 6);
}

// ---------------------------------------------------------------------------------------------
// Order of refusals

#[test]
fn a_stale_version_is_reported_before_the_wrong_state() {
    let world = World::new(Kind::Applied);
    let point = user(Role::Point, true);
    let reg = applied(State::Decided);
    let mut req = request(&reg);
    req.version = reg.version - 1;
    // Wrong state (pass in decided) and stale: stale wins.
    assert_eq!(
        apply(&reg, &point, Action::Pass, &req, &world.facts(&reg)).unwrap_err(),
        DomainError::StaleVersion
    );
    // Right state and stale.
    assert_eq!(
        apply(&reg, &point, Action::Reopen, &req, &world.facts(&reg)).unwrap_err(),
        DomainError::StaleVersion
    );
    req.version = reg.version + 1;
    assert_eq!(
        apply(&reg, &point, Action::Reopen, &req, &world.facts(&reg)).unwrap_err(),
        DomainError::StaleVersion
    );
}

#[test]
fn scope_and_role_are_reported_before_a_stale_version() {
    let world = World::new(Kind::Applied);
    let reg = applied(State::UnitReview);
    let mut req = request(&reg);
    req.version = 1;
    assert_eq!(
        apply(
            &reg,
            &user(Role::Unit, false),
            Action::Pass,
            &req,
            &world.facts(&reg)
        )
        .unwrap_err(),
        DomainError::NotFound
    );
    assert!(matches!(
        apply(
            &reg,
            &user(Role::Supervisor, true),
            Action::Pass,
            &req,
            &world.facts(&reg)
        ),
        Err(DomainError::Forbidden(_))
    ));
}

#[test]
fn guards_are_checked_only_after_the_state() {
    // Deciding in point_review with no result is the wrong state, not a missing result.
    let world = World::new(Kind::Applied);
    let reg = applied(State::PointReview);
    let req = ActionRequest {
        version: reg.version,
        ..ActionRequest::default()
    };
    assert_eq!(
        apply(
            &reg,
            &user(Role::Point, true),
            Action::Decide,
            &req,
            &world.facts(&reg)
        )
        .unwrap_err(),
        DomainError::InvalidState {
            state: State::PointReview,
            action: Action::Decide
        }
    );
}

// ---------------------------------------------------------------------------------------------
// Return

#[test]
fn a_return_needs_an_opinion() {
    for (state, role) in [
        (State::DeptReview, Role::Department),
        (State::UnitReview, Role::Unit),
        (State::PointReview, Role::Point),
        (State::PaperPending, Role::Point),
    ] {
        let reg = applied(state);
        let world = World::new(Kind::Applied);
        for opinion in [None, Some(""), Some("  \n ")] {
            let req = ActionRequest {
                opinion: opinion.map(str::to_owned),
                ..request(&reg)
            };
            let r = apply(
                &reg,
                &user(role, true),
                Action::Return,
                &req,
                &world.facts(&reg),
            );
            assert_eq!(validation_fields(r), ["opinion"], "{state} {opinion:?}");
        }
        let req = ActionRequest {
            opinion: Some("退".repeat(OPINION_MAX + 1)),
            ..request(&reg)
        };
        let r = apply(
            &reg,
            &user(role, true),
            Action::Return,
            &req,
            &world.facts(&reg),
        );
        assert_eq!(validation_fields(r), ["opinion"]);
    }
}

#[test]
fn a_return_keeps_the_trimmed_opinion_for_the_leader() {
    let reg = applied(State::UnitReview);
    let world = World::new(Kind::Applied);
    let req = ActionRequest {
        opinion: Some("  请补充第三方应用证明。 ".into()),
        ..request(&reg)
    };
    let o = apply(
        &reg,
        &user(Role::Unit, true),
        Action::Return,
        &req,
        &world.facts(&reg),
    )
    .unwrap();
    assert_eq!(
        o.record.return_opinion.as_deref(),
        Some("请补充第三方应用证明。")
    );
    assert_eq!(o.event.opinion.as_deref(), Some("请补充第三方应用证明。"));
}

#[test]
fn a_pass_without_opinion_records_none() {
    let reg = applied(State::DeptReview);
    let world = World::new(Kind::Applied);
    let req = ActionRequest {
        opinion: None,
        ..request(&reg)
    };
    let o = apply(
        &reg,
        &user(Role::Department, true),
        Action::Pass,
        &req,
        &world.facts(&reg),
    )
    .unwrap();
    assert_eq!(o.event.opinion, None);
}

// ---------------------------------------------------------------------------------------------
// Submit

#[test]
fn submitting_with_problems_lists_every_problem() {
    let mut reg = applied(State::Draft);
    reg.fields.title = None;
    reg.fields.contact.as_mut().unwrap().mobile = Some("123".into());
    let mut world = World::new(Kind::Applied);
    world.attachments.retain(|a| a.category != "test_report");
    let r = apply(
        &reg,
        &user(Role::Leader, true),
        Action::Submit,
        &request(&reg),
        &world.facts(&reg),
    );
    match r {
        Err(DomainError::Validation { message, details }) => {
            let fields: Vec<&str> = details.iter().map(|p| p.field.as_str()).collect();
            assert_eq!(fields, ["title", "contact.mobile", "materials.test_report"]);
            assert!(message.contains('3'), "{message}");
            assert!(details.iter().all(|p| !p.message.is_empty()));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn submitting_needs_the_kind_and_consent() {
    let mut reg = applied(State::Draft);
    reg.consent = false;
    let r = act(&reg, Role::Leader, Action::Submit);
    assert_eq!(validation_fields(r), ["kind"]);
}

#[test]
fn submitting_a_provincial_plan_record_waits_for_the_acceptance_review() {
    let reg = provincial(State::Draft);
    let mut world = World::new(Kind::Applied);
    let leader = user(Role::Leader, true);
    world.project.acceptance = AcceptanceStatus::Pending;
    let r = apply(
        &reg,
        &leader,
        Action::Submit,
        &request(&reg),
        &world.facts(&reg),
    );
    match r {
        Err(DomainError::Validation { details, .. }) => {
            assert_eq!(details.len(), 1);
            assert_eq!(details[0].field, "project");
            assert!(details[0].message.contains("验收评审"));
        }
        other => panic!("{other:?}"),
    }
    // No project at all is refused the same way.
    let mut facts = world.facts(&reg);
    facts.project = None;
    let r = apply(&reg, &leader, Action::Submit, &request(&reg), &facts);
    assert_eq!(validation_fields(r), ["project"]);

    for status in [
        AcceptanceStatus::ReviewCompleted,
        AcceptanceStatus::DocSubmitted,
        AcceptanceStatus::Passed,
    ] {
        world.project.acceptance = status;
        assert!(
            apply(
                &reg,
                &leader,
                Action::Submit,
                &request(&reg),
                &world.facts(&reg)
            )
            .is_ok(),
            "{status:?}"
        );
    }
}

#[test]
fn submitting_an_off_plan_record_needs_no_project() {
    let reg = applied(State::Returned);
    let world = World::new(Kind::Applied);
    let mut facts = world.facts(&reg);
    facts.project = None;
    let o = apply(
        &reg,
        &user(Role::Leader, true),
        Action::Submit,
        &request(&reg),
        &facts,
    )
    .unwrap();
    assert_eq!(o.record.return_opinion, None);
    assert_eq!(
        o.record.submitted_at,
        Some(EARLIER),
        "the first submission is kept"
    );
}

// ---------------------------------------------------------------------------------------------
// Pass at the point

#[test]
fn the_point_passes_a_provincial_plan_record_only_after_acceptance_passed() {
    let reg = provincial(State::PointReview);
    let point = user(Role::Point, true);
    let mut world = World::new(Kind::Applied);
    for status in [
        AcceptanceStatus::Pending,
        AcceptanceStatus::ReviewCompleted,
        AcceptanceStatus::DocSubmitted,
        AcceptanceStatus::Failed,
    ] {
        world.project.acceptance = status;
        let r = apply(
            &reg,
            &point,
            Action::Pass,
            &request(&reg),
            &world.facts(&reg),
        );
        assert_eq!(validation_fields(r), ["project"], "{status:?}");
    }
    let mut facts = world.facts(&reg);
    facts.project = None;
    let r = apply(&reg, &point, Action::Pass, &request(&reg), &facts);
    assert_eq!(validation_fields(r), ["project"]);

    world.project.acceptance = AcceptanceStatus::Passed;
    let o = apply(
        &reg,
        &point,
        Action::Pass,
        &request(&reg),
        &world.facts(&reg),
    )
    .unwrap();
    assert_eq!(o.record.state, State::PaperPending);
}

#[test]
fn earlier_reviewers_and_off_plan_records_do_not_wait_for_acceptance() {
    let mut world = World::new(Kind::Applied);
    world.project.acceptance = AcceptanceStatus::ReviewCompleted;
    for (state, role) in [
        (State::DeptReview, Role::Department),
        (State::UnitReview, Role::Unit),
    ] {
        let reg = provincial(state);
        assert!(
            apply(
                &reg,
                &user(role, true),
                Action::Pass,
                &request(&reg),
                &world.facts(&reg)
            )
            .is_ok()
        );
    }
    let reg = applied(State::PointReview);
    let mut facts = world.facts(&reg);
    facts.project = None;
    assert!(
        apply(
            &reg,
            &user(Role::Point, true),
            Action::Pass,
            &request(&reg),
            &facts
        )
        .is_ok()
    );
}

// ---------------------------------------------------------------------------------------------
// Receive paper

#[test]
fn receiving_the_paper_opens_a_7_day_and_a_30_day_notice_inclusive() {
    let reg = applied(State::PaperPending);
    let o = act(&reg, Role::Point, Action::ReceivePaper).unwrap();
    let n = o.record.notice.unwrap();
    assert_eq!(n.paper_received_on, date!(2026 - 11 - 28));
    assert_eq!(n.unit_from, date!(2026 - 11 - 28));
    assert_eq!(n.unit_to, date!(2026 - 12 - 04));
    assert_eq!(n.website_from, date!(2026 - 11 - 28));
    assert_eq!(n.website_to, date!(2026 - 12 - 27));
    assert!(n.website_open_on(date!(2026 - 12 - 27)));
    assert!(!n.website_open_on(date!(2026 - 12 - 28)));
    assert!(!n.website_ended_by(date!(2026 - 12 - 27)));
    assert!(n.website_ended_by(date!(2026 - 12 - 28)));
}

#[test]
fn the_notice_day_counts_are_configurable() {
    let reg = applied(State::PaperPending);
    let world = World::new(Kind::Applied);
    let mut facts = world.facts(&reg);
    facts.unit_notice_days = 5;
    facts.website_notice_days = 20;
    let o = apply(
        &reg,
        &user(Role::Point, true),
        Action::ReceivePaper,
        &request(&reg),
        &facts,
    )
    .unwrap();
    let n = o.record.notice.unwrap();
    assert_eq!(n.unit_to, TODAY + Duration::days(4));
    assert_eq!(n.website_to, TODAY + Duration::days(19));
}

// ---------------------------------------------------------------------------------------------
// Decide

fn decide(
    reg: &Registration,
    world: &World,
    number: Option<&str>,
    result: DecisionResult,
) -> Result<Outcome, DomainError> {
    let req = ActionRequest {
        result: Some(result),
        number: number.map(str::to_owned),
        ..request(reg)
    };
    apply(
        reg,
        &user(Role::Point, true),
        Action::Decide,
        &req,
        &world.facts(reg),
    )
}

#[test]
fn deciding_registered_without_a_number_uses_the_proposed_one() {
    for kind in [Kind::Applied, Kind::Basic, Kind::Soft] {
        let reg = record(State::DecisionPending, kind, Source::OtherFiscal, false);
        let world = World::new(kind);
        let o = decide(&reg, &world, None, DecisionResult::Registered).unwrap();
        assert_eq!(o.record.registration_number, Some(proposed_number(kind)));
        assert_eq!(o.claim_number, Some(proposed_number(kind)));
        assert_eq!(o.release_number, None);
        let d = o.record.decision.unwrap();
        assert_eq!(d.result, DecisionResult::Registered);
        assert_eq!(d.opinion, OPINION);
        assert_eq!(d.by, "point");
    }
}

#[test]
fn deciding_registered_with_a_typed_number_claims_that_number() {
    let reg = applied(State::DecisionPending);
    let world = World::new(Kind::Applied);
    let o = decide(
        &reg,
        &world,
        Some(" 4422026Y0042 "),
        DecisionResult::Registered,
    )
    .unwrap();
    assert_eq!(
        o.record.registration_number.as_deref(),
        Some("4422026Y0042")
    );
    assert_eq!(o.claim_number.as_deref(), Some("4422026Y0042"));
}

#[test]
fn deciding_registered_without_any_number_is_refused() {
    let reg = applied(State::DecisionPending);
    let mut world = World::new(Kind::Applied);
    world.proposed = None;
    let r = decide(&reg, &world, Some("  "), DecisionResult::Registered);
    assert_eq!(validation_fields(r), ["number"]);
}

#[test]
fn deciding_registered_refuses_a_malformed_number() {
    let reg = applied(State::DecisionPending);
    let world = World::new(Kind::Applied);
    for bad in [
        "4422026Y007",
        "4422026Y00071",
        "4422026X0007",
        "4422026Y0000",
        "44220260Y007",
        "４422026Y0007",
    ] {
        let r = decide(&reg, &world, Some(bad), DecisionResult::Registered);
        assert_eq!(validation_fields(r), ["number"], "{bad}");
    }
}

#[test]
fn deciding_registered_refuses_another_authoritys_code() {
    let reg = applied(State::DecisionPending);
    let world = World::new(Kind::Applied);
    match decide(
        &reg,
        &world,
        Some("4402026Y0007"),
        DecisionResult::Registered,
    ) {
        Err(DomainError::Validation { details, .. }) => {
            assert_eq!(details[0].field, "number");
            assert!(details[0].message.contains("442"), "{details:?}");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn deciding_registered_refuses_another_kinds_flag() {
    for (kind, wrong) in [
        (Kind::Applied, "4422026J0007"),
        (Kind::Basic, "4422026R0007"),
        (Kind::Soft, "4422026Y0007"),
    ] {
        let reg = record(State::DecisionPending, kind, Source::OtherFiscal, true);
        let world = World::new(kind);
        match decide(&reg, &world, Some(wrong), DecisionResult::Registered) {
            Err(DomainError::Validation { details, .. }) => {
                assert_eq!(details[0].field, "number");
                assert!(details[0].message.contains(kind.flag()), "{details:?}");
            }
            other => panic!("{kind}: {other:?}"),
        }
    }
}

#[test]
fn deciding_registered_waits_until_the_website_notice_ended() {
    let mut reg = applied(State::DecisionPending);
    let world = World::new(Kind::Applied);
    // Opened 29 days ago: today is the 30th and last day.
    reg.notice = Some(Notice::open(TODAY - Duration::days(29), 7, 30));
    assert_eq!(reg.notice.as_ref().unwrap().website_to, TODAY);
    assert_eq!(
        decide(&reg, &world, None, DecisionResult::Registered).unwrap_err(),
        DomainError::NoticeOpen(TODAY.to_string())
    );
    // Opened today.
    reg.notice = Some(Notice::open(TODAY, 7, 30));
    assert!(matches!(
        decide(&reg, &world, None, DecisionResult::Registered),
        Err(DomainError::NoticeOpen(_))
    ));
    // Opened 30 days ago: ended yesterday.
    reg.notice = Some(Notice::open(TODAY - Duration::days(30), 7, 30));
    assert!(decide(&reg, &world, None, DecisionResult::Registered).is_ok());
}

#[test]
fn deciding_registered_waits_for_every_objection_to_be_resolved() {
    let reg = applied(State::DecisionPending);
    let mut world = World::new(Kind::Applied);
    for n in [1, 3] {
        world.open_objections = n;
        assert_eq!(
            decide(&reg, &world, None, DecisionResult::Registered).unwrap_err(),
            DomainError::OpenObjections
        );
    }
    world.open_objections = 0;
    assert!(decide(&reg, &world, None, DecisionResult::Registered).is_ok());
}

#[test]
fn deciding_rejected_needs_no_number_nor_an_ended_notice() {
    let mut reg = applied(State::DecisionPending);
    reg.notice = Some(Notice::open(TODAY, 7, 30));
    let mut world = World::new(Kind::Applied);
    world.open_objections = 2;
    let o = decide(&reg, &world, None, DecisionResult::Rejected).unwrap();
    assert_eq!(o.record.state, State::Decided);
    assert_eq!(o.record.registration_number, None);
    assert_eq!(o.claim_number, None);
    assert_eq!(o.release_number, None);
    assert_eq!(o.record.decision.unwrap().result, DecisionResult::Rejected);
}

#[test]
fn deciding_needs_a_result_and_an_opinion() {
    let reg = applied(State::DecisionPending);
    let world = World::new(Kind::Applied);
    let point = user(Role::Point, true);
    let req = ActionRequest {
        result: None,
        ..request(&reg)
    };
    let r = apply(&reg, &point, Action::Decide, &req, &world.facts(&reg));
    assert_eq!(validation_fields(r), ["result"]);
    for result in [DecisionResult::Registered, DecisionResult::Rejected] {
        let req = ActionRequest {
            opinion: None,
            result: Some(result),
            ..request(&reg)
        };
        let r = apply(&reg, &point, Action::Decide, &req, &world.facts(&reg));
        assert_eq!(validation_fields(r), ["opinion"], "{result}");
    }
}

/// A decided record with `number`, reopened by the point.
fn reopened(number: &str) -> Registration {
    let mut reg = applied(State::Decided);
    reg.registration_number = Some(number.into());
    let o = act(&reg, Role::Point, Action::Reopen).unwrap();
    assert_eq!(o.record.state, State::DecisionPending);
    assert_eq!(o.record.registration_number.as_deref(), Some(number));
    assert_eq!(o.record.decision, None);
    assert_eq!((o.claim_number, o.release_number), (None, None));
    o.record
}

#[test]
fn re_deciding_with_the_held_number_after_reopen_claims_nothing() {
    let reg = reopened("4422026Y0003");
    let world = World::new(Kind::Applied);
    let o = decide(
        &reg,
        &world,
        Some("4422026Y0003"),
        DecisionResult::Registered,
    )
    .unwrap();
    assert_eq!(
        o.record.registration_number.as_deref(),
        Some("4422026Y0003")
    );
    assert_eq!((o.claim_number, o.release_number), (None, None));
}

#[test]
fn re_deciding_without_a_number_after_reopen_keeps_the_held_number() {
    // domain.md §6: the record keeps its number until it is decided with another.
    let reg = reopened("4422026Y0003");
    let world = World::new(Kind::Applied);
    assert_eq!(world.proposed.as_deref(), Some("4422026Y0008"));
    let o = decide(&reg, &world, None, DecisionResult::Registered).unwrap();
    assert_eq!(
        o.record.registration_number.as_deref(),
        Some("4422026Y0003")
    );
    assert_eq!((o.claim_number, o.release_number), (None, None));
}

#[test]
fn re_deciding_with_another_number_claims_it_and_releases_the_old_one() {
    let reg = reopened("4422026Y0003");
    let world = World::new(Kind::Applied);
    let o = decide(
        &reg,
        &world,
        Some("4422026Y0011"),
        DecisionResult::Registered,
    )
    .unwrap();
    assert_eq!(
        o.record.registration_number.as_deref(),
        Some("4422026Y0011")
    );
    assert_eq!(o.claim_number.as_deref(), Some("4422026Y0011"));
    assert_eq!(o.release_number.as_deref(), Some("4422026Y0003"));
}

#[test]
fn deciding_rejected_releases_a_held_number() {
    let reg = reopened("4422026Y0003");
    let world = World::new(Kind::Applied);
    let o = decide(&reg, &world, None, DecisionResult::Rejected).unwrap();
    assert_eq!(o.record.registration_number, None);
    assert_eq!(o.claim_number, None);
    assert_eq!(o.release_number.as_deref(), Some("4422026Y0003"));
}

// ---------------------------------------------------------------------------------------------
// Reopen

fn reopen_with(
    world: &World,
    opinion: Option<&str>,
    evidence: Option<&str>,
) -> Result<Outcome, DomainError> {
    let reg = applied(State::Decided);
    let req = ActionRequest {
        opinion: opinion.map(str::to_owned),
        evidence_attachment_id: evidence.map(str::to_owned),
        ..request(&reg)
    };
    apply(
        &reg,
        &user(Role::Point, true),
        Action::Reopen,
        &req,
        &world.facts(&reg),
    )
}

#[test]
fn reopening_needs_an_opinion() {
    let world = World::new(Kind::Applied);
    for opinion in [None, Some(" ")] {
        assert_eq!(
            validation_fields(reopen_with(&world, opinion, Some(EVIDENCE_ID))),
            ["opinion"]
        );
    }
}

#[test]
fn reopening_needs_a_ready_evidence_attachment_of_the_record() {
    let mut world = World::new(Kind::Applied);
    // No id, an unknown id, an attachment of another category.
    for evidence in [None, Some("att-nope"), Some("att-evaluation")] {
        assert_eq!(
            validation_fields(reopen_with(&world, Some(OPINION), evidence)),
            ["evidence_attachment_id"],
            "{evidence:?}"
        );
    }
    // A pending upload.
    world
        .attachments
        .iter_mut()
        .find(|a| a.id == EVIDENCE_ID)
        .unwrap()
        .status = AttachmentStatus::Pending;
    assert_eq!(
        validation_fields(reopen_with(&world, Some(OPINION), Some(EVIDENCE_ID))),
        ["evidence_attachment_id"]
    );
    // The evidence of another record.
    let mut world = World::new(Kind::Applied);
    world.attachments.retain(|a| a.id != EVIDENCE_ID);
    world
        .attachments
        .push(attachment("reg-2", EVIDENCE_ID, materials::REOPEN_EVIDENCE));
    assert_eq!(
        validation_fields(reopen_with(&world, Some(OPINION), Some(EVIDENCE_ID))),
        ["evidence_attachment_id"]
    );
    // The right one.
    let world = World::new(Kind::Applied);
    let o = reopen_with(&world, Some(OPINION), Some(EVIDENCE_ID)).unwrap();
    assert_eq!(o.record.state, State::DecisionPending);
    assert_eq!(o.event.opinion.as_deref(), Some(OPINION));
}

// ---------------------------------------------------------------------------------------------
// Choosing the kind

fn system_draft() -> Registration {
    let mut reg = provincial(State::Draft);
    reg.kind = None;
    reg.consent = false;
    reg.fields = Fields::default();
    reg
}

#[test]
fn choosing_the_kind_with_consent_sets_it_once() {
    let reg = system_draft();
    let leader = user(Role::Leader, true);
    let (next, event) = choose_kind(&reg, &leader, Kind::Basic, true, NOW).unwrap();
    assert_eq!(next.kind, Some(Kind::Basic));
    assert!(next.consent);
    assert_eq!(next.version, reg.version + 1);
    assert_eq!(next.state, State::Draft);
    assert_eq!(event.action, Action::ChooseKind);
    assert_eq!(event.seq, reg.event_count + 1);
    assert_eq!(event.from, Some(State::Draft));
    assert_eq!(event.to, State::Draft);
    assert_eq!(event.actor, "leader");
    assert_eq!(event.opinion.as_deref(), Some("基础理论成果"));

    for kind in [Kind::Basic, Kind::Applied] {
        assert!(matches!(
            choose_kind(&next, &leader, kind, true, NOW),
            Err(DomainError::InvalidStateMsg(_))
        ));
    }
}

#[test]
fn choosing_the_kind_needs_consent() {
    let r = choose_kind(
        &system_draft(),
        &user(Role::Leader, true),
        Kind::Soft,
        false,
        NOW,
    );
    match r {
        Err(DomainError::Validation { details, .. }) => assert_eq!(details[0].field, "consent"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn only_the_owning_leader_chooses_the_kind_of_an_editable_draft() {
    let reg = system_draft();
    assert_eq!(
        choose_kind(&reg, &user(Role::Leader, false), Kind::Soft, true, NOW).unwrap_err(),
        DomainError::NotFound
    );
    assert!(matches!(
        choose_kind(&reg, &user(Role::Unit, true), Kind::Soft, true, NOW),
        Err(DomainError::Forbidden(_))
    ));
    let mut submitted = reg.clone();
    submitted.state = State::UnitReview;
    assert!(matches!(
        choose_kind(&submitted, &user(Role::Leader, true), Kind::Soft, true, NOW),
        Err(DomainError::InvalidStateMsg(_))
    ));
}

// ---------------------------------------------------------------------------------------------
// Editing

#[test]
fn only_the_owning_leader_edits_and_only_in_draft_or_returned() {
    for has_department in [true, false] {
        for state in STATES {
            for role in ROLES {
                for attached in [true, false] {
                    let reg = record(state, Kind::Applied, Source::OtherFiscal, has_department);
                    let u = user(role, attached);
                    let r = ensure_can_edit(&u, &reg);
                    let case = format!("{state} {role} attached={attached} dept={has_department}");
                    let editable = matches!(state, State::Draft | State::Returned);
                    if !sees(role, attached, has_department) {
                        assert_eq!(r, Err(DomainError::NotFound), "{case}");
                    } else if role != Role::Leader {
                        assert!(matches!(r, Err(DomainError::Forbidden(_))), "{case}: {r:?}");
                    } else if !editable {
                        assert!(
                            matches!(r, Err(DomainError::InvalidStateMsg(_))),
                            "{case}: {r:?}"
                        );
                    } else {
                        assert_eq!(r, Ok(()), "{case}");
                    }
                    assert_eq!(
                        can_edit(&u, &reg),
                        role == Role::Leader && attached && editable,
                        "{case}"
                    );
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Failed acceptance

#[test]
fn a_failed_acceptance_returns_only_records_under_review_with_a_system_event() {
    let mut project = World::new(Kind::Applied).project;
    project.acceptance = AcceptanceStatus::Failed;
    for state in STATES {
        let reg = provincial(state);
        let under_review = matches!(
            state,
            State::DeptReview
                | State::UnitReview
                | State::PointReview
                | State::PaperPending
                | State::DecisionPending
        );
        match return_for_failed_acceptance(&reg, &project, NOW) {
            None => assert!(!under_review, "{state} should be returned"),
            Some((next, event)) => {
                assert!(under_review, "{state} should stay");
                assert_eq!(next.state, State::Returned);
                assert_eq!(next.version, reg.version + 1);
                assert_eq!(next.event_count, reg.event_count + 1);
                assert_eq!(next.updated_at, NOW);
                let opinion = next.return_opinion.clone().unwrap();
                assert!(opinion.contains(&project.name), "{opinion}");
                assert!(opinion.contains(&project.number), "{opinion}");
                assert!(opinion.contains("验收不通过"), "{opinion}");
                assert_eq!(
                    event,
                    Event {
                        registration_id: reg.id.clone(),
                        seq: reg.event_count + 1,
                        action: Action::AcceptanceFailed,
                        from: Some(state),
                        to: State::Returned,
                        actor: "system".into(),
                        role: None,
                        opinion: Some(opinion),
                        at: NOW,
                    }
                );
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Project acceptance order (domain.md §9)

#[test]
fn acceptance_moves_only_forward_one_step_at_a_time() {
    use AcceptanceStatus::*;
    let allowed = [
        (Pending, ReviewCompleted),
        (ReviewCompleted, DocSubmitted),
        (DocSubmitted, Passed),
        (DocSubmitted, Failed),
    ];
    let mut project = World::new(Kind::Applied).project;
    for from in AcceptanceStatus::ALL {
        for to in AcceptanceStatus::ALL {
            let ok = allowed.contains(&(*from, *to));
            assert_eq!(from.can_move_to(*to), ok, "{from:?} → {to:?}");
            project.acceptance = *from;
            match project.check_move(*to) {
                Ok(()) => assert!(ok, "{from:?} → {to:?}"),
                Err(DomainError::InvalidStateMsg(m)) => {
                    assert!(!ok, "{from:?} → {to:?}");
                    assert!(m.contains(from.label()) && m.contains(to.label()), "{m}");
                }
                Err(e) => panic!("{e:?}"),
            }
        }
    }
}

#[test]
fn the_acceptance_review_is_completed_from_review_completed_on() {
    use AcceptanceStatus::*;
    assert!(!Pending.review_completed());
    for s in [ReviewCompleted, DocSubmitted, Passed, Failed] {
        assert!(s.review_completed(), "{s:?}");
    }
    for s in AcceptanceStatus::ALL {
        assert_eq!(AcceptanceStatus::parse(s.code()), Some(*s));
        let json = serde_json::to_string(s).unwrap();
        assert_eq!(json, format!("\"{}\"", s.code()));
    }
    assert_eq!(AcceptanceStatus::parse("accepted"), None);
}
