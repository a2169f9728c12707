//! The web pages people use: login, the applicant's pages under `/app/`, staff and
//! administration under `/admin/`, and the print view of the registration form. Server-rendered
//! tera templates in Simplified Chinese (`templates/pages/`), served by the same router as the
//! API, with a little plain JavaScript where it helps (uploads with progress); every form also
//! works without it where a plain form can do the job.

pub mod admin;
pub mod app;
pub mod assets;
pub mod guard;
pub mod login;
pub mod print;
pub mod render;

use std::sync::Arc;

use axum::Router;
use axum::routing::{get, post};
use chengguo_api::AppState;

pub use render::Pages;

/// What page handlers share: the API's state and the templates.
#[derive(Clone)]
pub struct PageState {
    pub app: AppState,
    pub pages: Arc<Pages>,
}

/// The pages router; merge it with `chengguo_api::router`.
pub fn router(app: AppState) -> Router {
    let state = PageState {
        app,
        pages: Arc::new(Pages::embedded()),
    };
    Router::new()
        .route("/login", get(login::show_login).post(login::submit_login))
        .route("/logout", post(login::submit_logout))
        .route("/assets/{file}", get(assets::get_asset))
        .merge(app::routes())
        .merge(admin::routes())
        .with_state(state.clone())
        .layer(axum::middleware::from_fn_with_state(
            state,
            render::security_headers,
        ))
}
