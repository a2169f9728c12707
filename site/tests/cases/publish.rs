//! Publishing writes only what changed: nothing on a rebuild of the same state, exactly the
//! pages that show a changed record, and deletes pages that are gone — in memory and on disk.

use std::collections::BTreeSet;

use chengguo_site::{DirSink, MemorySink, publish};
use time::Duration;

use crate::support::{TODAY, fixture, site};

fn set(paths: &[&str]) -> BTreeSet<String> {
    paths.iter().map(|p| (*p).to_owned()).collect()
}

#[tokio::test]
async fn a_second_build_of_the_same_state_writes_nothing() {
    let site = site();
    let input = fixture();
    let sink = MemorySink::new();
    let first = publish(&site, &input, sink.as_ref()).await.unwrap();
    assert_eq!(first.written.len(), sink.len());
    assert!(first.deleted.is_empty());
    assert_eq!(first.unchanged, 0);

    let second = publish(&site, &input, sink.as_ref()).await.unwrap();
    assert!(second.written.is_empty(), "{:?}", second.written);
    assert!(second.deleted.is_empty());
    assert_eq!(second.unchanged, sink.len());
}

#[tokio::test]
async fn a_changed_achievement_rewrites_only_the_pages_that_show_it() {
    let site = site();
    let mut input = fixture();
    let sink = MemorySink::new();
    publish(&site, &input, sink.as_ref()).await.unwrap();

    let reg = input
        .registrations
        .iter_mut()
        .find(|r| r.id == "r-reg-2")
        .unwrap();
    reg.fields.title = Some("中山市科技创新政策实施效果评估研究（修订）".into());
    let report = publish(&site, &input, sink.as_ref()).await.unwrap();
    assert_eq!(
        report.written.iter().cloned().collect::<BTreeSet<_>>(),
        set(&[
            "/index.html",
            "/registry/4422025R0003/index.html",
            "/registry/index.html",
            "/registry/index/2025-1.json",
            "/registry/kind/soft/index.html",
            "/registry/year/2025/index.html",
        ])
    );
    assert!(report.deleted.is_empty());
    assert!(
        sink.get("/registry/4422025R0003/index.html")
            .unwrap()
            .text()
            .contains("（修订）")
    );
}

#[tokio::test]
async fn a_changed_announcement_rewrites_only_the_pages_that_show_it() {
    let site = site();
    let mut input = fixture();
    let sink = MemorySink::new();
    publish(&site, &input, sink.as_ref()).await.unwrap();

    input.registrations[0].fields.summary = Some("更新后的成果简介。".into());
    let report = publish(&site, &input, sink.as_ref()).await.unwrap();
    assert_eq!(
        report.written.iter().cloned().collect::<BTreeSet<_>>(),
        set(&["/feed.xml", "/notices/r-notice-1/index.html"])
    );

    input.registrations[0].fields.title = Some("新的成果名称".into());
    let report = publish(&site, &input, sink.as_ref()).await.unwrap();
    assert_eq!(
        report.written.iter().cloned().collect::<BTreeSet<_>>(),
        set(&[
            "/feed.xml",
            "/index.html",
            "/notices/index.html",
            "/notices/r-notice-1/index.html",
        ])
    );
}

#[tokio::test]
async fn a_notice_that_ends_is_deleted_and_the_lists_rewritten() {
    let site = site();
    let mut input = fixture();
    let sink = MemorySink::new();
    publish(&site, &input, sink.as_ref()).await.unwrap();
    assert!(sink.get("/notices/r-notice-1/index.html").is_some());

    // The notice opened on 2026-03-02 ends after 2026-03-31.
    input.today = TODAY + Duration::days(22);
    let report = publish(&site, &input, sink.as_ref()).await.unwrap();
    assert_eq!(
        report.deleted,
        vec!["/notices/r-notice-1/index.html".to_owned()]
    );
    assert_eq!(
        report.written.iter().cloned().collect::<BTreeSet<_>>(),
        set(&[
            "/feed.xml",
            "/index.html",
            "/notices/index.html",
            "/sitemap.xml"
        ])
    );
    assert!(sink.get("/notices/r-notice-1/index.html").is_none());
}

#[tokio::test]
async fn a_folder_gets_the_same_files_only_changed_ones_rewritten_and_others_kept() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    std::fs::write(root.join("keep-me.txt"), "not ours").unwrap();
    let site = site();
    let mut input = fixture();
    let sink = DirSink::new(root);

    let first = publish(&site, &input, &sink).await.unwrap();
    let expected = site.render(&input).unwrap();
    assert_eq!(first.written.len(), expected.len());
    for (path, page) in &expected {
        let on_disk = std::fs::read(root.join(path.trim_start_matches('/'))).unwrap();
        assert_eq!(on_disk, page.bytes.as_ref(), "{path}");
    }
    assert!(root.join(".manifest.json").is_file());

    let again = publish(&site, &input, &DirSink::new(root)).await.unwrap();
    assert!(again.written.is_empty());

    // A file removed by hand is written again.
    std::fs::remove_file(root.join("robots.txt")).unwrap();
    let healed = publish(&site, &input, &sink).await.unwrap();
    assert_eq!(healed.written, vec!["/robots.txt".to_owned()]);

    input.today = TODAY + Duration::days(22);
    let later = publish(&site, &input, &sink).await.unwrap();
    assert_eq!(
        later.deleted,
        vec!["/notices/r-notice-1/index.html".to_owned()]
    );
    assert!(
        !root.join("notices/r-notice-1").exists(),
        "empty folder removed"
    );
    assert!(root.join("notices/index.html").is_file());
    assert_eq!(
        std::fs::read_to_string(root.join("keep-me.txt")).unwrap(),
        "not ours"
    );
}

/// Writes the fixture site to `$CHENGGUO_SITE_DUMP` for a person to look at (no-op otherwise).
#[tokio::test]
async fn dump_fixture_site_when_asked() {
    let Ok(dir) = std::env::var("CHENGGUO_SITE_DUMP") else {
        return;
    };
    let mut input = fixture();
    input
        .registrations
        .extend(crate::support::many_registered(120));
    publish(&site(), &input, &DirSink::new(dir)).await.unwrap();
}
