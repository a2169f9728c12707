//! Every page parses as HTML5 without error, every internal link and asset resolves, and the
//! pages keep the accessibility basics: one `main`, `lang`, headings in order, labelled inputs.

use std::collections::{BTreeMap, BTreeSet};

use chengguo_site::{Page, SiteInput};
use html5ever::tendril::TendrilSink;
use html5ever::tokenizer::TokenizerOpts;
use html5ever::tree_builder::TreeBuilderOpts;
use html5ever::{ParseOpts, parse_document};
use markup5ever_rcdom::{Handle, NodeData, RcDom};

use crate::support::{BASE_URL, fixture, many_registered, site};

/// What a page's DOM says.
#[derive(Default)]
struct Facts {
    links: Vec<String>,
    headings: Vec<u8>,
    mains: usize,
    lang: Option<String>,
    label_for: BTreeSet<String>,
    controls: Vec<(String, Option<String>)>,
}

fn attr(node: &Handle, name: &str) -> Option<String> {
    match &node.data {
        NodeData::Element { attrs, .. } => attrs
            .borrow()
            .iter()
            .find(|a| &*a.name.local == name)
            .map(|a| a.value.to_string()),
        _ => None,
    }
}

fn walk(node: &Handle, facts: &mut Facts) {
    if let NodeData::Element { name, .. } = &node.data {
        let tag = &*name.local;
        for a in ["href", "src", "action", "data-index"] {
            if let Some(v) = attr(node, a) {
                facts.links.push(v);
            }
        }
        match tag {
            "h1" | "h2" | "h3" | "h4" | "h5" | "h6" => {
                facts.headings.push(tag.as_bytes()[1] - b'0');
            }
            "main" => facts.mains += 1,
            "html" => facts.lang = attr(node, "lang"),
            "label" => {
                if let Some(f) = attr(node, "for") {
                    facts.label_for.insert(f);
                }
            }
            "input" | "select" | "textarea" => {
                let kind = attr(node, "type").unwrap_or_default();
                if !["hidden", "submit", "reset", "button"].contains(&kind.as_str()) {
                    facts.controls.push((tag.to_owned(), attr(node, "id")));
                }
            }
            _ => {}
        }
    }
    for child in node.children.borrow().iter() {
        walk(child, facts);
    }
}

fn parse(path: &str, html: &str) -> Facts {
    let opts = ParseOpts {
        tokenizer: TokenizerOpts {
            exact_errors: true,
            ..TokenizerOpts::default()
        },
        tree_builder: TreeBuilderOpts {
            exact_errors: true,
            ..TreeBuilderOpts::default()
        },
    };
    let dom = parse_document(RcDom::default(), opts)
        .from_utf8()
        .read_from(&mut html.as_bytes())
        .expect("reading from memory");
    let errors = dom.errors.borrow();
    assert!(errors.is_empty(), "{path}: HTML5 parse errors: {errors:?}");
    let mut facts = Facts::default();
    walk(&dom.document, &mut facts);
    facts
}

/// Where a link points inside the site, or `None` for external links and fragments.
fn target(link: &str) -> Option<String> {
    let link = link.strip_prefix(BASE_URL).unwrap_or(link);
    if !link.starts_with('/') || link.starts_with("//") {
        return None;
    }
    let path = link.split(['?', '#']).next().unwrap_or(link);
    Some(if path.ends_with('/') {
        format!("{path}index.html")
    } else {
        path.to_owned()
    })
}

fn check_site(pages: &BTreeMap<String, Page>) -> usize {
    let mut checked = 0;
    for (path, page) in pages {
        let text = page.text();
        let links: Vec<String> = if path.ends_with(".html") {
            let facts = parse(path, text);
            assert_eq!(facts.mains, 1, "{path}: one <main>");
            assert_eq!(facts.lang.as_deref(), Some("zh-CN"), "{path}: lang");
            assert_eq!(facts.headings.first(), Some(&1), "{path}: starts with h1");
            assert_eq!(
                facts.headings.iter().filter(|h| **h == 1).count(),
                1,
                "{path}: one h1"
            );
            for w in facts.headings.windows(2) {
                assert!(
                    w[1] <= w[0] + 1,
                    "{path}: heading h{} after h{}",
                    w[1],
                    w[0]
                );
            }
            for (tag, id) in &facts.controls {
                let id = id
                    .as_deref()
                    .unwrap_or_else(|| panic!("{path}: <{tag}> without id"));
                assert!(facts.label_for.contains(id), "{path}: no <label for={id}>");
            }
            facts.links
        } else if path.ends_with(".xml") {
            text.split("<loc>")
                .skip(1)
                .chain(text.split("href=\"").skip(1))
                .filter_map(|s| s.split(['<', '"']).next())
                .map(str::to_owned)
                .collect()
        } else {
            Vec::new()
        };
        for link in links {
            if let Some(t) = target(&link) {
                // The API is not part of the site.
                if t.starts_with("/api/") {
                    continue;
                }
                assert!(pages.contains_key(&t), "{path}: broken link {link}");
                checked += 1;
            }
        }
    }
    checked
}

#[test]
fn the_fixture_site_has_no_broken_link_and_no_html5_error() {
    let pages = site().render(&fixture()).unwrap();
    let checked = check_site(&pages);
    assert!(checked > 100, "only {checked} links checked");
}

#[test]
fn a_paged_registry_has_no_broken_link_and_no_html5_error() {
    let mut input = fixture();
    input.registrations.extend(many_registered(260));
    let pages = site().render(&input).unwrap();
    assert!(pages.contains_key("/registry/page/6/index.html"));
    assert!(!pages.contains_key("/registry/page/7/index.html"));
    assert!(pages.contains_key("/registry/kind/applied/page/2/index.html"));
    check_site(&pages);
}

#[test]
fn an_empty_state_still_builds_a_linked_site() {
    let input = SiteInput::new(crate::support::TODAY);
    let pages = site().render(&input).unwrap();
    for kind in ["applied", "basic", "soft"] {
        assert!(pages.contains_key(&format!("/registry/kind/{kind}/index.html")));
    }
    check_site(&pages);
}
