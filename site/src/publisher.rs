//! Rebuilding the site from the store, one rebuild at a time: what `serve` calls after
//! `receive_paper`, `decide` and `reopen` and once a day, and what `build-site` calls once.
//!
//! The first rebuild publishes everything (writing only what differs from the sink); later
//! ones keep the previous build in memory ([`SiteState`]) and render only the pages of records
//! that changed. [`Publisher::rebuild`] reads every public record from the store;
//! [`Publisher::rebuild_records`] reads only the records a caller names.

use std::sync::Arc;

use chengguo_domain::ports::Store;
use time::Date;

use crate::incremental::SiteState;
use crate::input::{DEFAULT_NOTICE_CONTACT, OBJECTION_ENDPOINT, SiteInput};
use crate::load::load_input;
use crate::model::is_relevant;
use crate::render::Site;
use crate::sink::{PublishError, PublishReport, SiteSink};

/// A site, its sink and the settings the store does not hold. Rebuilds are serialised and
/// each reads the state inside the lock, so a slow rebuild of older state never lands after
/// a newer one. The publisher assumes it is the only writer of its sink.
pub struct Publisher {
    site: Site,
    sink: Arc<dyn SiteSink>,
    base_url: String,
    notice_contact: String,
    objection_endpoint: String,
    state: tokio::sync::Mutex<Option<SiteState>>,
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
            state: tokio::sync::Mutex::new(None),
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

    fn settle(&self, mut input: SiteInput) -> SiteInput {
        input.base_url = self.base_url.clone();
        input.notice_contact = self.notice_contact.clone();
        input.objection_endpoint = self.objection_endpoint.clone();
        input
    }

    /// Reads every public record on `today` and publishes them; renders only the pages of
    /// records changed since the last rebuild and writes only files that changed.
    pub async fn rebuild(
        &self,
        store: &dyn Store,
        today: Date,
    ) -> Result<PublishReport, PublishError> {
        let mut state = self.state.lock().await;
        let input = self.settle(load_input(store, today).await?);
        let result = match state.as_mut() {
            Some(s) => s.update_input(&self.site, input, self.sink.as_ref()).await,
            None => match SiteState::publish(&self.site, input, self.sink.as_ref()).await {
                Ok((s, report)) => {
                    *state = Some(s);
                    Ok(report)
                }
                Err(e) => Err(e),
            },
        };
        if result.is_err() {
            // The sink may hold part of a publish: start again from its manifest.
            *state = None;
        }
        result
    }

    /// Publishes the current versions of the records `ids` (read one by one from the store)
    /// on `today`; the other records are taken as unchanged since the last rebuild. Without a
    /// previous rebuild this is [`Publisher::rebuild`].
    pub async fn rebuild_records(
        &self,
        store: &dyn Store,
        today: Date,
        ids: &[String],
    ) -> Result<PublishReport, PublishError> {
        let mut guard = self.state.lock().await;
        let Some(state) = guard.as_mut() else {
            drop(guard);
            return self.rebuild(store, today).await;
        };
        let mut records = Vec::with_capacity(ids.len());
        for id in ids {
            let reg = store.get_registration(id).await?.filter(is_relevant);
            records.push((id.clone(), reg));
        }
        let mut projects = Vec::new();
        for id in state.unknown_projects(records.iter().filter_map(|(_, r)| r.as_ref())) {
            if let Some(p) = store.get_project(&id).await? {
                projects.push(p);
            }
        }
        let result = state
            .update_records(&self.site, today, records, projects, self.sink.as_ref())
            .await;
        if result.is_err() {
            *guard = None;
        }
        result
    }

    /// Forgets the previous build, so that the next rebuild compares with the sink's manifest
    /// (after something else wrote to the sink).
    pub async fn forget(&self) {
        *self.state.lock().await = None;
    }
}
