//! Snapshots of every page kind on the fixture state (insta; files in `tests/snapshots`).

use crate::support::{fixture, render, site, text_of};

fn snap(name: &str, text: &str) {
    insta::with_settings!({
        snapshot_path => "../snapshots",
        prepend_module_to_snapshot => false,
        omit_expression => true,
    }, {
        insta::assert_snapshot!(name, text);
    });
}

#[test]
fn every_page_kind_matches_its_snapshot() {
    let site = site();
    let pages = render(&site, &fixture());
    let cases = [
        ("home", "/index.html"),
        ("guide_index", "/guide/index.html"),
        ("guide_materials", "/guide/materials/index.html"),
        ("guide_process", "/guide/process/index.html"),
        ("notices", "/notices/index.html"),
        ("notice", "/notices/r-notice-1/index.html"),
        ("registry", "/registry/index.html"),
        ("registry_kind", "/registry/kind/soft/index.html"),
        ("registry_year", "/registry/year/2026/index.html"),
        ("achievement", "/registry/4422026Y0001/index.html"),
        ("not_found", "/404.html"),
        ("feed", "/feed.xml"),
        ("sitemap", "/sitemap.xml"),
        ("search_index", "/registry/index.json"),
        ("search_index_shard", "/registry/index/2026-1.json"),
        ("robots", "/robots.txt"),
    ];
    for (name, path) in cases {
        snap(name, &text_of(&site, &pages, path));
    }
}

#[test]
fn the_list_of_files_matches_its_snapshot() {
    let site = site();
    let pages = render(&site, &fixture());
    let mut lines = pages
        .iter()
        .map(|(path, page)| {
            format!("{path}  {}  {}", page.content_type, page.cache_control)
                .replace(
                    site.asset_path("site.css").unwrap(),
                    "/static/site.HASH.css",
                )
                .replace(site.asset_path("site.js").unwrap(), "/static/site.HASH.js")
        })
        .collect::<Vec<_>>();
    lines.sort();
    snap("files", &lines.join("\n"));
}

#[test]
fn the_materials_page_lists_each_kinds_checklist_in_order() {
    use chengguo_domain::codes::Kind;
    use chengguo_domain::materials::checklist;
    let site = site();
    let pages = render(&site, &fixture());
    let page = text_of(&site, &pages, "/guide/materials/index.html");
    for kind in Kind::ALL {
        let start = page
            .find(&format!("id=\"materials-{}\"", kind.code()))
            .unwrap_or_else(|| panic!("no list for {kind}"));
        let section = &page[start..start + page[start..].find("</section>").unwrap()];
        let items: Vec<&str> = section
            .split("<li><strong>")
            .skip(1)
            .map(|s| s.split("</strong>").next().unwrap())
            .collect();
        let expected: Vec<&str> = checklist(*kind).iter().map(|m| m.label).collect();
        assert_eq!(items, expected, "{kind}");
    }
}

#[test]
fn the_site_from_the_folders_equals_the_embedded_site() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let from_dirs =
        chengguo_site::Site::from_dirs(&root.join("content"), &root.join("templates").join("site"))
            .unwrap();
    let input = fixture();
    assert_eq!(render(&from_dirs, &input), render(&site(), &input));
}
