//! A small W3C WebDriver client over HTTP (reqwest), enough for these tests:
//! sessions, navigation, elements, scripts, screenshots and the Chrome
//! DevTools protocol through ChromeDriver's `goog/cdp/execute`.

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine;
use serde_json::{Value, json};

pub const CHROMIUM: &str = "/usr/bin/chromium";
pub const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const ELEMENT_KEY: &str = "element-6066-11e4-a52e-4f735466cecf";
/// How long `wait_for` waits by default.
pub const WAIT: Duration = Duration::from_secs(10);

/// ChromeDriver as a child process on a free port; killed on drop.
struct Driver {
    child: Child,
    url: String,
}

impl Drop for Browser {
    /// Closes the browser even when a test panics before `quit`: killing
    /// ChromeDriver alone would leave Chromium running.
    fn drop(&mut self) {
        use std::io::{Read, Write};
        let Some(hostport) = self.driver.url.strip_prefix("http://") else { return };
        if let Ok(mut s) = std::net::TcpStream::connect(hostport) {
            let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
            let req = format!(
                "DELETE /session/{} HTTP/1.1\r\nHost: {hostport}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                self.session
            );
            if s.write_all(req.as_bytes()).is_ok() {
                let mut sink = Vec::new();
                let _ = s.read_to_end(&mut sink);
            }
        }
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").expect("a free port").local_addr().expect("address").port()
}

pub struct Browser {
    http: reqwest::Client,
    session: String,
    driver: Driver,
    _profile: tempfile::TempDir,
    /// Where the app is, as the browser reaches it: `http://127.0.0.1:PORT`.
    pub root: String,
}

#[derive(Clone, Debug)]
pub struct Element(String);

impl Browser {
    /// Starts headless Chromium with a fresh profile, `width` CSS pixels wide.
    pub async fn start(root: &str, width: u32) -> Browser {
        Self::start_with(root, width, &[]).await
    }

    /// Starts Chromium as [`Browser::start`] does, with `extra` flags (a
    /// camera that plays a file, say).
    pub async fn start_with(root: &str, width: u32, extra: &[String]) -> Browser {
        assert!(
            std::path::Path::new(CHROMEDRIVER).exists() && std::path::Path::new(CHROMIUM).exists(),
            "Chromium is missing: run scripts/install-browser.sh (installs Debian's chromium and chromium-driver)"
        );
        let port = free_port();
        let child = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts");
        let driver = Driver { child, url: format!("http://127.0.0.1:{port}") };
        let http = reqwest::Client::builder().timeout(Duration::from_secs(60)).build().unwrap();
        let started = Instant::now();
        loop {
            if let Ok(r) = http.get(format!("{}/status", driver.url)).send().await
                && r.status().is_success()
            {
                break;
            }
            assert!(started.elapsed() < Duration::from_secs(20), "chromedriver did not come up");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let profile = tempfile::tempdir().expect("profile dir");
        let mut args: Vec<String> = [
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--disable-background-networking",
            "--disable-component-update",
            "--no-first-run",
            "--disable-sync",
            "--hide-scrollbars",
            "--force-device-scale-factor=1",
        ]
        .into_iter()
        .map(str::to_owned)
        .collect();
        args.push(format!("--user-data-dir={}", profile.path().display()));
        args.push(format!("--window-size={width},900"));
        args.extend(extra.iter().cloned());
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {"binary": CHROMIUM, "args": args}
        }}});
        let r: Value = http
            .post(format!("{}/session", driver.url))
            .json(&caps)
            .send()
            .await
            .expect("new session")
            .json()
            .await
            .expect("session JSON");
        let session = r["value"]["sessionId"].as_str().unwrap_or_else(|| panic!("no session: {r}")).to_owned();
        let browser = Browser { http, session, driver, _profile: profile, root: root.to_owned() };
        browser.set_width(width).await;
        browser
    }

    async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let url = format!("{}/session/{}{path}", self.driver.url, self.session);
        let mut req = self.http.request(method, &url);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.unwrap_or_else(|e| panic!("webdriver {path}: {e}"));
        let v: Value = resp.json().await.expect("webdriver JSON");
        if let Some(err) = v["value"].get("error") {
            panic!("webdriver {path} failed: {err} {}", v["value"]["message"]);
        }
        v["value"].clone()
    }

    async fn post(&self, path: &str, body: Value) -> Value {
        self.call(reqwest::Method::POST, path, Some(body)).await
    }

    /// Sets the viewport width (the window is a little wider than the viewport).
    pub async fn set_width(&self, width: u32) {
        self.post("/window/rect", json!({"width": width, "height": 900})).await;
        // Headless windows have no chrome, but make sure the page sees `width` CSS pixels.
        let _ = self
            .cdp(
                "Emulation.setDeviceMetricsOverride",
                json!({"width": width, "height": 900, "deviceScaleFactor": 1, "mobile": width < 600}),
            )
            .await;
    }

    pub async fn goto(&self, path: &str) {
        let url = if path.starts_with("http") { path.to_owned() } else { format!("{}{path}", self.root) };
        self.post("/url", json!({"url": url})).await;
    }

    /// The current path (and query).
    pub async fn path(&self) -> String {
        let url = self.call(reqwest::Method::GET, "/url", None).await.as_str().unwrap_or_default().to_owned();
        url.strip_prefix(&self.root).unwrap_or(&url).to_owned()
    }

    pub async fn find(&self, css: &str) -> Element {
        let v = self.post("/element", json!({"using": "css selector", "value": css})).await;
        Element(v[ELEMENT_KEY].as_str().unwrap_or_else(|| panic!("no element {css}")).to_owned())
    }

    /// Clicks like a person: scrolled to the middle of the screen first, so
    /// sticky bars do not cover the target.
    pub async fn click(&self, css: &str) {
        let e = self.find(css).await;
        self.js("arguments[0].scrollIntoView({block: 'center', inline: 'center'})", vec![json!({ELEMENT_KEY: e.0})])
            .await;
        self.post(&format!("/element/{}/click", e.0), json!({})).await;
    }

    pub async fn fill(&self, css: &str, text: &str) {
        let e = self.find(css).await;
        self.post(&format!("/element/{}/clear", e.0), json!({})).await;
        self.post(&format!("/element/{}/value", e.0), json!({"text": text})).await;
    }

    pub async fn text(&self, css: &str) -> String {
        let e = self.find(css).await;
        self.call(reqwest::Method::GET, &format!("/element/{}/text", e.0), None)
            .await
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    pub async fn js(&self, script: &str, args: Vec<Value>) -> Value {
        self.post("/execute/sync", json!({"script": script, "args": args})).await
    }

    /// Runs an async script: its last argument is the callback to call with the result.
    pub async fn js_async(&self, script: &str, args: Vec<Value>) -> Value {
        self.post("/execute/async", json!({"script": script, "args": args})).await
    }

    /// Waits until `condition` (a JS expression) is truthy, or panics with `what`.
    pub async fn wait_for(&self, condition: &str, what: &str) {
        self.wait_for_within(condition, what, WAIT).await;
    }

    pub async fn wait_for_within(&self, condition: &str, what: &str, limit: Duration) -> Duration {
        let started = Instant::now();
        let script = format!("try {{ return !!({condition}); }} catch (e) {{ return false; }}");
        loop {
            if self.js(&script, vec![]).await.as_bool() == Some(true) {
                return started.elapsed();
            }
            if started.elapsed() > limit {
                let path = self.path().await;
                let body = self.js("return document.body ? document.body.innerText.slice(0, 2000) : ''", vec![]).await;
                panic!(
                    "timed out after {limit:?} waiting for {what} ({condition}) on {path}\npage text:\n{}",
                    body.as_str().unwrap_or("")
                );
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    pub async fn screenshot(&self, file: &str) {
        let v = self.call(reqwest::Method::GET, "/screenshot", None).await;
        let png = base64::engine::general_purpose::STANDARD
            .decode(v.as_str().unwrap_or_default())
            .expect("screenshot base64");
        std::fs::write(file, png).expect("screenshot written");
    }

    /// A Chrome DevTools protocol command.
    pub async fn cdp(&self, cmd: &str, params: Value) -> Value {
        let url = format!("{}/session/{}/goog/cdp/execute", self.driver.url, self.session);
        let v: Value = self
            .http
            .post(&url)
            .json(&json!({"cmd": cmd, "params": params}))
            .send()
            .await
            .expect("cdp")
            .json()
            .await
            .expect("cdp JSON");
        v["value"].clone()
    }

    /// Cuts the browser off the network (or restores it): `navigator.onLine` follows.
    pub async fn set_offline(&self, offline: bool) {
        self.cdp("Network.enable", json!({})).await;
        self.cdp(
            "Network.emulateNetworkConditions",
            json!({"offline": offline, "latency": 0, "downloadThroughput": -1, "uploadThroughput": -1}),
        )
        .await;
    }

    /// Closes the browser (dropping it does the same).
    pub async fn quit(self) {
        drop(self);
    }
}
