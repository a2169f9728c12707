//! The AWS Lambda functions of chengguo, one small binary each under `src/bin/`, sharing this
//! library: which routes each HTTP function serves ([`routes`]), its router ([`http`]), the
//! configuration from the environment ([`wiring`]) and the event-driven jobs ([`jobs`]).
//!
//! Every binary's `main` only wires: it reads the configuration and calls `lambda_http::run`
//! with its part of the shared router, or `lambda_http::lambda_runtime::run` with its job.

pub mod http;
pub mod jobs;
pub mod routes;
pub mod wiring;

pub use http::router;
pub use routes::Function;
pub use wiring::{init_logging, state_from_env};
