//! The HTTP API of chengguo as one axum [`Router`]: the local server, every Lambda function and
//! the tests all call [`router`].
//!
//! Handlers live in [`routes`], one module per resource; the use cases they share (loading a
//! record in scope, committing a transition) in [`service`]; one error boundary in [`error`].

pub mod auth;
pub mod config;
pub mod error;
pub mod exports;
pub mod extract;
pub mod notify;
pub mod projects;
pub mod routes;
pub mod seed;
pub mod service;
pub mod state;
pub mod views;

pub use config::Config;
pub use error::ApiError;
pub use state::AppState;

use axum::Router;

/// The whole API: `/api/...`, `/healthz` and, on the embedded backend, the signed file URLs.
pub fn router(state: AppState) -> Router {
    routes::router(state)
}
