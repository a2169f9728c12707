//! What every handler shares: the ports and the settings.

use std::sync::Arc;

use chengguo_domain::ports::{Blobs, Clock, Store};
use chengguo_files_local::LocalFiles;

use crate::config::Config;

/// Shared state of the router. Cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub store: Arc<dyn Store>,
    pub blobs: Arc<dyn Blobs>,
    pub clock: Arc<dyn Clock>,
    pub config: Arc<Config>,
    /// Set on the embedded backend: the router then serves the signed file URLs itself.
    pub local_files: Option<Arc<LocalFiles>>,
}
