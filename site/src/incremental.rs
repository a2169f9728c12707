//! Publishing changes without building everything again: [`SiteState`] keeps the model of
//! the last build and the hash of every file the sink holds, so that a change to a few records
//! (or a new date) renders and compares only the pages that show them.
//!
//! The result is the same as a full build of the same input, file for file (the site's tests
//! check it after announcements, decisions, reopenings and notices that end); a change of the
//! settings, the authorities or a project's name renders everything again.

use std::collections::HashSet;

use chengguo_domain::project::Project;
use chengguo_domain::record::Registration;
use time::Date;

use crate::input::SiteInput;
use crate::model::Model;
use crate::render::{Build, Renderer, Site, threads};
use crate::sink::{
    Manifest, PublishError, PublishReport, SiteSink, delete_all, publish_build, write_all,
};

/// The last build: its model and what the sink holds (path → SHA-256). It assumes it is the
/// only writer of its sink.
#[derive(Debug)]
pub struct SiteState {
    model: Model,
    manifest: Manifest,
}

impl SiteState {
    /// Builds everything `input` produces into `sink`, writing only files that differ from the
    /// sink's manifest, and keeps the result for later updates.
    pub async fn publish(
        site: &Site,
        input: SiteInput,
        sink: &dyn SiteSink,
    ) -> Result<(SiteState, PublishReport), PublishError> {
        let old = sink.manifest().await?;
        SiteState::publish_against(site, input, &old, sink).await
    }

    async fn publish_against(
        site: &Site,
        input: SiteInput,
        old: &Manifest,
        sink: &dyn SiteSink,
    ) -> Result<(SiteState, PublishReport), PublishError> {
        let build = site.plan_owned(input)?;
        let (report, manifest) = publish_build(&build, old, sink).await?;
        Ok((
            SiteState {
                model: build.into_model(),
                manifest,
            },
            report,
        ))
    }

    /// The build date of the last publish.
    pub fn today(&self) -> Date {
        self.model.today
    }

    /// How many files the site has.
    pub fn len(&self) -> usize {
        self.manifest.len()
    }

    /// Whether the site has no file (never after a publish).
    pub fn is_empty(&self) -> bool {
        self.manifest.is_empty()
    }

    /// What the sink holds: path → SHA-256.
    pub fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    /// Ids of the in-system projects `records` refer to that the model does not know yet.
    pub fn unknown_projects<'r>(
        &self,
        records: impl IntoIterator<Item = &'r Registration>,
    ) -> Vec<String> {
        let mut out: Vec<String> = records
            .into_iter()
            .filter_map(|r| r.project_id.clone())
            .filter(|id| !self.model.lookup.projects.contains_key(id))
            .collect();
        out.sort();
        out.dedup();
        out
    }

    /// Publishes the whole of `input` (as read from the store), rendering only the pages of
    /// records that differ from the last build.
    pub async fn update_input(
        &mut self,
        site: &Site,
        mut input: SiteInput,
        sink: &dyn SiteSink,
    ) -> Result<PublishReport, PublishError> {
        if !self.model.same_settings(&input) {
            let (state, report) =
                SiteState::publish_against(site, input, &self.manifest, sink).await?;
            *self = state;
            return Ok(report);
        }
        let changes = self.model.changes_to(&mut input);
        let mut projects = std::mem::take(&mut input.projects);
        // Projects no longer referred to may stay: a page shows a project only through a record.
        projects.retain(|p| self.model.lookup.projects.get(&p.id) != Some(p));
        self.update_records(site, input.today, changes, projects, sink)
            .await
    }

    /// Publishes new versions of some records (`None`: no longer public, or gone) on `today`,
    /// with the projects they refer to, rendering only the pages that may show them.
    pub async fn update_records(
        &mut self,
        site: &Site,
        today: Date,
        records: Vec<(String, Option<Registration>)>,
        projects: Vec<Project>,
        sink: &dyn SiteSink,
    ) -> Result<PublishReport, PublishError> {
        let dirty = self
            .model
            .update(today, records, projects, site.guide_count());
        if dirty.full {
            let model = std::mem::replace(&mut self.model, Model::new(SiteInput::new(today)));
            let build = Build::from_model(site, model)?;
            let (report, manifest) = publish_build(&build, &self.manifest, sink).await?;
            self.model = build.into_model();
            self.manifest = manifest;
            return Ok(report);
        }
        let renderer = Renderer::new(site, &self.model);
        let ids = renderer.dirty_pages(&dirty);
        let threads = if ids.len() > 256 { threads() } else { 1 };
        let rendered = renderer.render_many(&ids, threads)?;
        let candidates: Vec<String> = dirty.gone.into_iter().chain(dirty.old_sitemaps).collect();
        self.apply(rendered, candidates, sink).await
    }

    /// Writes what changed among `rendered` and deletes the `candidates` no longer produced.
    async fn apply(
        &mut self,
        rendered: Vec<crate::render::Rendered>,
        candidates: Vec<String>,
        sink: &dyn SiteSink,
    ) -> Result<PublishReport, PublishError> {
        let mut report = PublishReport::default();
        let mut seen = HashSet::with_capacity(rendered.len());
        let mut changed = Vec::new();
        for r in &rendered {
            if !seen.insert(r.path.as_str()) {
                continue;
            }
            if self.manifest.get(&r.path) == Some(&r.hash) {
                report.unchanged += 1;
            } else {
                changed.push(r);
            }
        }
        let mut gone: Vec<String> = candidates
            .into_iter()
            .filter(|p| !seen.contains(p.as_str()) && self.manifest.contains_key(p))
            .collect();
        gone.sort();
        gone.dedup();
        write_all(sink, &changed).await?;
        delete_all(sink, &gone).await?;
        for r in &changed {
            self.manifest.insert(r.path.clone(), r.hash.clone());
        }
        for p in &gone {
            self.manifest.remove(p);
        }
        if !changed.is_empty() || !gone.is_empty() {
            sink.save_manifest(&self.manifest).await?;
        }
        report.written = changed.iter().map(|r| r.path.clone()).collect();
        report.written.sort();
        report.deleted = gone;
        Ok(report)
    }
}
