//! The browser test harness: the real server in-process on 127.0.0.1 (embedded backend in a temp
//! dir, demo seeded, a manual clock), Debian's chromedriver on a free port driving headless
//! Chromium with a fresh profile, and helpers that read like what a person does: log in, go to a
//! page, fill a field, press a button and wait for the next page, keep a screenshot.
//!
//! Everything started here stops by itself: the server task ends with the test's runtime, and
//! chromedriver (with the Chromium it started, in the same process group) is killed by its id
//! when the [`Browser`] is dropped. Every wait is bounded.

// Some helpers serve only the staff tests.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chengguo_api::{AppState, Config};
use chengguo_domain::ports::{Clock, ManualClock};
use fantoccini::elements::Element;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};

pub use chengguo_tests::{DEMO_PASSWORD, START};

/// Debian's Chromium and its WebDriver.
pub const CHROMIUM: &str = "/usr/bin/chromium";
/// Longest wait for a page, an element or a condition.
pub const WAIT: Duration = Duration::from_secs(30);

/// Why the browser tests cannot run here, if they cannot.
pub fn skip_reason() -> Option<String> {
    if !Path::new(CHROMIUM).exists() {
        return Some(format!("{CHROMIUM} not found"));
    }
    if chromedriver().is_none() {
        return Some("chromedriver not found".into());
    }
    None
}

fn chromedriver() -> Option<PathBuf> {
    ["/usr/bin/chromedriver", "/usr/lib/chromium/chromedriver"]
        .into_iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
}

/// Prints the skip line and returns true when the browser tests cannot run.
pub fn skipped(test: &str) -> bool {
    match skip_reason() {
        Some(why) => {
            eprintln!(
                "skipped: browser test {test}: {why} (install with scripts/browser-deps.sh: Debian's chromium and chromium-driver)"
            );
            true
        }
        None => false,
    }
}

/// Where screenshots are kept: `$CARGO_TARGET_DIR/browser-artifacts` (or the workspace's
/// `target/`), or `CHENGGUO_BROWSER_ARTIFACTS`.
pub fn artifacts_dir() -> PathBuf {
    let dir = std::env::var_os("CHENGGUO_BROWSER_ARTIFACTS")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            std::env::var_os("CARGO_TARGET_DIR")
                .map(PathBuf::from)
                .unwrap_or_else(|| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../target")))
                .join("browser-artifacts")
        });
    std::fs::create_dir_all(&dir).expect("artifacts dir");
    dir
}

/// axe-core's script: `CHENGGUO_AXE_JS`, or where scripts/browser-deps.sh installs it.
pub fn axe_source() -> Option<&'static str> {
    static AXE: std::sync::OnceLock<Option<String>> = std::sync::OnceLock::new();
    AXE.get_or_init(|| {
        let path = std::env::var_os("CHENGGUO_AXE_JS")
            .map(PathBuf::from)
            .unwrap_or_else(|| {
                std::env::var_os("CARGO_TARGET_DIR")
                    .map(PathBuf::from)
                    .unwrap_or_else(|| {
                        PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../target"))
                    })
                    .join("browser-deps/node_modules/axe-core/axe.min.js")
            });
        match std::fs::read_to_string(&path) {
            Ok(s) => Some(s),
            Err(_) => {
                eprintln!(
                    "skipped: accessibility checks: axe-core not found at {} (install with scripts/browser-deps.sh)",
                    path.display()
                );
                None
            }
        }
    })
    .as_deref()
}

/// Browser tests run one at a time: two cores do not carry several Chromiums and a build.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// The system under test, serving on 127.0.0.1 until the test ends.
pub struct Server {
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    pub state: AppState,
    /// The server's clock: starts at [`START`]; move it with [`Server::advance_days`].
    pub clock: Arc<ManualClock>,
    task: tokio::task::JoinHandle<()>,
    _data: tempfile::TempDir,
    _serial: tokio::sync::MutexGuard<'static, ()>,
}

impl Server {
    /// Starts the local server (API, signed file URLs and pages) with the demo organisation.
    pub async fn start() -> Server {
        let serial = SERIAL.lock().await;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind 127.0.0.1");
        let addr = listener.local_addr().expect("local addr");
        let url = format!("http://{addr}");
        let data = tempfile::tempdir().expect("temp dir");
        let clock = Arc::new(ManualClock::new(START));
        let dyn_clock: Arc<dyn Clock> = clock.clone();
        let config = Config {
            public_url: url.clone(),
            mail_inline: true,
            ..Config::default()
        };
        let backend = chengguo::backend::Backend::Embedded {
            data: data.path().to_path_buf(),
            public_url: url.clone(),
        };
        let state = chengguo::backend::open(&backend, config, dyn_clock)
            .await
            .expect("embedded backend");
        chengguo_api::seed::seed_demo(state.store.as_ref(), START)
            .await
            .expect("demo seed");
        let app = chengguo::backend::app_router(state.clone())
            .into_make_service_with_connect_info::<SocketAddr>();
        let task = tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, app).await {
                eprintln!("test server stopped: {e}");
            }
        });
        Server {
            url,
            state,
            clock,
            task,
            _data: data,
            _serial: serial,
        }
    }

    /// The absolute URL of a path.
    pub fn at(&self, path: &str) -> String {
        format!("{}{path}", self.url)
    }

    /// Moves the server's clock by whole days (sessions last 12 hours: log in again after).
    pub fn advance_days(&self, days: i64) {
        self.clock.advance(time::Duration::days(days));
    }

    /// A demo user by username.
    pub async fn user(&self, username: &str) -> chengguo_domain::org::User {
        self.state
            .store
            .find_user(username)
            .await
            .expect("store")
            .expect("demo user")
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A headless Chromium driven through chromedriver.
pub struct Browser {
    pub client: Client,
    /// The server's base URL.
    pub base: String,
    /// Prefix of this test's screenshots.
    pub name: String,
    driver: Child,
    _profile: tempfile::TempDir,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

impl Browser {
    /// Starts chromedriver and a headless Chromium (1280×900) for the server at `base`;
    /// screenshots are named `{name}-…`.
    pub async fn start(base: &str, name: &str) -> Browser {
        let driver_bin = chromedriver().expect("chromedriver (see skip_reason)");
        let profile = tempfile::tempdir().expect("profile dir");
        let port = free_port();
        let log = std::fs::File::create(profile.path().join("chromedriver.log")).expect("log");
        let mut cmd = Command::new(driver_bin);
        cmd.arg(format!("--port={port}"))
            .arg("--allowed-ips=127.0.0.1")
            .stdin(Stdio::null())
            .stdout(Stdio::from(log.try_clone().expect("log")))
            .stderr(Stdio::from(log));
        // Its own process group, so that dropping the browser ends Chromium too.
        #[cfg(unix)]
        {
            use std::os::unix::process::CommandExt;
            cmd.process_group(0);
        }
        let driver = cmd.spawn().expect("start chromedriver");
        let mut browser_guard = DriverGuard(Some(driver));
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "chromedriver did not start");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let user_data = profile.path().join("chromium");
        let caps = json!({
            "browserName": "chrome",
            "pageLoadStrategy": "normal",
            "timeouts": {"pageLoad": 30000, "script": 30000, "implicit": 0},
            "goog:chromeOptions": {
                "binary": CHROMIUM,
                "args": [
                    "--headless=new",
                    "--no-sandbox",
                    "--disable-gpu",
                    "--disable-dev-shm-usage",
                    "--disable-background-networking",
                    "--disable-component-update",
                    "--disable-sync",
                    "--disable-extensions",
                    "--no-first-run",
                    "--no-default-browser-check",
                    "--lang=zh-CN",
                    "--window-size=1280,900",
                    format!("--user-data-dir={}", user_data.display()),
                ],
            },
        });
        let caps = match caps {
            Value::Object(m) => m,
            _ => unreachable!(),
        };
        let client = tokio::time::timeout(
            Duration::from_secs(60),
            ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
                .capabilities(caps)
                .connect(&format!("http://127.0.0.1:{port}")),
        )
        .await
        .expect("Chromium session within 60 s")
        .unwrap_or_else(|e| {
            let log = std::fs::read_to_string(profile.path().join("chromedriver.log"))
                .unwrap_or_default();
            panic!("starting Chromium: {e}\nchromedriver log:\n{log}")
        });
        Browser {
            client,
            base: base.trim_end_matches('/').to_owned(),
            name: name.to_owned(),
            driver: browser_guard.0.take().expect("driver"),
            _profile: profile,
        }
    }

    /// Ends the session and the processes.
    pub async fn close(self) {
        let _ = tokio::time::timeout(Duration::from_secs(10), self.client.clone().close()).await;
        // Drop kills what is left.
    }

    /// Opens a path of the server and waits for the page.
    pub async fn goto(&self, path: &str) {
        let url = if path.starts_with("http") {
            path.to_owned()
        } else {
            format!("{}{path}", self.base)
        };
        self.client
            .goto(&url)
            .await
            .unwrap_or_else(|e| panic!("goto {url}: {e}"));
        self.wait_ready().await;
    }

    /// The current path and query.
    pub async fn path(&self) -> String {
        let u = self.client.current_url().await.expect("url");
        match u.query() {
            Some(q) => format!("{}?{q}", u.path()),
            None => u.path().to_owned(),
        }
    }

    /// Runs a script and returns its value.
    pub async fn js(&self, script: &str) -> Value {
        self.client
            .execute(script, Vec::new())
            .await
            .unwrap_or_else(|e| panic!("script failed: {e}\n{script}"))
    }

    async fn wait_ready(&self) {
        self.until("the page to load", || async {
            self.client
                .execute("return document.readyState", Vec::new())
                .await
                .ok()
                .is_some_and(|v| v == "complete")
        })
        .await;
    }

    /// Polls `cond` until it holds; panics after [`WAIT`] naming what was awaited.
    pub async fn until<F, Fut>(&self, what: &str, mut cond: F)
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = bool>,
    {
        let deadline = Instant::now() + WAIT;
        loop {
            if cond().await {
                return;
            }
            if Instant::now() > deadline {
                let path = self.path().await;
                let text = self.text().await;
                panic!(
                    "timed out waiting for {what} on {path}\npage text:\n{}",
                    text.chars().take(3000).collect::<String>()
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The visible text of the page.
    pub async fn text(&self) -> String {
        self.client
            .execute(
                "return document.body ? document.body.innerText : ''",
                Vec::new(),
            )
            .await
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default()
    }

    /// Waits until the page shows `needle`.
    pub async fn wait_text(&self, needle: &str) {
        self.until(&format!("text “{needle}”"), || async {
            self.text().await.contains(needle)
        })
        .await;
    }

    /// The element with this id (ids here are field paths such as `units[0].name`).
    pub async fn id(&self, id: &str) -> Element {
        self.find(Locator::Id(id), id).await
    }

    /// The first element matching a CSS selector.
    pub async fn css(&self, selector: &str) -> Element {
        self.find(Locator::Css(selector), selector).await
    }

    async fn find(&self, loc: Locator<'_>, what: &str) -> Element {
        match self.client.wait().at_most(WAIT).for_element(loc).await {
            Ok(e) => e,
            Err(e) => {
                let path = self.path().await;
                panic!("no element {what} on {path}: {e}");
            }
        }
    }

    /// Whether an element with this id is on the page now.
    pub async fn has_id(&self, id: &str) -> bool {
        self.client.find(Locator::Id(id)).await.is_ok()
    }

    /// Marks the current document, so that a new page can be told from it.
    async fn mark(&self) {
        self.js("document.documentElement.setAttribute('data-test-old', '1'); return null")
            .await;
    }

    /// Waits until the marked document was replaced and the new one has loaded.
    pub async fn wait_new_page(&self) {
        self.until("the next page", || async {
            self.client
                .execute(
                    "return document.readyState === 'complete' && !document.documentElement.hasAttribute('data-test-old')",
                    Vec::new(),
                )
                .await
                .ok()
                .is_some_and(|v| v == true)
        })
        .await;
    }

    /// Scrolls `el` to the middle of the window, clear of the sticky bar, as a person would
    /// before using it.
    pub async fn reveal(&self, el: &Element) {
        let arg = serde_json::to_value(el).expect("element reference");
        let _ = self
            .client
            .execute(
                "arguments[0].scrollIntoView({block: 'center', inline: 'nearest'}); return null",
                vec![arg],
            )
            .await;
    }

    /// Clicks `el` (a submit button or link) and waits for the page it leads to.
    pub async fn click_and_wait(&self, el: Element) {
        self.mark().await;
        self.reveal(&el).await;
        el.click().await.expect("click");
        self.wait_new_page().await;
    }

    /// Clicks the element with this id and waits for the next page.
    pub async fn press(&self, id: &str) {
        let el = self.id(id).await;
        self.click_and_wait(el).await;
    }

    /// Clicks the first element matching `selector` and waits for the next page.
    pub async fn press_css(&self, selector: &str) {
        let el = self.css(selector).await;
        self.click_and_wait(el).await;
    }

    /// Types `value` into the text input or textarea with this id, replacing what was there.
    pub async fn type_into(&self, id: &str, value: &str) {
        let el = self.id(id).await;
        el.clear()
            .await
            .unwrap_or_else(|e| panic!("clear {id}: {e}"));
        if !value.is_empty() {
            el.send_keys(value)
                .await
                .unwrap_or_else(|e| panic!("type into {id}: {e}"));
        }
    }

    /// Sets a form field of the registration form by its path, whatever its widget: text
    /// input, textarea, select, radio group (a fieldset with that id) or checkbox.
    pub async fn set_field(&self, id: &str, value: &str) {
        let el = self.id(id).await;
        self.reveal(&el).await;
        let tag = el.tag_name().await.expect("tag").to_ascii_lowercase();
        match tag.as_str() {
            "select" => el
                .select_by_value(value)
                .await
                .unwrap_or_else(|e| panic!("select {value} in {id}: {e}")),
            "fieldset" => {
                let radio = self.id(&format!("{id}--{value}")).await;
                self.reveal(&radio).await;
                radio
                    .click()
                    .await
                    .unwrap_or_else(|e| panic!("choose {id}={value}: {e}"));
            }
            "input" if el.attr("type").await.ok().flatten().as_deref() == Some("checkbox") => {
                let on = el.is_selected().await.unwrap_or(false);
                if on != (value == "true") {
                    el.click().await.expect("toggle checkbox");
                }
            }
            _ => self.type_into(id, value).await,
        }
    }

    /// The value of the input with this id.
    pub async fn value_of(&self, id: &str) -> String {
        self.id(id)
            .await
            .prop("value")
            .await
            .ok()
            .flatten()
            .unwrap_or_default()
    }

    /// Checks what every page must be: Chinese, no inline script or style (the CSP forbids
    /// them), every form control labelled, no horizontal scrolling.
    pub async fn assert_page_sound(&self) {
        let report = self
            .js(r#"
const problems = [];
if (document.documentElement.lang !== 'zh-CN') problems.push('lang is not zh-CN');
document.querySelectorAll('script').forEach(s => { if (!s.src) problems.push('inline script'); });
document.querySelectorAll('[style]').forEach(e => problems.push('inline style on ' + e.tagName));
document.querySelectorAll('*').forEach(e => {
  for (const a of e.attributes) if (a.name.startsWith('on')) problems.push('inline handler ' + a.name);
});
document.querySelectorAll('input:not([type=hidden]), select, textarea').forEach(e => {
  const named = (e.labels && e.labels.length) || e.getAttribute('aria-label') || e.getAttribute('aria-labelledby');
  if (!named) problems.push('unlabelled ' + e.tagName + ' ' + (e.id || e.name));
});
const ids = {};
document.querySelectorAll('[id]').forEach(e => { if (ids[e.id]) problems.push('duplicate id ' + e.id); ids[e.id] = 1; });
if (document.documentElement.scrollWidth > window.innerWidth + 1)
  problems.push('scrolls sideways: ' + document.documentElement.scrollWidth + ' > ' + window.innerWidth);
return problems;
"#)
            .await;
        let problems: Vec<String> = serde_json::from_value(report).unwrap_or_default();
        let path = self.path().await;
        assert!(problems.is_empty(), "{path}: {problems:#?}");
        self.assert_accessible().await;
    }

    /// Runs axe-core on the page: no WCAG 2.1 A or AA violation. Without axe-core installed
    /// (scripts/browser-deps.sh) it says so once and checks nothing.
    pub async fn assert_accessible(&self) {
        let Some(violations) = self.axe_violations().await else {
            return;
        };
        let path = self.path().await;
        let list = violations.as_array().cloned().unwrap_or_default();
        assert!(
            list.is_empty(),
            "{path}: WCAG 2.1 AA violations (axe-core):\n{}",
            serde_json::to_string_pretty(&violations).unwrap_or_default()
        );
    }

    /// Keeps a full-page PNG of the current page as `{name}-{step}.png`; returns its path.
    pub async fn screenshot(&self, step: &str) -> PathBuf {
        self.js("window.scrollTo(0, 0); return null").await;
        let (w, h) = self.client.get_window_size().await.expect("window size");
        let full = self
            .js("return Math.max(document.documentElement.scrollHeight, document.body ? document.body.scrollHeight : 0)")
            .await
            .as_f64()
            .unwrap_or(h as f64);
        let tall = (full as u32 + 40).clamp(h as u32, 12_000);
        if tall > h as u32 {
            let _ = self.client.set_window_size(w as u32, tall).await;
        }
        let png = self.client.screenshot().await.expect("screenshot");
        if tall > h as u32 {
            let _ = self.client.set_window_size(w as u32, h as u32).await;
        }
        let path = artifacts_dir().join(format!("{}-{step}.png", self.name));
        std::fs::write(&path, png).expect("write screenshot");
        eprintln!("screenshot: {}", path.display());
        path
    }

    /// Presses and releases one key where the focus is.
    pub async fn key(&self, key: fantoccini::key::Key) {
        use fantoccini::actions::{InputSource, KeyAction, KeyActions};
        let c: char = key.into();
        let actions = KeyActions::new("keyboard".into())
            .then(KeyAction::Down { value: c })
            .then(KeyAction::Up { value: c });
        self.client
            .perform_actions(actions)
            .await
            .expect("key press");
    }

    /// The WCAG 2.1 A/AA violations axe-core finds on the page (id, impact, help, nodes), or
    /// `None` without axe-core.
    pub async fn axe_violations(&self) -> Option<Value> {
        let axe = axe_source()?;
        self.client
            .execute(&format!("{axe}\n;return null;"), Vec::new())
            .await
            .expect("load axe-core");
        let violations = self
            .client
            .execute_async(
                r#"
const done = arguments[arguments.length - 1];
axe.run(document, {
  runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']},
  resultTypes: ['violations'],
}).then(r => done(r.violations.map(v => ({
  id: v.id, impact: v.impact, help: v.help,
  nodes: v.nodes.slice(0, 5).map(n => n.target.join(' ') + ' — ' + (n.failureSummary || '')),
})))).catch(e => done([{id: 'axe-error', help: String(e)}]));
"#,
                Vec::new(),
            )
            .await
            .expect("run axe-core");
        Some(violations)
    }

    /// Resizes the window (e.g. 375 wide for a phone).
    pub async fn resize(&self, width: u32, height: u32) {
        self.client
            .set_window_size(width, height)
            .await
            .expect("resize");
    }
}

/// Kills chromedriver's process group if starting the browser fails half way.
struct DriverGuard(Option<Child>);

impl Drop for DriverGuard {
    fn drop(&mut self) {
        if let Some(child) = self.0.as_mut() {
            kill_group(child);
        }
    }
}

fn kill_group(child: &mut Child) {
    let pid = child.id();
    // The group we created for chromedriver: chromedriver and the Chromium it started.
    let _ = Command::new("kill")
        .args(["-KILL", "--", &format!("-{pid}")])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
    let _ = child.kill();
    let _ = child.wait();
}

impl Drop for Browser {
    fn drop(&mut self) {
        kill_group(&mut self.driver);
    }
}

// ---------------------------------------------------------------------------------------------
// Steps a person takes, shared by the applicant and staff tests.

/// Logs in a demo account through the login page and waits for its home page.
pub async fn login(b: &Browser, username: &str) {
    b.goto("/login").await;
    b.type_into("username", username).await;
    b.type_into("password", DEMO_PASSWORD).await;
    b.press_css("form[action='/login'] button[type=submit]")
        .await;
    let path = b.path().await;
    assert!(
        !path.starts_with("/login"),
        "login {username} failed: {}",
        b.text().await
    );
}

/// Logs out through the header's button.
pub async fn logout(b: &Browser) {
    b.press_css("form.logout button[type=submit]").await;
    assert!(b.path().await.starts_with("/login"));
}

/// Writes a small valid PDF named `name` into `dir`.
pub fn pdf_file(dir: &Path, name: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, chengguo_tests::pdf_bytes(name)).expect("write pdf");
    path
}

/// A registration's id from a page path such as `/app/r/{id}/edit`.
pub fn id_from_path(path: &str) -> String {
    path.split('/')
        .skip_while(|s| *s != "r")
        .nth(1)
        .map(|s| s.split(['?', '#']).next().unwrap_or(s).to_owned())
        .expect("a record path")
}

// ---------------------------------------------------------------------------------------------
// Shortcuts through the use cases, for tests that start from a record further along.

/// A registration of `username` (a leader), of `kind`, created, filled from the fixture and
/// given every required material, still a draft. Returns its id.
pub async fn filled_record(server: &Server, username: &str, kind: &str) -> String {
    use chengguo_api::service::{self, CreateRequest};
    use chengguo_domain::record::{Attachment, AttachmentStatus};
    let leader = server.user(username).await;
    let fixture = chengguo_tests::form(kind);
    let source = if kind == "applied" {
        "other_fiscal"
    } else {
        "non_fiscal"
    };
    let reg = service::create_registration(
        &server.state,
        &leader,
        CreateRequest {
            kind: kind.into(),
            source: source.into(),
            consent: true,
            authority_id: None,
            project: None,
        },
    )
    .await
    .expect("create");
    let mut fields = fixture.as_object().expect("fixture object").clone();
    if source == "non_fiscal" {
        // Non-fiscal achievements need a third-party evaluation; the first unit stays local.
        let method = match kind {
            "basic" => "appraisal",
            "soft" => "third_party_review",
            _ => "third_party",
        };
        fields["evaluation"]["method"] = json!(method);
    }
    let reg = service::patch(&server.state, &leader, &reg.id, reg.version, &fields)
        .await
        .expect("fill the form");
    let now = server.state.clock.now();
    for category in chengguo_tests::required_categories(kind) {
        let bytes = chengguo_tests::pdf_bytes(category);
        let aid = uuid_like(category);
        let key = Attachment::key_for(&reg.id, &aid);
        server
            .state
            .blobs
            .put(&key, bytes.clone(), "application/pdf")
            .await
            .expect("store the file");
        server
            .state
            .store
            .put_attachment(&Attachment {
                id: aid,
                registration_id: reg.id.clone(),
                category: category.into(),
                filename: format!("{category}.pdf"),
                content_type: "application/pdf".into(),
                size: bytes.len() as u64,
                status: AttachmentStatus::Ready,
                sha256: None,
                key,
                uploaded_by: username.into(),
                created_at: now,
                expires_at: now,
            })
            .await
            .expect("attachment");
    }
    reg.id
}

fn uuid_like(category: &str) -> String {
    format!("att-{category}-{}", START.unix_timestamp())
}

/// Performs `action` on the record as `username`, on its current version.
pub async fn act(
    server: &Server,
    username: &str,
    id: &str,
    action: chengguo_domain::Action,
    opinion: Option<&str>,
) -> chengguo_domain::Registration {
    let user = server.user(username).await;
    let reg = server
        .state
        .store
        .get_registration(id)
        .await
        .expect("store")
        .expect("record");
    let req = chengguo_domain::workflow::ActionRequest {
        version: reg.version,
        opinion: opinion.map(str::to_owned),
        ..Default::default()
    };
    chengguo_api::service::act(&server.state, &user, id, action, req)
        .await
        .unwrap_or_else(|e| panic!("{username} {action}: {e}"))
}
