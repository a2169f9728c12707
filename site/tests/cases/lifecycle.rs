//! A record through the real workflow: announced on the day its paper materials are received,
//! gone after its 30 days, in the registry once decided `registered`, out of it after `reopen`.

use chengguo_domain::codes::{Action, DecisionResult, Kind, Role, State};
use chengguo_domain::materials::REOPEN_EVIDENCE;
use chengguo_domain::org::User;
use chengguo_domain::record::{Attachment, AttachmentStatus, Registration};
use chengguo_domain::workflow::{self, ActionRequest, Facts};
use chengguo_site::SiteInput;
use time::macros::{date, datetime};
use time::{Date, Duration};

use crate::support::{AUTHORITY_ID, authority, record, site};

fn point() -> User {
    User {
        id: "u-point".into(),
        username: "point".into(),
        display_name: "成果登记点".into(),
        role: Role::Point,
        password_hash: String::new(),
        email: None,
        unit_id: None,
        department_id: None,
        authority_id: Some(AUTHORITY_ID.into()),
        supervised_unit_ids: Vec::new(),
        failed_logins: 0,
        locked_until: None,
        last_login_at: None,
        unlocked_at: None,
        active: true,
        created_at: datetime!(2026-01-01 00:00 UTC),
    }
}

fn evidence(reg: &Registration) -> Attachment {
    Attachment {
        id: "att-evidence".into(),
        registration_id: reg.id.clone(),
        category: REOPEN_EVIDENCE.into(),
        filename: "说明.pdf".into(),
        content_type: "application/pdf".into(),
        size: 1000,
        status: AttachmentStatus::Ready,
        sha256: None,
        key: Attachment::key_for(&reg.id, "att-evidence"),
        uploaded_by: "u-point".into(),
        created_at: datetime!(2026-04-01 00:00 UTC),
        expires_at: datetime!(2026-04-02 00:00 UTC),
    }
}

/// Applies `action` by the point on `day`.
fn act(reg: &Registration, action: Action, day: Date, req: ActionRequest) -> Registration {
    let authorities = [authority()];
    let attachments = [evidence(reg)];
    let facts = Facts {
        now: day.midnight().assume_offset(chengguo_domain::ports::CHINA) + Duration::hours(10),
        today: day,
        authorities: &authorities,
        authority: Some(&authorities[0]),
        attachments: &attachments,
        project: None,
        open_objections: 0,
        proposed_number: Some("4422026Y0001".into()),
        unit_notice_days: 7,
        website_notice_days: 30,
    };
    let req = ActionRequest {
        version: reg.version,
        ..req
    };
    workflow::apply(reg, &point(), action, &req, &facts)
        .unwrap_or_else(|e| panic!("{action} refused: {e:?}"))
        .record
}

fn paths_on(
    reg: &Registration,
    day: Date,
) -> std::collections::BTreeMap<String, chengguo_site::Page> {
    let mut input = SiteInput::new(day);
    input.authorities = vec![authority()];
    input.registrations = vec![reg.clone()];
    site().render(&input).unwrap()
}

const NOTICE: &str = "/notices/r-life/index.html";
const ACHIEVEMENT: &str = "/registry/4422026Y0001/index.html";

#[test]
fn an_announcement_runs_from_receive_paper_for_thirty_days_then_the_registry_takes_over() {
    let received = date!(2026 - 03 - 02);
    let mut reg = record(
        "r-life",
        Kind::Applied,
        "全流程成果",
        "中山市全流程科技有限公司",
    );
    reg.state = State::PaperPending;

    // Before the paper materials are received: nowhere.
    let pages = paths_on(&reg, received);
    assert!(!pages.contains_key(NOTICE));

    // On the day of receive_paper: announced, 30 days left.
    let reg = act(
        &reg,
        Action::ReceivePaper,
        received,
        ActionRequest::default(),
    );
    assert_eq!(reg.state, State::DecisionPending);
    let pages = paths_on(&reg, received);
    let page = pages[NOTICE].text();
    assert!(page.contains("剩余 <strong>30</strong> 天"), "{page}");
    assert!(
        pages["/notices/index.html"]
            .text()
            .contains("/notices/r-life/")
    );
    assert!(pages["/feed.xml"].text().contains("全流程成果"));

    // The last day of the notice: still there, one day left.
    let last = received + Duration::days(29);
    let pages = paths_on(&reg, last);
    assert!(pages[NOTICE].text().contains("剩余 <strong>1</strong> 天"));

    // After 30 days: gone from the site, not yet in the registry.
    let after = received + Duration::days(30);
    let pages = paths_on(&reg, after);
    assert!(!pages.contains_key(NOTICE));
    assert!(!pages["/notices/index.html"].text().contains("全流程成果"));
    assert!(!pages["/feed.xml"].text().contains("全流程成果"));
    assert!(!pages.contains_key(ACHIEVEMENT));

    // Decided registered: its registry page with the registration number.
    let reg = act(
        &reg,
        Action::Decide,
        after,
        ActionRequest {
            result: Some(DecisionResult::Registered),
            opinion: Some("同意登记".into()),
            ..ActionRequest::default()
        },
    );
    let pages = paths_on(&reg, after);
    let page = pages[ACHIEVEMENT].text();
    assert!(page.contains("成果登记号：<strong>4422026Y0001</strong>"));
    assert!(
        pages["/registry/index.html"]
            .text()
            .contains("/registry/4422026Y0001/")
    );
    assert!(
        pages["/registry/index/2026-1.json"]
            .text()
            .contains("4422026Y0001")
    );
    assert!(pages.contains_key("/registry/year/2026/index.html"));

    // Reopened: decision pending again with its notice ended — in neither list.
    let reopen_day = after + Duration::days(1);
    let reg = act(
        &reg,
        Action::Reopen,
        reopen_day,
        ActionRequest {
            opinion: Some("批复信息有误，重新批复".into()),
            evidence_attachment_id: Some("att-evidence".into()),
            ..ActionRequest::default()
        },
    );
    assert_eq!(reg.state, State::DecisionPending);
    assert!(reg.decision.is_none());
    let pages = paths_on(&reg, reopen_day);
    assert!(!pages.contains_key(ACHIEVEMENT));
    assert!(!pages.contains_key(NOTICE));
    assert!(!pages.contains_key("/registry/index/2026-1.json"));
    assert!(
        !pages["/registry/index.json"]
            .text()
            .contains("/registry/index/2026-1.json")
    );
    assert!(!pages.contains_key("/registry/year/2026/index.html"));
    assert!(!pages["/index.html"].text().contains("全流程成果"));
}

#[test]
fn rejected_and_unreceived_records_are_never_public() {
    let mut rejected = record("r-rejected", Kind::Soft, "不予登记的成果", "某单位");
    rejected.state = State::Decided;
    rejected.notice = Some(chengguo_domain::record::Notice::open(
        date!(2026 - 01 - 02),
        7,
        30,
    ));
    rejected.decision = Some(chengguo_domain::record::Decision {
        result: DecisionResult::Rejected,
        opinion: "不予登记".into(),
        by: "point".into(),
        at: datetime!(2026-02-10 10:00 +8),
    });
    let mut pending = record("r-review", Kind::Basic, "审核中的成果", "某单位");
    pending.state = State::PointReview;
    let mut input = SiteInput::new(date!(2026 - 03 - 01));
    input.registrations = vec![rejected, pending];
    let pages = site().render(&input).unwrap();
    for (path, page) in &pages {
        assert!(!page.text().contains("不予登记的成果"), "{path}");
        assert!(!page.text().contains("审核中的成果"), "{path}");
    }
}

#[test]
fn two_records_sharing_a_number_both_get_a_page() {
    let mut input = crate::support::fixture();
    let mut twin = input.registrations[1].clone();
    twin.id = "r-twin".into();
    twin.fields.title = Some("同号成果".into());
    input.registrations.push(twin);
    let pages = site().render(&input).unwrap();
    let holders: Vec<&String> = pages
        .iter()
        .filter(|(p, page)| {
            p.starts_with("/registry/") && page.text().contains("成果登记号：<strong>4422026Y0001")
        })
        .map(|(p, _)| p)
        .collect();
    assert_eq!(holders.len(), 2, "{holders:?}");
}
