//! The pages in a real browser: Debian's headless Chromium driven through chromedriver against
//! the real server on 127.0.0.1. Screenshots of each main page are kept in
//! `$CARGO_TARGET_DIR/browser-artifacts/`. Without chromium and chromedriver every test prints
//! a skip line (`scripts/browser-deps.sh` installs them; `scripts/test` runs it first).

mod applicant;
mod staff;
mod support;

use chengguo_api::service::{self, CreateRequest};
use chengguo_domain::fields::ProjectInfo;
use serde_json::json;

use support::{Browser, Server, login, skipped};

const SCRIPT_TITLE: &str = "<script>alert('成果')</script><img src=x>";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn applicant_creates_fills_checks_uploads_and_submits() {
    if skipped("applicant_creates_fills_checks_uploads_and_submits") {
        return;
    }
    let server = Server::start().await;
    let b = Browser::start(&server.url, "applicant").await;
    let files = tempfile::tempdir().expect("temp dir");
    let id = applicant::submit_new_registration(&b, &server, files.path()).await;

    // What the pages did is what the store holds.
    let reg = server
        .state
        .store
        .get_registration(&id)
        .await
        .expect("store")
        .expect("record");
    assert_eq!(reg.state, chengguo_domain::State::DeptReview);
    assert_eq!(reg.kind, Some(chengguo_domain::Kind::Applied));
    assert!(reg.consent);
    let fixture = chengguo_tests::form("applied");
    assert_eq!(
        serde_json::to_value(&reg.fields).expect("json"),
        serde_json::to_value(
            chengguo_domain::fields::Fields::default()
                .patched(fixture.as_object().expect("object"))
                .expect("fixture fits")
        )
        .expect("json"),
        "the form saved exactly the fixture"
    );

    // Progress tracking: the history as a timeline, the dashboard with the state.
    b.goto(&format!("/app/r/{id}")).await;
    b.wait_text("办理记录").await;
    for step in ["创建", "提交", "待二级部门审核", "二级部门"] {
        b.wait_text(step).await;
    }
    b.goto("/app/").await;
    b.wait_text("待二级部门审核").await;
    b.wait_text(fixture["title"].as_str().expect("title")).await;
    b.assert_page_sound().await;
    b.screenshot("11-dashboard-submitted").await;

    // Submitted records are read-only: the form page sends back to the record.
    b.goto(&format!("/app/r/{id}/edit")).await;
    assert_eq!(b.path().await, format!("/app/r/{id}"));
    b.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn form_saves_on_leaving_and_shows_refused_values_next_to_fields() {
    if skipped("form_saves_on_leaving_and_shows_refused_values_next_to_fields") {
        return;
    }
    let server = Server::start().await;
    let leader = server.user("leader").await;
    let reg = service::create_registration(
        &server.state,
        &leader,
        CreateRequest {
            kind: "basic".into(),
            source: "non_fiscal".into(),
            consent: true,
            authority_id: None,
            project: Some(ProjectInfo {
                name: Some("理论研究项目".into()),
                number: None,
                funding: Some("企业自筹".into()),
            }),
        },
    )
    .await
    .expect("create");
    let b = Browser::start(&server.url, "form").await;
    login(&b, "leader").await;
    let edit = format!("/app/r/{}/edit", reg.id);
    b.goto(&edit).await;

    // Wrong values come back next to their fields, with what was typed kept.
    b.type_into("title", "石墨烯界面热输运机理研究").await;
    b.type_into("contact.mobile", "12345").await;
    b.type_into("basic.citations", "很多").await;
    b.press("save").await;
    b.wait_text("未保存").await;
    b.wait_text("请填写不小于0的整数").await;
    assert!(b.has_id("basic.citations-error").await);
    assert_eq!(b.value_of("basic.citations").await, "很多");
    b.screenshot("01-number-refused").await;
    b.type_into("basic.citations", "12").await;
    b.press("save").await;
    b.wait_text("手机号码格式不正确").await;
    assert!(b.has_id("contact.mobile-error").await);
    assert_eq!(b.value_of("title").await, "石墨烯界面热输运机理研究");
    b.assert_page_sound().await;
    b.screenshot("02-mobile-refused").await;
    b.type_into("contact.mobile", "13800138000").await;
    b.press("save").await;
    b.wait_text("已保存草稿").await;

    // 「添加一行」 and 「删除」 for papers, without any script involved.
    b.type_into("basic.papers[0].title", "第一篇").await;
    b.press("add-basic.papers").await;
    assert!(b.has_id("basic.papers[1].title").await);
    b.type_into("basic.papers[1].title", "第二篇").await;
    b.press("save").await;
    b.press_css("button[value='remove:basic.papers:0']").await;
    assert_eq!(b.value_of("basic.papers[0].title").await, "第二篇");

    // Leaving the page with a change saves it (PATCH to the API from the script).
    b.type_into("recommender", "中山市火炬开发区科技局").await;
    b.press_css("nav.steps a[href$='/materials']").await;
    let store = server.state.store.clone();
    let id = reg.id.clone();
    b.until("the autosave on leaving", || {
        let store = store.clone();
        let id = id.clone();
        async move {
            store
                .get_registration(&id)
                .await
                .ok()
                .flatten()
                .and_then(|r| r.fields.recommender)
                .as_deref()
                == Some("中山市火炬开发区科技局")
        }
    })
    .await;
    // The page then shows, and saves over, the newer version.
    b.goto(&edit).await;
    assert_eq!(b.value_of("recommender").await, "中山市火炬开发区科技局");
    b.press("save").await;
    b.wait_text("已保存草稿").await;

    // 「填写检查」 links each problem to its field.
    b.goto(&format!("/app/r/{}/check", reg.id)).await;
    let link = b.css("ol.problems a[href*='#contact.email']").await;
    b.click_and_wait(link).await;
    assert!(b.path().await.contains("check=1"));
    assert!(b.has_id("contact.email-error").await);
    b.screenshot("03-check-marks-fields").await;
    b.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn materials_upload_with_progress_replace_delete_and_refuse_a_fake_pdf() {
    if skipped("materials_upload_with_progress_replace_delete_and_refuse_a_fake_pdf") {
        return;
    }
    let server = Server::start().await;
    let leader = server.user("leader").await;
    let reg = service::create_registration(
        &server.state,
        &leader,
        CreateRequest {
            kind: "soft".into(),
            source: "other_fiscal".into(),
            consent: true,
            authority_id: None,
            project: None,
        },
    )
    .await
    .expect("create");
    let dir = tempfile::tempdir().expect("temp dir");
    let b = Browser::start(&server.url, "materials").await;
    login(&b, "leader").await;
    b.goto(&format!("/app/r/{}/materials", reg.id)).await;
    b.wait_text("还有 6 类必需材料未上传").await;

    // A file named .pdf whose bytes are not a PDF: refused after the upload, said in place.
    let fake = dir.path().join("fake.pdf");
    std::fs::write(&fake, b"this is not a pdf at all").expect("write");
    b.id("file-evaluation")
        .await
        .send_keys(&fake.display().to_string())
        .await
        .expect("choose file");
    b.id("upload-evaluation")
        .await
        .click()
        .await
        .expect("click");
    b.wait_text("文件内容与声明的类型不符").await;
    b.screenshot("01-fake-pdf-refused").await;

    // A real one, then its replacement: the new file is listed, the old one is gone.
    let first = support::pdf_file(dir.path(), "验收报告-初稿.pdf");
    b.id("file-evaluation")
        .await
        .send_keys(&first.display().to_string())
        .await
        .expect("choose file");
    b.press("upload-evaluation").await;
    b.wait_text("验收报告-初稿.pdf").await;
    let attachments = service::live_attachments(&server.state, &reg.id)
        .await
        .expect("attachments");
    assert_eq!(attachments.len(), 1);
    let old = attachments[0].id.clone();
    b.css("details.replace summary")
        .await
        .click()
        .await
        .expect("open");
    let second = support::pdf_file(dir.path(), "验收报告-定稿.pdf");
    b.id(&format!("replace-{old}"))
        .await
        .send_keys(&second.display().to_string())
        .await
        .expect("choose file");
    b.press(&format!("replace-button-{old}")).await;
    b.wait_text("验收报告-定稿.pdf").await;
    assert!(!b.text().await.contains("验收报告-初稿.pdf"));
    b.assert_page_sound().await;
    b.screenshot("02-replaced").await;

    // Delete: a plain form.
    b.press_css("#materials\\.evaluation form.inline button")
        .await;
    b.wait_text("已删除该材料").await;
    assert!(!b.text().await.contains("验收报告-定稿.pdf"));
    assert!(
        service::live_attachments(&server.state, &reg.id)
            .await
            .expect("attachments")
            .is_empty()
    );
    b.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn returned_record_shows_its_opinion_and_the_notice_download_follows_the_paper() {
    use chengguo_domain::Action;
    if skipped("returned_record_shows_its_opinion_and_the_notice_download_follows_the_paper") {
        return;
    }
    let server = Server::start().await;
    let id = support::filled_record(&server, "leader", "applied").await;
    support::act(&server, "leader", &id, Action::Submit, None).await;
    let opinion = "请补充第三方应用证明的盖章页。<b>务必</b>";
    support::act(&server, "dept", &id, Action::Return, Some(opinion)).await;

    let b = Browser::start(&server.url, "returned").await;
    login(&b, "leader").await;
    b.wait_text("退回修改").await;
    b.css("td.ops a[href$='/edit']").await;
    b.goto(&format!("/app/r/{id}")).await;
    let highlight = b.css("section.highlight").await;
    assert!(
        highlight.text().await.unwrap_or_default().contains(opinion),
        "the opinion, as text, highlighted"
    );
    b.css(".timeline li.returned").await;
    b.assert_page_sound().await;
    b.screenshot("01-record-returned").await;
    b.goto(&format!("/app/r/{id}/edit")).await;
    b.wait_text(opinion).await;

    // Resubmission through the pages.
    applicant::check_and_submit(&b, &id, "待二级部门审核").await;

    // Paper received: the notice windows and the 公示信息 download appear.
    for (who, action) in [
        ("dept", Action::Pass),
        ("unit", Action::Pass),
        ("point", Action::Pass),
    ] {
        support::act(&server, who, &id, action, None).await;
    }
    b.goto(&format!("/app/r/{id}")).await;
    assert!(
        !b.has_id("notice-download").await,
        "no download before the paper"
    );
    support::act(&server, "point", &id, Action::ReceivePaper, None).await;
    b.goto(&format!("/app/r/{id}")).await;
    b.wait_text("单位内部公示").await;
    b.wait_text("2026-11-28 至 2026-12-04").await;
    b.wait_text("2026-11-28 至 2026-12-27").await;
    let download = b.id("notice-download").await;
    let href = download.attr("href").await.ok().flatten().expect("href");
    let answer = b
        .client
        .execute_async(
            "const done = arguments[arguments.length - 1];\
             fetch(arguments[0], {credentials: 'same-origin'})\
               .then(r => done([r.status, r.headers.get('content-type') || '']))\
               .catch(e => done([0, String(e)]));",
            vec![json!(href)],
        )
        .await
        .expect("fetch");
    assert_eq!(answer[0], 200, "download: {answer}");
    assert!(
        answer[1].as_str().unwrap_or("").contains("spreadsheetml"),
        "xlsx: {answer}"
    );
    b.screenshot("02-record-paper-received").await;
    b.goto("/app/").await;
    b.wait_text("网站：2026-11-28 至 2026-12-27").await;
    b.css("a[href$='/notice.xlsx']").await;
    b.screenshot("03-dashboard-notice").await;
    b.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_system_draft_asks_for_the_kind_with_consent_first() {
    use chengguo_api::projects::{self, ImportRow};
    use chengguo_domain::project::AcceptanceStatus;
    if skipped("a_system_draft_asks_for_the_kind_with_consent_first") {
        return;
    }
    let server = Server::start().await;
    let report = projects::import(
        &server.state,
        &[ImportRow {
            row: 2,
            number: "2024B1001".into(),
            name: "新型储能电池热管理关键技术研究".into(),
            plan: "省重点领域研发计划".into(),
            leader: "leader".into(),
            unit: "91442000MA4UJ8K30D".into(),
        }],
    )
    .await
    .expect("import");
    assert!(report.refused.is_empty(), "{report:?}");
    let project = server
        .state
        .store
        .find_project("2024B1001")
        .await
        .expect("store")
        .expect("project");
    let office = server.user("office").await;
    projects::record_acceptance(
        &server.state,
        &office,
        &project.id,
        AcceptanceStatus::ReviewCompleted,
        None,
    )
    .await
    .expect("review completed");

    let b = Browser::start(&server.url, "kind").await;
    login(&b, "leader").await;
    b.wait_text("新型储能电池热管理关键技术研究").await;
    b.press_css("td.ops a[href$='/kind']").await;
    b.wait_text("不可修改").await;
    b.assert_page_sound().await;
    b.screenshot("01-kind-choice").await;
    b.set_field("kind", "basic").await;
    b.press_css("form[action$='/kind'] button[type=submit]")
        .await;
    b.wait_text("请阅读并同意《科技成果登记与信息公开知情同意书》")
        .await;
    assert!(b.has_id("consent-error").await);
    b.set_field("consent", "true").await;
    b.press_css("form[action$='/kind'] button[type=submit]")
        .await;
    b.wait_text("已选择成果类型").await;
    // The project is linked, not typed; the form is the basic kind's.
    b.wait_text("关联项目（系统中项目）").await;
    b.wait_text("2024B1001").await;
    assert!(!b.has_id("project.name").await);
    assert!(b.has_id("basic.citations").await);
    b.screenshot("02-form-of-the-kind").await;
    // The kind can never change.
    let id = support::id_from_path(&b.path().await);
    b.goto(&format!("/app/r/{id}/kind")).await;
    assert_eq!(b.path().await, format!("/app/r/{id}"));
    b.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dashboard_works_at_phone_width_and_shows_a_script_title_as_text() {
    if skipped("dashboard_works_at_phone_width_and_shows_a_script_title_as_text") {
        return;
    }
    let server = Server::start().await;
    let leader = server.user("leader").await;
    let reg = service::create_registration(
        &server.state,
        &leader,
        CreateRequest {
            kind: "applied".into(),
            source: "other_fiscal".into(),
            consent: true,
            authority_id: None,
            project: Some(ProjectInfo {
                name: Some(SCRIPT_TITLE.into()),
                number: Some("2024-01".into()),
                funding: Some("市级财政".into()),
            }),
        },
    )
    .await
    .expect("create");
    let patch = json!({"title": SCRIPT_TITLE});
    service::patch(
        &server.state,
        &leader,
        &reg.id,
        reg.version,
        patch.as_object().expect("object"),
    )
    .await
    .expect("title");

    let b = Browser::start(&server.url, "phone").await;
    b.resize(375, 812).await;
    login(&b, "leader").await;
    for path in [
        "/app/".to_owned(),
        format!("/app/r/{}", reg.id),
        format!("/app/r/{}/edit", reg.id),
        format!("/app/r/{}/materials", reg.id),
        format!("/app/r/{}/check", reg.id),
        "/app/new".to_owned(),
    ] {
        b.goto(&path).await;
        // The script never ran: it is shown as the text typed.
        assert_eq!(b.js("return typeof window.__xss").await, "undefined");
        assert_eq!(
            b.js("return document.querySelectorAll('img[src=x]').length")
                .await,
            0
        );
        if path != "/app/new" {
            b.wait_text(SCRIPT_TITLE).await;
        }
        b.assert_page_sound().await;
    }
    b.goto("/app/").await;
    let width = b.js("return window.innerWidth").await;
    assert!(
        width.as_u64().is_some_and(|w| w <= 400),
        "phone width: {width}"
    );
    b.screenshot("01-dashboard-375").await;
    b.goto(&format!("/app/r/{}/edit", reg.id)).await;
    b.screenshot("02-form-375").await;

    // Keyboard alone: the skip link is the first stop and leads to the content.
    b.goto("/app/").await;
    b.js("document.activeElement && document.activeElement.blur(); return null")
        .await;
    b.key(fantoccini::key::Key::Tab).await;
    let focused = b
        .js("return document.activeElement ? document.activeElement.className : ''")
        .await;
    assert_eq!(focused, "skip", "first Tab stop");
    b.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_send_the_content_security_policy() {
    if skipped("pages_send_the_content_security_policy") {
        return;
    }
    let server = Server::start().await;
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    for path in ["/login", "/app/", "/app/new", "/assets/app.js"] {
        let resp = http.get(server.at(path)).send().await.expect("GET");
        let h = resp.headers();
        let csp = h
            .get("content-security-policy")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_else(|| panic!("{path}: no Content-Security-Policy"));
        for part in [
            "default-src 'self'",
            "script-src 'self'",
            "style-src 'self'",
            "frame-ancestors 'none'",
            "object-src 'none'",
        ] {
            assert!(csp.contains(part), "{path}: {csp} lacks {part}");
        }
        assert!(!csp.contains("unsafe-inline"), "{path}: {csp}");
        assert_eq!(h["x-content-type-options"], "nosniff", "{path}");
    }

    // In the browser: a page that tried inline script would be refused; ours has none, and
    // the script file runs (it marks the document).
    let b = Browser::start(&server.url, "csp").await;
    login(&b, "leader").await;
    b.goto("/app/new").await;
    assert_eq!(
        b.js("return document.documentElement.classList.contains('js')")
            .await,
        true
    );
    b.assert_page_sound().await;
    b.screenshot("01-new").await;

    // The accessibility check does find what is wrong: an input without its label.
    if support::axe_source().is_some() {
        b.js("document.querySelector('label[for=\"project.name\"]').remove(); return null")
            .await;
        let found = b.axe_violations().await.expect("axe");
        assert!(
            found.to_string().contains("\"label\""),
            "axe-core reports the missing label: {found}"
        );
    }
    b.close().await;
}
