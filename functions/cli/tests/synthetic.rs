//! `seed-synthetic`: a small synthetic data folder loads, is consistent and builds the site.

use std::collections::HashSet;

use chengguo_domain::codes::State;
use chengguo_domain::ports::{ListFilter, Store};
use chengguo_domain::record::AttachmentStatus;
use chengguo_domain::scope::ListScope;
use chengguo_sqlite::SqliteStore;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sixty_synthetic_records_load_with_whole_histories_unique_numbers_and_a_site() {
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("data");
    let report = chengguo::synthetic::seed(&data, 60).await.expect("seed");
    assert_eq!(report.registrations, 60);
    assert_eq!(
        report.by_state.iter().map(|(_, n)| n).sum::<usize>(),
        60,
        "{report:?}"
    );

    // The folder opens the normal way: WAL, a sound file.
    let store = SqliteStore::open(&data.join("chengguo.db")).expect("open");
    assert_eq!(store.journal_mode().await.expect("mode"), "wal");
    assert_eq!(store.integrity_check().await.expect("check"), "ok");

    let page = store
        .list_registrations(&ListScope::All, &ListFilter::default(), 100, None)
        .await
        .expect("list");
    assert_eq!(page.items.len(), 60);
    assert!(page.next_cursor.is_none());
    let mut numbers = HashSet::new();
    let mut decided = 0;
    for reg in &page.items {
        // The history is whole: events 1..=event_count, the last one ending in the state.
        let events = store.list_events(&reg.id).await.expect("events");
        assert_eq!(events.len() as u64, reg.event_count, "{}", reg.id);
        for (i, e) in events.iter().enumerate() {
            assert_eq!(e.seq, i as u64 + 1);
        }
        assert_eq!(events.last().map(|e| e.to), Some(reg.state), "{}", reg.id);
        if let Some(n) = &reg.registration_number {
            assert!(numbers.insert(n.clone()), "number {n} given twice");
            assert_eq!(
                store.number_holder(n).await.expect("holder").as_deref(),
                Some(reg.id.as_str())
            );
        }
        if reg.state == State::Decided {
            decided += 1;
        }
        // Every attachment is confirmed and its bytes are in the folder.
        for a in store.list_attachments(&reg.id).await.expect("attachments") {
            assert_eq!(a.status, AttachmentStatus::Ready);
            let path = data.join("files").join(&a.key);
            let bytes = std::fs::read(&path).expect("attachment file");
            assert_eq!(bytes.len() as u64, a.size);
        }
    }
    assert_eq!(numbers.len(), report.numbers);
    // Records spread over the years: most are long decided.
    assert!(decided >= 30, "{decided} decided: {report:?}");

    // The public site builds from it, with a registry page per decided record.
    let sink = chengguo_site::MemorySink::new();
    let site = chengguo_site::Site::from_embedded().expect("site");
    let publisher = chengguo_site::Publisher::new(site, sink.clone());
    let built = publisher
        .rebuild(
            &store,
            chengguo_domain::ports::china_date(time::OffsetDateTime::now_utc()),
        )
        .await
        .expect("site build");
    assert!(!built.written.is_empty());
    assert!(sink.len() > decided, "{} pages", sink.len());

    // Seeding the same folder again is refused rather than mixing two data sets.
    let again = chengguo::synthetic::seed(&data, 5).await;
    assert!(again.is_err());
}
