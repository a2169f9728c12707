//! The generator: [`Site`] holds the parsed content, the templates and the static assets;
//! [`Site::plan`] turns a [`SiteInput`] into a [`Build`] — the list of every output path and
//! how to render it — and [`Build::render`] renders one page. [`Site::render`] renders them all.
//!
//! Output paths start with `/`; a page at `/x/index.html` is linked as `/x/`. Static assets are
//! fingerprinted (`/static/site.<hash>.css`) so that they can be cached for a year, while pages
//! are cached for minutes.

use std::collections::BTreeMap;
use std::path::Path;

use bytes::Bytes;
use chengguo_domain::codes::Kind;
use chengguo_domain::materials;
use chengguo_domain::record::Registration;
use serde::Serialize;
use sha2::{Digest, Sha256};
use tera::{Context, Tera};

use crate::content::{self, ContentError, Shortcode};
use crate::input::SiteInput;
use crate::view::{self, DateView, ListItem, Lookup};
use crate::{embedded, flow, json};

/// Achievements per listing page.
pub const PER_PAGE: usize = 50;
/// URLs per sitemap file (the sitemap protocol's limit); beyond it `/sitemap.xml` is an index.
pub const SITEMAP_LIMIT: usize = 50_000;
/// Announcements on the home page.
const HOME_NOTICES: usize = 5;
/// Newest achievements on the home page.
const HOME_LATEST: usize = 10;

/// Pages, the feed, the sitemap and the search index: short, so that a notice disappears
/// from caches soon after its last day.
pub const PAGE_CACHE: &str = "public, max-age=300";
/// Fingerprinted assets never change under their name.
pub const ASSET_CACHE: &str = "public, max-age=31536000, immutable";

const HTML: &str = "text/html; charset=utf-8";

/// Why the site could not be built.
#[derive(Debug, thiserror::Error)]
pub enum SiteError {
    #[error(transparent)]
    Content(#[from] ContentError),
    #[error("template: {0}")]
    Template(String),
    #[error("reading {path}: {message}")]
    Io { path: String, message: String },
    #[error("two pages would be written at {0}")]
    DuplicatePath(String),
    #[error("search index: {0}")]
    Json(String),
}

fn tera_error(e: tera::Error) -> SiteError {
    let mut msg = e.to_string();
    let mut source = std::error::Error::source(&e);
    while let Some(s) = source {
        msg.push_str(": ");
        msg.push_str(&s.to_string());
        source = s.source();
    }
    SiteError::Template(msg)
}

/// One output file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page {
    pub bytes: Bytes,
    pub content_type: &'static str,
    pub cache_control: &'static str,
}

impl Page {
    fn new(bytes: impl Into<Bytes>, content_type: &'static str) -> Page {
        Page {
            bytes: bytes.into(),
            content_type,
            cache_control: PAGE_CACHE,
        }
    }

    /// Hex SHA-256 of the bytes: what the sinks compare to skip unchanged files.
    pub fn sha256(&self) -> String {
        hex::encode(Sha256::digest(&self.bytes))
    }

    /// The bytes as text (every page is UTF-8).
    pub fn text(&self) -> &str {
        std::str::from_utf8(&self.bytes).unwrap_or("")
    }
}

/// HTML escaping for the templates: `& < > " '` — enough for text and quoted attributes, and
/// unlike tera's default it leaves `/` alone so that URLs stay readable.
pub fn escape_html(input: &str) -> String {
    let mut out = String::with_capacity(input.len() + 8);
    for c in input.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[derive(Debug, Clone, Serialize)]
struct Guide {
    slug: String,
    title: String,
    description: String,
    order: i64,
    url: String,
    #[serde(skip)]
    html: String,
}

#[derive(Debug, Clone)]
struct Asset {
    path: String,
    page: Page,
}

/// The parsed content, templates and assets; cheap to keep and reuse for every build.
pub struct Site {
    tera: Tera,
    name: String,
    description: String,
    intro_html: String,
    guides: Vec<Guide>,
    assets: Vec<Asset>,
    /// Asset paths by name with `.` as `_` (`site_css`), for the templates.
    asset_paths: BTreeMap<String, String>,
}

impl std::fmt::Debug for Site {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Site")
            .field("name", &self.name)
            .field("guides", &self.guides.len())
            .field("assets", &self.asset_paths)
            .finish_non_exhaustive()
    }
}

fn content_type_of(path: &str) -> &'static str {
    match path.rsplit_once('.').map(|(_, e)| e) {
        Some("html") => HTML,
        Some("css") => "text/css; charset=utf-8",
        Some("js") => "text/javascript; charset=utf-8",
        Some("json") => "application/json",
        Some("svg") => "image/svg+xml",
        Some("xml") => "application/xml",
        Some("txt") => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

fn read_tree(root: &Path) -> Result<Vec<(String, String)>, SiteError> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<(String, String)>) -> Result<(), SiteError> {
        let io = |e: std::io::Error| SiteError::Io {
            path: dir.display().to_string(),
            message: e.to_string(),
        };
        for entry in std::fs::read_dir(dir).map_err(io)? {
            let path = entry.map_err(io)?.path();
            let name = path.file_name().map(|n| n.to_string_lossy().into_owned());
            if name.as_deref().is_some_and(|n| n.starts_with('.')) {
                continue;
            }
            if path.is_dir() {
                walk(root, &path, out)?;
            } else {
                let rel = path
                    .strip_prefix(root)
                    .unwrap_or(&path)
                    .components()
                    .map(|c| c.as_os_str().to_string_lossy().into_owned())
                    .collect::<Vec<_>>()
                    .join("/");
                let text = std::fs::read_to_string(&path).map_err(|e| SiteError::Io {
                    path: path.display().to_string(),
                    message: e.to_string(),
                })?;
                out.push((rel, text));
            }
        }
        Ok(())
    }
    let mut out = Vec::new();
    walk(root, root, &mut out)?;
    out.sort();
    Ok(out)
}

#[derive(Serialize)]
struct MaterialItem {
    label: &'static str,
    hint: &'static str,
}

impl Site {
    /// The site from the `content/` and `templates/site/` compiled into the crate.
    pub fn from_embedded() -> Result<Site, SiteError> {
        let own = |files: &[(&str, &str)]| {
            files
                .iter()
                .map(|(p, t)| ((*p).to_owned(), (*t).to_owned()))
                .collect::<Vec<_>>()
        };
        Site::from_sources(own(embedded::CONTENT), own(embedded::TEMPLATES))
    }

    /// The site from folders, for editing content and templates without recompiling.
    pub fn from_dirs(content: &Path, templates: &Path) -> Result<Site, SiteError> {
        Site::from_sources(read_tree(content)?, read_tree(templates)?)
    }

    /// The site from text: `content` holds `(file name, Markdown)`, `templates` holds
    /// `(relative path, text)` where `static/…` files are assets and `*.html`, `*.xml`, `*.txt`
    /// are tera templates.
    pub fn from_sources(
        content: Vec<(String, String)>,
        templates: Vec<(String, String)>,
    ) -> Result<Site, SiteError> {
        let mut tera = Tera::default();
        tera.autoescape_on(vec![".html", ".xml"]);
        tera.set_escape_fn(escape_html);
        let mut assets = Vec::new();
        let mut asset_paths = BTreeMap::new();
        let mut sources = Vec::new();
        for (path, text) in templates {
            if let Some(name) = path.strip_prefix("static/") {
                let digest = hex::encode(Sha256::digest(text.as_bytes()));
                let (stem, ext) = name.rsplit_once('.').unwrap_or((name, ""));
                let out = format!("/static/{stem}.{}.{ext}", &digest[..10]);
                asset_paths.insert(name.replace(['.', '/', '-'], "_"), out.clone());
                assets.push(Asset {
                    page: Page {
                        bytes: Bytes::from(text),
                        content_type: content_type_of(name),
                        cache_control: ASSET_CACHE,
                    },
                    path: out,
                });
            } else if [".html", ".xml", ".txt"].iter().any(|e| path.ends_with(e)) {
                sources.push((path, text));
            }
        }
        tera.add_raw_templates(sources).map_err(tera_error)?;

        let mut site = Site {
            tera,
            name: String::new(),
            description: String::new(),
            intro_html: String::new(),
            guides: Vec::new(),
            assets,
            asset_paths,
        };
        for (file, text) in content {
            if !file.ends_with(".md") {
                continue;
            }
            let page = content::parse_page(&file, &text)?;
            let html =
                content::render_markdown(&file, &page.markdown, |sc| site.shortcode(&file, sc))?;
            if page.slug == "_index" {
                site.name = page.front.title;
                site.description = page.front.description;
                site.intro_html = html;
            } else {
                site.guides.push(Guide {
                    url: format!("/guide/{}/", page.slug),
                    slug: page.slug,
                    title: page.front.title,
                    description: page.front.description,
                    order: page.front.order,
                    html,
                });
            }
        }
        if site.name.is_empty() {
            site.name = "科技成果登记".to_owned();
        }
        site.guides
            .sort_by(|a, b| (a.order, &a.slug).cmp(&(b.order, &b.slug)));
        Ok(site)
    }

    fn shortcode(&self, file: &str, sc: &Shortcode) -> Result<String, ContentError> {
        let fail = |message: String| ContentError {
            file: file.to_owned(),
            message,
        };
        let mut ctx = Context::new();
        match sc.name.as_str() {
            "materials" => {
                let code = sc.args.get("kind").map(String::as_str).unwrap_or("");
                let kind = Kind::parse(code)
                    .ok_or_else(|| fail(format!("materials: unknown kind `{code}`")))?;
                let items: Vec<MaterialItem> = materials::checklist(kind)
                    .iter()
                    .map(|m| MaterialItem {
                        label: m.label,
                        hint: m.hint,
                    })
                    .collect();
                ctx.insert("kind", kind.code());
                ctx.insert("kind_label", kind.label());
                ctx.insert("items", &items);
            }
            "flow_diagram" => {
                ctx.insert("svg", &flow::svg());
                ctx.insert("rows", &flow::transition_rows());
            }
            other => return Err(fail(format!("unknown shortcode `{other}`"))),
        }
        let template = format!("shortcodes/{}.html", sc.name);
        self.tera.render(&template, &ctx).map_err(|e| {
            fail(match tera_error(e) {
                SiteError::Template(m) => m,
                other => other.to_string(),
            })
        })
    }

    /// The site's name (the home page's title).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The fingerprinted path of a static asset by file name, e.g. `site.css`.
    pub fn asset_path(&self, name: &str) -> Option<&str> {
        self.asset_paths
            .get(&name.replace(['.', '/', '-'], "_"))
            .map(String::as_str)
    }

    /// Everything `input` produces, by path.
    pub fn render(&self, input: &SiteInput) -> Result<BTreeMap<String, Page>, SiteError> {
        let build = self.plan(input)?;
        let mut out = BTreeMap::new();
        for i in 0..build.len() {
            out.insert(build.path(i).to_owned(), build.render(i)?);
        }
        Ok(out)
    }

    /// The list of pages `input` produces, each rendered on demand by [`Build::render`], so
    /// that a publisher can stream a large site without holding it in memory.
    pub fn plan<'a>(&'a self, input: &'a SiteInput) -> Result<Build<'a>, SiteError> {
        Build::new(self, input)
    }
}

/// Which achievements a listing shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ListKey {
    All,
    Kind(Kind),
    Year(i32),
}

impl ListKey {
    fn base(self) -> String {
        match self {
            ListKey::All => "/registry/".to_owned(),
            ListKey::Kind(k) => format!("/registry/kind/{}/", k.code()),
            ListKey::Year(y) => format!("/registry/year/{y}/"),
        }
    }

    fn url(self, page: usize) -> String {
        if page <= 1 {
            self.base()
        } else {
            format!("{}page/{page}/", self.base())
        }
    }
}

#[derive(Debug, Clone, Copy)]
enum Job {
    Home,
    GuideIndex,
    Guide(usize),
    Notices,
    Notice(usize),
    List(ListKey, usize),
    Item(usize),
    SearchIndex,
    Feed,
    Sitemap,
    SitemapIndex(usize),
    SitemapChunk(usize),
    Robots,
    NotFound,
    Asset(usize),
}

struct Entry<'a> {
    reg: &'a Registration,
    item: ListItem,
    year: i32,
}

#[derive(Serialize)]
struct SiteCtx<'a> {
    name: &'a str,
    description: &'a str,
    base_url: &'a str,
    contact: &'a str,
}

#[derive(Serialize)]
struct PageMeta<'a> {
    title: &'a str,
    description: &'a str,
    url: &'a str,
    section: &'a str,
}

#[derive(Serialize)]
struct PagerLink {
    number: usize,
    url: String,
    current: bool,
    /// A gap (…) before this link.
    gap_before: bool,
}

#[derive(Serialize)]
struct Pager {
    current: usize,
    total: usize,
    prev: Option<String>,
    next: Option<String>,
    links: Vec<PagerLink>,
}

#[derive(Serialize)]
struct Facet {
    label: String,
    code: String,
    url: String,
    count: usize,
    current: bool,
}

#[derive(Serialize)]
struct FeedEntry<'a> {
    title: &'a str,
    link: String,
    id: String,
    updated: String,
    summary: String,
    first_unit: &'a str,
    kind_label: &'a str,
    from: &'a str,
    to: &'a str,
}

#[derive(Serialize)]
struct IndexItem<'a> {
    /// Registration number.
    n: &'a str,
    /// Title.
    t: &'a str,
    /// Kind code.
    k: &'a str,
    /// Year of decision.
    y: i32,
    /// Date of decision.
    d: &'a str,
    /// Completing units.
    u: Vec<&'a str>,
    /// Keywords.
    w: Vec<&'a str>,
    /// Page URL.
    p: &'a str,
}

#[derive(Serialize)]
struct IndexDoc<'a> {
    kinds: BTreeMap<&'static str, &'static str>,
    items: Vec<IndexItem<'a>>,
}

/// The pages of one input. Paths are known up front; each page renders independently.
pub struct Build<'a> {
    site: &'a Site,
    input: &'a SiteInput,
    base: Context,
    lookup: Lookup<'a>,
    notices: Vec<Entry<'a>>,
    registry: Vec<Entry<'a>>,
    /// `0..registry.len()`: the listing of everything.
    all: Vec<usize>,
    kinds: Vec<(Kind, Vec<usize>)>,
    years: Vec<(i32, Vec<usize>)>,
    jobs: Vec<(String, Job)>,
    html_urls: Vec<String>,
}

/// The link of a path: `/x/index.html` → `/x/`.
pub fn url_of(path: &str) -> &str {
    path.strip_suffix("index.html").unwrap_or(path)
}

fn index_path(url: &str) -> String {
    format!("{url}index.html")
}

impl<'a> Build<'a> {
    fn new(site: &'a Site, input: &'a SiteInput) -> Result<Build<'a>, SiteError> {
        let today = input.today;
        let lookup = Lookup {
            authorities: input
                .authorities
                .iter()
                .map(|a| (a.id.as_str(), a.name.as_str()))
                .collect(),
            projects: input.projects.iter().map(|p| (p.id.as_str(), p)).collect(),
        };

        let mut notices: Vec<Entry> = input
            .registrations
            .iter()
            .filter(|r| view::is_announced(r, today))
            .map(|r| Entry {
                reg: r,
                item: view::list_item(r, format!("/notices/{}/", view::notice_slug(r)), today),
                year: 0,
            })
            .collect();
        notices.sort_by(|a, b| {
            let from = |e: &Entry| e.reg.notice.as_ref().map(|n| n.website_from);
            from(b).cmp(&from(a)).then_with(|| a.reg.id.cmp(&b.reg.id))
        });

        let mut registry: Vec<Entry> = input
            .registrations
            .iter()
            .filter(|r| view::is_registered(r))
            .map(|r| Entry {
                reg: r,
                item: view::list_item(r, format!("/registry/{}/", view::registry_slug(r)), today),
                year: view::decided_on(r).map_or(0, |d| d.year()),
            })
            .collect();
        registry.sort_by(|a, b| {
            let at = |e: &Entry| e.reg.decision.as_ref().map(|d| d.at);
            at(b)
                .cmp(&at(a))
                .then_with(|| b.item.number.cmp(&a.item.number))
                .then_with(|| a.reg.id.cmp(&b.reg.id))
        });
        // Numbers and ids are unique in storage; should two records still meet at one URL,
        // the later one moves to its id's hash rather than failing the whole site.
        let mut used = std::collections::HashSet::new();
        for e in notices.iter_mut().chain(registry.iter_mut()) {
            if !used.insert(e.item.url.clone()) {
                let section = if e.item.url.starts_with("/notices/") {
                    "notices"
                } else {
                    "registry"
                };
                e.item.url = format!("/{section}/{}/", view::hashed_slug(e.reg));
                used.insert(e.item.url.clone());
            }
        }
        let kinds: Vec<(Kind, Vec<usize>)> = Kind::ALL
            .iter()
            .map(|k| {
                let idx = (0..registry.len())
                    .filter(|i| registry[*i].reg.kind == Some(*k))
                    .collect();
                (*k, idx)
            })
            .collect();
        let mut by_year: BTreeMap<i32, Vec<usize>> = BTreeMap::new();
        for (i, e) in registry.iter().enumerate() {
            by_year.entry(e.year).or_default().push(i);
        }
        let years: Vec<(i32, Vec<usize>)> = by_year.into_iter().rev().collect();

        let mut jobs: Vec<(String, Job)> = vec![
            ("/index.html".to_owned(), Job::Home),
            ("/guide/index.html".to_owned(), Job::GuideIndex),
        ];
        for (i, g) in site.guides.iter().enumerate() {
            jobs.push((index_path(&g.url), Job::Guide(i)));
        }
        jobs.push(("/notices/index.html".to_owned(), Job::Notices));
        for (i, e) in notices.iter().enumerate() {
            jobs.push((index_path(&e.item.url), Job::Notice(i)));
        }
        let pages_of = |n: usize| n.div_ceil(PER_PAGE).max(1);
        let mut lists = vec![(ListKey::All, registry.len())];
        lists.extend(kinds.iter().map(|(k, v)| (ListKey::Kind(*k), v.len())));
        lists.extend(years.iter().map(|(y, v)| (ListKey::Year(*y), v.len())));
        for (key, len) in lists {
            for p in 1..=pages_of(len) {
                jobs.push((index_path(&key.url(p)), Job::List(key, p)));
            }
        }
        for (i, e) in registry.iter().enumerate() {
            jobs.push((index_path(&e.item.url), Job::Item(i)));
        }
        jobs.push(("/registry/index.json".to_owned(), Job::SearchIndex));
        jobs.push(("/feed.xml".to_owned(), Job::Feed));
        jobs.push(("/robots.txt".to_owned(), Job::Robots));
        jobs.push(("/404.html".to_owned(), Job::NotFound));
        for (i, a) in site.assets.iter().enumerate() {
            jobs.push((a.path.clone(), Job::Asset(i)));
        }
        let html_urls: Vec<String> = jobs
            .iter()
            .filter(|(p, _)| p.ends_with("/index.html"))
            .map(|(p, _)| url_of(p).to_owned())
            .collect();
        if html_urls.len() <= SITEMAP_LIMIT {
            jobs.push(("/sitemap.xml".to_owned(), Job::Sitemap));
        } else {
            let chunks = html_urls.len().div_ceil(SITEMAP_LIMIT);
            jobs.push(("/sitemap.xml".to_owned(), Job::SitemapIndex(chunks)));
            for k in 0..chunks {
                jobs.push((format!("/sitemaps/{}.xml", k + 1), Job::SitemapChunk(k)));
            }
        }
        let mut seen = std::collections::HashSet::with_capacity(jobs.len());
        for (p, _) in &jobs {
            if !seen.insert(p.as_str()) {
                return Err(SiteError::DuplicatePath(p.clone()));
            }
        }

        let mut base = Context::new();
        base.insert(
            "site",
            &SiteCtx {
                name: &site.name,
                description: &site.description,
                base_url: input.base_url.trim_end_matches('/'),
                contact: &input.notice_contact,
            },
        );
        base.insert("assets", &site.asset_paths);
        base.insert("guides", &site.guides);

        Ok(Build {
            site,
            input,
            base,
            lookup,
            notices,
            all: (0..registry.len()).collect(),
            registry,
            kinds,
            years,
            jobs,
            html_urls,
        })
    }

    /// How many files the site has.
    pub fn len(&self) -> usize {
        self.jobs.len()
    }

    /// Whether the site has no file (never: the home page is always there).
    pub fn is_empty(&self) -> bool {
        self.jobs.is_empty()
    }

    /// The output path of file `i`.
    pub fn path(&self, i: usize) -> &str {
        &self.jobs[i].0
    }

    /// Every output path, in build order.
    pub fn paths(&self) -> impl Iterator<Item = &str> {
        self.jobs.iter().map(|(p, _)| p.as_str())
    }

    fn base_url(&self) -> &str {
        self.input.base_url.trim_end_matches('/')
    }

    fn absolute(&self, url: &str) -> String {
        format!("{}{url}", self.base_url())
    }

    fn ctx(&self, title: &str, description: &str, url: &str, section: &str) -> Context {
        let mut c = self.base.clone();
        c.insert(
            "page",
            &PageMeta {
                title,
                description,
                url,
                section,
            },
        );
        c
    }

    fn html(&self, template: &str, ctx: &Context) -> Result<Page, SiteError> {
        let text = self.site.tera.render(template, ctx).map_err(tera_error)?;
        Ok(Page::new(text, HTML))
    }

    /// Renders file `i`.
    pub fn render(&self, i: usize) -> Result<Page, SiteError> {
        let (path, job) = &self.jobs[i];
        let url = url_of(path);
        match *job {
            Job::Home => {
                let mut c = self.ctx("", &self.site.description, url, "home");
                c.insert("intro", &self.site.intro_html);
                let notices: Vec<&ListItem> = self
                    .notices
                    .iter()
                    .take(HOME_NOTICES)
                    .map(|e| &e.item)
                    .collect();
                let latest: Vec<&ListItem> = self
                    .registry
                    .iter()
                    .take(HOME_LATEST)
                    .map(|e| &e.item)
                    .collect();
                c.insert("notices", &notices);
                c.insert("notice_count", &self.notices.len());
                c.insert("latest", &latest);
                c.insert("registry_count", &self.registry.len());
                self.html("index.html", &c)
            }
            Job::GuideIndex => {
                let c = self.ctx(
                    "办事指南",
                    "科技成果登记的范围、条件、材料、流程和网上操作步骤。",
                    url,
                    "guide",
                );
                self.html("guide_index.html", &c)
            }
            Job::Guide(g) => {
                let guide = &self.site.guides[g];
                let mut c = self.ctx(&guide.title, &guide.description, url, "guide");
                c.insert("guide", guide);
                c.insert("content", &guide.html);
                c.insert("prev", &g.checked_sub(1).map(|p| &self.site.guides[p]));
                c.insert("next", &self.site.guides.get(g + 1));
                self.html("guide.html", &c)
            }
            Job::Notices => {
                let mut c = self.ctx(
                    "成果登记公示",
                    "正在网站公示的科技成果登记，公示期内可以实名提出异议。",
                    url,
                    "notices",
                );
                let items: Vec<&ListItem> = self.notices.iter().map(|e| &e.item).collect();
                c.insert("items", &items);
                self.html("notices.html", &c)
            }
            Job::Notice(n) => {
                let e = &self.notices[n];
                let record =
                    view::record_view(e.reg, e.item.url.clone(), self.input.today, &self.lookup);
                let description = format!("{}的成果登记公示", record.title);
                let mut c = self.ctx(&record.title, &description, url, "notices");
                c.insert("record", &record);
                c.insert("endpoint", &self.input.objection_endpoint);
                self.html("notice.html", &c)
            }
            Job::List(key, page) => self.list(key, page, url),
            Job::Item(n) => {
                let e = &self.registry[n];
                let record =
                    view::record_view(e.reg, e.item.url.clone(), self.input.today, &self.lookup);
                let description = format!("成果登记号{}：{}", record.number, record.title);
                let mut c = self.ctx(&record.title, &description, url, "registry");
                c.insert("record", &record);
                self.html("achievement.html", &c)
            }
            Job::SearchIndex => self.search_index(),
            Job::Feed => self.feed(),
            Job::Sitemap => {
                let mut c = Context::new();
                let urls: Vec<String> = self.html_urls.iter().map(|u| self.absolute(u)).collect();
                c.insert("urls", &urls);
                let text = self
                    .site
                    .tera
                    .render("sitemap.xml", &c)
                    .map_err(tera_error)?;
                Ok(Page::new(text, "application/xml"))
            }
            Job::SitemapIndex(chunks) => {
                let mut c = Context::new();
                let urls: Vec<String> = (1..=chunks)
                    .map(|k| self.absolute(&format!("/sitemaps/{k}.xml")))
                    .collect();
                c.insert("sitemaps", &urls);
                let text = self
                    .site
                    .tera
                    .render("sitemap_index.xml", &c)
                    .map_err(tera_error)?;
                Ok(Page::new(text, "application/xml"))
            }
            Job::SitemapChunk(k) => {
                let mut c = Context::new();
                let urls: Vec<String> = self
                    .html_urls
                    .iter()
                    .skip(k * SITEMAP_LIMIT)
                    .take(SITEMAP_LIMIT)
                    .map(|u| self.absolute(u))
                    .collect();
                c.insert("urls", &urls);
                let text = self
                    .site
                    .tera
                    .render("sitemap.xml", &c)
                    .map_err(tera_error)?;
                Ok(Page::new(text, "application/xml"))
            }
            Job::Robots => {
                let mut c = Context::new();
                c.insert("sitemap", &self.absolute("/sitemap.xml"));
                let text = self
                    .site
                    .tera
                    .render("robots.txt", &c)
                    .map_err(tera_error)?;
                Ok(Page::new(text, "text/plain; charset=utf-8"))
            }
            Job::NotFound => {
                let c = self.ctx("页面不存在", "您访问的页面不存在或已下线。", url, "");
                self.html("404.html", &c)
            }
            Job::Asset(a) => Ok(self.site.assets[a].page.clone()),
        }
    }

    fn list(&self, key: ListKey, page: usize, url: &str) -> Result<Page, SiteError> {
        let (heading, indices): (String, &[usize]) = match key {
            ListKey::All => ("全部已登记成果".to_owned(), &self.all),
            ListKey::Kind(k) => (
                k.label().to_owned(),
                self.kinds
                    .iter()
                    .find(|(x, _)| *x == k)
                    .map_or(&[][..], |(_, v)| v.as_slice()),
            ),
            ListKey::Year(y) => (
                format!("{y}年登记的成果"),
                self.years
                    .iter()
                    .find(|(x, _)| *x == y)
                    .map_or(&[][..], |(_, v)| v.as_slice()),
            ),
        };
        let total_pages = indices.len().div_ceil(PER_PAGE).max(1);
        let items: Vec<&ListItem> = indices
            .iter()
            .skip((page - 1) * PER_PAGE)
            .take(PER_PAGE)
            .map(|i| &self.registry[*i].item)
            .collect();
        let mut links = Vec::new();
        let mut last = 0;
        for p in 1..=total_pages {
            if p == 1 || p == total_pages || p.abs_diff(page) <= 2 {
                links.push(PagerLink {
                    number: p,
                    url: key.url(p),
                    current: p == page,
                    gap_before: last != 0 && p > last + 1,
                });
                last = p;
            }
        }
        let pager = Pager {
            current: page,
            total: total_pages,
            prev: (page > 1).then(|| key.url(page - 1)),
            next: (page < total_pages).then(|| key.url(page + 1)),
            links,
        };
        let kinds: Vec<Facet> = self
            .kinds
            .iter()
            .map(|(k, v)| Facet {
                label: k.label().to_owned(),
                code: k.code().to_owned(),
                url: ListKey::Kind(*k).url(1),
                count: v.len(),
                current: key == ListKey::Kind(*k),
            })
            .collect();
        let years: Vec<Facet> = self
            .years
            .iter()
            .map(|(y, v)| Facet {
                label: format!("{y}年"),
                code: y.to_string(),
                url: ListKey::Year(*y).url(1),
                count: v.len(),
                current: key == ListKey::Year(*y),
            })
            .collect();
        let name = match key {
            ListKey::All => "成果库".to_owned(),
            _ => heading.clone(),
        };
        let title = if page > 1 {
            format!("{name}（第{page}页）")
        } else {
            name
        };
        let description = format!("已予以登记的科技成果：{heading}，共{}项。", indices.len());
        let mut c = self.ctx(&title, &description, url, "registry");
        c.insert("heading", &heading);
        c.insert("items", &items);
        c.insert("total", &indices.len());
        c.insert("all_total", &self.registry.len());
        c.insert("pager", &pager);
        c.insert("kinds", &kinds);
        c.insert("years", &years);
        c.insert("is_all", &(key == ListKey::All));
        c.insert("search", &(key == ListKey::All && page == 1));
        self.html("registry.html", &c)
    }

    fn search_index(&self) -> Result<Page, SiteError> {
        let empty = DateView {
            iso: String::new(),
            text: String::new(),
        };
        let items = self
            .registry
            .iter()
            .map(|e| IndexItem {
                n: &e.item.number,
                t: &e.item.title,
                k: e.item.kind,
                y: e.year,
                d: &e.item.decided_on.as_ref().unwrap_or(&empty).iso,
                u: e.reg
                    .fields
                    .units
                    .iter()
                    .filter_map(|u| u.name.as_deref().map(str::trim))
                    .filter(|s| !s.is_empty())
                    .collect(),
                w: e.reg
                    .fields
                    .keywords
                    .iter()
                    .map(|k| k.trim())
                    .filter(|s| !s.is_empty())
                    .collect(),
                p: &e.item.url,
            })
            .collect();
        let doc = IndexDoc {
            kinds: Kind::ALL.iter().map(|k| (k.code(), k.label())).collect(),
            items,
        };
        let text = json::to_safe_json(&doc).map_err(|e| SiteError::Json(e.to_string()))?;
        Ok(Page::new(text, "application/json"))
    }

    fn feed(&self) -> Result<Page, SiteError> {
        let at_midnight = |iso: &str| format!("{iso}T00:00:00+08:00");
        let entries: Vec<FeedEntry> = self
            .notices
            .iter()
            .filter_map(|e| {
                let n = e.item.notice.as_ref()?;
                let summary: String = e
                    .reg
                    .fields
                    .summary
                    .as_deref()
                    .unwrap_or("")
                    .trim()
                    .chars()
                    .take(200)
                    .collect();
                Some(FeedEntry {
                    title: &e.item.title,
                    link: self.absolute(&e.item.url),
                    id: if self.base_url().is_empty() {
                        format!("urn:chengguo:notice:{}", view::notice_slug(e.reg))
                    } else {
                        self.absolute(&e.item.url)
                    },
                    updated: at_midnight(&n.website_from.iso),
                    summary,
                    first_unit: &e.item.first_unit,
                    kind_label: e.item.kind_label,
                    from: &n.website_from.text,
                    to: &n.website_to.text,
                })
            })
            .collect();
        let updated = entries
            .iter()
            .map(|e| e.updated.clone())
            .max()
            .unwrap_or_else(|| at_midnight(&view::date_view(self.input.today).iso));
        let mut c = Context::new();
        c.insert("site_name", &self.site.name);
        c.insert("feed_url", &self.absolute("/feed.xml"));
        c.insert("site_url", &self.absolute("/notices/"));
        c.insert(
            "feed_id",
            &if self.base_url().is_empty() {
                "urn:chengguo:notices".to_owned()
            } else {
                self.absolute("/feed.xml")
            },
        );
        c.insert("updated", &updated);
        c.insert("entries", &entries);
        let text = self.site.tera.render("feed.xml", &c).map_err(tera_error)?;
        Ok(Page::new(text, "application/atom+xml"))
    }
}
