//! The stylesheet and the script, built into the binary.

use axum::extract::Path;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

/// The one stylesheet.
pub const CSS: &str = include_str!("../assets/app.css");
/// The one script: progressive enhancement only.
pub const JS: &str = include_str!("../assets/app.js");
/// The staff pages' script (dialogs, the reopen evidence upload, printing).
pub const ADMIN_JS: &str = include_str!("../assets/admin.js");

/// `GET /assets/{file}`.
pub async fn get_asset(Path(file): Path<String>) -> Response {
    let (body, ty) = match file.as_str() {
        "app.css" => (CSS, "text/css; charset=utf-8"),
        "app.js" => (JS, "text/javascript; charset=utf-8"),
        "admin.js" => (ADMIN_JS, "text/javascript; charset=utf-8"),
        _ => return StatusCode::NOT_FOUND.into_response(),
    };
    (
        [
            (header::CONTENT_TYPE, ty),
            (header::CACHE_CONTROL, "public, max-age=300"),
        ],
        body,
    )
        .into_response()
}
