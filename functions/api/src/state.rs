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
    pub site_changes: Option<Arc<SiteChanges>>,
}

/// The records whose public pages changed since the site was last rebuilt, and a signal for
/// whoever rebuilds it.
#[derive(Default)]
pub struct SiteChanges {
    ids: std::sync::Mutex<std::collections::BTreeSet<String>>,
    signal: tokio::sync::Notify,
}

impl SiteChanges {
    /// Notes that the public pages of registration `id` changed.
    pub fn record(&self, id: &str) {
        self.ids
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(id.to_owned());
        self.signal.notify_one();
    }

    /// The changed records noted so far, emptying the list.
    pub fn take(&self) -> Vec<String> {
        let mut ids = self
            .ids
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        std::mem::take(&mut *ids).into_iter().collect()
    }

    /// Waits until a change is noted (at once when one was noted since the last wait).
    pub async fn changed(&self) {
        self.signal.notified().await;
    }
}
