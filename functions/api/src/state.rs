//! What every handler shares: the ports and the settings.

use std::sync::Arc;

use chengguo_domain::ports::{Blobs, Clock, Mailer, Store};
use chengguo_files_local::LocalFiles;

use crate::config::Config;

/// Shared state of the router. Cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub store: Arc<dyn Store>,
    pub blobs: Arc<dyn Blobs>,
    pub clock: Arc<dyn Clock>,
    /// Sends notification email (an outbox folder, or SES).
    pub mailer: Arc<dyn Mailer>,
    /// The Chinese texts of notification email.
    pub mail_templates: Arc<chengguo_mail::Templates>,
    pub config: Arc<Config>,
    /// Set on the embedded backend: the router then serves the signed file URLs itself.
    pub local_files: Option<Arc<LocalFiles>>,
    /// Told after every change to what the public site shows (paper received, decided,
    /// reopened), when something rebuilds the site in this process.
    pub site_changes: Option<Arc<tokio::sync::Notify>>,
}
