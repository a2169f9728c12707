//! The rules of registering scientific and technological achievements (科技成果登记), free of any
//! storage, network or cloud dependency.
//!
//! Everything the adapters need to know lives here: the codes of kinds, sources, states, actions and
//! roles ([`codes`]); the registration form ([`fields`]) and its checks ([`check`], [`uscc`]); the
//! materials checklist ([`materials`]); people and scope ([`org`], [`scope`]); the workflow table
//! ([`workflow`]); registration numbers ([`numbering`]); in-system projects and their acceptance
//! ([`project`]); and the ports that storage, files and the clock implement ([`ports`]).

pub mod check;
pub mod codes;
pub mod error;
pub mod fields;
pub mod materials;
pub mod numbering;
pub mod org;
pub mod ports;
pub mod project;
pub mod record;
pub mod scope;
pub mod uscc;
pub mod workflow;

pub use codes::{Action, Kind, Role, Source, State};
pub use error::{DomainError, Problem};
pub use record::{
    Attachment, AttachmentStatus, Decision, Event, MailJob, MailStatus, Notice, Objection,
    Registration,
};
