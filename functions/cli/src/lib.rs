//! The `chengguo` command line and the wiring of backends into the API's state.

pub mod backend;
pub mod cli;
pub mod migrate;
pub mod synthetic;
