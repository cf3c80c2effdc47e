//! Headless Chromium (Debian's, driven through chromedriver), as a customer's browser: its
//! own profile, the flags this machine's closed network needs, screenshots kept as artifacts.

use std::{path::PathBuf, process::Stdio, time::Duration};

use fantoccini::{Client, ClientBuilder, Locator, error::CmdError};
use test_kit::{eventually, free_port};

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// chromedriver on a port of its own and one Chromium session; both end with it.
pub struct Browser {
    pub client: Client,
    profile: PathBuf,
    screenshots: PathBuf,
    _driver: tokio::process::Child,
}

impl Browser {
    /// A browser whose screenshots go to `screenshots` (created).
    pub async fn start(screenshots: PathBuf) -> Self {
        let port = free_port();
        let driver = tokio::process::Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("chromedriver is installed by compose/stack/install.sh");
        eventually(
            Duration::from_secs(10),
            "chromedriver to listen",
            || async {
                tokio::net::TcpStream::connect(("127.0.0.1", port))
                    .await
                    .map(drop)
            },
        )
        .await;
        let profile = std::env::temp_dir().join(format!("mf-golden-{}", uuid::Uuid::new_v4()));
        let mut capabilities = serde_json::Map::new();
        capabilities.insert(
            "goog:chromeOptions".into(),
            serde_json::json!({
                "binary": CHROMIUM,
                "args": [
                    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                    "--no-first-run", "--disable-background-networking",
                    "--disable-component-update", "--disable-sync", "--window-size=1280,900",
                    format!("--user-data-dir={}", profile.display()),
                ],
            }),
        );
        // Chromium's console, for tests that read it through chromedriver's log endpoint.
        capabilities.insert(
            "goog:loggingPrefs".into(),
            serde_json::json!({"browser": "ALL"}),
        );
        let client = ClientBuilder::native()
            .capabilities(capabilities)
            .connect(&format!("http://127.0.0.1:{port}"))
            .await
            .expect("a Chromium session");
        std::fs::create_dir_all(&screenshots).expect("the screenshots folder");
        Self {
            client,
            profile,
            screenshots,
            _driver: driver,
        }
    }

    /// Fills the field with `id`.
    pub async fn fill(&self, id: &str, value: &str) -> Result<(), CmdError> {
        self.client
            .wait()
            .at_most(Duration::from_secs(10))
            .for_element(Locator::Id(id))
            .await?
            .send_keys(value)
            .await
    }

    /// Fills the first field matching the CSS `selector`.
    pub async fn fill_css(&self, selector: &str, value: &str) -> Result<(), CmdError> {
        self.client
            .wait()
            .at_most(Duration::from_secs(10))
            .for_element(Locator::Css(selector))
            .await?
            .send_keys(value)
            .await
    }

    /// Clicks the button whose text contains `label`.
    pub async fn press(&self, label: &str) -> Result<(), CmdError> {
        self.client
            .find(Locator::XPath(&format!("//button[contains(., '{label}')]")))
            .await?
            .click()
            .await
    }

    /// Waits (10 s at most) for a heading that contains `text`.
    pub async fn wait_for_heading(&self, text: &str) -> Result<(), CmdError> {
        self.client
            .wait()
            .at_most(Duration::from_secs(10))
            .for_element(Locator::XPath(&format!(
                "//*[self::h1 or self::h2][contains(., \"{text}\")]"
            )))
            .await
            .map(drop)
    }

    /// A screenshot of the page as it is, kept as `{name}.png` among the screenshots.
    pub async fn screenshot(&self, name: &str) -> Result<PathBuf, CmdError> {
        let path = self.screenshots.join(format!("{name}.png"));
        std::fs::write(&path, self.client.screenshot().await?).expect("a screenshot written");
        Ok(path)
    }

    /// The value of a cookie the browser holds for the current page's site.
    pub async fn cookie(&self, name: &str) -> Result<String, CmdError> {
        Ok(self.client.get_named_cookie(name).await?.value().to_owned())
    }

    pub async fn close(self) {
        self.client.close().await.ok();
        let _ = std::fs::remove_dir_all(&self.profile);
    }
}
