//! Routes, one module per resource; handlers are named verb_noun.

pub mod admin;
pub mod attachments;
pub mod exports;
pub mod mail;
pub mod meta;
pub mod objections;
pub mod projects;
pub mod registrations;
pub mod session;

use axum::Router;
use axum::http::{HeaderValue, header};
use axum::routing::{get, post};

use crate::error::ApiError;
use crate::state::AppState;

/// Assembles the API router: every route, and a JSON "not found" for any other path.
pub fn router(state: AppState) -> Router {
    api_routes(state).fallback(|| async { ApiError::NoRoute })
}

/// Every route of the API without a fallback, for merging with pages and the public site.
pub fn api_routes(state: AppState) -> Router {
    let api = Router::new()
        .route(
            "/api/session",
            post(session::create_session).delete(session::delete_session),
        )
        .route("/api/me", get(session::get_me))
        .route(
            "/api/registrations",
            post(registrations::create_registration).get(registrations::list_registrations),
        )
        .route(
            "/api/registrations/{id}",
            get(registrations::get_registration).patch(registrations::patch_registration),
        )
        .route(
            "/api/registrations/{id}/kind",
            post(registrations::choose_kind),
        )
        .route(
            "/api/registrations/{id}/check",
            get(registrations::check_registration),
        )
        .route(
            "/api/registrations/{id}/actions/{action}",
            post(registrations::act_on_registration),
        )
        .route(
            "/api/registrations/{id}/next-number",
            get(registrations::get_next_number),
        )
        .route(
            "/api/registrations/{id}/history",
            get(registrations::get_history),
        )
        .route(
            "/api/registrations/{id}/attachments",
            post(attachments::create_attachment).get(attachments::list_attachments),
        )
        .route(
            "/api/registrations/{id}/attachments/{aid}",
            axum::routing::delete(attachments::delete_attachment),
        )
        .route(
            "/api/registrations/{id}/attachments/{aid}/confirm",
            post(attachments::confirm_attachment),
        )
        .route(
            "/api/registrations/{id}/attachments/{aid}/download",
            get(attachments::download_attachment),
        )
        .route(
            "/api/registrations/{id}/notice.xlsx",
            get(exports::export_notice),
        )
        .route("/api/exports/notices", post(exports::export_notices))
        .route(
            "/api/exports/registrations.xlsx",
            get(exports::export_registrations),
        )
        .route("/api/projects", get(projects::list_projects))
        .route("/api/projects/import", post(projects::import_projects))
        .route(
            "/api/projects/{id}/acceptance",
            post(projects::record_acceptance),
        )
        .route(
            "/api/admin/authorities",
            get(admin::list_authorities).post(admin::create_authority),
        )
        .route(
            "/api/admin/units",
            get(admin::list_units).post(admin::create_unit),
        )
        .route(
            "/api/admin/units/{id}/departments",
            get(admin::list_departments).post(admin::create_department),
        )
        .route(
            "/api/admin/users",
            get(admin::list_users).post(admin::create_user),
        )
        .route(
            "/api/admin/users/{id}",
            axum::routing::patch(admin::update_user),
        )
        .route("/api/admin/mail", get(mail::list_mail))
        .route("/api/admin/mail/{id}/retry", post(mail::retry_mail))
        .route("/api/public/objections", post(objections::create_objection))
        .route(
            "/api/objections/{id}/resolve",
            post(objections::resolve_objection),
        )
        .route("/api/openapi.json", get(meta::get_openapi))
        .route("/healthz", get(meta::get_health))
        .method_not_allowed_fallback(|| async { ApiError::MethodNotAllowed })
        .with_state(state.clone());
    let api = match &state.local_files {
        Some(files) => api.merge(chengguo_files_local::router(files.clone())),
        None => api,
    };
    api.layer(axum::middleware::from_fn(refuse_undecodable_paths))
        .layer(axum::middleware::map_response(security_headers))
}

/// Refuses a path whose percent-encoded bytes are not UTF-8 with the API's own 400, before
/// routing: axum's path extractor would otherwise answer it in English plain text.
async fn refuse_undecodable_paths(
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    if percent_decodes_to_utf8(req.uri().path()) {
        next.run(req).await
    } else {
        axum::response::IntoResponse::into_response(ApiError::bad_request(
            "请求地址含有无效的字符。",
        ))
    }
}

/// Whether a path, with each `%XX` decoded (other `%` kept as they are), is UTF-8.
fn percent_decodes_to_utf8(path: &str) -> bool {
    percent_encoding::percent_decode_str(path)
        .decode_utf8()
        .is_ok()
}

/// Headers every API answer carries.
async fn security_headers(mut resp: axum::response::Response) -> axum::response::Response {
    let h = resp.headers_mut();
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    h.entry(header::CACHE_CONTROL)
        .or_insert(HeaderValue::from_static("no-store"));
    resp
}

#[cfg(test)]
mod tests {
    use super::percent_decodes_to_utf8;

    #[test]
    fn paths_decoding_to_utf8_pass_and_others_do_not() {
        assert!(percent_decodes_to_utf8("/api/registrations/abc"));
        assert!(percent_decodes_to_utf8("/api/registrations/%E4%B8%AD"));
        assert!(percent_decodes_to_utf8("/files/%2e%2e%2F%00"));
        assert!(percent_decodes_to_utf8("/api/x/%G1%"));
        assert!(!percent_decodes_to_utf8("/api/registrations/%FF"));
        assert!(!percent_decodes_to_utf8("/files/%E4%B8"));
        assert!(!percent_decodes_to_utf8("/api/registrations/%c0%ae%c0%ae"));
    }
}
