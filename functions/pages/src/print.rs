//! `/print/{id}`: the registration form (登记表) laid out for the paper copy the leader sends
//! to the registration point: A4, every field, the materials list, places for signatures and
//! seals; table rows are never cut by a page break. Anyone who can see the record may print it.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use chengguo_api::{ApiError, service};
use chengguo_domain::record::Registration;

use crate::PageState;
use crate::admin::view;
use crate::guard::{PageUser, error_page};
use crate::render::base_context;

async fn print_context(
    state: &PageState,
    who: &PageUser,
    reg: &Registration,
) -> Result<tera::Context, ApiError> {
    let app = &state.app;
    let authorities = service::authorities(app).await?;
    let authority = authorities.iter().find(|a| a.id == reg.authority_id);
    let project = match &reg.project_id {
        Some(pid) => app.store.get_project(pid).await?,
        None => None,
    };
    let attachments = service::live_attachments(app, &reg.id).await?;
    let unit = app.store.get_unit(&reg.unit_id).await?;
    let title = reg
        .fields
        .title
        .clone()
        .filter(|t| !t.trim().is_empty())
        .unwrap_or_else(|| "（未填写成果名称）".to_owned());
    let mut ctx = base_context(Some(&who.user), Some(&who.session));
    ctx.insert("title", &format!("科技成果登记表 - {title}"));
    ctx.insert("doc_title", &title);
    ctx.insert("kind", reg.kind.map_or("", |k| k.label()));
    ctx.insert("state", &view::state_text(reg, app.clock.today()));
    ctx.insert("number", &reg.registration_number);
    ctx.insert("unit", &unit.map(|u| u.name));
    ctx.insert(
        "sections",
        &view::form_sections(reg, authority.map(|a| a.name.as_str()), project.as_ref()),
    );
    ctx.insert("materials", &view::materials_view(reg, &attachments));
    ctx.insert("printed", &view::time_text(app.clock.now()));
    ctx.insert(
        "back",
        &if who.user.role == chengguo_domain::Role::Leader {
            format!("/app/r/{}", reg.id)
        } else {
            format!("/admin/registrations/{}", reg.id)
        },
    );
    Ok(ctx)
}

/// `GET /print/{id}`.
pub async fn show_print(
    State(state): State<PageState>,
    who: PageUser,
    Path(id): Path<String>,
) -> Response {
    let reg = match service::load_visible(&state.app, &who.user, &id).await {
        Ok(r) => r,
        Err(e) => return error_page(&state, Some(&who), &e),
    };
    match print_context(&state, &who, &reg).await {
        Ok(ctx) => state.pages.render(StatusCode::OK, "print.html", &ctx),
        Err(e) => error_page(&state, Some(&who), &e),
    }
}
