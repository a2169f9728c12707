//! Fixtures built in code: a small state on a fixed date, and helpers to read a built site.

#![allow(dead_code)]

use std::collections::BTreeMap;

use chengguo_domain::codes::{DecisionResult, Kind, Source, State};
use chengguo_domain::fields::{
    Completer, Contact, Discipline, Evaluation, Fields, ProjectInfo, UnitEntry,
};
use chengguo_domain::org::Authority;
use chengguo_domain::record::{Decision, Notice, Registration};
use chengguo_site::{Page, Site, SiteInput};
use time::macros::{date, datetime};
use time::{Date, OffsetDateTime};

/// The fixture's build date.
pub const TODAY: Date = date!(2026 - 03 - 10);
pub const AUTHORITY_ID: &str = "auth-zs";
pub const BASE_URL: &str = "https://kj.example.gov.cn";

/// Contact details and the recommender of every fixture record: never on any page.
pub const SECRET_NAME: &str = "联系人甲乙";
pub const SECRET_MOBILE: &str = "13912345678";
pub const SECRET_EMAIL: &str = "hidden-contact@example.com";
pub const SECRET_RECOMMENDER: &str = "推荐单位丙丁";

pub fn site() -> Site {
    Site::from_embedded().expect("the embedded site builds")
}

pub fn authority() -> Authority {
    Authority {
        id: AUTHORITY_ID.into(),
        name: "中山市科学技术局".into(),
        code: "442".into(),
    }
}

/// A complete record of `kind` in `decision_pending` without notice; tests set the rest.
pub fn record(id: &str, kind: Kind, title: &str, unit: &str) -> Registration {
    let created = datetime!(2026-01-05 09:00 +8);
    Registration {
        id: id.into(),
        kind: Some(kind),
        consent: true,
        source: Source::NonFiscal,
        state: State::DecisionPending,
        version: 7,
        owner_id: "u-leader".into(),
        unit_id: "unit-1".into(),
        department_id: None,
        authority_id: AUTHORITY_ID.into(),
        project_id: None,
        fields: Fields {
            title: Some(title.into()),
            project: Some(ProjectInfo {
                name: Some(format!("{title}研究项目")),
                number: Some("ZS2025-018".into()),
                funding: Some("企业自筹".into()),
            }),
            authority_id: Some(AUTHORITY_ID.into()),
            units: vec![
                UnitEntry {
                    name: Some(unit.into()),
                    uscc: Some("91442000MA4UQ1234X".into()),
                },
                UnitEntry {
                    name: Some("中山职业技术学院".into()),
                    uscc: Some("12442000455870123A".into()),
                },
            ],
            completers: vec![
                Completer {
                    name: Some("王建国".into()),
                    gender: Some("male".into()),
                    title: Some("高级工程师".into()),
                    degree: Some("硕士".into()),
                    work_unit: Some(unit.into()),
                    contribution: Some("总体方案设计".into()),
                },
                Completer {
                    name: Some("李敏".into()),
                    gender: Some("female".into()),
                    title: Some("副教授".into()),
                    degree: Some("博士".into()),
                    work_unit: Some("中山职业技术学院".into()),
                    contribution: Some("算法研究".into()),
                },
            ],
            research_start: Some("2023-01".into()),
            research_end: Some("2025-06".into()),
            recommender: Some(SECRET_RECOMMENDER.into()),
            secrecy: Some("none".into()),
            keywords: vec!["在线监测".into(), "节能".into()],
            discipline: Some(Discipline {
                code: Some("520".into()),
                name: Some("工程与技术科学基础学科".into()),
            }),
            summary: Some(format!(
                "{title}针对中山市中小企业的实际需求开展研究。\n项目形成了可推广的技术方案，并在三家企业完成应用验证。"
            )),
            level: Some("domestic_advanced".into()),
            evaluation: Some(Evaluation {
                method: Some("third_party".into()),
                body: Some("广东省某科技评价中心".into()),
                date: Some("2025-09-18".into()),
            }),
            contact: Some(Contact {
                name: Some(SECRET_NAME.into()),
                mobile: Some(SECRET_MOBILE.into()),
                email: Some(SECRET_EMAIL.into()),
            }),
            contract_has_lists: false,
            ..Fields::default()
        },
        registration_number: None,
        decision: None,
        notice: None,
        return_opinion: None,
        submitted_at: Some(created),
        event_count: 7,
        created_at: created,
        updated_at: created,
    }
}

/// A record announced from `received` (7-day unit and 30-day website notice).
pub fn announced(id: &str, kind: Kind, title: &str, unit: &str, received: Date) -> Registration {
    let mut r = record(id, kind, title, unit);
    r.notice = Some(Notice::open(received, 7, 30));
    r
}

/// A record decided `registered` with `number` at `at`, after a notice from `received`.
pub fn registered(
    id: &str,
    kind: Kind,
    title: &str,
    unit: &str,
    number: &str,
    received: Date,
    at: OffsetDateTime,
) -> Registration {
    let mut r = announced(id, kind, title, unit, received);
    r.state = State::Decided;
    r.registration_number = Some(number.into());
    r.decision = Some(Decision {
        result: DecisionResult::Registered,
        opinion: "同意登记".into(),
        by: "point".into(),
        at,
    });
    r
}

/// The fixture: one announcement and two registered achievements of different kinds and years.
pub fn fixture() -> SiteInput {
    let mut input = SiteInput::new(TODAY);
    input.base_url = BASE_URL.into();
    input.authorities = vec![authority()];
    input.registrations = vec![
        announced(
            "r-notice-1",
            Kind::Applied,
            "智能水质在线监测装置",
            "中山市清源环保科技有限公司",
            date!(2026 - 03 - 02),
        ),
        registered(
            "r-reg-1",
            Kind::Applied,
            "高效节能照明驱动电源关键技术",
            "中山市明光电子有限公司",
            "4422026Y0001",
            date!(2025 - 12 - 01),
            datetime!(2026-01-20 10:30 +8),
        ),
        registered(
            "r-reg-2",
            Kind::Soft,
            "中山市科技创新政策实施效果评估研究",
            "中山市科技发展研究院",
            "4422025R0003",
            date!(2025 - 10 - 01),
            datetime!(2025-11-05 15:00 +8),
        ),
    ];
    input
}

/// `count` registered applied achievements, numbered from 1, decided one per day.
pub fn many_registered(count: usize) -> Vec<Registration> {
    (1..=count)
        .map(|i| {
            let at = datetime!(2026-01-01 09:00 +8) + time::Duration::hours(i as i64);
            let kind = Kind::ALL[i % 3];
            let mut r = registered(
                &format!("r-many-{i:05}"),
                kind,
                &format!("批量成果{i}"),
                &format!("中山市第{}科技有限公司", i % 17),
                &format!("4432026{}{i:04}", kind.flag()),
                date!(2025 - 11 - 01),
                at,
            );
            r.fields.keywords = vec![format!("关键词{}", i % 5)];
            r
        })
        .collect()
}

/// Renders the site, with the assets' fingerprints replaced by `HASH` so that a change of the
/// stylesheet does not change every snapshot.
pub fn render(site: &Site, input: &SiteInput) -> BTreeMap<String, Page> {
    site.render(input).expect("the site renders")
}

pub fn text_of(site: &Site, pages: &BTreeMap<String, Page>, path: &str) -> String {
    let page = pages.get(path).unwrap_or_else(|| {
        panic!(
            "no page at {path}; have {:?}",
            pages.keys().collect::<Vec<_>>()
        )
    });
    let mut text = page.text().to_owned();
    for name in ["site.css", "site.js"] {
        let real = site.asset_path(name).expect("asset");
        let (stem, ext) = name.split_once('.').expect("dot");
        text = text.replace(real, &format!("/static/{stem}.HASH.{ext}"));
    }
    text
}
