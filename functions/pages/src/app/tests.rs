//! Every applicant template renders with a representative context, escapes what people typed,
//! and carries no inline script or style.

use chengguo_domain::codes::{Kind, Role, Source};
use chengguo_domain::org::{Authority, Session, User};
use chengguo_domain::{Problem, Registration};
use tera::Context;
use time::macros::datetime;

use super::form::{self, FormContext, Values};
use super::record_facts;
use crate::Pages;
use crate::render::base_context;

const SCRIPT: &str = "<script>alert(1)</script>";

fn leader() -> User {
    User {
        id: "user-leader".into(),
        username: "leader".into(),
        display_name: "张明".into(),
        role: Role::Leader,
        password_hash: String::new(),
        email: None,
        unit_id: Some("unit".into()),
        department_id: Some("dept".into()),
        authority_id: None,
        supervised_unit_ids: Vec::new(),
        failed_logins: 0,
        locked_until: None,
        last_login_at: None,
        unlocked_at: None,
        active: true,
        created_at: datetime!(2026-11-28 02:00 UTC),
    }
}

fn session() -> Session {
    Session {
        token_hash: "h".into(),
        user_id: "user-leader".into(),
        csrf_token: "csrf-token-value".into(),
        created_at: datetime!(2026-11-28 02:00 UTC),
        expires_at: datetime!(2026-11-28 14:00 UTC),
    }
}

fn authorities() -> Vec<Authority> {
    vec![Authority {
        id: "zs-kjj".into(),
        name: "中山市科学技术局".into(),
        code: "442".into(),
    }]
}

fn record(kind: Kind) -> Registration {
    let (mut reg, _) = chengguo_api::service::new_draft(
        "r1".into(),
        &leader(),
        None,
        "zs-kjj",
        Source::OtherFiscal,
        Some(kind),
        datetime!(2026-11-28 02:00 UTC),
    );
    reg.fields.title = Some(SCRIPT.into());
    reg.fields.summary = Some(format!("简介{SCRIPT}"));
    reg.return_opinion = Some(format!("请补充{SCRIPT}"));
    reg.state = chengguo_domain::State::Returned;
    reg
}

fn base() -> Context {
    let mut ctx = base_context(Some(&leader()), Some(&session()));
    ctx.insert("title", "测试");
    ctx
}

fn check_html(html: &str) {
    assert!(!html.contains(SCRIPT), "unescaped user text");
    assert!(html.contains("&lt;script&gt;"), "user text shown as text");
    // No inline script or style: CSP forbids them.
    assert!(!html.contains(" style="), "inline style");
    assert!(
        !html.contains(" on"),
        "inline handler? {}",
        &html[html.find(" on").unwrap()..][..40]
    );
    for (i, _) in html.match_indices("<script") {
        assert!(html[i..].starts_with("<script src="), "inline script");
    }
}

#[test]
fn every_applicant_template_renders_escaped() {
    let pages = Pages::embedded();
    let auths = authorities();
    for kind in Kind::ALL {
        let reg = record(*kind);
        let stored = serde_json::to_value(&reg.fields).unwrap();
        let fc = FormContext {
            kind: *kind,
            source: reg.source,
            authorities: &auths,
            add: &std::collections::HashMap::from([("units".to_owned(), 1)]),
        };
        let mut view = form::build(&fc, &Values::Stored(&stored));
        view.attach(&[
            Problem::invalid("contact.mobile", format!("错误{SCRIPT}")),
            Problem::invalid("units[0].uscc", "代码不正确"),
        ]);
        let facts = record_facts(&reg);

        let mut ctx = base();
        ctx.insert("reg", &facts);
        ctx.insert("form", &view);
        ctx.insert("keys", &view.keys.join(","));
        ctx.insert("version", &3);
        ctx.insert("has_errors", &view.has_errors());
        ctx.insert("problem_links", &Vec::<serde_json::Value>::new());
        ctx.insert("checked", &false);
        ctx.insert("problem_count", &0);
        ctx.insert("material_problems", &Vec::<String>::new());
        let html = pages
            .render(axum::http::StatusCode::OK, "app/edit.html", &ctx)
            .into_body();
        let html = body_text(html);
        check_html(&html);
        assert!(html.contains("id=\"units[1].name\""), "added row");
        assert!(html.contains("id=\"contact.mobile-error\""));
        assert!(html.contains("aria-invalid=\"true\""));
        assert!(html.contains("value=\"add:units\""));
        assert!(html.contains("退回意见"));

        let mut ctx = base();
        ctx.insert("reg", &facts);
        ctx.insert("form", &view);
        ctx.insert("events", &Vec::<serde_json::Value>::new());
        ctx.insert("materials", &Vec::<serde_json::Value>::new());
        ctx.insert("can_edit", &true);
        ctx.insert("can_submit", &true);
        ctx.insert("paper_due", &false);
        let html = body_text(
            pages
                .render(axum::http::StatusCode::OK, "app/record.html", &ctx)
                .into_body(),
        );
        check_html(&html);
        assert!(html.contains("class=\"highlight\""));

        let mut ctx = base();
        ctx.insert("reg", &facts);
        ctx.insert("version", &3);
        ctx.insert("problems", &Vec::<serde_json::Value>::new());
        ctx.insert("form", &view);
        ctx.insert("materials", &Vec::<serde_json::Value>::new());
        ctx.insert("next_label", "待二级部门审核");
        ctx.insert("next_waiting", "二级部门");
        let html = body_text(
            pages
                .render(axum::http::StatusCode::OK, "app/submit.html", &ctx)
                .into_body(),
        );
        check_html(&html);
        assert!(html.contains("确认提交"));
    }
}

#[test]
fn list_and_choice_pages_render() {
    let pages = Pages::embedded();
    let reg = record(Kind::Applied);
    let facts = record_facts(&reg);

    let mut ctx = base();
    ctx.insert("items", &vec![facts.clone()]);
    ctx.insert("next_cursor", &Option::<String>::None);
    ctx.insert("first_page", &true);
    let html = body_text(
        pages
            .render(axum::http::StatusCode::OK, "app/dashboard.html", &ctx)
            .into_body(),
    );
    check_html(&html);
    assert!(html.contains("退回修改"));

    let mut ctx = base();
    ctx.insert("reg", &facts);
    ctx.insert(
        "problems",
        &vec![serde_json::json!({"field": "title", "message": "请填写“成果名称”。", "href": "/app/r/r1/edit?check=1#title", "place": "基本信息 · 成果名称"})],
    );
    ctx.insert("can_edit", &true);
    ctx.insert("can_submit", &true);
    let html = body_text(
        pages
            .render(axum::http::StatusCode::OK, "app/check.html", &ctx)
            .into_body(),
    );
    check_html(&html);
    assert!(html.contains("edit?check=1#title"));

    let mut ctx = base();
    ctx.insert("reg", &facts);
    ctx.insert("materials", &Vec::<serde_json::Value>::new());
    ctx.insert("missing", &0);
    ctx.insert("editable", &true);
    ctx.insert("api", "/api/registrations/r1/attachments");
    let html = body_text(
        pages
            .render(axum::http::StatusCode::OK, "app/materials.html", &ctx)
            .into_body(),
    );
    check_html(&html);

    for name in ["app/new.html", "app/kind.html"] {
        let mut ctx = base();
        ctx.insert("reg", &facts);
        ctx.insert("kinds", &Vec::<serde_json::Value>::new());
        ctx.insert("sources", &Vec::<serde_json::Value>::new());
        ctx.insert("consent_text", super::create::CONSENT);
        ctx.insert("consent_checked", &false);
        ctx.insert("authorities", &authorities());
        ctx.insert("authority_id", "zs-kjj");
        ctx.insert("project_name", SCRIPT);
        ctx.insert("project_number", "");
        ctx.insert("project_funding", "");
        let mut errors = std::collections::HashMap::new();
        errors.insert("consent".to_owned(), vec!["请同意".to_owned()]);
        errors.insert("project.name".to_owned(), vec!["请填写".to_owned()]);
        ctx.insert("has_errors", &true);
        ctx.insert("errors", &errors);
        let html = body_text(
            pages
                .render(axum::http::StatusCode::OK, name, &ctx)
                .into_body(),
        );
        check_html(&html);
        assert!(html.contains("知情同意书"));
        assert!(html.contains("不可修改"));
    }
}

fn body_text(body: axum::body::Body) -> String {
    let rt = tokio_block_on(http_body_collect(body));
    String::from_utf8(rt).expect("utf-8")
}

async fn http_body_collect(body: axum::body::Body) -> Vec<u8> {
    axum::body::to_bytes(body, usize::MAX)
        .await
        .expect("body")
        .to_vec()
}

/// Runs a future to completion without a runtime: the body is already in memory.
fn tokio_block_on<F: std::future::Future>(f: F) -> F::Output {
    use std::pin::pin;
    use std::task::{Context as TaskContext, Poll, Waker};
    let mut f = pin!(f);
    let mut cx = TaskContext::from_waker(Waker::noop());
    loop {
        if let Poll::Ready(v) = f.as_mut().poll(&mut cx) {
            return v;
        }
    }
}
