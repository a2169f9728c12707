//! The generator: [`Site`] holds the parsed content, the templates and the static assets;
//! [`Site::plan`] turns a [`SiteInput`] into a [`Build`] — the list of every output path and
//! how to render it — and [`Build::render`] renders one page. [`Site::render`] renders them all.
//!
//! Output paths start with `/`; a page at `/x/index.html` is linked as `/x/`. Static assets are
//! fingerprinted (`/static/site.<hash>.css`) so that they can be cached for a year, while pages
//! are cached for minutes.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use bytes::Bytes;
use chengguo_domain::codes::Kind;
use chengguo_domain::materials;
use serde::Serialize;
use sha2::{Digest, Sha256};
use tera::{Context, Tera};

use crate::content::{self, ContentError, Shortcode};
use crate::input::SiteInput;
use crate::model::{
    Dirt, Dirty, ListKey, Model, PER_PAGE, REntry, SHARD_SIZE, SITEMAP_CHUNK, blocks_of,
    index_path, shard_path,
};
use crate::view::{self, ListItem};
use crate::{embedded, flow, json};

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

    /// Everything `input` produces, by path, rendered on every core.
    pub fn render(&self, input: &SiteInput) -> Result<BTreeMap<String, Page>, SiteError> {
        let build = self.plan(input)?;
        Ok(build.render_range(0..build.len())?.into_iter().collect())
    }

    /// The list of pages `input` produces, each rendered on demand by [`Build::render`], so
    /// that a publisher can stream a large site without holding it in memory.
    pub fn plan(&self, input: &SiteInput) -> Result<Build<'_>, SiteError> {
        self.plan_owned(input.clone())
    }

    /// [`Site::plan`] taking the input, which saves copying its records.
    pub fn plan_owned(&self, input: SiteInput) -> Result<Build<'_>, SiteError> {
        Build::from_model(self, Model::new(input))
    }

    /// How many guidance pages the site has.
    pub(crate) fn guide_count(&self) -> usize {
        self.guides.len()
    }
}

/// One output file of a model, by what it shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum PageId {
    Home,
    GuideIndex,
    Guide(usize),
    Notices,
    Notice(usize),
    /// A list's landing page: counts, facets and the newest achievements.
    Landing(ListKey),
    /// Archive page `n` of a list, 1 holding the oldest [`PER_PAGE`] achievements.
    Block(ListKey, usize),
    Item(String),
    IndexManifest,
    IndexShard(i32, usize),
    Feed,
    Robots,
    NotFound,
    Asset(usize),
    Sitemap,
    SitemapIndex,
    SitemapPages(usize),
    SitemapRegistry(usize),
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
    label: String,
    url: String,
    current: bool,
    /// A gap (…) before this link.
    gap_before: bool,
}

#[derive(Serialize)]
struct Pager {
    prev: Option<String>,
    next: Option<String>,
    links: Vec<PagerLink>,
}

#[derive(Serialize)]
struct Archive {
    number: usize,
    first: usize,
    last: usize,
    from: String,
    to: String,
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
struct ShardRef {
    /// Year of decision of every item in the shard.
    y: i32,
    /// The shard's URL.
    p: String,
}

#[derive(Serialize)]
struct IndexManifestDoc {
    kinds: BTreeMap<&'static str, &'static str>,
    /// Shards newest first; their items are newest first too.
    shards: Vec<ShardRef>,
}

#[derive(Serialize)]
struct ShardDoc<'a> {
    items: Vec<IndexItem<'a>>,
}

/// The link of a path: `/x/index.html` → `/x/`.
pub fn url_of(path: &str) -> &str {
    path.strip_suffix("index.html").unwrap_or(path)
}

fn xml_escape(s: &str) -> String {
    escape_html(s)
}

/// Renders pages of one model with one site.
pub(crate) struct Renderer<'a> {
    site: &'a Site,
    model: &'a Model,
    base: Context,
}

impl<'a> Renderer<'a> {
    pub fn new(site: &'a Site, model: &'a Model) -> Renderer<'a> {
        let mut base = Context::new();
        base.insert(
            "site",
            &SiteCtx {
                name: &site.name,
                description: &site.description,
                base_url: &model.base_url,
                contact: &model.contact,
            },
        );
        base.insert("assets", &site.asset_paths);
        base.insert("guides", &site.guides);
        Renderer { site, model, base }
    }

    /// The HTML pages other than achievements, in the order of the site.
    fn html_pages_without_items(&self) -> Vec<PageId> {
        let mut out = vec![PageId::Home, PageId::GuideIndex];
        out.extend((0..self.site.guides.len()).map(PageId::Guide));
        out.push(PageId::Notices);
        out.extend((0..self.model.notices.len()).map(PageId::Notice));
        for key in self.model.list_keys() {
            out.push(PageId::Landing(key));
            let blocks = blocks_of(self.model.list(key).len());
            out.extend((1..=blocks).map(|b| PageId::Block(key, b)));
        }
        out
    }

    fn shards_of(&self, year: i32) -> usize {
        self.model
            .list(ListKey::Year(year))
            .len()
            .div_ceil(SHARD_SIZE)
    }

    fn sitemap_pages(&self, all_chunks: bool, registry: Option<&Dirt>) -> Vec<PageId> {
        let html = self.model.html_count(self.site.guides.len());
        if html <= SITEMAP_LIMIT {
            return vec![PageId::Sitemap];
        }
        let pages = html - self.model.all.len();
        let mut out = vec![PageId::SitemapIndex];
        out.extend((1..=pages.div_ceil(SITEMAP_LIMIT)).map(PageId::SitemapPages));
        let chunks = self.model.all.len().div_ceil(SITEMAP_CHUNK);
        match registry {
            Some(d) if !all_chunks => out.extend(
                d.blocks(SITEMAP_CHUNK, chunks, 0)
                    .into_iter()
                    .map(PageId::SitemapRegistry),
            ),
            None if !all_chunks => {}
            _ => out.extend((1..=chunks).map(PageId::SitemapRegistry)),
        }
        out
    }

    /// Every file of the site.
    pub fn all_pages(&self) -> Vec<PageId> {
        // Assets first, so that a publish never links a missing one.
        let mut out: Vec<PageId> = (0..self.site.assets.len()).map(PageId::Asset).collect();
        out.extend(self.html_pages_without_items());
        out.extend(
            self.model
                .all
                .iter()
                .map(|e| PageId::Item(e.reg.id.clone())),
        );
        out.push(PageId::IndexManifest);
        for y in self.model.years.keys().rev() {
            out.extend((1..=self.shards_of(*y)).map(|s| PageId::IndexShard(*y, s)));
        }
        out.extend([PageId::Feed, PageId::Robots, PageId::NotFound]);
        out.extend(self.sitemap_pages(true, None));
        out
    }

    /// The files an update may have changed.
    pub fn dirty_pages(&self, dirty: &Dirty) -> Vec<PageId> {
        if dirty.full {
            return self.all_pages();
        }
        let mut out = vec![PageId::Home, PageId::Feed, PageId::IndexManifest];
        out.extend(self.sitemap_pages(dirty.sitemap_form, dirty.lists.get(&ListKey::All)));
        if dirty.notices {
            out.push(PageId::Notices);
            out.extend((0..self.model.notices.len()).map(PageId::Notice));
        }
        if dirty.registry {
            out.extend(self.model.list_keys().into_iter().map(PageId::Landing));
        }
        for (key, dirt) in &dirty.lists {
            let len = self.model.list(*key).len();
            // Archive pages link to two neighbours on each side.
            out.extend(
                dirt.blocks(PER_PAGE, blocks_of(len), 2)
                    .into_iter()
                    .map(|b| PageId::Block(*key, b)),
            );
            if let ListKey::Year(y) = key {
                out.extend(
                    dirt.blocks(SHARD_SIZE, len.div_ceil(SHARD_SIZE), 0)
                        .into_iter()
                        .map(|s| PageId::IndexShard(*y, s)),
                );
            }
        }
        for id in &dirty.items {
            if self.model.entry_of(id).is_some() {
                out.push(PageId::Item(id.clone()));
            }
        }
        out
    }

    /// The output path of a page.
    pub fn path(&self, id: &PageId) -> String {
        match id {
            PageId::Home => "/index.html".to_owned(),
            PageId::GuideIndex => "/guide/index.html".to_owned(),
            PageId::Guide(g) => index_path(&self.site.guides[*g].url),
            PageId::Notices => "/notices/index.html".to_owned(),
            PageId::Notice(n) => index_path(&self.model.notices[*n].item.url),
            PageId::Landing(key) => index_path(&key.url(0)),
            PageId::Block(key, b) => index_path(&key.url(*b)),
            PageId::Item(id) => self
                .model
                .entry_of(id)
                .map_or_else(String::new, |e| index_path(&e.item.url)),
            PageId::IndexManifest => "/registry/index.json".to_owned(),
            PageId::IndexShard(y, s) => shard_path(*y, *s),
            PageId::Feed => "/feed.xml".to_owned(),
            PageId::Robots => "/robots.txt".to_owned(),
            PageId::NotFound => "/404.html".to_owned(),
            PageId::Asset(a) => self.site.assets[*a].path.clone(),
            PageId::Sitemap | PageId::SitemapIndex => "/sitemap.xml".to_owned(),
            PageId::SitemapPages(k) => format!("/sitemaps/pages-{k}.xml"),
            PageId::SitemapRegistry(k) => format!("/sitemaps/registry-{k}.xml"),
        }
    }

    fn absolute(&self, url: &str) -> String {
        format!("{}{url}", self.model.base_url)
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

    /// Renders one page.
    pub fn render(&self, id: &PageId) -> Result<Page, SiteError> {
        let path = self.path(id);
        let url = url_of(&path);
        let m = self.model;
        match id {
            PageId::Home => {
                let mut c = self.ctx("", &self.site.description, url, "home");
                c.insert("intro", &self.site.intro_html);
                let notices: Vec<&ListItem> = m
                    .notices
                    .iter()
                    .take(HOME_NOTICES)
                    .map(|e| &e.item)
                    .collect();
                let latest: Vec<&ListItem> = m
                    .all
                    .iter()
                    .rev()
                    .take(HOME_LATEST)
                    .map(|e| &e.item)
                    .collect();
                c.insert("notices", &notices);
                c.insert("notice_count", &m.notices.len());
                c.insert("latest", &latest);
                c.insert("registry_count", &m.all.len());
                self.html("index.html", &c)
            }
            PageId::GuideIndex => {
                let c = self.ctx(
                    "办事指南",
                    "科技成果登记的范围、条件、材料、流程和网上操作步骤。",
                    url,
                    "guide",
                );
                self.html("guide_index.html", &c)
            }
            PageId::Guide(g) => {
                let g = *g;
                let guide = &self.site.guides[g];
                let mut c = self.ctx(&guide.title, &guide.description, url, "guide");
                c.insert("guide", guide);
                c.insert("content", &guide.html);
                c.insert("prev", &g.checked_sub(1).map(|p| &self.site.guides[p]));
                c.insert("next", &self.site.guides.get(g + 1));
                self.html("guide.html", &c)
            }
            PageId::Notices => {
                let mut c = self.ctx(
                    "成果登记公示",
                    "正在网站公示的科技成果登记，公示期内可以实名提出异议。",
                    url,
                    "notices",
                );
                let items: Vec<&ListItem> = m.notices.iter().map(|e| &e.item).collect();
                c.insert("items", &items);
                self.html("notices.html", &c)
            }
            PageId::Notice(n) => {
                let e = &m.notices[*n];
                let record = view::record_view(&e.reg, e.item.url.clone(), m.today, &m.lookup);
                let description = format!("{}的成果登记公示", record.title);
                let mut c = self.ctx(&record.title, &description, url, "notices");
                c.insert("record", &record);
                c.insert("endpoint", &m.endpoint);
                self.html("notice.html", &c)
            }
            PageId::Landing(key) => self.landing(*key, url),
            PageId::Block(key, b) => self.block(*key, *b, url),
            PageId::Item(id) => {
                let e = m
                    .entry_of(id)
                    .ok_or_else(|| SiteError::Template(format!("no achievement {id}")))?;
                // The decision day stands in for the build date: the page never changes
                // with the date (see Model::entry).
                let day = view::decided_on(&e.reg).unwrap_or(m.today);
                let record = view::record_view(&e.reg, e.item.url.clone(), day, &m.lookup);
                let description = format!("成果登记号{}：{}", record.number, record.title);
                let mut c = self.ctx(&record.title, &description, url, "registry");
                c.insert("record", &record);
                self.html("achievement.html", &c)
            }
            PageId::IndexManifest => {
                let mut shards = Vec::new();
                for y in m.years.keys().rev() {
                    for s in (1..=self.shards_of(*y)).rev() {
                        shards.push(ShardRef {
                            y: *y,
                            p: shard_path(*y, s),
                        });
                    }
                }
                let doc = IndexManifestDoc {
                    kinds: Kind::ALL.iter().map(|k| (k.code(), k.label())).collect(),
                    shards,
                };
                self.json(&doc)
            }
            PageId::IndexShard(y, s) => {
                let list = m.list(ListKey::Year(*y));
                let start = (s - 1) * SHARD_SIZE;
                let end = (start + SHARD_SIZE).min(list.len());
                let items = list
                    .get(start..end)
                    .unwrap_or(&[])
                    .iter()
                    .rev()
                    .map(|e| index_item(e))
                    .collect();
                self.json(&ShardDoc { items })
            }
            PageId::Feed => self.feed(),
            PageId::Robots => {
                let mut c = Context::new();
                c.insert("sitemap", &self.absolute("/sitemap.xml"));
                let text = self
                    .site
                    .tera
                    .render("robots.txt", &c)
                    .map_err(tera_error)?;
                Ok(Page::new(text, "text/plain; charset=utf-8"))
            }
            PageId::NotFound => {
                let c = self.ctx("页面不存在", "您访问的页面不存在或已下线。", url, "");
                self.html("404.html", &c)
            }
            PageId::Asset(a) => Ok(self.site.assets[*a].page.clone()),
            PageId::Sitemap => {
                let mut urls: Vec<String> = self
                    .html_pages_without_items()
                    .iter()
                    .map(|p| url_of(&self.path(p)).to_owned())
                    .collect();
                urls.extend(m.all.iter().map(|e| e.item.url.clone()));
                Ok(self.urlset(&urls))
            }
            PageId::SitemapIndex => {
                let files: Vec<String> = m.sitemap_paths(self.site.guides.len());
                let mut text = String::from(
                    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<sitemapindex xmlns=\"http://www.sitemaps.org/schemas/sitemap/0.9\">\n",
                );
                for f in files.iter().skip(1) {
                    text.push_str("<sitemap><loc>");
                    text.push_str(&xml_escape(&self.absolute(f)));
                    text.push_str("</loc></sitemap>\n");
                }
                text.push_str("</sitemapindex>\n");
                Ok(Page::new(text, "application/xml"))
            }
            PageId::SitemapPages(k) => {
                let urls: Vec<String> = self
                    .html_pages_without_items()
                    .iter()
                    .skip((k - 1) * SITEMAP_LIMIT)
                    .take(SITEMAP_LIMIT)
                    .map(|p| url_of(&self.path(p)).to_owned())
                    .collect();
                Ok(self.urlset(&urls))
            }
            PageId::SitemapRegistry(k) => {
                let urls: Vec<String> = m
                    .all
                    .iter()
                    .skip((k - 1) * SITEMAP_CHUNK)
                    .take(SITEMAP_CHUNK)
                    .map(|e| e.item.url.clone())
                    .collect();
                Ok(self.urlset(&urls))
            }
        }
    }

    fn json<T: Serialize>(&self, doc: &T) -> Result<Page, SiteError> {
        let text = json::to_safe_json(doc).map_err(|e| SiteError::Json(e.to_string()))?;
        Ok(Page::new(text, "application/json"))
    }

    /// A `<urlset>` written directly: a sitemap can hold 50,000 URLs, too many to go through
    /// a template quickly.
    fn urlset(&self, urls: &[String]) -> Page {
        let mut text = String::with_capacity(urls.len() * 80 + 200);
        text.push_str(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<urlset xmlns=\"http://www.sitemaps.org/schemas/sitemap/0.9\">\n",
        );
        for u in urls {
            text.push_str("<url><loc>");
            text.push_str(&xml_escape(&self.absolute(u)));
            text.push_str("</loc></url>\n");
        }
        text.push_str("</urlset>\n");
        Page::new(text, "application/xml")
    }

    fn heading(key: ListKey) -> String {
        match key {
            ListKey::All => "全部已登记成果".to_owned(),
            ListKey::Kind(k) => k.label().to_owned(),
            ListKey::Year(y) => format!("{y}年登记的成果"),
        }
    }

    fn name(key: ListKey) -> String {
        match key {
            ListKey::All => "成果库".to_owned(),
            _ => Renderer::heading(key),
        }
    }

    /// A list's landing page: its count, the facets with counts, the newest achievements and
    /// links to the archive pages.
    fn landing(&self, key: ListKey, url: &str) -> Result<Page, SiteError> {
        let m = self.model;
        let list = m.list(key);
        let heading = Renderer::heading(key);
        let items: Vec<&ListItem> = list.iter().rev().take(PER_PAGE).map(|e| &e.item).collect();
        let blocks = blocks_of(list.len());
        let mut links = Vec::new();
        if blocks > 0 {
            links.push(PagerLink {
                label: "最新".to_owned(),
                url: key.url(0),
                current: true,
                gap_before: false,
            });
            let mut last = blocks + 1;
            for b in (1..=blocks).rev() {
                if b + 3 > blocks || b == 1 {
                    links.push(PagerLink {
                        label: b.to_string(),
                        url: key.url(b),
                        current: false,
                        gap_before: b + 1 < last,
                    });
                    last = b;
                }
            }
        }
        // The first achievement not shown here is on this archive page.
        let next = (blocks > 0).then(|| key.url((list.len() - PER_PAGE - 1) / PER_PAGE + 1));
        let pager = Pager {
            prev: None,
            next,
            links,
        };
        let kinds: Vec<Facet> = m
            .kinds
            .iter()
            .map(|(k, v)| Facet {
                label: k.label().to_owned(),
                code: k.code().to_owned(),
                url: ListKey::Kind(*k).url(0),
                count: v.len(),
                current: key == ListKey::Kind(*k),
            })
            .collect();
        let years: Vec<Facet> = m
            .years
            .iter()
            .rev()
            .map(|(y, v)| Facet {
                label: format!("{y}年"),
                code: y.to_string(),
                url: ListKey::Year(*y).url(0),
                count: v.len(),
                current: key == ListKey::Year(*y),
            })
            .collect();
        let title = Renderer::name(key);
        let description = format!("已予以登记的科技成果：{heading}，共{}项。", list.len());
        let mut c = self.ctx(&title, &description, url, "registry");
        c.insert("heading", &heading);
        c.insert("items", &items);
        c.insert("total", &list.len());
        c.insert("per_page", &PER_PAGE);
        c.insert("all_total", &m.all.len());
        c.insert("pager", &pager);
        c.insert("kinds", &kinds);
        c.insert("years", &years);
        c.insert("is_all", &(key == ListKey::All));
        c.insert("search", &(key == ListKey::All));
        c.insert("archive", &None::<Archive>);
        self.html("registry.html", &c)
    }

    /// Archive page `b` of a list: achievements `(b-1)*PER_PAGE+1 ..= b*PER_PAGE` counted from
    /// the oldest, shown newest first. It shows no count that a new decision would change.
    fn block(&self, key: ListKey, b: usize, url: &str) -> Result<Page, SiteError> {
        let list = self.model.list(key);
        let blocks = blocks_of(list.len());
        let start = (b - 1) * PER_PAGE;
        let end = (start + PER_PAGE).min(list.len());
        let slice = list.get(start..end).unwrap_or(&[]);
        let items: Vec<&ListItem> = slice.iter().rev().map(|e| &e.item).collect();
        let day = |e: Option<&Arc<REntry>>| {
            e.and_then(|e| e.item.decided_on.as_ref())
                .map(|d| d.text.clone())
                .unwrap_or_default()
        };
        let archive = Archive {
            number: b,
            first: start + 1,
            last: end,
            from: day(slice.first()),
            to: day(slice.last()),
        };
        let mut links = vec![PagerLink {
            label: "最新".to_owned(),
            url: key.url(0),
            current: false,
            gap_before: false,
        }];
        let mut last = usize::MAX;
        let top = (b + 2).min(blocks);
        for n in (1..=top).rev() {
            if n.abs_diff(b) <= 2 || n == 1 {
                links.push(PagerLink {
                    label: n.to_string(),
                    url: key.url(n),
                    current: n == b,
                    gap_before: last != usize::MAX && n + 1 < last,
                });
                last = n;
            }
        }
        let pager = Pager {
            prev: Some(key.url(if b < blocks { b + 1 } else { 0 })),
            next: (b > 1).then(|| key.url(b - 1)),
            links,
        };
        let heading = Renderer::heading(key);
        let title = format!("{}（第{b}页）", Renderer::name(key));
        let description = format!("已予以登记的科技成果：{heading}，第{b}页。");
        let mut c = self.ctx(&title, &description, url, "registry");
        c.insert("heading", &heading);
        c.insert("items", &items);
        c.insert("pager", &pager);
        c.insert("landing", &key.url(0));
        c.insert("name", &Renderer::name(key));
        c.insert("is_all", &(key == ListKey::All));
        c.insert("search", &false);
        c.insert("archive", &Some(archive));
        self.html("registry.html", &c)
    }

    fn feed(&self) -> Result<Page, SiteError> {
        let m = self.model;
        let at_midnight = |iso: &str| format!("{iso}T00:00:00+08:00");
        let entries: Vec<FeedEntry> = m
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
                    id: if m.base_url.is_empty() {
                        format!("urn:chengguo:notice:{}", view::notice_slug(&e.reg))
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
            .unwrap_or_else(|| at_midnight(&view::date_view(m.today).iso));
        let mut c = Context::new();
        c.insert("site_name", &self.site.name);
        c.insert("feed_url", &self.absolute("/feed.xml"));
        c.insert("site_url", &self.absolute("/notices/"));
        c.insert(
            "feed_id",
            &if m.base_url.is_empty() {
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

    /// Renders and hashes `ids` on up to `threads` threads, in order.
    pub fn render_many(&self, ids: &[PageId], threads: usize) -> Result<Vec<Rendered>, SiteError> {
        let one = |ids: &[PageId]| -> Result<Vec<Rendered>, SiteError> {
            ids.iter()
                .map(|id| {
                    let page = self.render(id)?;
                    Ok(Rendered {
                        path: self.path(id),
                        hash: page.sha256(),
                        page,
                    })
                })
                .collect()
        };
        if threads <= 1 || ids.len() < 64 {
            return one(ids);
        }
        let size = ids.len().div_ceil(threads);
        std::thread::scope(|scope| {
            let handles: Vec<_> = ids
                .chunks(size)
                .map(|chunk| scope.spawn(move || one(chunk)))
                .collect();
            let mut out = Vec::with_capacity(ids.len());
            for h in handles {
                match h.join() {
                    Ok(part) => out.extend(part?),
                    Err(_) => return Err(SiteError::Template("a render thread panicked".into())),
                }
            }
            Ok(out)
        })
    }
}

/// A rendered file with its path and SHA-256.
pub(crate) struct Rendered {
    pub path: String,
    pub page: Page,
    pub hash: String,
}

fn index_item(e: &REntry) -> IndexItem<'_> {
    IndexItem {
        n: &e.item.number,
        t: &e.item.title,
        k: e.item.kind,
        y: e.year,
        d: e.item.decided_on.as_ref().map_or("", |d| d.iso.as_str()),
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
    }
}

/// How many threads a full build renders on.
pub(crate) fn threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// The pages of one input, each rendered on demand, so that a publisher can stream a large
/// site without holding it in memory.
pub struct Build<'a> {
    site: &'a Site,
    model: Model,
    ids: Vec<PageId>,
    paths: Vec<String>,
}

impl<'a> Build<'a> {
    pub(crate) fn from_model(site: &'a Site, model: Model) -> Result<Build<'a>, SiteError> {
        let r = Renderer::new(site, &model);
        let ids = r.all_pages();
        let paths: Vec<String> = ids.iter().map(|id| r.path(id)).collect();
        let mut seen = std::collections::HashSet::with_capacity(paths.len());
        for p in &paths {
            if !seen.insert(p.as_str()) {
                return Err(SiteError::DuplicatePath(p.clone()));
            }
        }
        Ok(Build {
            site,
            model,
            ids,
            paths,
        })
    }

    /// How many files the site has.
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    /// Whether the site has no file (never: the home page is always there).
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// The output path of file `i`.
    pub fn path(&self, i: usize) -> &str {
        &self.paths[i]
    }

    /// Every output path, in build order.
    pub fn paths(&self) -> impl Iterator<Item = &str> {
        self.paths.iter().map(String::as_str)
    }

    /// Renders file `i`.
    pub fn render(&self, i: usize) -> Result<Page, SiteError> {
        Renderer::new(self.site, &self.model).render(&self.ids[i])
    }

    /// Renders files `range` on every core, in order.
    pub fn render_range(
        &self,
        range: std::ops::Range<usize>,
    ) -> Result<Vec<(String, Page)>, SiteError> {
        Ok(self
            .render_hashed(range)?
            .into_iter()
            .map(|r| (r.path, r.page))
            .collect())
    }

    pub(crate) fn render_hashed(
        &self,
        range: std::ops::Range<usize>,
    ) -> Result<Vec<Rendered>, SiteError> {
        Renderer::new(self.site, &self.model).render_many(&self.ids[range], threads())
    }

    pub(crate) fn into_model(self) -> Model {
        self.model
    }
}
