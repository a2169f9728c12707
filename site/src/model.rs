//! The site's state as an owned, incrementally updatable model: the public records, the
//! announcements open on the build date, and the registry ordered oldest first — as a whole,
//! by kind and by year — so that a change touches only the positions it moves.
//!
//! [`Model::update`] applies new versions of some records (and possibly a new date) and answers
//! which pages may have changed ([`Dirty`]); every page is a pure function of the model, so
//! re-rendering exactly those pages gives the same files as a full build of the same input.
//!
//! Listing pages are numbered from the oldest achievement ([`PER_PAGE`] per page) and search
//! index shards likewise per year ([`SHARD_SIZE`]), so a new decision, which sorts last, changes
//! only the last page or shard of the lists it is on (and the pages that show counts: the
//! landing pages and the home page).

use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use chengguo_domain::codes::{Kind, State};
use chengguo_domain::org::Authority;
use chengguo_domain::project::Project;
use chengguo_domain::record::Registration;
use time::Date;

use crate::input::SiteInput;
use crate::view::{self, ListItem, Lookup};

/// Achievements per listing page.
pub const PER_PAGE: usize = 50;
/// Achievements per search index shard (within one year).
pub const SHARD_SIZE: usize = 2000;
/// Achievement URLs per registry sitemap file (when the sitemap is an index).
pub const SITEMAP_CHUNK: usize = 10_000;

/// The registry's order, oldest first: decision time, then number, then id (descending, so
/// that newest first matches the order of ids ascending among equal times and numbers).
pub(crate) type Key = (i128, String, Reverse<String>);

/// A registered achievement with what its lines and pages show.
#[derive(Debug)]
pub(crate) struct REntry {
    pub key: Key,
    pub reg: Arc<Registration>,
    pub item: ListItem,
    pub year: i32,
}

/// An open announcement.
#[derive(Debug)]
pub(crate) struct NEntry {
    pub reg: Arc<Registration>,
    pub item: ListItem,
}

/// Which achievements a listing shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) enum ListKey {
    All,
    Kind(Kind),
    Year(i32),
}

impl ListKey {
    pub fn base(self) -> String {
        match self {
            ListKey::All => "/registry/".to_owned(),
            ListKey::Kind(k) => format!("/registry/kind/{}/", k.code()),
            ListKey::Year(y) => format!("/registry/year/{y}/"),
        }
    }

    /// The landing page (`page` 0) or archive page `page` (1 = the oldest achievements).
    pub fn url(self, page: usize) -> String {
        if page == 0 {
            self.base()
        } else {
            format!("{}page/{page}/", self.base())
        }
    }
}

/// Archive pages of a list of `len`: none while the landing page shows everything.
pub(crate) fn blocks_of(len: usize) -> usize {
    if len > PER_PAGE {
        len.div_ceil(PER_PAGE)
    } else {
        0
    }
}

/// What may have changed, by position: everything from `from` on, and the single positions
/// in `at` (records replaced where they were).
#[derive(Debug, Default, Clone)]
pub(crate) struct Dirt {
    pub from: Option<usize>,
    pub at: BTreeSet<usize>,
    /// The list's length before the update.
    pub old_len: usize,
}

impl Dirt {
    fn shift(&mut self, pos: usize) {
        self.from = Some(self.from.map_or(pos, |f| f.min(pos)));
    }

    /// Blocks of `size` (1-based) up to `count` that hold a dirty position, widened by `before`
    /// blocks before the first shifted one (pages that link to their neighbours).
    pub fn blocks(&self, size: usize, count: usize, before: usize) -> BTreeSet<usize> {
        let mut out = BTreeSet::new();
        if let Some(f) = self.from {
            let first = (f / size + 1).saturating_sub(before).max(1);
            out.extend(first..=count);
        }
        for p in &self.at {
            let b = p / size + 1;
            if b <= count {
                out.insert(b);
            }
        }
        out
    }
}

/// The pages an update may have changed (besides the home page, the feed, the search index
/// manifest and the sitemaps, which are always rendered again).
#[derive(Debug, Default)]
pub(crate) struct Dirty {
    /// Everything: settings, authorities or projects changed.
    pub full: bool,
    /// The announcements (list, pages, feed).
    pub notices: bool,
    /// The registry's membership or lines: every landing page.
    pub registry: bool,
    /// Achievement pages by record id.
    pub items: BTreeSet<String>,
    pub lists: BTreeMap<ListKey, Dirt>,
    /// The sitemap switched between one file and an index.
    pub sitemap_form: bool,
    /// Paths that may no longer be produced: old URLs of changed records, old announcements.
    pub gone: BTreeSet<String>,
    /// The sitemap files before the update.
    pub old_sitemaps: Vec<String>,
}

impl Dirty {
    /// The dirt of list `key`, whose length is `len` when first touched (before any change).
    fn list(&mut self, key: ListKey, len: usize) -> &mut Dirt {
        self.lists.entry(key).or_insert_with(|| Dirt {
            old_len: len,
            ..Dirt::default()
        })
    }
}

/// The state every page is rendered from.
#[derive(Debug)]
pub(crate) struct Model {
    pub today: Date,
    pub base_url: String,
    pub contact: String,
    pub endpoint: String,
    pub authorities: Vec<Authority>,
    pub lookup: Lookup,
    /// Public-relevant records by id: awaiting decision with a notice, or registered.
    pub records: HashMap<String, Arc<Registration>>,
    /// Ids of the records awaiting decision with a notice.
    pending: BTreeSet<String>,
    /// Open announcements, newest first.
    pub notices: Vec<NEntry>,
    /// Registered achievements, oldest first.
    pub all: Vec<Arc<REntry>>,
    pub kinds: Vec<(Kind, Vec<Arc<REntry>>)>,
    pub years: BTreeMap<i32, Vec<Arc<REntry>>>,
    entries: HashMap<String, Arc<REntry>>,
    /// Registry records by their natural URL segment (more than one means a clash).
    by_slug: HashMap<String, Vec<String>>,
}

/// Whether a record may appear on the site at all.
pub(crate) fn is_relevant(reg: &Registration) -> bool {
    (reg.state == State::DecisionPending && reg.notice.is_some()) || view::is_registered(reg)
}

fn key_of(reg: &Registration) -> Key {
    let at = reg
        .decision
        .as_ref()
        .map_or(0, |d| d.at.unix_timestamp_nanos());
    (
        at,
        reg.registration_number.clone().unwrap_or_default(),
        Reverse(reg.id.clone()),
    )
}

fn registry_url(slug: &str) -> String {
    format!("/registry/{slug}/")
}

/// The file of a page linked as `url` (`/x/` → `/x/index.html`).
pub(crate) fn index_path(url: &str) -> String {
    format!("{url}index.html")
}

/// The search index shard `s` (1 = oldest) of `year`.
pub(crate) fn shard_path(year: i32, s: usize) -> String {
    format!("/registry/index/{year}-{s}.json")
}

impl Model {
    /// The model of `input`.
    pub fn new(input: SiteInput) -> Model {
        let SiteInput {
            registrations,
            authorities,
            projects,
            today,
            base_url,
            notice_contact,
            objection_endpoint,
        } = input;
        let mut model = Model {
            today,
            base_url: base_url.trim_end_matches('/').to_owned(),
            contact: notice_contact,
            endpoint: objection_endpoint,
            lookup: Lookup::new(&authorities, projects),
            authorities,
            records: HashMap::new(),
            pending: BTreeSet::new(),
            notices: Vec::new(),
            all: Vec::new(),
            kinds: Kind::ALL.iter().map(|k| (*k, Vec::new())).collect(),
            years: BTreeMap::new(),
            entries: HashMap::new(),
            by_slug: HashMap::new(),
        };
        let mut registered = Vec::new();
        for r in registrations.into_iter().filter(is_relevant) {
            let r = Arc::new(r);
            if view::is_registered(&r) {
                model
                    .by_slug
                    .entry(view::registry_slug(&r))
                    .or_default()
                    .push(r.id.clone());
                registered.push(r.clone());
            } else {
                model.pending.insert(r.id.clone());
            }
            model.records.insert(r.id.clone(), r);
        }
        let mut entries: Vec<Arc<REntry>> = registered
            .iter()
            .map(|r| Arc::new(model.entry(r, model.url_in_group(r))))
            .collect();
        entries.sort_by(|a, b| a.key.cmp(&b.key));
        for e in &entries {
            model.entries.insert(e.reg.id.clone(), e.clone());
            if let Some((_, v)) = model.kinds.iter_mut().find(|(k, _)| Some(*k) == e.reg.kind) {
                v.push(e.clone());
            }
            model.years.entry(e.year).or_default().push(e.clone());
        }
        model.all = entries;
        model.compute_notices();
        model
    }

    /// The URL a registered record gets among those sharing its natural segment: the newest
    /// keeps it, the others move to their id's hash.
    fn url_in_group(&self, reg: &Registration) -> String {
        let slug = view::registry_slug(reg);
        let Some(ids) = self.by_slug.get(&slug).filter(|ids| ids.len() > 1) else {
            return registry_url(&slug);
        };
        let newest = ids
            .iter()
            .filter_map(|id| self.records.get(id))
            .map(|r| key_of(r))
            .max();
        if newest == Some(key_of(reg)) {
            registry_url(&slug)
        } else {
            registry_url(&view::hashed_slug(reg))
        }
    }

    /// A registry entry; what it shows does not depend on the build date (the decision day
    /// stands in for it), so the registry's pages change only when records do.
    fn entry(&self, reg: &Arc<Registration>, url: String) -> REntry {
        let decided = view::decided_on(reg);
        let day = decided.unwrap_or(self.today);
        REntry {
            key: key_of(reg),
            reg: reg.clone(),
            item: view::list_item(reg, url, day),
            year: decided.map_or(0, |d| d.year()),
        }
    }

    fn compute_notices(&mut self) {
        let today = self.today;
        let mut notices: Vec<NEntry> = self
            .pending
            .iter()
            .filter_map(|id| self.records.get(id))
            .filter(|r| view::is_announced(r, today))
            .map(|r| NEntry {
                reg: r.clone(),
                item: view::list_item(r, format!("/notices/{}/", view::notice_slug(r)), today),
            })
            .collect();
        notices.sort_by(|a, b| {
            let from = |e: &NEntry| e.reg.notice.as_ref().map(|n| n.website_from);
            from(b).cmp(&from(a)).then_with(|| a.reg.id.cmp(&b.reg.id))
        });
        let mut used = std::collections::HashSet::new();
        for e in &mut notices {
            if !used.insert(e.item.url.clone()) {
                e.item.url = format!("/notices/{}/", view::hashed_slug(&e.reg));
                used.insert(e.item.url.clone());
            }
        }
        self.notices = notices;
    }

    /// The registry entry of a record, if registered.
    pub fn entry_of(&self, id: &str) -> Option<&Arc<REntry>> {
        self.entries.get(id)
    }

    /// The list of `key`, oldest first (empty for a year without achievements).
    pub fn list(&self, key: ListKey) -> &[Arc<REntry>] {
        match key {
            ListKey::All => &self.all,
            ListKey::Kind(k) => self
                .kinds
                .iter()
                .find(|(x, _)| *x == k)
                .map_or(&[][..], |(_, v)| v.as_slice()),
            ListKey::Year(y) => self.years.get(&y).map_or(&[][..], |v| v.as_slice()),
        }
    }

    fn list_mut(&mut self, key: ListKey) -> Option<&mut Vec<Arc<REntry>>> {
        match key {
            ListKey::All => Some(&mut self.all),
            ListKey::Kind(k) => self.kinds.iter_mut().find(|(x, _)| *x == k).map(|(_, v)| v),
            ListKey::Year(y) => Some(self.years.entry(y).or_default()),
        }
    }

    /// Every list, in the order of the site: all, kinds, years newest first.
    pub fn list_keys(&self) -> Vec<ListKey> {
        let mut keys = vec![ListKey::All];
        keys.extend(Kind::ALL.iter().map(|k| ListKey::Kind(*k)));
        keys.extend(self.years.keys().rev().map(|y| ListKey::Year(*y)));
        keys
    }

    fn keys_of(e: &REntry) -> Vec<ListKey> {
        let mut keys = vec![ListKey::All];
        if let Some(k) = e.reg.kind {
            keys.push(ListKey::Kind(k));
        }
        keys.push(ListKey::Year(e.year));
        keys
    }

    fn position(list: &[Arc<REntry>], key: &Key) -> Result<usize, usize> {
        list.binary_search_by(|e| e.key.cmp(key))
    }

    fn remove_entry(&mut self, e: &Arc<REntry>, dirty: &mut Dirty) {
        for lk in Model::keys_of(e) {
            if let Some(list) = self.list_mut(lk)
                && let Ok(p) = Model::position(list, &e.key)
            {
                dirty.list(lk, list.len()).shift(p);
                list.remove(p);
            }
        }
        if self.years.get(&e.year).is_some_and(Vec::is_empty) {
            self.years.remove(&e.year);
        }
        self.entries.remove(&e.reg.id);
    }

    fn insert_entry(&mut self, e: Arc<REntry>, dirty: &mut Dirty) {
        for lk in Model::keys_of(&e) {
            if let Some(list) = self.list_mut(lk) {
                let p = Model::position(list, &e.key).unwrap_or_else(|p| p);
                dirty.list(lk, list.len()).shift(p);
                list.insert(p, e.clone());
            }
        }
        self.entries.insert(e.reg.id.clone(), e);
    }

    /// Puts `new` where `old` was (same key, same lists).
    fn replace_entry(&mut self, new: Arc<REntry>, dirty: &mut Dirty) {
        for lk in Model::keys_of(&new) {
            if let Some(list) = self.list_mut(lk)
                && let Ok(p) = Model::position(list, &new.key)
            {
                dirty.list(lk, list.len()).at.insert(p);
                list[p] = new.clone();
            }
        }
        self.entries.insert(new.reg.id.clone(), new);
    }

    /// How many HTML pages the site has, for the sitemap's form.
    pub fn html_count(&self, guides: usize) -> usize {
        let lists: usize = self
            .list_keys()
            .iter()
            .map(|k| 1 + blocks_of(self.list(*k).len()))
            .sum();
        3 + guides + self.notices.len() + lists + self.all.len()
    }

    /// The sitemap files: one, or an index with chunks of pages and of achievements.
    pub fn sitemap_paths(&self, guides: usize) -> Vec<String> {
        let html = self.html_count(guides);
        if html <= crate::render::SITEMAP_LIMIT {
            return vec!["/sitemap.xml".to_owned()];
        }
        let mut out = vec!["/sitemap.xml".to_owned()];
        let pages = html - self.all.len();
        for k in 1..=pages.div_ceil(crate::render::SITEMAP_LIMIT) {
            out.push(format!("/sitemaps/pages-{k}.xml"));
        }
        for k in 1..=self.all.len().div_ceil(SITEMAP_CHUNK) {
            out.push(format!("/sitemaps/registry-{k}.xml"));
        }
        out
    }

    /// Applies the current versions of records (`None`: no longer public or gone), the date
    /// and the names the pages refer to. Answers what may have changed.
    pub fn update(
        &mut self,
        today: Date,
        records: Vec<(String, Option<Registration>)>,
        projects: Vec<Project>,
        guides: usize,
    ) -> Dirty {
        let mut dirty = Dirty {
            old_sitemaps: self.sitemap_paths(guides),
            ..Dirty::default()
        };
        let sitemap_single = self.html_count(guides) <= crate::render::SITEMAP_LIMIT;
        let old_notices: Vec<String> = self.notices.iter().map(|n| n.item.url.clone()).collect();
        for p in projects {
            match self.lookup.projects.get(&p.id) {
                Some(old) if *old == p => {}
                Some(_) => {
                    // A renamed project shows on every page of the records that refer to it.
                    dirty.full = true;
                    self.lookup.projects.insert(p.id.clone(), p);
                }
                None => {
                    self.lookup.projects.insert(p.id.clone(), p);
                }
            }
        }
        if today != self.today {
            self.today = today;
            dirty.notices = true;
        }
        let mut regroup: BTreeSet<String> = BTreeSet::new();
        for (id, new) in records {
            let new = new.filter(is_relevant);
            let old = self.records.get(&id).cloned();
            if old.as_deref() == new.as_ref() {
                continue;
            }
            let was_pending = self.pending.remove(&id);
            let old_entry = self.entries.get(&id).cloned();
            if let Some(e) = &old_entry {
                regroup.insert(view::registry_slug(&e.reg));
                dirty.gone.insert(index_path(&e.item.url));
            }
            if was_pending {
                dirty.notices = true;
            }
            match new {
                None => {
                    self.records.remove(&id);
                    if let Some(e) = old_entry {
                        self.remove_entry(&e, &mut dirty);
                        self.drop_from_group(&e.reg);
                        dirty.registry = true;
                        dirty.items.insert(id);
                    }
                }
                Some(reg) => {
                    let reg = Arc::new(reg);
                    self.records.insert(id.clone(), reg.clone());
                    if view::is_registered(&reg) {
                        let slug = view::registry_slug(&reg);
                        if let Some(e) = &old_entry {
                            self.drop_from_group(&e.reg);
                        }
                        self.by_slug
                            .entry(slug.clone())
                            .or_default()
                            .push(id.clone());
                        regroup.insert(slug);
                        let entry = Arc::new(self.entry(&reg, self.url_in_group(&reg)));
                        match old_entry {
                            Some(e)
                                if e.key == entry.key
                                    && Model::keys_of(&e) == Model::keys_of(&entry) =>
                            {
                                self.replace_entry(entry, &mut dirty);
                            }
                            Some(e) => {
                                self.remove_entry(&e, &mut dirty);
                                self.insert_entry(entry, &mut dirty);
                            }
                            None => self.insert_entry(entry, &mut dirty),
                        }
                        dirty.registry = true;
                        dirty.items.insert(id);
                    } else {
                        if let Some(e) = old_entry {
                            self.remove_entry(&e, &mut dirty);
                            self.drop_from_group(&e.reg);
                            dirty.registry = true;
                            dirty.items.insert(id.clone());
                        }
                        self.pending.insert(id);
                        dirty.notices = true;
                    }
                }
            }
        }
        // Records sharing a URL segment with a changed one may have gained or lost it.
        for slug in regroup {
            let ids = self.by_slug.get(&slug).cloned().unwrap_or_default();
            for id in ids {
                let Some(e) = self.entries.get(&id).cloned() else {
                    continue;
                };
                let url = self.url_in_group(&e.reg);
                if url != e.item.url {
                    let mut item = e.item.clone();
                    item.url = url;
                    let moved = Arc::new(REntry {
                        key: e.key.clone(),
                        reg: e.reg.clone(),
                        item,
                        year: e.year,
                    });
                    dirty.gone.insert(index_path(&e.item.url));
                    self.replace_entry(moved, &mut dirty);
                    dirty.items.insert(id);
                    dirty.registry = true;
                }
            }
        }
        if dirty.notices {
            self.compute_notices();
            dirty.gone.extend(old_notices.iter().map(|u| index_path(u)));
        }
        // Archive pages, landing pages and shards of lists that shrank.
        for (key, dirt) in &dirty.lists {
            let len = self.list(*key).len();
            for b in blocks_of(len) + 1..=blocks_of(dirt.old_len) {
                dirty.gone.insert(index_path(&key.url(b)));
            }
            if let ListKey::Year(y) = key {
                if len == 0 {
                    dirty.gone.insert(index_path(&key.url(0)));
                }
                for s in len.div_ceil(SHARD_SIZE) + 1..=dirt.old_len.div_ceil(SHARD_SIZE) {
                    dirty.gone.insert(shard_path(*y, s));
                }
            }
        }
        if sitemap_single != (self.html_count(guides) <= crate::render::SITEMAP_LIMIT) {
            dirty.sitemap_form = true;
        }
        dirty
    }

    fn drop_from_group(&mut self, reg: &Registration) {
        let slug = view::registry_slug(reg);
        if let Some(ids) = self.by_slug.get_mut(&slug) {
            ids.retain(|i| *i != reg.id);
            if ids.is_empty() {
                self.by_slug.remove(&slug);
            }
        }
    }

    /// Whether `input`'s settings and authorities are those of the model (otherwise every page
    /// may change).
    pub fn same_settings(&self, input: &SiteInput) -> bool {
        self.base_url == input.base_url.trim_end_matches('/')
            && self.contact == input.notice_contact
            && self.endpoint == input.objection_endpoint
            && self.authorities == input.authorities
    }

    /// The record changes that turn this model's records into `input`'s.
    pub fn changes_to(&self, input: &mut SiteInput) -> Vec<(String, Option<Registration>)> {
        let mut seen = std::collections::HashSet::with_capacity(input.registrations.len());
        let mut out = Vec::new();
        for r in std::mem::take(&mut input.registrations) {
            if !is_relevant(&r) {
                continue;
            }
            seen.insert(r.id.clone());
            if self.records.get(&r.id).map(|o| o.as_ref()) != Some(&r) {
                out.push((r.id.clone(), Some(r)));
            }
        }
        for id in self.records.keys() {
            if !seen.contains(id) {
                out.push((id.clone(), None));
            }
        }
        out
    }
}
