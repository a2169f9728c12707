//! Loading through the store port: every announced and registered record, across pages of
//! the listing, and nothing else.

use chengguo_domain::codes::{DecisionResult, Kind, State};
use chengguo_domain::ports::{RegistrationWrite, Store, WriteSet};
use chengguo_domain::record::Decision;
use chengguo_site::load_input;
use chengguo_sqlite::SqliteStore;
use time::macros::{date, datetime};

use crate::support::{authority, fixture, many_registered, record, site};

async fn insert(store: &SqliteStore, reg: chengguo_domain::record::Registration) {
    store
        .commit(WriteSet {
            registrations: vec![RegistrationWrite {
                record: reg,
                expected_version: None,
                event: None,
            }],
            ..WriteSet::default()
        })
        .await
        .expect("insert");
}

#[tokio::test]
async fn load_input_reads_public_records_through_the_store_across_pages() {
    let store = SqliteStore::open_in_memory().unwrap();
    store.put_authority(&authority()).await.unwrap();
    let fixture = fixture();
    for r in fixture.registrations.clone() {
        insert(&store, r).await;
    }
    // More than one page of the store's listing.
    for r in many_registered(620) {
        insert(&store, r).await;
    }
    let mut draft = record("r-draft", Kind::Basic, "草稿", "某单位");
    draft.state = State::Draft;
    insert(&store, draft).await;
    let mut rejected = record("r-rejected", Kind::Basic, "不予登记", "某单位");
    rejected.state = State::Decided;
    rejected.decision = Some(Decision {
        result: DecisionResult::Rejected,
        opinion: "不予登记".into(),
        by: "point".into(),
        at: datetime!(2026-02-01 10:00 +8),
    });
    insert(&store, rejected).await;
    let mut no_notice = record("r-pending-no-notice", Kind::Basic, "无公示", "某单位");
    no_notice.state = State::DecisionPending;
    insert(&store, no_notice).await;

    let input = load_input(&store, date!(2026 - 03 - 10)).await.unwrap();
    let mut ids: Vec<&str> = input.registrations.iter().map(|r| r.id.as_str()).collect();
    ids.sort();
    assert_eq!(ids.len(), 623);
    assert!(ids.contains(&"r-notice-1") && ids.contains(&"r-reg-1") && ids.contains(&"r-reg-2"));
    for gone in ["r-draft", "r-rejected", "r-pending-no-notice"] {
        assert!(!ids.contains(&gone), "{gone}");
    }
    assert_eq!(input.authorities, vec![authority()]);

    // The loaded state renders the same fixture pages as the state built in memory.
    let mut small = fixture.clone();
    small.registrations.extend(many_registered(620));
    let mut loaded = input.clone();
    loaded.base_url = small.base_url.clone();
    let site = site();
    let a = site.render(&loaded).unwrap();
    let b = site.render(&small).unwrap();
    assert_eq!(a.keys().collect::<Vec<_>>(), b.keys().collect::<Vec<_>>());
    for (path, page) in &a {
        assert_eq!(page.bytes, b[path].bytes, "{path}");
    }
}

#[tokio::test]
async fn a_publisher_rebuilds_from_the_store_into_its_sink() {
    use chengguo_site::{MemorySink, Publisher};
    let store = SqliteStore::open_in_memory().unwrap();
    store.put_authority(&authority()).await.unwrap();
    for r in fixture().registrations {
        insert(&store, r).await;
    }
    let sink = MemorySink::new();
    let publisher = Publisher::new(site(), sink.clone())
        .with_base_url("https://kj.example.gov.cn/")
        .with_notice_contact("异议请致电 88333788");
    let first = publisher
        .rebuild(&store, date!(2026 - 03 - 10))
        .await
        .unwrap();
    assert!(
        first
            .written
            .contains(&"/notices/r-notice-1/index.html".to_owned())
    );
    let page = sink.get("/notices/r-notice-1/index.html").unwrap();
    assert!(page.text().contains("异议请致电 88333788"));
    assert!(
        sink.get("/sitemap.xml")
            .unwrap()
            .text()
            .contains("https://kj.example.gov.cn/registry/")
    );
    let again = publisher
        .rebuild(&store, date!(2026 - 03 - 10))
        .await
        .unwrap();
    assert!(again.written.is_empty());
    let later = publisher
        .rebuild(&store, date!(2026 - 04 - 01))
        .await
        .unwrap();
    assert_eq!(
        later.deleted,
        vec!["/notices/r-notice-1/index.html".to_owned()]
    );
}
