//! The staff side of the workflow in the browser (二级部门, 单位, 成果登记点), continuing from
//! `applicant::submit_new_registration` with the helpers of `support`: passes and returns in
//! the action dialogs (and once on the action's own page, as without script), the return at
//! the paper stage, the paper received, the batch export refused in the rules' words, the clock
//! moved past the website notice, a taken number refused in place, the decision with the
//! proposed number, the reopen with its evidence uploaded by the script, the second decision,
//! and the number on the applicant's dashboard. Each main staff page is screenshot and checked
//! with axe-core.

use chengguo_domain::codes::{Action, DecisionResult, State};
use chengguo_domain::workflow::ActionRequest;

use crate::applicant;
use crate::support::{self, Browser, Server, login, logout, skipped};

/// The refusal of domain.md §8, word for word.
const PAPER_NOT_RECEIVED: &str =
    "您选择的成果登记，在成果登记点未接收纸质材料之前，无法导出公示信息。";

async fn state_of(server: &Server, id: &str) -> State {
    server
        .state
        .store
        .get_registration(id)
        .await
        .expect("store")
        .expect("record")
        .state
}

/// Opens the action's dialog from the record page.
async fn open_dialog(b: &Browser, action: &str) {
    let link = b.css(&format!("a[data-dialog='dlg-{action}']")).await;
    b.reveal(&link).await;
    link.click().await.expect("open the dialog");
    let script = format!("return document.getElementById('dlg-{action}').open === true");
    b.until(&format!("the {action} dialog"), || async {
        b.js(&script).await == true
    })
    .await;
}

/// Opens the record from the queue or a list, by its id.
async fn open_record(b: &Browser, id: &str) {
    b.press_css(&format!("a[href='/admin/registrations/{id}']"))
        .await;
    b.wait_text("办理记录").await;
}

/// `who` passes the record through the dialog on its page.
async fn pass_in_dialog(b: &Browser, server: &Server, id: &str, who: &str, then: State) {
    login(b, who).await;
    b.goto(&format!("/admin/registrations/{id}")).await;
    open_dialog(b, "pass").await;
    b.press_css("#dlg-pass button[type=submit]").await;
    b.wait_text("已完成“审核通过”").await;
    assert_eq!(state_of(server, id).await, then);
    logout(b).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn staff_review_decide_reopen_and_decide_again_through_the_pages() {
    if skipped("staff_review_decide_reopen_and_decide_again_through_the_pages") {
        return;
    }
    let server = Server::start().await;
    let files = tempfile::tempdir().expect("temp dir");
    let mut b = Browser::start(&server.url, "workflow").await;

    // The applicant's part: created, filled, checked, uploaded, submitted.
    let id = applicant::submit_new_registration(&b, &server, files.path()).await;
    let title = chengguo_tests::form("applied")["title"]
        .as_str()
        .expect("title")
        .to_owned();
    logout(&b).await;
    b.name = "staff".into();

    // 二级部门: the queue, the record, 审核通过 in its dialog.
    login(&b, "dept").await;
    assert_eq!(b.path().await, "/admin/");
    b.wait_text("待二级部门审核").await;
    b.wait_text(&title).await;
    b.assert_page_sound().await;
    b.screenshot("01-dept-queue").await;
    open_record(&b, &id).await;
    for label in [
        "第一完成单位",
        "完成人员",
        "评价情况",
        "提交的材料",
        "tech_report.pdf",
        "异议",
        "通知",
    ] {
        b.wait_text(label).await;
    }
    b.assert_page_sound().await;
    b.screenshot("02-dept-record").await;
    open_dialog(&b, "pass").await;
    b.assert_accessible().await;
    b.screenshot("03-dept-pass-dialog").await;
    b.press_css("#dlg-pass button[type=submit]").await;
    b.wait_text("已完成“审核通过”").await;
    assert_eq!(state_of(&server, &id).await, State::UnitReview);
    logout(&b).await;

    // 单位: returns with an opinion.
    login(&b, "unit").await;
    b.wait_text("待单位审核").await;
    open_record(&b, &id).await;
    open_dialog(&b, "return").await;
    b.type_into("dlg-return-opinion", "请补充第三方应用证明的盖章页。")
        .await;
    b.screenshot("04-unit-return-dialog").await;
    b.press_css("#dlg-return button[type=submit]").await;
    b.wait_text("已完成“退回修改”").await;
    b.wait_text("请补充第三方应用证明的盖章页。").await;
    assert_eq!(state_of(&server, &id).await, State::Returned);
    logout(&b).await;

    // The leader sees the opinion and submits again.
    login(&b, "leader").await;
    b.goto(&format!("/app/r/{id}")).await;
    b.wait_text("请补充第三方应用证明的盖章页。").await;
    b.name = "resubmit-1".into();
    applicant::check_and_submit(&b, &id, "待二级部门审核").await;
    b.name = "staff".into();
    logout(&b).await;

    // 二级部门 again in the dialog; 单位 on the action's own page, as without script.
    pass_in_dialog(&b, &server, &id, "dept", State::UnitReview).await;
    login(&b, "unit").await;
    b.goto(&format!("/admin/registrations/{id}/actions/pass"))
        .await;
    b.wait_text("审核意见（选填）").await;
    b.assert_page_sound().await;
    b.screenshot("05-unit-pass-page").await;
    b.type_into("page-pass-opinion", "同意推荐。").await;
    b.press_css("form.action-form button[type=submit]").await;
    b.wait_text("已完成“审核通过”").await;
    assert_eq!(state_of(&server, &id).await, State::PointReview);
    logout(&b).await;

    // 成果登记点: passes, then returns at the paper stage.
    login(&b, "point").await;
    b.wait_text("待登记点审核").await;
    b.assert_page_sound().await;
    b.screenshot("06-point-queue").await;
    open_record(&b, &id).await;
    open_dialog(&b, "pass").await;
    b.press_css("#dlg-pass button[type=submit]").await;
    b.wait_text("待接收纸质材料").await;
    open_dialog(&b, "return").await;
    b.type_into(
        "dlg-return-opinion",
        "纸质材料缺少第一完成单位盖章，请补正后重新提交。",
    )
    .await;
    b.press_css("#dlg-return button[type=submit]").await;
    b.wait_text("已完成“退回修改”").await;
    assert_eq!(state_of(&server, &id).await, State::Returned);
    logout(&b).await;

    login(&b, "leader").await;
    b.name = "resubmit-2".into();
    applicant::check_and_submit(&b, &id, "待二级部门审核").await;
    b.name = "staff".into();
    logout(&b).await;
    // The same passes again, shortened: each was shown through the pages above.
    for who in ["dept", "unit", "point"] {
        support::act(&server, who, &id, Action::Pass, None).await;
    }
    assert_eq!(state_of(&server, &id).await, State::PaperPending);

    // A second record waiting for its paper, for the batch export and a taken number.
    let other = support::filled_record(&server, "leader-nodept", "applied").await;
    support::act(&server, "leader-nodept", &other, Action::Submit, None).await;
    support::act(&server, "unit", &other, Action::Pass, None).await;
    support::act(&server, "point", &other, Action::Pass, None).await;

    // 接收纸质材料: the notices open.
    login(&b, "point").await;
    b.goto(&format!("/admin/registrations/{id}")).await;
    open_dialog(&b, "receive_paper").await;
    b.wait_text("网站公示（30天）").await;
    b.press_css("#dlg-receive_paper button[type=submit]").await;
    b.wait_text("已完成“接收纸质材料”").await;
    b.wait_text("2026-11-28 至 2026-12-04").await;
    b.wait_text("2026-11-28 至 2026-12-27").await;
    b.assert_page_sound().await;
    b.screenshot("07-point-paper-received").await;

    // The batch export refuses the whole selection while one record still waits for paper.
    b.goto("/admin/search").await;
    b.assert_page_sound().await;
    b.screenshot("08-point-search").await;
    for rid in [&id, &other] {
        let tick = b.id(&format!("sel-{rid}")).await;
        b.reveal(&tick).await;
        tick.click().await.expect("tick");
    }
    b.press_css("form.batch button[type=submit]").await;
    b.wait_text(PAPER_NOT_RECEIVED).await;
    b.css(&format!("a[href='/admin/registrations/{other}']"))
        .await;
    assert!(
        b.client
            .find(fantoccini::Locator::Css(&format!(
                "main a[href='/admin/registrations/{id}']"
            )))
            .await
            .is_err(),
        "only the record without paper is named"
    );
    b.assert_page_sound().await;
    b.screenshot("09-export-refused").await;
    logout(&b).await;

    // Thirty days later the website notice has ended. The other record takes the first number.
    support::act(&server, "point", &other, Action::ReceivePaper, None).await;
    server.advance_days(30);
    let point = server.user("point").await;
    let version = server
        .state
        .store
        .get_registration(&other)
        .await
        .expect("store")
        .expect("record")
        .version;
    chengguo_api::service::act(
        &server.state,
        &point,
        &other,
        Action::Decide,
        ActionRequest {
            version,
            opinion: Some("同意登记。".into()),
            result: Some(DecisionResult::Registered),
            number: Some("4422026Y0001".into()),
            evidence_attachment_id: None,
        },
    )
    .await
    .expect("decide the other record");

    // 批复: the proposed number is the next one; a taken number is refused in place.
    login(&b, "point").await;
    b.wait_text("待批复（公示期满）").await;
    open_record(&b, &id).await;
    open_dialog(&b, "decide").await;
    assert_eq!(b.value_of("dlg-decide-number").await, "4422026Y0002");
    b.assert_accessible().await;
    b.screenshot("10-decide-dialog").await;
    b.type_into("dlg-decide-number", "4422026Y0001").await;
    b.type_into("dlg-decide-opinion", "经审核，同意予以登记。")
        .await;
    b.press_css("#dlg-decide button[type=submit]").await;
    b.wait_text("成果登记号 4422026Y0001 已被使用").await;
    assert!(b.has_id("page-decide-number-error").await);
    assert_eq!(b.value_of("page-decide-number").await, "4422026Y0001");
    assert_eq!(
        b.value_of("page-decide-opinion").await,
        "经审核，同意予以登记。"
    );
    b.assert_page_sound().await;
    b.screenshot("11-number-taken").await;
    b.type_into("page-decide-number", "4422026Y0002").await;
    b.press_css("form.action-form button[type=submit]").await;
    b.wait_text("已完成“批复”").await;
    b.wait_text("4422026Y0002").await;
    assert_eq!(state_of(&server, &id).await, State::Decided);
    b.screenshot("12-decided").await;

    // 退回到未批复 with the evidence uploaded by the script (announce, PUT, confirm).
    open_dialog(&b, "reopen").await;
    b.type_into("dlg-reopen-opinion", "接到举报，需重新核实完成人员排序。")
        .await;
    let evidence = support::pdf_file(files.path(), "佐证材料.pdf");
    b.id("dlg-reopen-evidence")
        .await
        .send_keys(&evidence.display().to_string())
        .await
        .expect("choose the evidence");
    b.wait_text("已上传“佐证材料.pdf”").await;
    let uploaded = b
        .js("return document.querySelector('#dlg-reopen input[name=evidence_attachment_id]').value")
        .await;
    assert!(
        uploaded.as_str().is_some_and(|v| !v.is_empty()),
        "the attachment id is in the form"
    );
    b.screenshot("13-reopen-dialog").await;
    b.press_css("#dlg-reopen button[type=submit]").await;
    b.wait_text("已完成“退回到未批复”").await;
    b.wait_text("佐证材料.pdf").await;
    assert_eq!(state_of(&server, &id).await, State::DecisionPending);

    // Decided again: the record kept its number, proposed again.
    open_dialog(&b, "decide").await;
    assert_eq!(b.value_of("dlg-decide-number").await, "4422026Y0002");
    b.type_into("dlg-decide-opinion", "经重新核实，维持予以登记。")
        .await;
    b.press_css("#dlg-decide button[type=submit]").await;
    b.wait_text("已完成“批复”").await;
    let reg = server
        .state
        .store
        .get_registration(&id)
        .await
        .expect("store")
        .expect("record");
    assert_eq!(reg.state, State::Decided);
    assert_eq!(reg.registration_number.as_deref(), Some("4422026Y0002"));
    b.assert_page_sound().await;
    b.screenshot("14-decided-again").await;

    // On a phone: the queue, the search and the record, without sideways scrolling.
    b.resize(375, 812).await;
    for (path, step) in [
        ("/admin/".to_owned(), "14a-phone-queue"),
        ("/admin/search".to_owned(), "14b-phone-search"),
        (format!("/admin/registrations/{id}"), "14c-phone-record"),
    ] {
        b.goto(&path).await;
        b.assert_page_sound().await;
        b.screenshot(step).await;
    }
    b.resize(1280, 900).await;

    // The print view of the registration form.
    b.goto(&format!("/print/{id}")).await;
    b.wait_text("科技成果登记表").await;
    b.wait_text("材料清单").await;
    b.assert_page_sound().await;
    b.screenshot("15-print").await;
    logout(&b).await;

    // The applicant sees the number on the dashboard.
    login(&b, "leader").await;
    b.wait_text("4422026Y0002").await;
    b.wait_text("已批复").await;
    b.screenshot("16-leader-dashboard-number").await;
    logout(&b).await;

    // Administration pages.
    login(&b, "admin").await;
    for (path, step) in [
        ("/admin/accounts", "17-admin-accounts"),
        ("/admin/units", "18-admin-units"),
        ("/admin/authorities", "19-admin-authorities"),
        ("/admin/projects", "20-admin-projects"),
    ] {
        b.goto(path).await;
        b.assert_page_sound().await;
        b.screenshot(step).await;
    }
    b.close().await;
}
