//! What the templates see of a record: its public fields only (domain.md §7) — never the
//! contact, the recommender, the attachments or the history — as display text.

use std::collections::HashMap;

use chengguo_domain::codes::{DecisionResult, EvaluationMethod, Level, State};
use chengguo_domain::ports::china_date;
use chengguo_domain::project::Project;
use chengguo_domain::record::{Notice, Registration};
use serde::Serialize;
use sha2::{Digest, Sha256};
use time::Date;

/// A date as ISO text (for `<time datetime>`) and as Chinese text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DateView {
    pub iso: String,
    pub text: String,
}

pub fn date_view(d: Date) -> DateView {
    DateView {
        iso: format!("{:04}-{:02}-{:02}", d.year(), u8::from(d.month()), d.day()),
        text: format!("{}年{}月{}日", d.year(), u8::from(d.month()), d.day()),
    }
}

/// The notice windows of a record, and the days its website notice still runs.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NoticeView {
    pub paper_received_on: DateView,
    pub unit_from: DateView,
    pub unit_to: DateView,
    pub website_from: DateView,
    pub website_to: DateView,
    /// Days left including `today`; 0 when ended.
    pub days_remaining: i64,
}

pub fn notice_view(n: &Notice, today: Date) -> NoticeView {
    NoticeView {
        paper_received_on: date_view(n.paper_received_on),
        unit_from: date_view(n.unit_from),
        unit_to: date_view(n.unit_to),
        website_from: date_view(n.website_from),
        website_to: date_view(n.website_to),
        days_remaining: ((n.website_to - today).whole_days() + 1).max(0),
    }
}

/// Names the public fields refer to.
#[derive(Debug, Default)]
pub struct Lookup {
    /// Authority names by id.
    pub authorities: HashMap<String, String>,
    /// In-system projects by id.
    pub projects: HashMap<String, Project>,
}

impl Lookup {
    pub fn new(authorities: &[chengguo_domain::org::Authority], projects: Vec<Project>) -> Lookup {
        Lookup {
            authorities: authorities
                .iter()
                .map(|a| (a.id.clone(), a.name.clone()))
                .collect(),
            projects: projects.into_iter().map(|p| (p.id.clone(), p)).collect(),
        }
    }
}

/// A line of a listing.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ListItem {
    pub title: String,
    pub url: String,
    pub number: String,
    pub kind: &'static str,
    pub kind_label: &'static str,
    pub first_unit: String,
    pub decided_on: Option<DateView>,
    pub notice: Option<NoticeView>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CompleterView {
    pub name: String,
    pub work_unit: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ProjectView {
    pub name: String,
    pub number: String,
    pub funding: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EvaluationView {
    pub method: String,
    pub body: String,
    pub date: String,
}

/// Every public field of a record, for its own page.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RecordView {
    pub id: String,
    pub url: String,
    pub title: String,
    pub number: String,
    pub kind: &'static str,
    pub kind_label: &'static str,
    pub source_label: &'static str,
    pub authority: String,
    pub first_unit: String,
    pub units: Vec<String>,
    pub completers: Vec<CompleterView>,
    pub project: Option<ProjectView>,
    pub keywords: Vec<String>,
    pub discipline: String,
    pub level: String,
    pub evaluation: EvaluationView,
    /// The summary split into paragraphs at line breaks.
    pub summary: Vec<String>,
    pub decided_on: Option<DateView>,
    pub notice: Option<NoticeView>,
}

fn text(s: &Option<String>) -> String {
    s.as_deref().map(str::trim).unwrap_or("").to_owned()
}

/// The title shown, with a stand-in for a record saved without one.
pub fn title_of(reg: &Registration) -> String {
    match text(&reg.fields.title) {
        t if t.is_empty() => "（未填写成果名称）".to_owned(),
        t => t,
    }
}

pub fn first_unit_of(reg: &Registration) -> String {
    reg.fields
        .first_unit()
        .map(|u| text(&u.name))
        .unwrap_or_default()
}

/// The day of the decision, in China.
pub fn decided_on(reg: &Registration) -> Option<Date> {
    reg.decision.as_ref().map(|d| china_date(d.at))
}

/// Whether a record is announced on `today`: its website notice is open and it awaits decision.
pub fn is_announced(reg: &Registration, today: Date) -> bool {
    reg.state == State::DecisionPending
        && reg
            .notice
            .as_ref()
            .is_some_and(|n| n.website_open_on(today))
}

/// Whether a record belongs in the registry: decided `registered`, with its number.
pub fn is_registered(reg: &Registration) -> bool {
    reg.state == State::Decided
        && reg
            .decision
            .as_ref()
            .is_some_and(|d| d.result == DecisionResult::Registered)
        && reg
            .registration_number
            .as_deref()
            .is_some_and(|n| !n.trim().is_empty())
}

fn safe_segment(s: &str, extra: &[char]) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || extra.contains(&c))
}

fn hashed(prefix: &str, s: &str) -> String {
    let digest = Sha256::digest(s.as_bytes());
    format!("{prefix}{}", &hex::encode(digest)[..16])
}

/// A URL segment from the record id's hash, for records whose own segment is unsafe or taken.
pub fn hashed_slug(reg: &Registration) -> String {
    hashed("r-", &reg.id)
}

/// The URL segment of an announcement: the record id when it is URL-safe, else a hash of it.
pub fn notice_slug(reg: &Registration) -> String {
    if safe_segment(&reg.id, &['-', '_']) {
        reg.id.clone()
    } else {
        hashed("r-", &reg.id)
    }
}

/// Segments of `/registry/…` that are listings, never achievements.
const RESERVED: &[&str] = &["page", "kind", "year", "index"];

/// The URL segment of a registered achievement: its registration number when URL-safe.
pub fn registry_slug(reg: &Registration) -> String {
    let number = reg.registration_number.as_deref().unwrap_or("").trim();
    if safe_segment(number, &[]) && !RESERVED.contains(&number) {
        number.to_owned()
    } else {
        hashed("r-", &reg.id)
    }
}

pub fn list_item(reg: &Registration, url: String, today: Date) -> ListItem {
    ListItem {
        title: title_of(reg),
        url,
        number: reg.registration_number.clone().unwrap_or_default(),
        kind: reg.kind.map_or("", |k| k.code()),
        kind_label: reg.kind.map_or("", |k| k.label()),
        first_unit: first_unit_of(reg),
        decided_on: decided_on(reg).map(date_view),
        notice: reg.notice.as_ref().map(|n| notice_view(n, today)),
    }
}

pub fn record_view(reg: &Registration, url: String, today: Date, lookup: &Lookup) -> RecordView {
    let f = &reg.fields;
    let project = match reg
        .project_id
        .as_deref()
        .and_then(|id| lookup.projects.get(id))
    {
        Some(p) => Some(ProjectView {
            name: p.name.clone(),
            number: p.number.clone(),
            funding: p.plan.clone(),
        }),
        None => f.project.as_ref().map(|p| ProjectView {
            name: text(&p.name),
            number: text(&p.number),
            funding: text(&p.funding),
        }),
    }
    .filter(|p| !(p.name.is_empty() && p.number.is_empty() && p.funding.is_empty()));
    let discipline = match &f.discipline {
        Some(d) => match (text(&d.name), text(&d.code)) {
            (n, c) if n.is_empty() => c,
            (n, c) if c.is_empty() => n,
            (n, c) => format!("{n}（{c}）"),
        },
        None => String::new(),
    };
    let level = text(&f.level);
    let eval = f.evaluation.clone().unwrap_or_default();
    let method = text(&eval.method);
    RecordView {
        id: reg.id.clone(),
        url,
        title: title_of(reg),
        number: reg.registration_number.clone().unwrap_or_default(),
        kind: reg.kind.map_or("", |k| k.code()),
        kind_label: reg.kind.map_or("", |k| k.label()),
        source_label: reg.source.label(),
        authority: lookup
            .authorities
            .get(reg.authority_id.as_str())
            .cloned()
            .unwrap_or_else(|| "中山市科学技术局".to_owned()),
        first_unit: first_unit_of(reg),
        units: f
            .units
            .iter()
            .map(|u| text(&u.name))
            .filter(|s| !s.is_empty())
            .collect(),
        completers: f
            .completers
            .iter()
            .map(|c| CompleterView {
                name: text(&c.name),
                work_unit: text(&c.work_unit),
            })
            .filter(|c| !c.name.is_empty())
            .collect(),
        project,
        keywords: f
            .keywords
            .iter()
            .map(|k| k.trim().to_owned())
            .filter(|k| !k.is_empty())
            .collect(),
        discipline,
        level: Level::parse(&level)
            .map(|l| l.label().to_owned())
            .unwrap_or(level),
        evaluation: EvaluationView {
            method: EvaluationMethod::parse(&method)
                .map(|m| m.label().to_owned())
                .unwrap_or(method),
            body: text(&eval.body),
            date: text(&eval.date),
        },
        summary: text(&f.summary)
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(str::to_owned)
            .collect(),
        decided_on: decided_on(reg).map(date_view),
        notice: reg.notice.as_ref().map(|n| notice_view(n, today)),
    }
}
