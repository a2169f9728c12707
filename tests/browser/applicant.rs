//! The applicant's steps through the pages (项目负责人): create a 计划外 registration with the
//! kind and consent, fill the form, 「填写检查」, upload every material, submit after the summary.
//! Each step is a function so the staff tests can start from a submitted record.

use std::path::Path;

use serde_json::Value;

use crate::support::{Browser, Server, id_from_path, login, pdf_file};

/// The form values of the fixture as (field path, text typed), in document order of the
/// fixture: lists of objects become rows (`units[1].name`), keywords one input each, other
/// lists of strings one line each.
pub fn form_entries(v: &Value) -> Vec<(String, String)> {
    fn walk(path: &str, v: &Value, out: &mut Vec<(String, String)>) {
        match v {
            Value::Null => {}
            Value::Object(m) => {
                for (k, child) in m {
                    let p = if path.is_empty() {
                        k.clone()
                    } else {
                        format!("{path}.{k}")
                    };
                    walk(&p, child, out);
                }
            }
            Value::Array(items) if items.iter().all(Value::is_object) => {
                for (i, item) in items.iter().enumerate() {
                    walk(&format!("{path}[{i}]"), item, out);
                }
            }
            Value::Array(items) if path == "keywords" => {
                for (i, item) in items.iter().enumerate() {
                    out.push((
                        format!("{path}[{i}]"),
                        item.as_str().unwrap_or_default().to_owned(),
                    ));
                }
            }
            Value::Array(items) => out.push((
                path.to_owned(),
                items
                    .iter()
                    .filter_map(Value::as_str)
                    .collect::<Vec<_>>()
                    .join("\n"),
            )),
            Value::Bool(b) => out.push((path.to_owned(), b.to_string())),
            Value::Number(n) => out.push((
                path.to_owned(),
                n.as_u64()
                    .map(|u| u.to_string())
                    .unwrap_or_else(|| n.to_string()),
            )),
            Value::String(s) => out.push((path.to_owned(), s.clone())),
        }
    }
    let mut out = Vec::new();
    walk("", v, &mut out);
    out
}

/// 「新增计划外项目成果登记」 with the fixture's project, source 其他财政投入, kind and consent;
/// first sent empty to see the errors next to the fields. Returns the new record's id; the
/// browser is then on its form.
pub async fn create_unplanned(b: &Browser, fixture: &Value, kind: &str) -> String {
    b.goto("/app/").await;
    b.press_css("a[href='/app/new']").await;
    b.wait_text("《科技成果登记与信息公开知情同意书》").await;
    b.wait_text("不可修改").await;
    b.assert_page_sound().await;
    b.screenshot("02-new").await;

    // Nothing chosen: every problem is shown next to its field.
    b.press_css("form[action='/app/new'] button[type=submit]")
        .await;
    b.wait_text("请阅读并同意《科技成果登记与信息公开知情同意书》")
        .await;
    b.wait_text("请选择成果类型").await;
    assert!(b.has_id("consent-error").await && b.has_id("kind-error").await);
    b.screenshot("03-new-errors").await;

    b.set_field("source", "other_fiscal").await;
    for key in ["name", "number", "funding"] {
        let v = fixture["project"][key].as_str().unwrap_or_default();
        b.type_into(&format!("project.{key}"), v).await;
    }
    b.set_field("authority_id", "zs-kjj").await;
    b.set_field("kind", kind).await;
    b.set_field("consent", "true").await;
    b.press_css("form[action='/app/new'] button[type=submit]")
        .await;
    b.wait_text("成果登记已创建").await;
    let path = b.path().await;
    assert!(path.contains("/edit"), "after creating: {path}");
    id_from_path(&path)
}

/// Fills the whole form from the fixture (adding rows with 「添加一行」) and saves the draft.
pub async fn fill_form(b: &Browser, id: &str, fixture: &Value) {
    b.goto(&format!("/app/r/{id}/edit")).await;
    // Enough rows first: each 「添加一行」 saves and shows the list one row longer.
    for list in ["units", "completers", "basic.papers"] {
        let n = fixture
            .pointer(&format!("/{}", list.replace('.', "/")))
            .and_then(Value::as_array)
            .map_or(0, Vec::len);
        for i in 0..n {
            let first = if list == "basic.papers" {
                "title"
            } else {
                "name"
            };
            if !b.has_id(&format!("{list}[{i}].{first}")).await {
                b.press(&format!("add-{list}")).await;
            }
        }
    }
    b.screenshot("04-form-empty").await;
    for (path, value) in form_entries(fixture) {
        b.set_field(&path, &value).await;
    }
    b.press("save").await;
    b.wait_text("已保存草稿").await;
    // What was saved is what is shown.
    assert_eq!(
        b.value_of("title").await,
        fixture["title"].as_str().unwrap_or_default()
    );
    assert_eq!(
        b.value_of("completers[1].name").await,
        fixture["completers"][1]["name"]
            .as_str()
            .unwrap_or_default()
    );
    b.assert_page_sound().await;
    b.screenshot("05-form-filled").await;
}

/// 「填写检查」: lists the missing materials, each linked to its place on the materials page.
pub async fn check_lists_missing_materials(b: &Browser, id: &str, categories: &[&str]) {
    b.goto(&format!("/app/r/{id}/check")).await;
    b.wait_text(&format!("发现 {} 处问题", categories.len()))
        .await;
    for c in categories {
        let link = b
            .css(&format!("ol.problems a[href$='#materials.{c}']"))
            .await;
        assert!(link.text().await.unwrap_or_default().contains("请上传"));
    }
    b.assert_page_sound().await;
    b.screenshot("06-check-problems").await;
}

/// Uploads a small PDF for each category through the materials page (file input, then the
/// script's announce → PUT with progress → confirm) and waits for it to be listed.
pub async fn upload_materials(b: &Browser, id: &str, categories: &[&str], dir: &Path) {
    b.goto(&format!("/app/r/{id}/materials")).await;
    b.screenshot("07-materials-empty").await;
    for c in categories {
        let file = pdf_file(dir, &format!("{c}.pdf"));
        let input = b.id(&format!("file-{c}")).await;
        input
            .send_keys(&file.display().to_string())
            .await
            .expect("choose file");
        b.press(&format!("upload-{c}")).await;
        let section = b.id(&format!("materials.{c}")).await;
        let text = section.text().await.unwrap_or_default();
        assert!(
            text.contains(&format!("{c}.pdf")) && text.contains("已上传"),
            "{c} after upload: {text}"
        );
    }
    b.wait_text("必需材料已齐全").await;
    b.assert_page_sound().await;
    b.screenshot("08-materials-uploaded").await;
}

/// 「填写检查」 passes, the summary lists everything, 「确认提交」 sends it on.
pub async fn check_and_submit(b: &Browser, id: &str, expect_state: &str) {
    b.goto(&format!("/app/r/{id}/check")).await;
    b.wait_text("填写检查通过").await;
    b.press("go-submit").await;
    b.wait_text("请核对以下内容").await;
    b.assert_page_sound().await;
    b.screenshot("09-submit-summary").await;
    b.press("confirm-submit").await;
    b.wait_text("已提交，请等待审核").await;
    b.wait_text(expect_state).await;
    b.assert_page_sound().await;
    b.screenshot("10-record-submitted").await;
}

/// The whole applicant part: `leader` logs in, creates a 计划外 应用技术成果 from
/// `tests/fixtures/form_applied.json`, fills, checks, uploads every material and submits.
/// Returns the record's id; it then waits for 二级部门 (待二级部门审核).
pub async fn submit_new_registration(b: &Browser, server: &Server, dir: &Path) -> String {
    let _ = server;
    let fixture = chengguo_tests::form("applied");
    let categories = chengguo_tests::required_categories("applied");
    login(b, "leader").await;
    b.wait_text("我的成果登记").await;
    b.screenshot("01-dashboard-empty").await;
    let id = create_unplanned(b, &fixture, "applied").await;
    fill_form(b, &id, &fixture).await;
    check_lists_missing_materials(b, &id, &categories).await;
    upload_materials(b, &id, &categories, dir).await;
    check_and_submit(b, &id, "待二级部门审核").await;
    id
}
