//! The public static site of 科技成果登记 (domain.md §7): guidance pages, the 30-day website
//! announcements (公示) with the objection form, and the registry of registered achievements
//! (成果库) with its JSON search index, plus the home page, an Atom feed, the sitemap and a 404
//! page.
//!
//! Shaped like zola: [`Site`] is built from text (`content/` Markdown with front matter and the
//! tera templates of `templates/site/`, embedded at compile time or read from folders), renders
//! a [`SiteInput`] (the stored state and the date) into pages, and every page goes through one
//! [`SiteSink`]: memory ([`MemorySink`], for tests and `serve`), a folder ([`DirSink`]) or the
//! S3 site bucket ([`S3Sink`]). [`publish`] writes only what changed and deletes what is gone.
//! Pages depend only on their inputs and the date, so a rebuild of the same state writes nothing.
//! [`SiteState`] keeps the last build in memory and re-renders only the pages a change of some
//! records (or of the date) can alter, with the same result as a full build: registry listings
//! are numbered from the oldest achievement and the search index is split into shards, so a new
//! decision rewrites a few files rather than every listing page.

mod embedded {
    include!(concat!(env!("OUT_DIR"), "/embedded.rs"));
}

pub mod content;
pub mod flow;
pub mod incremental;
pub mod input;
pub mod json;
pub mod load;
mod model;
pub mod publisher;
pub mod render;
pub mod s3;
pub mod serve;
pub mod sink;
mod view;

pub use incremental::SiteState;
pub use input::{DEFAULT_NOTICE_CONTACT, OBJECTION_ENDPOINT, SiteInput};
pub use load::load_input;
pub use model::{PER_PAGE, SHARD_SIZE, SITEMAP_CHUNK};
pub use publisher::Publisher;
pub use render::{Build, Page, SITEMAP_LIMIT, Site, SiteError};
pub use s3::S3Sink;
pub use serve::router;
pub use sink::{DirSink, MemorySink, PublishError, PublishReport, SinkError, SiteSink, publish};
