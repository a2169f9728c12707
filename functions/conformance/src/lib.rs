//! One behaviour suite for every backend: [`store`] for state storage, [`blobs`] for files.
//! Each backend's tests call these functions; a backend is done when they pass on it.

pub mod blobs;
pub mod store;
