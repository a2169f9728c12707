//! Updating a published site in place gives exactly the files of a full build of the same
//! input: after a new announcement, decisions (one that opens a new listing page), an edit, a
//! reopening (also of the only achievement of a year), a number two records share, a notice
//! that ends by date and a renamed project — through the record-level and the whole-input
//! updates, and through the publisher reading one record from the store.

use std::collections::BTreeMap;

use chengguo_domain::codes::{DecisionResult, Kind, State};
use chengguo_domain::ports::{RegistrationWrite, Store, WriteSet};
use chengguo_domain::project::{AcceptanceStatus, Project};
use chengguo_domain::record::{Decision, Notice, Registration};
use chengguo_site::{
    MemorySink, Page, PublishReport, Publisher, Site, SiteInput, SiteState, load_input,
};
use chengguo_sqlite::SqliteStore;
use time::Duration;
use time::macros::{date, datetime};

use crate::support::{TODAY, announced, authority, fixture, many_registered, registered, site};

/// Asserts that `sink` holds exactly the files of a full build of `input`.
fn assert_same_as_full_build(step: &str, site: &Site, sink: &MemorySink, input: &SiteInput) {
    let expected: BTreeMap<String, Page> = site.render(input).unwrap();
    let got = sink.files();
    let missing: Vec<&String> = expected.keys().filter(|p| !got.contains_key(*p)).collect();
    let extra: Vec<&String> = got.keys().filter(|p| !expected.contains_key(*p)).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "{step}: missing {missing:?}, extra {extra:?}"
    );
    for (path, page) in &expected {
        assert!(
            got[path] == *page,
            "{step}: {path} differs from a full build:\n--- full\n{}\n--- updated\n{}",
            page.text(),
            got[path].text()
        );
    }
}

/// Two copies of the site kept up to date, one told which records changed, the other given
/// the whole input, each checked against a full build after every step.
struct Pair {
    site: Site,
    input: SiteInput,
    by_record: (SiteState, std::sync::Arc<MemorySink>),
    by_input: (SiteState, std::sync::Arc<MemorySink>),
}

impl Pair {
    async fn new(input: SiteInput) -> Pair {
        let site = site();
        let a = MemorySink::new();
        let (sa, _) = SiteState::publish(&site, input.clone(), a.as_ref())
            .await
            .unwrap();
        let b = MemorySink::new();
        let (sb, _) = SiteState::publish(&site, input.clone(), b.as_ref())
            .await
            .unwrap();
        Pair {
            site,
            input,
            by_record: (sa, a),
            by_input: (sb, b),
        }
    }

    /// Publishes the change `edit` made to the input, naming the records `ids`; answers what
    /// the record-level update did.
    async fn step(
        &mut self,
        name: &str,
        ids: &[&str],
        edit: impl FnOnce(&mut SiteInput),
    ) -> PublishReport {
        edit(&mut self.input);
        let records = ids
            .iter()
            .map(|id| {
                let r = self
                    .input
                    .registrations
                    .iter()
                    .find(|r| r.id == *id)
                    .cloned();
                ((*id).to_owned(), r)
            })
            .collect();
        let report = self
            .by_record
            .0
            .update_records(
                &self.site,
                self.input.today,
                records,
                self.input.projects.clone(),
                self.by_record.1.as_ref(),
            )
            .await
            .unwrap();
        assert_same_as_full_build(name, &self.site, &self.by_record.1, &self.input);
        self.by_input
            .0
            .update_input(&self.site, self.input.clone(), self.by_input.1.as_ref())
            .await
            .unwrap();
        assert_same_as_full_build(name, &self.site, &self.by_input.1, &self.input);
        report
    }
}

fn decide(r: &mut Registration, number: &str, at: time::OffsetDateTime) {
    r.state = State::Decided;
    r.registration_number = Some(number.into());
    r.decision = Some(Decision {
        result: DecisionResult::Registered,
        opinion: "同意登记".into(),
        by: "point".into(),
        at,
    });
}

fn find<'a>(input: &'a mut SiteInput, id: &str) -> &'a mut Registration {
    input.registrations.iter_mut().find(|r| r.id == id).unwrap()
}

#[tokio::test]
async fn updates_after_every_kind_of_change_equal_a_full_build() {
    let mut input = fixture();
    // 248 + 2 = 250 achievements: five full listing pages, so the next decision opens a sixth.
    input.registrations.extend(many_registered(248));
    let mut pair = Pair::new(input).await;
    assert_same_as_full_build("first build", &pair.site, &pair.by_record.1, &pair.input);

    pair.step("new announcement", &["r-new"], |i| {
        i.registrations.push(announced(
            "r-new",
            Kind::Basic,
            "新公示的成果",
            "中山市新成果科技有限公司",
            TODAY,
        ));
    })
    .await;

    let report = pair
        .step(
            "decision opening a new listing page",
            &["r-notice-1"],
            |i| {
                let r = find(i, "r-notice-1");
                decide(r, "4432026Y9001", datetime!(2026-03-10 11:00 +8));
            },
        )
        .await;
    assert!(
        report
            .written
            .contains(&"/registry/page/6/index.html".to_owned()),
        "{report:?}"
    );

    pair.step("a second decision on the new page", &["r-new"], |i| {
        i.today = TODAY + Duration::days(31);
        let r = find(i, "r-new");
        decide(r, "4432026J9002", datetime!(2026-04-10 11:00 +8));
    })
    .await;

    pair.step(
        "an edited achievement in the middle",
        &["r-many-00100"],
        |i| {
            find(i, "r-many-00100").fields.title = Some("修订后的批量成果".into());
        },
    )
    .await;

    pair.step(
        "a reopened achievement in the middle",
        &["r-many-00050"],
        |i| {
            let r = find(i, "r-many-00050");
            r.state = State::DecisionPending;
            r.decision = None;
            r.registration_number = None;
        },
    )
    .await;

    pair.step("the only achievement of 2025 reopened", &["r-reg-2"], |i| {
        let r = find(i, "r-reg-2");
        r.state = State::DecisionPending;
        r.decision = None;
    })
    .await;

    pair.step(
        "a second record with a number already shown",
        &["r-twin"],
        |i| {
            let mut twin = registered(
                "r-twin",
                Kind::Applied,
                "同号成果",
                "中山市同号科技有限公司",
                "4422026Y0001",
                date!(2026 - 01 - 01),
                datetime!(2026-04-11 09:00 +8),
            );
            twin.notice = Some(Notice::open(date!(2026 - 01 - 01), 7, 30));
            i.registrations.push(twin);
        },
    )
    .await;

    pair.step("the number freed again", &["r-twin"], |i| {
        i.registrations.retain(|r| r.id != "r-twin");
    })
    .await;

    pair.step(
        "announcements opening and ending by date",
        &["r-late"],
        |i| {
            i.registrations.push(announced(
                "r-late",
                Kind::Soft,
                "较晚公示的成果",
                "中山市较晚科技有限公司",
                date!(2026 - 04 - 20),
            ));
        },
    )
    .await;
    pair.step("the date moves into the notice", &[], |i| {
        i.today = date!(2026 - 04 - 25);
    })
    .await;
    pair.step("the date moves past the notice", &[], |i| {
        i.today = date!(2026 - 05 - 25);
    })
    .await;

    pair.step("a record referring to a project", &["r-many-00010"], |i| {
        i.projects = vec![project("旧项目名称")];
        find(i, "r-many-00010").project_id = Some("p-1".into());
    })
    .await;
    pair.step("the project renamed", &[], |i| {
        i.projects = vec![project("新项目名称")];
    })
    .await;
}

fn project(name: &str) -> Project {
    Project {
        id: "p-1".into(),
        number: "2024GD001".into(),
        name: name.into(),
        plan: "广东省重点领域研发计划".into(),
        leader_username: "leader".into(),
        unit_id: "unit-1".into(),
        acceptance: AcceptanceStatus::Passed,
        acceptance_opinion: None,
        registration_id: None,
        version: 1,
        created_at: datetime!(2026-01-01 00:00 UTC),
        updated_at: datetime!(2026-01-01 00:00 UTC),
    }
}

#[tokio::test]
async fn a_new_decision_rewrites_only_the_last_listing_pages_and_the_pages_with_counts() {
    let mut input = fixture();
    // 302 achievements: archive pages 1 to 7 of the whole registry.
    input.registrations.extend(many_registered(300));
    let mut pair = Pair::new(input).await;
    let report = pair
        .step("decision", &["r-notice-1"], |i| {
            let r = find(i, "r-notice-1");
            decide(r, "4432026Y9001", datetime!(2026-03-10 11:00 +8));
        })
        .await;
    // The older archive pages hold the same achievements and links as before.
    for page in 1..=4 {
        let path = format!("/registry/page/{page}/index.html");
        assert!(!report.written.contains(&path), "{path} rewritten");
    }
    for path in [
        "/registry/page/7/index.html",
        "/registry/4432026Y9001/index.html",
        "/registry/index.html",
        "/registry/kind/applied/index.html",
        "/registry/year/2026/index.html",
        "/index.html",
        "/notices/index.html",
        "/feed.xml",
        "/sitemap.xml",
    ] {
        assert!(
            report.written.contains(&path.to_owned()),
            "{path} not written: {report:?}"
        );
    }
    assert!(report.written.len() < 25, "{:?}", report.written);
    assert_eq!(
        report.deleted,
        vec!["/notices/r-notice-1/index.html".to_owned()]
    );
}

async fn insert(store: &SqliteStore, reg: Registration, expected: Option<u64>) {
    store
        .commit(WriteSet {
            registrations: vec![RegistrationWrite {
                record: reg,
                expected_version: expected,
                event: None,
            }],
            ..WriteSet::default()
        })
        .await
        .expect("commit");
}

#[tokio::test]
async fn the_publisher_reading_one_record_equals_a_full_build_from_the_store() {
    let store = SqliteStore::open_in_memory().unwrap();
    store.put_authority(&authority()).await.unwrap();
    for r in fixture()
        .registrations
        .into_iter()
        .chain(many_registered(120))
    {
        insert(&store, r, None).await;
    }
    let sink = MemorySink::new();
    let publisher = Publisher::new(site(), sink.clone()).with_base_url("https://kj.example.gov.cn");
    publisher.rebuild(&store, TODAY).await.unwrap();

    let full = |today| {
        let store = &store;
        async move {
            let mut input = load_input(store, today).await.unwrap();
            input.base_url = "https://kj.example.gov.cn".into();
            input
        }
    };

    // A decision, read back by id.
    let mut reg = store.get_registration("r-notice-1").await.unwrap().unwrap();
    let version = reg.version;
    decide(&mut reg, "4432026Y9001", datetime!(2026-03-10 11:00 +8));
    reg.version += 1;
    insert(&store, reg, Some(version)).await;
    let report = publisher
        .rebuild_records(&store, TODAY, &["r-notice-1".to_owned()])
        .await
        .unwrap();
    assert!(
        report
            .written
            .contains(&"/registry/4432026Y9001/index.html".to_owned())
    );
    assert_eq!(
        report.deleted,
        vec!["/notices/r-notice-1/index.html".to_owned()]
    );
    assert_same_as_full_build(
        "decision from the store",
        &site(),
        &sink,
        &full(TODAY).await,
    );

    // A reopening and a later date, with a full read afterwards changing nothing more.
    let mut reg = store.get_registration("r-reg-1").await.unwrap().unwrap();
    let version = reg.version;
    reg.state = State::DecisionPending;
    reg.decision = None;
    reg.version += 1;
    insert(&store, reg, Some(version)).await;
    let later = TODAY + Duration::days(5);
    publisher
        .rebuild_records(&store, later, &["r-reg-1".to_owned()])
        .await
        .unwrap();
    assert_same_as_full_build("reopen from the store", &site(), &sink, &full(later).await);
    let again = publisher.rebuild(&store, later).await.unwrap();
    assert!(
        again.written.is_empty() && again.deleted.is_empty(),
        "{again:?}"
    );
}
