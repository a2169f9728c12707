//! Rebuilding the site from the store, one rebuild at a time: what `serve` calls after
//! `receive_paper`, `decide` and `reopen` and once a day, and what `build-site` calls once.

use std::sync::Arc;

use chengguo_domain::ports::Store;
use time::Date;

use crate::input::{DEFAULT_NOTICE_CONTACT, OBJECTION_ENDPOINT};
use crate::load::load_input;
use crate::render::Site;
use crate::sink::{PublishError, PublishReport, SiteSink, publish};

/// A site, its sink and the settings the store does not hold. Rebuilds are serialised and
/// each reads the state inside the lock, so a slow rebuild of older state never lands after
/// a newer one.
pub struct Publisher {
    site: Site,
    sink: Arc<dyn SiteSink>,
    base_url: String,
    notice_contact: String,
    objection_endpoint: String,
    lock: tokio::sync::Mutex<()>,
}

impl std::fmt::Debug for Publisher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Publisher")
            .field("site", &self.site)
            .field("base_url", &self.base_url)
            .finish_non_exhaustive()
    }
}

impl Publisher {
    pub fn new(site: Site, sink: Arc<dyn SiteSink>) -> Publisher {
        Publisher {
            site,
            sink,
            base_url: String::new(),
            notice_contact: DEFAULT_NOTICE_CONTACT.to_owned(),
            objection_endpoint: OBJECTION_ENDPOINT.to_owned(),
            lock: tokio::sync::Mutex::new(()),
        }
    }

    /// The public origin for the feed, the sitemap and canonical links.
    pub fn with_base_url(mut self, base_url: impl Into<String>) -> Publisher {
        self.base_url = base_url.into().trim_end_matches('/').to_owned();
        self
    }

    /// How objections reach the registration point offline (the API's `notice_contact`).
    pub fn with_notice_contact(mut self, text: impl Into<String>) -> Publisher {
        self.notice_contact = text.into();
        self
    }

    /// Where the objection form posts, when the API is not at this origin's `/api/`.
    pub fn with_objection_endpoint(mut self, url: impl Into<String>) -> Publisher {
        self.objection_endpoint = url.into();
        self
    }

    pub fn site(&self) -> &Site {
        &self.site
    }

    pub fn sink(&self) -> &Arc<dyn SiteSink> {
        &self.sink
    }

    /// Reads the state on `today` and publishes it; writes only what changed.
    pub async fn rebuild(
        &self,
        store: &dyn Store,
        today: Date,
    ) -> Result<PublishReport, PublishError> {
        let _one_at_a_time = self.lock.lock().await;
        let mut input = load_input(store, today).await?;
        input.base_url = self.base_url.clone();
        input.notice_contact = self.notice_contact.clone();
        input.objection_endpoint = self.objection_endpoint.clone();
        publish(&self.site, &input, self.sink.as_ref()).await
    }
}
