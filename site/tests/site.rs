//! The site's tests, one binary: snapshots of every page kind, links and HTML5 validity,
//! notice windows, escaping, incremental publishing to memory, a folder and S3, serving, and
//! loading through the store port.

mod support;

#[path = "cases/escaping.rs"]
mod escaping;
#[path = "cases/incremental.rs"]
mod incremental;
#[path = "cases/lifecycle.rs"]
mod lifecycle;
#[path = "cases/links.rs"]
mod links;
#[path = "cases/load.rs"]
mod load;
#[path = "cases/publish.rs"]
mod publish;
#[path = "cases/s3.rs"]
mod s3;
#[path = "cases/serve.rs"]
mod serve;
#[path = "cases/snapshots.rs"]
mod snapshots;
