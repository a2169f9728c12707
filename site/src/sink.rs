//! Where pages go. One trait, [`SiteSink`], for memory (tests and `serve`), a folder and the S3
//! site bucket; [`publish`] renders a site into any of them and writes only what changed.
//!
//! Each sink keeps a manifest — output path → SHA-256 of the bytes last written — so that a
//! publish compares hashes instead of reading files back: an unchanged page costs one render and
//! one hash. Only paths in the old manifest are ever deleted, so a folder or bucket holding
//! other files keeps them.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use async_trait::async_trait;
use futures::future::try_join_all;

use crate::input::SiteInput;
use crate::render::{Build, Page, Rendered, Site, SiteError};

/// Output path → hex SHA-256 of its bytes.
pub type Manifest = BTreeMap<String, String>;

/// The manifest's name inside a folder or bucket (`/.manifest.json`).
pub const MANIFEST_NAME: &str = ".manifest.json";

/// Why a sink failed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SinkError {
    /// A path that would leave the sink's root.
    #[error("refused output path {0}")]
    BadPath(String),
    #[error("{0}")]
    Backend(String),
}

/// Why a publish failed.
#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    #[error(transparent)]
    Site(#[from] SiteError),
    #[error(transparent)]
    Sink(#[from] SinkError),
    /// Reading the state failed ([`crate::Publisher::rebuild`]).
    #[error(transparent)]
    Store(#[from] chengguo_domain::ports::StoreError),
}

/// What a publish did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PublishReport {
    /// Paths written (new or changed), sorted.
    pub written: Vec<String>,
    /// Paths deleted (no longer produced), sorted.
    pub deleted: Vec<String>,
    /// How many files were already up to date.
    pub unchanged: usize,
}

/// A destination for the site's files.
#[async_trait]
pub trait SiteSink: Send + Sync {
    /// What the sink holds: path → SHA-256, as of the last publish.
    async fn manifest(&self) -> Result<Manifest, SinkError>;
    /// Writes one file; `sha256` is [`Page::sha256`] of it.
    async fn write(&self, path: &str, page: &Page, sha256: &str) -> Result<(), SinkError>;
    /// Removes one file; absent is fine.
    async fn delete(&self, path: &str) -> Result<(), SinkError>;
    /// Records the manifest after a publish that changed something.
    async fn save_manifest(&self, manifest: &Manifest) -> Result<(), SinkError>;
}

/// Files rendered (on every core) and compared in one go; their writes then run concurrently.
const BATCH: usize = 512;
/// Writes or deletes in flight at once.
const CONCURRENT: usize = 64;

/// Renders `input` with `site` into `sink`: writes new and changed files (assets first, so that
/// no page links a missing one), deletes files no longer produced, then saves the manifest.
pub async fn publish(
    site: &Site,
    input: &SiteInput,
    sink: &dyn SiteSink,
) -> Result<PublishReport, PublishError> {
    let build = site.plan(input)?;
    let old = sink.manifest().await?;
    Ok(publish_build(&build, &old, sink).await?.0)
}

/// Publishes every file of `build` against `old` (what the sink holds); answers the report
/// and the new manifest.
pub(crate) async fn publish_build(
    build: &Build<'_>,
    old: &Manifest,
    sink: &dyn SiteSink,
) -> Result<(PublishReport, Manifest), PublishError> {
    let mut new = Manifest::new();
    let mut report = PublishReport::default();
    let mut start = 0;
    while start < build.len() {
        let end = (start + BATCH).min(build.len());
        let rendered = build.render_hashed(start..end)?;
        start = end;
        let changed: Vec<&Rendered> = rendered
            .iter()
            .filter(|r| old.get(&r.path) != Some(&r.hash))
            .collect();
        report.unchanged += rendered.len() - changed.len();
        write_all(sink, &changed).await?;
        report
            .written
            .extend(changed.iter().map(|r| r.path.clone()));
        new.extend(rendered.into_iter().map(|r| (r.path, r.hash)));
    }
    let gone: Vec<String> = old
        .keys()
        .filter(|p| !new.contains_key(*p))
        .cloned()
        .collect();
    delete_all(sink, &gone).await?;
    report.deleted = gone;
    if new != *old {
        sink.save_manifest(&new).await?;
    }
    report.written.sort();
    Ok((report, new))
}

/// Writes `pages`, [`CONCURRENT`] at a time.
pub(crate) async fn write_all(sink: &dyn SiteSink, pages: &[&Rendered]) -> Result<(), SinkError> {
    for chunk in pages.chunks(CONCURRENT) {
        try_join_all(chunk.iter().map(|r| sink.write(&r.path, &r.page, &r.hash))).await?;
    }
    Ok(())
}

/// Deletes `paths`, [`CONCURRENT`] at a time.
pub(crate) async fn delete_all(sink: &dyn SiteSink, paths: &[String]) -> Result<(), SinkError> {
    for chunk in paths.chunks(CONCURRENT) {
        try_join_all(chunk.iter().map(|p| sink.delete(p))).await?;
    }
    Ok(())
}

/// The site in memory: what tests read and `serve` answers from. Cloning the handle shares it.
#[derive(Debug, Default)]
pub struct MemorySink {
    files: RwLock<BTreeMap<String, (Page, String)>>,
}

impl MemorySink {
    pub fn new() -> Arc<MemorySink> {
        Arc::new(MemorySink::default())
    }

    /// The file at `path` (e.g. `/index.html`).
    pub fn get(&self, path: &str) -> Option<Page> {
        self.read().get(path).map(|(p, _)| p.clone())
    }

    /// The file at `path` and its SHA-256.
    pub fn get_with_hash(&self, path: &str) -> Option<(Page, String)> {
        self.read().get(path).cloned()
    }

    /// Every path held, sorted.
    pub fn paths(&self) -> Vec<String> {
        self.read().keys().cloned().collect()
    }

    pub fn len(&self) -> usize {
        self.read().len()
    }

    pub fn is_empty(&self) -> bool {
        self.read().is_empty()
    }

    /// A copy of every file.
    pub fn files(&self) -> BTreeMap<String, Page> {
        self.read()
            .iter()
            .map(|(k, (p, _))| (k.clone(), p.clone()))
            .collect()
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, BTreeMap<String, (Page, String)>> {
        self.files.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write_lock(&self) -> std::sync::RwLockWriteGuard<'_, BTreeMap<String, (Page, String)>> {
        self.files.write().unwrap_or_else(|e| e.into_inner())
    }
}

#[async_trait]
impl SiteSink for MemorySink {
    async fn manifest(&self) -> Result<Manifest, SinkError> {
        Ok(self
            .read()
            .iter()
            .map(|(k, (_, h))| (k.clone(), h.clone()))
            .collect())
    }

    async fn write(&self, path: &str, page: &Page, sha256: &str) -> Result<(), SinkError> {
        self.write_lock()
            .insert(path.to_owned(), (page.clone(), sha256.to_owned()));
        Ok(())
    }

    async fn delete(&self, path: &str) -> Result<(), SinkError> {
        self.write_lock().remove(path);
        Ok(())
    }

    async fn save_manifest(&self, _manifest: &Manifest) -> Result<(), SinkError> {
        Ok(())
    }
}

/// The site in a folder (`chengguo build-site --out DIR`), with its manifest in
/// `DIR/.manifest.json`. Files are replaced atomically (written beside, then renamed).
#[derive(Debug, Clone)]
pub struct DirSink {
    root: PathBuf,
}

/// The relative form of an output path, refusing anything that could leave the root.
pub fn relative_path(path: &str) -> Result<&str, SinkError> {
    let rel = path.trim_start_matches('/');
    let ok = !rel.is_empty()
        && !rel.contains(['\\', '\0'])
        && rel
            .split('/')
            .all(|seg| !seg.is_empty() && seg != "." && seg != "..");
    if ok {
        Ok(rel)
    } else {
        Err(SinkError::BadPath(path.to_owned()))
    }
}

fn io(path: &Path, e: std::io::Error) -> SinkError {
    SinkError::Backend(format!("{}: {e}", path.display()))
}

impl DirSink {
    pub fn new(root: impl Into<PathBuf>) -> DirSink {
        DirSink { root: root.into() }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    fn file(&self, path: &str) -> Result<PathBuf, SinkError> {
        Ok(self.root.join(relative_path(path)?))
    }

    async fn write_atomic(&self, target: &Path, bytes: &[u8]) -> Result<(), SinkError> {
        if let Some(dir) = target.parent() {
            tokio::fs::create_dir_all(dir)
                .await
                .map_err(|e| io(dir, e))?;
        }
        let name = target
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let tmp = target.with_file_name(format!(".{name}.tmp"));
        tokio::fs::write(&tmp, bytes)
            .await
            .map_err(|e| io(&tmp, e))?;
        tokio::fs::rename(&tmp, target)
            .await
            .map_err(|e| io(target, e))
    }
}

#[async_trait]
impl SiteSink for DirSink {
    async fn manifest(&self) -> Result<Manifest, SinkError> {
        let file = self.root.join(MANIFEST_NAME);
        let text = match tokio::fs::read_to_string(&file).await {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Manifest::new()),
            Err(e) => return Err(io(&file, e)),
        };
        let listed: Manifest = serde_json::from_str(&text)
            .map_err(|e| SinkError::Backend(format!("{}: {e}", file.display())))?;
        // A file removed by hand is written again rather than trusted.
        let mut out = Manifest::new();
        for (path, hash) in listed {
            if let Ok(f) = self.file(&path)
                && tokio::fs::try_exists(&f).await.unwrap_or(false)
            {
                out.insert(path, hash);
            }
        }
        Ok(out)
    }

    async fn write(&self, path: &str, page: &Page, _sha256: &str) -> Result<(), SinkError> {
        let target = self.file(path)?;
        self.write_atomic(&target, &page.bytes).await
    }

    async fn delete(&self, path: &str) -> Result<(), SinkError> {
        let target = self.file(path)?;
        match tokio::fs::remove_file(&target).await {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(io(&target, e)),
        }
        // Folders left empty go too, up to the root.
        let mut dir = target.parent();
        while let Some(d) = dir.filter(|d| *d != self.root && d.starts_with(&self.root)) {
            if tokio::fs::remove_dir(d).await.is_err() {
                break;
            }
            dir = d.parent();
        }
        Ok(())
    }

    async fn save_manifest(&self, manifest: &Manifest) -> Result<(), SinkError> {
        let text = serde_json::to_string_pretty(manifest)
            .map_err(|e| SinkError::Backend(e.to_string()))?;
        self.write_atomic(&self.root.join(MANIFEST_NAME), text.as_bytes())
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_cannot_leave_the_root() {
        assert_eq!(relative_path("/a/b.html"), Ok("a/b.html"));
        assert!(relative_path("/../x").is_err());
        assert!(relative_path("/a/./b").is_err());
        assert!(relative_path("/").is_err());
        assert!(relative_path("/a\\..\\b").is_err());
    }
}
