//! Every user field holds markup and quotes; no page carries them unescaped, the search index
//! is safe to embed, and contact details never reach any page.

use chengguo_domain::codes::Kind;
use chengguo_domain::fields::{Completer, Discipline, Evaluation, ProjectInfo, UnitEntry};
use chengguo_domain::org::Authority;
use time::macros::{date, datetime};

use crate::support::{
    SECRET_EMAIL, SECRET_MOBILE, SECRET_NAME, SECRET_RECOMMENDER, TODAY, announced, fixture,
    registered, site,
};

const PAYLOAD: &str = "<script>alert(1)</script>\"'";

fn poison(mut r: chengguo_domain::record::Registration) -> chengguo_domain::record::Registration {
    let p = || Some(PAYLOAD.to_owned());
    let f = &mut r.fields;
    f.title = p();
    f.project = Some(ProjectInfo {
        name: p(),
        number: p(),
        funding: p(),
    });
    f.units = vec![
        UnitEntry {
            name: p(),
            uscc: p(),
        },
        UnitEntry {
            name: p(),
            uscc: p(),
        },
    ];
    f.completers = vec![Completer {
        name: p(),
        gender: p(),
        title: p(),
        degree: p(),
        work_unit: p(),
        contribution: p(),
    }];
    f.keywords = vec![PAYLOAD.into(), PAYLOAD.into()];
    f.discipline = Some(Discipline {
        code: p(),
        name: p(),
    });
    f.summary = Some(format!("{PAYLOAD}\n{PAYLOAD}"));
    f.level = p();
    f.evaluation = Some(Evaluation {
        method: p(),
        body: p(),
        date: p(),
    });
    r.authority_id = "auth-x".into();
    r
}

fn poisoned_input() -> chengguo_site::SiteInput {
    let mut input = fixture();
    input.authorities.push(Authority {
        id: "auth-x".into(),
        name: PAYLOAD.into(),
        code: "443".into(),
    });
    input.notice_contact = format!("地址：{PAYLOAD}");
    let mut a = poison(announced(
        PAYLOAD,
        Kind::Basic,
        "x",
        "x",
        date!(2026 - 03 - 05),
    ));
    a.id = format!("id{PAYLOAD}");
    let mut b = poison(registered(
        "r-poison",
        Kind::Basic,
        "x",
        "x",
        "4422026J0009",
        date!(2026 - 01 - 02),
        datetime!(2026-02-20 10:00 +8),
    ));
    b.registration_number = Some(PAYLOAD.into());
    input.registrations.push(a);
    input.registrations.push(b);
    input
}

#[test]
fn markup_and_quotes_in_every_user_field_are_escaped_on_every_page() {
    let input = poisoned_input();
    assert_eq!(input.today, TODAY);
    let pages = site().render(&input).unwrap();
    let mut seen_escaped = 0;
    for (path, page) in &pages {
        let text = page.text();
        assert!(
            !text.contains("<script>alert"),
            "{path} holds a raw <script>"
        );
        assert!(
            !text.contains("alert(1)</script>"),
            "{path} holds a raw </script>"
        );
        assert!(!text.contains("</script>\"'"), "{path} holds raw quotes");
        if path.ends_with(".html") || path.ends_with(".xml") {
            assert!(!text.contains("\"'"), "{path} holds raw quotes");
            if text.contains("&lt;script&gt;alert(1)&lt;/script&gt;&quot;&#39;") {
                seen_escaped += 1;
            }
        }
    }
    // The payload is shown (escaped) on the announcement, the achievement, the lists, the
    // feed and every page with the contact text in its footer.
    assert!(
        seen_escaped > 10,
        "payload shown escaped on {seen_escaped} pages"
    );
    let notice_paths: Vec<&String> = pages
        .keys()
        .filter(|p| p.starts_with("/notices/r-") && !p.contains("r-notice-1"))
        .collect();
    assert_eq!(
        notice_paths.len(),
        1,
        "the unsafe id became a hashed slug: {notice_paths:?}"
    );
    assert!(
        pages.keys().any(|p| p.starts_with("/registry/r-")),
        "the unsafe number became a hashed slug"
    );
}

#[test]
fn the_search_index_is_safe_to_embed_and_keeps_the_text() {
    let pages = site().render(&poisoned_input()).unwrap();
    let manifest: serde_json::Value =
        serde_json::from_str(pages["/registry/index.json"].text()).unwrap();
    let mut items = Vec::new();
    for shard in manifest["shards"].as_array().unwrap() {
        let index = pages[shard["p"].as_str().unwrap()].text();
        for c in ['<', '>', '&', '\u{2028}', '\u{2029}'] {
            assert!(!index.contains(c), "index holds {c:?}");
        }
        let doc: serde_json::Value = serde_json::from_str(index).unwrap();
        items.extend(doc["items"].as_array().unwrap().iter().cloned());
    }
    let item = items
        .iter()
        .find(|i| i["t"] == PAYLOAD)
        .expect("the poisoned record is indexed with its text intact");
    assert_eq!(item["n"], PAYLOAD);
    assert_eq!(item["u"][0], PAYLOAD);
    assert_eq!(item["w"][1], PAYLOAD);
}

#[test]
fn contact_details_and_the_recommender_are_never_published() {
    let pages = site().render(&fixture()).unwrap();
    for (path, page) in &pages {
        for secret in [SECRET_NAME, SECRET_MOBILE, SECRET_EMAIL, SECRET_RECOMMENDER] {
            assert!(!page.text().contains(secret), "{path} shows {secret}");
        }
    }
}
