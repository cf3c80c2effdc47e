//! The whole setup, in headless Chromium (Debian's, driven through chromedriver): from the link
//! in the setup email, through creating an account and naming the organization, to the
//! dashboards' empty state. Onboarding and dashboards run on their real addresses, so the
//! session cookie, the CSRF token and the Origin check all work as in production.

use std::{net::TcpListener, process::Stdio, time::Duration};

use fantoccini::{ClientBuilder, Locator};
use jira_simulator::{Simulator, SimulatorConfig, Target, WorkspaceSpec};
use service_kit::testing::{Mailbox, Stack, TestApp};

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// chromedriver on a port of its own, killed when dropped with the test.
struct Driver {
    _process: tokio::process::Child,
    port: u16,
}

impl Driver {
    async fn start() -> Self {
        let port = free_port();
        let child = tokio::process::Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("chromedriver is installed by compose/stack/install.sh");
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_err()
        {
            assert!(
                tokio::time::Instant::now() < deadline,
                "chromedriver did not start"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Self {
            _process: child,
            port,
        }
    }
}

#[tokio::test]
async fn an_admin_goes_from_the_setup_email_to_the_empty_dashboard_in_a_browser() {
    let stack = Stack::from_env();
    let postgres = stack.fresh_postgres().await;
    let clickhouse = stack.fresh_clickhouse().await;
    warehouse::migrate(&clickhouse.client()).await.unwrap();
    let sim = Simulator::start(SimulatorConfig::default()).await.unwrap();
    let (onboarding_port, dashboards_port) = (free_port(), free_port());
    let onboarding_url = format!("http://127.0.0.1:{onboarding_port}");
    let dashboards_url = format!("http://127.0.0.1:{dashboards_port}");

    let mut config = onboarding::Config::from_env().unwrap();
    config.server.listen = format!("127.0.0.1:{onboarding_port}").parse().unwrap();
    config.postgres = postgres.clone();
    config.clickhouse = clickhouse.clone();
    config.atlassian.public_base_url = onboarding_url.parse().unwrap();
    config.atlassian.install_keys_url = sim.install_keys_base_url().unwrap();
    config.atlassian.api_base_override = sim.url();
    config.accounts.dashboards_url = dashboards_url.parse().unwrap();
    config.accounts.cookie_secure = false;
    let _onboarding = TestApp::spawn(onboarding::build(config).await.unwrap());
    let mut config = dashboards::Config::from_env().unwrap();
    config.server.listen = format!("127.0.0.1:{dashboards_port}").parse().unwrap();
    config.postgres = postgres;
    config.clickhouse = clickhouse;
    config.onboarding_url = onboarding_url.parse().unwrap();
    let _dashboards = TestApp::spawn(dashboards::build(config).await.unwrap());

    let target = Target::new(
        onboarding_url.parse().unwrap(),
        onboarding_url.parse().unwrap(),
    );
    let installation = sim
        .install_connect(&target, &WorkspaceSpec::random())
        .await
        .unwrap();
    let mail = Mailbox::of_stack()
        .wait_for(
            &installation.installer_email,
            onboarding::mail::messages::SETUP_SUBJECT,
            0,
        )
        .await;
    let link = format!(
        "{onboarding_url}{}",
        mail.link_path(&format!("{onboarding_url}/setup/"))
    );

    let driver = Driver::start().await;
    let profile = std::env::temp_dir().join(format!("mf-chromium-{}", uuid::Uuid::new_v4()));
    let mut capabilities = serde_json::Map::new();
    capabilities.insert(
        "goog:chromeOptions".into(),
        serde_json::json!({
            "binary": CHROMIUM,
            "args": [
                "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                format!("--user-data-dir={}", profile.display()),
            ],
        }),
    );
    let browser = ClientBuilder::native()
        .capabilities(capabilities)
        .connect(&format!("http://127.0.0.1:{}", driver.port))
        .await
        .expect("a Chromium session");

    let walk = async {
        browser.goto(&link).await?;
        assert!(
            browser
                .source()
                .await?
                .contains("Finish connecting your Jira workspace")
        );
        browser
            .find(Locator::LinkText("Create an account"))
            .await?
            .click()
            .await?;
        browser
            .find(Locator::Id("email"))
            .await?
            .send_keys("admin@acme.example.test")
            .await?;
        browser
            .find(Locator::Id("password"))
            .await?
            .send_keys("a long enough password")
            .await?;
        browser
            .find(Locator::Css("button[type=submit]"))
            .await?
            .click()
            .await?;
        browser
            .wait()
            .for_element(Locator::Id("organization"))
            .await?
            .send_keys("Acme Engineering")
            .await?;
        browser
            .find(Locator::XPath(
                "//button[contains(., 'Create organization')]",
            ))
            .await?
            .click()
            .await?;
        browser
            .wait()
            .at_most(Duration::from_secs(10))
            .for_element(Locator::XPath(
                "//h1[contains(., 'MetaFrazo is now listening for Jira events')]",
            ))
            .await?;
        let url = browser.current_url().await?;
        Ok::<_, fantoccini::error::CmdError>(url)
    };
    let result = walk.await;
    let page = browser.source().await.unwrap_or_default();
    browser.close().await.ok();
    let _ = std::fs::remove_dir_all(&profile);
    let url = result.unwrap_or_else(|err| panic!("the walk failed: {err}\nlast page:\n{page}"));
    assert!(
        url.as_str().starts_with(&format!("{dashboards_url}/orgs/")),
        "{url}"
    );
    assert!(page.contains("Acme Engineering"));
}
