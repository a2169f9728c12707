//! Reading a build's input through the storage port.

use std::collections::BTreeSet;

use chengguo_domain::codes::State;
use chengguo_domain::ports::{ListFilter, Store, StoreResult};
use chengguo_domain::scope::ListScope;
use time::Date;

use crate::input::SiteInput;
use crate::view;

/// Records read per storage call.
const BATCH: usize = 500;

/// The public-relevant state on `today`: records awaiting decision that have a notice and
/// records decided `registered`, the authorities, and the in-system projects they refer to.
/// Contact and attachments are never read. `base_url` and the contact keep their defaults.
pub async fn load_input(store: &dyn Store, today: Date) -> StoreResult<SiteInput> {
    let mut input = SiteInput::new(today);
    for state in [State::DecisionPending, State::Decided] {
        let filter = ListFilter {
            state: Some(state),
            ..ListFilter::default()
        };
        let mut cursor: Option<String> = None;
        loop {
            let page = store
                .list_registrations(&ListScope::All, &filter, BATCH, cursor.as_deref())
                .await?;
            input
                .registrations
                .extend(page.items.into_iter().filter(|r| {
                    r.state == state
                        && match state {
                            State::DecisionPending => r.notice.is_some(),
                            _ => view::is_registered(r),
                        }
                }));
            match page.next_cursor {
                Some(c) => cursor = Some(c),
                None => break,
            }
        }
    }
    input.authorities = store.list_authorities().await?;
    let wanted: BTreeSet<&str> = input
        .registrations
        .iter()
        .filter_map(|r| r.project_id.as_deref())
        .collect();
    if !wanted.is_empty() {
        let projects = store.list_projects(None).await?;
        input.projects = projects
            .into_iter()
            .filter(|p| wanted.contains(p.id.as_str()))
            .collect();
    }
    Ok(input)
}
