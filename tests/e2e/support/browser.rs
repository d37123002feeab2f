//! A small W3C WebDriver client over reqwest for the browser tests: chromedriver started on a
//! free port, one headless Chromium session per test, elements, keys, scripts, screenshots and
//! light / dark and phone / desktop emulation. Without chromedriver the tests fail, unless
//! `OKTAMIRROR_SKIP_BROWSER_TESTS=1` says to skip them (CI installs it: `.ci/run`).

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine;
use serde_json::{Value, json};

use super::STUCK;

/// The environment variable that lets a machine without Chromium skip the browser tests.
pub const SKIP: &str = "OKTAMIRROR_SKIP_BROWSER_TESTS";

/// WebDriver's key codes.
pub mod key {
    pub const ENTER: &str = "\u{E007}";
    pub const TAB: &str = "\u{E004}";
    pub const LEFT: &str = "\u{E012}";
    pub const RIGHT: &str = "\u{E014}";
    pub const DOWN: &str = "\u{E015}";
}

/// An element reference.
#[derive(Clone, Debug)]
pub struct Element(String);

/// chromedriver and one browser session; both end on drop.
pub struct Browser {
    driver: Child,
    base: String,
    session: String,
    http: reqwest::Client,
    _profile: tempfile::TempDir,
}

fn find_binary(names: &[&str]) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .flat_map(|dir| names.iter().map(move |n| dir.join(n)))
        .find(|p| p.is_file())
}

impl Browser {
    /// A fresh headless Chromium, or `None` when the machine says to skip browser tests.
    /// Panics when chromedriver or Chromium is missing and skipping was not asked for.
    pub async fn start() -> Option<Browser> {
        let driver_bin = find_binary(&["chromedriver"]);
        let chrome_bin = std::env::var_os("CHROME_BIN")
            .map(PathBuf::from)
            .or_else(|| find_binary(&["chromium", "chromium-browser", "google-chrome"]));
        let (Some(driver_bin), Some(chrome_bin)) = (driver_bin, chrome_bin) else {
            if std::env::var(SKIP).is_ok_and(|v| v == "1") {
                eprintln!("browser test skipped: {SKIP}=1 and no chromedriver/chromium");
                return None;
            }
            panic!(
                "the browser tests need chromedriver and chromium on PATH (apt-get install chromium chromium-driver); set {SKIP}=1 to skip them on a machine without a browser"
            );
        };
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
            l.local_addr().expect("addr").port()
        };
        let driver = Command::new(driver_bin)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start chromedriver");
        let base = format!("http://127.0.0.1:{port}");
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(120))
            .build()
            .expect("client");
        let started = Instant::now();
        loop {
            let ready = http
                .get(format!("{base}/status"))
                .send()
                .await
                .ok()
                .map(|r| r.status().is_success());
            if ready == Some(true) {
                break;
            }
            assert!(started.elapsed() < STUCK, "chromedriver never started");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let profile = tempfile::tempdir().expect("a browser profile directory");
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "pageLoadStrategy": "normal",
            "goog:chromeOptions": {
                "binary": chrome_bin,
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu",
                    "--disable-dev-shm-usage", "--window-size=1280,900", "--hide-scrollbars",
                    "--no-first-run", "--disable-extensions", "--lang=en-US",
                    format!("--user-data-dir={}", profile.path().display())],
            },
            "timeouts": {"script": 120_000, "pageLoad": 120_000, "implicit": 0},
        }}});
        let resp: Value = http
            .post(format!("{base}/session"))
            .json(&caps)
            .send()
            .await
            .expect("new session")
            .json()
            .await
            .expect("session json");
        let session = resp["value"]["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no session: {resp}"))
            .to_owned();
        Some(Browser {
            driver,
            base,
            session,
            http,
            _profile: profile,
        })
    }

    async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let url = format!("{}/session/{}{path}", self.base, self.session);
        let mut req = self.http.request(method, &url);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.expect("webdriver request");
        let status = resp.status();
        let v: Value = resp.json().await.expect("webdriver json");
        assert!(status.is_success(), "{path}: {status}: {v}");
        v["value"].clone()
    }

    async fn post(&self, path: &str, body: Value) -> Value {
        self.call(reqwest::Method::POST, path, Some(body)).await
    }

    async fn get(&self, path: &str) -> Value {
        self.call(reqwest::Method::GET, path, None).await
    }

    /// Loads `url` and waits for the load event.
    pub async fn goto(&self, url: &str) {
        self.post("/url", json!({ "url": url })).await;
    }

    /// The current URL.
    pub async fn url(&self) -> String {
        self.get("/url")
            .await
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    /// Runs `script` (a function body; `arguments` holds `args`) and returns its value.
    pub async fn js(&self, script: &str, args: Value) -> Value {
        self.post("/execute/sync", json!({ "script": script, "args": args }))
            .await
    }

    /// Elements matching a CSS selector (possibly none).
    pub async fn find_all(&self, css: &str) -> Vec<Element> {
        self.post(
            "/elements",
            json!({ "using": "css selector", "value": css }),
        )
        .await
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|e| e.as_object()?.values().next()?.as_str())
                .map(|id| Element(id.to_owned()))
                .collect()
        })
        .unwrap_or_default()
    }

    /// Waits until `css` matches something and returns the first match.
    pub async fn find(&self, css: &str) -> Element {
        let started = Instant::now();
        loop {
            if let Some(e) = self.find_all(css).await.into_iter().next() {
                return e;
            }
            if started.elapsed() > STUCK {
                let text = self
                    .js(
                        "return document.body ? document.body.innerText : '';",
                        json!([]),
                    )
                    .await;
                panic!("never found {css} on {}: {text}", self.url().await);
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Waits until the script `cond` (a function body returning a boolean) holds.
    pub async fn wait(&self, what: &str, cond: &str, args: Value) {
        let started = Instant::now();
        loop {
            if self.js(cond, args.clone()).await == Value::Bool(true) {
                return;
            }
            assert!(
                started.elapsed() < STUCK,
                "stuck waiting for {what} on {}",
                self.url().await
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The element's text as rendered.
    pub async fn text(&self, e: &Element) -> String {
        self.get(&format!("/element/{}/text", e.0))
            .await
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    pub async fn click(&self, e: &Element) {
        self.post(&format!("/element/{}/click", e.0), json!({}))
            .await;
    }

    /// Types into an element (focusing it first).
    pub async fn type_into(&self, e: &Element, text: &str) {
        self.post(&format!("/element/{}/value", e.0), json!({ "text": text }))
            .await;
    }

    /// Presses keys on whatever has the focus, as a person at the keyboard would.
    pub async fn press(&self, keys: &str) {
        let mut actions = Vec::new();
        for c in keys.chars() {
            actions.push(json!({"type": "keyDown", "value": c.to_string()}));
            actions.push(json!({"type": "keyUp", "value": c.to_string()}));
        }
        self.post(
            "/actions",
            json!({"actions": [{"type": "key", "id": "keyboard", "actions": actions}]}),
        )
        .await;
    }

    /// The focused element's `id`, or its tag and text when it has none.
    pub async fn focused(&self) -> String {
        self.js(
            "const e = document.activeElement; return e ? (e.id || (e.dataset && e.dataset.login) || e.tagName) : '';",
            json!([]),
        )
        .await
        .as_str()
        .unwrap_or_default()
        .to_owned()
    }

    /// Emulates a viewport `width` × `height` CSS pixels (a phone when `mobile`) and a colour
    /// scheme.
    pub async fn emulate(&self, width: u32, height: u32, mobile: bool, dark: bool) {
        self.cdp(
            "Emulation.setDeviceMetricsOverride",
            json!({"width": width, "height": height, "deviceScaleFactor": 1, "mobile": mobile}),
        )
        .await;
        self.cdp(
            "Emulation.setEmulatedMedia",
            json!({"features": [{"name": "prefers-color-scheme",
                "value": if dark { "dark" } else { "light" }}]}),
        )
        .await;
    }

    async fn cdp(&self, cmd: &str, params: Value) -> Value {
        self.post("/goog/cdp/execute", json!({ "cmd": cmd, "params": params }))
            .await
    }

    /// Saves a PNG screenshot of the viewport.
    pub async fn screenshot(&self, path: &std::path::Path) {
        let b64 = self.get("/screenshot").await;
        let png = base64::engine::general_purpose::STANDARD
            .decode(b64.as_str().expect("base64"))
            .expect("png");
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).expect("screenshot directory");
        }
        std::fs::write(path, png).expect("write screenshot");
    }

    /// Screenshots of the page at `url` at phone and desktop widths, light and dark, as
    /// `target/screenshots/{name}-{phone|desktop}-{light|dark}.png`.
    pub async fn screenshots(&self, url: &str, name: &str) {
        let dir = screenshot_dir();
        for (width, height, mobile, size) in
            [(390, 844, true, "phone"), (1280, 900, false, "desktop")]
        {
            for dark in [false, true] {
                self.emulate(width, height, mobile, dark).await;
                self.goto(url).await;
                self.wait(
                    "the page to load",
                    "return document.readyState === 'complete';",
                    json!([]),
                )
                .await;
                let theme = if dark { "dark" } else { "light" };
                self.screenshot(&dir.join(format!("{name}-{size}-{theme}.png")))
                    .await;
            }
        }
        self.emulate(1280, 900, false, false).await;
    }
}

/// `target/screenshots/` (under CARGO_TARGET_DIR when set).
pub fn screenshot_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target"));
    target.join("screenshots")
}

impl Drop for Browser {
    fn drop(&mut self) {
        // End the session (closing Chromium) on a thread of its own: drop may run inside the
        // test's runtime, where blocking on it is not allowed.
        let url = format!("{}/session/{}", self.base, self.session);
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build();
            if let Ok(rt) = rt {
                rt.block_on(async {
                    let _ = reqwest::Client::new().delete(&url).send().await;
                });
            }
        })
        .join();
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}
