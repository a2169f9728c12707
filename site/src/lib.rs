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

mod embedded {
    include!(concat!(env!("OUT_DIR"), "/embedded.rs"));
}

pub mod content;
pub mod flow;
pub mod input;
pub mod json;
pub mod load;
pub mod publisher;
pub mod render;
pub mod s3;
pub mod serve;
pub mod sink;
mod view;

pub use input::{DEFAULT_NOTICE_CONTACT, OBJECTION_ENDPOINT, SiteInput};
pub use load::load_input;
pub use publisher::Publisher;
pub use render::{Build, PER_PAGE, Page, SITEMAP_LIMIT, Site, SiteError};
pub use s3::S3Sink;
pub use serve::router;
pub use sink::{DirSink, MemorySink, PublishError, PublishReport, SinkError, SiteSink, publish};
