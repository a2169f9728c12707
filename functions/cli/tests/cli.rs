//! The `chengguo` binary as an operator runs it: `serve --demo` on an empty folder,
//! `seed-demo`, `import-projects`, and configuration from variables.

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::json;

const BIN: &str = env!("CARGO_BIN_EXE_chengguo");

/// A child process killed when dropped, so no server outlives its test.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

fn serve(data: &std::path::Path, extra_env: &[(&str, &str)]) -> (Server, String) {
    let port = free_port();
    let addr = format!("127.0.0.1:{port}");
    let mut cmd = Command::new(BIN);
    cmd.args(["serve", "--demo", "--addr", &addr, "--data"])
        .arg(data)
        .env_remove("CHENGGUO_BACKEND")
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    for (k, v) in extra_env {
        cmd.env(k, v);
    }
    let server = Server(cmd.spawn().expect("start chengguo serve"));
    (server, format!("http://{addr}"))
}

async fn wait_healthy(client: &reqwest::Client, base: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(r) = client.get(format!("{base}/healthz")).send().await
            && r.status().is_success()
        {
            return;
        }
        assert!(Instant::now() < deadline, "server did not become healthy");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn serve_demo_on_an_empty_folder_gives_the_demo_accounts() {
    let dir = tempfile::tempdir().unwrap();
    let (_server, base) = serve(dir.path(), &[]);
    let client = reqwest::Client::new();
    wait_healthy(&client, &base).await;
    for username in [
        "admin",
        "office",
        "supervisor",
        "point",
        "unit",
        "unit-b",
        "dept",
        "leader",
        "leader-nodept",
        "leader-b",
    ] {
        let r = client
            .post(format!("{base}/api/session"))
            .json(&json!({"username": username, "password": "chengguo-demo"}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{username} logs in");
        let cookie = r.headers()["set-cookie"].to_str().unwrap().to_owned();
        assert!(cookie.contains("HttpOnly"));
        let body: serde_json::Value = r.json().await.unwrap();
        assert_eq!(body["user"]["username"], username);
        assert!(body["user"].get("password_hash").is_none());
    }
    assert!(dir.path().join("chengguo.db").exists());
    assert!(dir.path().join("url-signing.key").exists());
}

#[tokio::test]
async fn the_upload_url_is_absolute_and_served_by_the_same_server() {
    let dir = tempfile::tempdir().unwrap();
    let (_server, base) = serve(dir.path(), &[]);
    let client = reqwest::Client::new();
    wait_healthy(&client, &base).await;
    let login = client
        .post(format!("{base}/api/session"))
        .json(&json!({"username": "leader", "password": "chengguo-demo"}))
        .send()
        .await
        .unwrap();
    let cookie = login.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let csrf = login.json::<serde_json::Value>().await.unwrap()["csrf_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let created: serde_json::Value = client
        .post(format!("{base}/api/registrations"))
        .header("cookie", &cookie)
        .header("x-csrf-token", &csrf)
        .json(&json!({"kind": "soft", "source": "non_fiscal", "consent": true}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = created["id"].as_str().expect("created");
    let bytes = b"%PDF-1.4\n%%EOF\n".to_vec();
    let announced: serde_json::Value = client
        .post(format!("{base}/api/registrations/{id}/attachments"))
        .header("cookie", &cookie)
        .header("x-csrf-token", &csrf)
        .json(&json!({"category": "work_summary", "filename": "总结.pdf", "content_type": "application/pdf", "size": bytes.len()}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let url = announced["upload"]["url"].as_str().unwrap();
    assert!(url.starts_with(&format!("{base}/files/")), "{url}");
    let put = client
        .put(url)
        .header("content-type", "application/pdf")
        .body(bytes.clone())
        .send()
        .await
        .unwrap();
    assert!(put.status().is_success(), "{}", put.status());
    let aid = announced["attachment"]["id"].as_str().unwrap();
    let confirmed: serde_json::Value = client
        .post(format!(
            "{base}/api/registrations/{id}/attachments/{aid}/confirm"
        ))
        .header("cookie", &cookie)
        .header("x-csrf-token", &csrf)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(confirmed["status"], "ready", "{confirmed}");
}

#[tokio::test]
async fn notice_days_come_from_the_environment_and_bad_values_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(BIN)
        .args(["serve", "--addr", "127.0.0.1:1", "--data"])
        .arg(dir.path())
        .env("CHENGGUO_WEBSITE_NOTICE_DAYS", "thirty")
        .output()
        .expect("run");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("CHENGGUO_WEBSITE_NOTICE_DAYS"), "{err}");
    let out = Command::new(BIN)
        .args(["serve", "--addr", "127.0.0.1:1", "--data"])
        .arg(dir.path())
        .env("CHENGGUO_BACKEND", "cloud")
        .output()
        .expect("run");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("CHENGGUO_BACKEND"));
}

#[test]
fn seed_demo_and_import_projects_work_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let seeded = Command::new(BIN)
        .args(["seed-demo", "--data"])
        .arg(dir.path())
        .env_remove("CHENGGUO_BACKEND")
        .output()
        .expect("seed-demo");
    assert!(
        seeded.status.success(),
        "{}",
        String::from_utf8_lossy(&seeded.stderr)
    );
    let csv = dir.path().join("projects.csv");
    std::fs::write(
        &csv,
        "项目编号,项目名称,计划类别,项目负责人账号,承担单位\n\
         2024B0101001,新型储能材料关键技术研究,广东省重点领域研发计划,leader-nodept,中山市示范科技有限公司\n\
         2024B0101002,单位不符,广东省重点领域研发计划,leader-b,中山市示范科技有限公司\n",
    )
    .unwrap();
    let run = || {
        Command::new(BIN)
            .args(["import-projects", "--data"])
            .arg(dir.path())
            .arg(&csv)
            .env_remove("CHENGGUO_BACKEND")
            .output()
            .expect("import-projects")
    };
    let first = run();
    assert!(
        first.status.success(),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    let text = String::from_utf8_lossy(&first.stdout);
    assert!(text.contains("新增 1 个"), "{text}");
    assert!(text.contains("第 3 行"), "{text}");
    let second = run();
    let text = String::from_utf8_lossy(&second.stdout);
    assert!(
        text.contains("新增 0 个") && text.contains("未变 1 个"),
        "{text}"
    );
}

#[test]
fn import_projects_reads_xlsx_workbooks_by_extension() {
    let dir = tempfile::tempdir().unwrap();
    let seeded = Command::new(BIN)
        .args(["seed-demo", "--data"])
        .arg(dir.path())
        .env_remove("CHENGGUO_BACKEND")
        .output()
        .expect("seed-demo");
    assert!(
        seeded.status.success(),
        "{}",
        String::from_utf8_lossy(&seeded.stderr)
    );
    // Row 1 header, row 2 good, row 3 empty, row 4 wrong leader, row 5 good with a numeric
    // project number, row 6 without a name.
    let rows: &[&[&str]] = &[
        &[
            "项目编号",
            "项目名称",
            "计划类别",
            "项目负责人账号",
            "承担单位",
        ],
        &[
            "2024B0101001",
            "新型储能材料关键技术研究",
            "广东省重点领域研发计划",
            "leader-nodept",
            "中山市示范科技有限公司",
        ],
        &[],
        &[
            "2024B0101002",
            "单位不符",
            "广东省重点领域研发计划",
            "leader-b",
            "中山市示范科技有限公司",
        ],
        &[
            "20240101003",
            "数字编号项目",
            "广东省科技创新战略专项",
            "leader-nodept",
            "91442000MA4UJ8K30D",
        ],
        &[
            "2024B0101004",
            "",
            "广东省科技创新战略专项",
            "leader-nodept",
            "中山市示范科技有限公司",
        ],
    ];
    let mut wb = rust_xlsxwriter::Workbook::new();
    let ws = wb.add_worksheet();
    for (r, cells) in rows.iter().enumerate() {
        for (c, v) in cells.iter().enumerate() {
            let (r, c) = (r as u32, c as u16);
            if r > 0 && c == 0 && v.chars().all(|ch| ch.is_ascii_digit()) {
                ws.write_number(r, c, v.parse::<f64>().unwrap()).unwrap();
            } else {
                ws.write_string(r, c, *v).unwrap();
            }
        }
    }
    let xlsx = dir.path().join("projects.xlsx");
    wb.save(&xlsx).unwrap();
    let run = || {
        Command::new(BIN)
            .args(["import-projects", "--data"])
            .arg(dir.path())
            .arg(&xlsx)
            .env_remove("CHENGGUO_BACKEND")
            .output()
            .expect("import-projects")
    };
    let first = run();
    assert!(
        first.status.success(),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    let text = String::from_utf8_lossy(&first.stdout);
    assert!(text.contains("新增 2 个"), "{text}");
    assert!(text.contains("拒绝 2 行"), "{text}");
    assert!(
        text.contains("第 4 行") && text.contains("第 6 行"),
        "{text}"
    );
    assert!(!text.contains("第 3 行"), "{text}");
    let second = run();
    let text = String::from_utf8_lossy(&second.stdout);
    assert!(
        text.contains("新增 0 个") && text.contains("更新 0 个") && text.contains("未变 2 个"),
        "{text}"
    );

    // An old .xls is refused with a message saying what to do.
    let xls = dir.path().join("projects.xls");
    std::fs::write(&xls, b"\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1").unwrap();
    let out = Command::new(BIN)
        .args(["import-projects", "--data"])
        .arg(dir.path())
        .arg(&xls)
        .env_remove("CHENGGUO_BACKEND")
        .output()
        .expect("import-projects");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains(".xlsx"));
}

#[test]
fn build_site_writes_the_public_site_and_a_second_run_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("site");
    let seeded = Command::new(BIN)
        .args(["seed-demo", "--data"])
        .arg(dir.path())
        .env_remove("CHENGGUO_BACKEND")
        .output()
        .expect("seed-demo");
    assert!(seeded.status.success());
    let build = || {
        Command::new(BIN)
            .args(["build-site", "--data"])
            .arg(dir.path())
            .arg("--out")
            .arg(&out)
            .env_remove("CHENGGUO_BACKEND")
            .output()
            .expect("build-site")
    };
    let first = build();
    assert!(
        first.status.success(),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    let text = String::from_utf8_lossy(&first.stdout);
    assert!(text.contains("公开网站已生成"), "{text}");
    let home = std::fs::read_to_string(out.join("index.html")).expect("home page");
    assert!(home.contains("lang=\"zh-CN\""));
    for page in [
        "notices/index.html",
        "registry/index.html",
        "404.html",
        "feed.xml",
        "sitemap.xml",
    ] {
        assert!(out.join(page).exists(), "{page}");
    }
    let second = build();
    let text = String::from_utf8_lossy(&second.stdout);
    assert!(text.contains("写入 0 个文件"), "{text}");
}

/// `chengguo create-admin` with the password on standard input.
fn create_admin(data: &std::path::Path, username: &str, password: &str) -> std::process::Output {
    use std::io::Write;
    let mut child = Command::new(BIN)
        .args(["create-admin", "--username", username, "--email"])
        .arg("it@example.org")
        .arg("--data")
        .arg(data)
        .env_remove("CHENGGUO_BACKEND")
        .env_remove("CHENGGUO_ADMIN_PASSWORD")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("create-admin");
    writeln!(child.stdin.take().unwrap(), "{password}").unwrap();
    child.wait_with_output().expect("create-admin ends")
}

#[tokio::test]
async fn create_admin_makes_the_first_account_of_a_new_installation() {
    let dir = tempfile::tempdir().unwrap();
    let short = create_admin(dir.path(), "root", "short");
    assert!(!short.status.success());
    assert!(
        String::from_utf8_lossy(&short.stderr).contains("密码至少8位"),
        "{}",
        String::from_utf8_lossy(&short.stderr)
    );
    let bad_name = create_admin(dir.path(), "../etc", "a long enough password");
    assert!(!bad_name.status.success());
    assert!(String::from_utf8_lossy(&bad_name.stderr).contains("用户名应为3至32位"));

    let made = create_admin(dir.path(), "root", "a long enough password");
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );
    assert!(String::from_utf8_lossy(&made.stdout).contains("已创建系统管理员账号“root”"));
    let again = create_admin(dir.path(), "root", "another long password");
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("已被使用"));

    // The server, started without demo data, lets that administrator in, and only with the
    // first password; the refused attempts created nothing.
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let _server = Server(
        Command::new(BIN)
            .args(["serve", "--addr", &format!("127.0.0.1:{port}"), "--data"])
            .arg(dir.path())
            .env_remove("CHENGGUO_BACKEND")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("serve"),
    );
    let client = reqwest::Client::new();
    wait_healthy(&client, &base).await;
    let login = |password: &'static str| {
        client
            .post(format!("{base}/api/session"))
            .json(&json!({"username": "root", "password": password}))
            .send()
    };
    assert_eq!(login("another long password").await.unwrap().status(), 401);
    let r = login("a long enough password").await.unwrap();
    assert_eq!(r.status(), 200);
    let cookie = r.headers()["set-cookie"].to_str().unwrap().to_owned();
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["user"]["role"], "admin");
    assert_eq!(body["user"]["email"], "it@example.org");
    let users: serde_json::Value = client
        .get(format!("{base}/api/admin/users"))
        .header("cookie", cookie.split(';').next().unwrap())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let names: Vec<&str> = users["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["username"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["root"]);
}
