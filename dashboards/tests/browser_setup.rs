//! The whole setup, in headless Chromium (Debian's, driven through chromedriver): from the link
//! in the setup email, through creating an account and naming the organization, to the
//! dashboards' empty state. Onboarding and dashboards run on their real addresses, so the
//! session cookie, the CSRF token and the Origin check all work as in production.

use std::time::Duration;

use fantoccini::{
    Locator,
    actions::{InputSource, MouseActions, PointerAction},
    wd::WebDriverCompatibleCommand,
};
use golden_path::browser::Browser;
use jira_simulator::{Simulator, SimulatorConfig, Target, WorkspaceSpec};
use test_kit::{Mailbox, Stack, TestApp, free_port};

/// Chromium's console, through chromedriver's log endpoint (outside W3C WebDriver, so fantoccini
/// has no call for it).
#[derive(Debug)]
struct BrowserLog;

impl WebDriverCompatibleCommand for BrowserLog {
    fn endpoint(
        &self,
        base: &url::Url,
        session: Option<&str>,
    ) -> Result<url::Url, url::ParseError> {
        base.join(&format!("session/{}/se/log", session.unwrap_or_default()))
    }

    fn method_and_body(&self, _: &url::Url) -> (axum::http::Method, Option<String>) {
        (
            axum::http::Method::POST,
            Some(r#"{"type":"browser"}"#.to_owned()),
        )
    }
}

/// Where screenshots are kept as test artifacts.
fn screenshots() -> std::path::PathBuf {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Onboarding and dashboards on their real addresses over one fresh Postgres and ClickHouse,
/// with one workspace installed through the simulator and its setup email read.
struct Services {
    dashboards_url: String,
    clickhouse: service_runtime::connections::ClickHouseConfig,
    /// MetaFrazo's id for it, as onboarding recorded it: what the warehouse is keyed by.
    installation_id: contracts::InstallationId,
    /// The setup email's link.
    link: String,
    _apps: (TestApp, TestApp, Simulator),
}

async fn services() -> Services {
    let stack = Stack::from_env();
    let postgres = stack.fresh_postgres().await;
    let clickhouse = stack.fresh_clickhouse().await;
    warehouse::migrate(&clickhouse).await.unwrap();
    let sim = Simulator::start(SimulatorConfig::default()).await.unwrap();
    let (onboarding_port, dashboards_port) = (free_port(), free_port());
    let onboarding_url = format!("http://127.0.0.1:{onboarding_port}");
    let dashboards_url = format!("http://127.0.0.1:{dashboards_port}");

    let mut config = onboarding::Config::from_env().unwrap();
    config.server.listen_on_free_ports();
    config.server.listen = Some(format!("127.0.0.1:{onboarding_port}").parse().unwrap());
    // Tests run the development fallbacks (the simulator, the committed key).
    config.server.deployment = service_runtime::config::Deployment::Local;
    config.postgres = postgres.clone();
    config.clickhouse = clickhouse.clone();
    config.atlassian.public_base_url = onboarding_url.parse().unwrap();
    config.atlassian.install_keys_url = sim.install_keys_base_url().unwrap();
    config.atlassian.api_base_override = sim.url();
    config.atlassian_oauth.auth_url = sim.url();
    config.atlassian_oauth.api_url = sim.url().unwrap();
    config.accounts.dashboards_url = dashboards_url.parse().unwrap();
    config.accounts.cookie_secure = false;
    let onboarding = TestApp::spawn(onboarding::build(config).await.unwrap());
    let mut config = dashboards::Config::from_env().unwrap();
    config.server.listen_on_free_ports();
    config.server.listen = Some(format!("127.0.0.1:{dashboards_port}").parse().unwrap());
    config.postgres = postgres.clone();
    config.clickhouse = clickhouse.clone();
    config.onboarding_url = onboarding_url.parse().unwrap();
    config.jira_permissions.api_base_override = sim.url();
    let dashboards = TestApp::spawn(dashboards::build(config).await.unwrap());

    let target = Target::new(
        onboarding_url.parse().unwrap(),
        onboarding_url.parse().unwrap(),
    );
    let installation = sim
        .install_connect(&target, &WorkspaceSpec::random())
        .await
        .unwrap();
    let installation_id = postgres
        .pool()
        .unwrap()
        .get()
        .await
        .unwrap()
        .query_one(
            "SELECT id FROM installations WHERE client_key = $1",
            &[&installation.client_key],
        )
        .await
        .unwrap()
        .get(0);
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
    Services {
        dashboards_url,
        clickhouse,
        installation_id,
        link,
        _apps: (onboarding, dashboards, sim),
    }
}

/// Names the organization on the setup page and waits for the dashboards' empty state.
async fn name_organization(
    browser: &fantoccini::Client,
    name: &str,
) -> Result<url::Url, fantoccini::error::CmdError> {
    browser
        .wait()
        .for_element(Locator::Id("organization"))
        .await?
        .send_keys(name)
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
    browser.current_url().await
}

/// The same walk with "Continue with Google" on the setup page's first step, through the local
/// OpenID provider's login form (`compose/oidc-provider`), back to the setup page.
#[tokio::test]
async fn an_admin_continues_with_google_from_the_setup_email_to_the_empty_dashboard() {
    let services = services().await;
    let session = Browser::start(screenshots()).await;
    let browser = session.client.clone();
    let walk = async {
        browser.goto(&services.link).await?;
        browser
            .find(Locator::LinkText("Continue with Google"))
            .await?
            .click()
            .await?;
        let subject = format!("chromium-{}", uuid::Uuid::new_v4().simple());
        browser
            .wait()
            .for_element(Locator::Css("input[name=sub]"))
            .await?
            .send_keys(&subject)
            .await?;
        browser
            .find(Locator::Css("input[name=email]"))
            .await?
            .send_keys(&format!("{subject}@acme.example.test"))
            .await?;
        browser
            .find(Locator::XPath("//button[contains(., 'Sign in')]"))
            .await?
            .click()
            .await?;
        browser
            .wait()
            .at_most(Duration::from_secs(10))
            .for_element(Locator::XPath(
                "//h1[contains(., 'Finish connecting your Jira workspace')]",
            ))
            .await?;
        name_organization(&browser, "Acme Google").await
    };
    let result = walk.await;
    let page = browser.source().await.unwrap_or_default();
    session.close().await;
    let url = result.unwrap_or_else(|err| panic!("the walk failed: {err}\nlast page:\n{page}"));
    assert!(
        url.as_str()
            .starts_with(&format!("{}/orgs/", services.dashboards_url)),
        "{url}"
    );
    assert!(page.contains("Acme Google"), "{page}");
}

#[tokio::test]
async fn an_admin_goes_from_the_setup_email_to_the_empty_dashboard_in_a_browser() {
    let services = services().await;
    let Services {
        ref dashboards_url,
        ref clickhouse,
        ref installation_id,
        ref link,
        ..
    } = services;
    let session = Browser::start(screenshots()).await;
    let browser = session.client.clone();

    // Not the address the link was mailed to: the account is confirmed from its own email.
    let admin = format!("admin.{}@acme.example.test", uuid::Uuid::new_v4().simple());
    let walk = async {
        browser.goto(link).await?;
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
            .send_keys(&admin)
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
            .at_most(Duration::from_secs(10))
            .for_element(Locator::XPath("//h1[contains(., 'Check your inbox')]"))
            .await?;
        let onboarding = &link[..link.find("/setup/").expect("a setup link")];
        test_kit::confirm_address(&Mailbox::of_stack(), onboarding, &admin, 0).await;
        browser.goto(link).await?;
        name_organization(&browser, "Acme Engineering").await
    };
    let result = walk.await;
    let page = browser.source().await.unwrap_or_default();
    let url = match result {
        Ok(url) => url,
        Err(err) => {
            session.close().await;
            panic!("the walk failed: {err}\nlast page:\n{page}");
        }
    };
    assert!(
        url.as_str().starts_with(&format!("{dashboards_url}/orgs/")),
        "{url}"
    );
    assert!(page.contains("Acme Engineering"));
    let organization = url.path().to_owned();

    // Events arrive: every page has something to show.
    let warehouse = clickhouse.client();
    let mut insert = warehouse
        .insert::<warehouse::EventRow>("events")
        .await
        .unwrap();
    let now = chrono::Utc::now().timestamp_millis();
    for i in 0..40i64 {
        let event_type = ["issue_created", "comment_created", "issue_updated"][(i % 3) as usize];
        insert
            .write(&warehouse::EventRow {
                installation_id: *installation_id,
                delivery_id: format!("d-{i}"),
                event_type: event_type.into(),
                issue_key: format!("ACME-{}", i / 3),
                project_id: "10000".into(),
                project_key: "ACME".into(),
                issue_type: "Task".into(),
                occurred_at_ms: now - i * 9 * 3600 * 1000,
                received_at_ms: now - i * 9 * 3600 * 1000 + 300,
                payload: "{}".into(),
                ..Default::default()
            })
            .await
            .unwrap();
    }
    insert.end().await.unwrap();

    let tour = async {
        browser.set_window_size(1280, 900).await?;
        let mut titles = Vec::new();
        for (name, path) in [
            ("overview", String::new()),
            ("weekly", "/weekly".to_owned()),
            ("trends", "/trends".to_owned()),
            ("events", "/events".to_owned()),
            ("troubleshooting", "/troubleshooting".to_owned()),
        ] {
            browser
                .goto(&format!("{dashboards_url}{organization}{path}"))
                .await?;
            titles.push(browser.title().await?);
            if name == "trends" {
                // Hovering a point shows its value: the point carries it as its title.
                let point = browser.find(Locator::Css("svg.chart circle")).await?;
                browser
                    .perform_actions(MouseActions::new("mouse".into()).then(
                        PointerAction::MoveToElement {
                            element: point.clone(),
                            duration: None,
                            x: 0.0,
                            y: 0.0,
                        },
                    ))
                    .await?;
                let hover = point.find(Locator::Css("title")).await?.html(true).await?;
                assert!(
                    hover.contains("issues"),
                    "a hover value with its unit: {hover}"
                );
            }
            std::fs::write(
                screenshots().join(format!("{name}.png")),
                browser.screenshot().await?,
            )
            .unwrap();
        }
        // A phone's width.
        browser.set_window_size(390, 844).await?;
        browser
            .goto(&format!("{dashboards_url}{organization}/weekly"))
            .await?;
        std::fs::write(
            screenshots().join("weekly-phone.png"),
            browser.screenshot().await?,
        )
        .unwrap();
        let log = browser.issue_cmd(BrowserLog).await?;
        Ok::<_, fantoccini::error::CmdError>((titles, log))
    };
    let toured = tour.await;

    // The admin connects their own Atlassian account at the simulator's consent screen, then
    // disconnects it after confirming.
    let onboarding = &link[..link.find("/setup/").expect("a setup link")];
    let linking = async {
        browser.set_window_size(1280, 900).await?;
        browser.goto(&format!("{onboarding}/account")).await?;
        session.wait_for_heading("Jira accounts").await?;
        session.press("Connect").await?;
        session
            .wait_for_heading("wants to access your Atlassian account")
            .await?;
        session.screenshot("atlassian-consent").await?;
        session.press("Accept").await?;
        session.wait_for_heading("Your account").await?;
        session.screenshot("account-atlassian-connected").await?;
        let connected = browser.source().await?;

        // With an account linked, the owner turns on Jira permissions; the weekly rates are then
        // what that account may see (the simulator lets it browse every project).
        browser
            .goto(&format!("{onboarding}{organization}/members"))
            .await?;
        session.wait_for_heading("Jira permissions").await?;
        browser
            .find(Locator::Css("#jira-permissions input[name=enforced]"))
            .await?
            .click()
            .await?;
        session.press("Save Jira permissions").await?;
        session.wait_for_heading("Jira permissions").await?;
        session.screenshot("jira-permissions-on").await?;
        let setting = browser.source().await?;
        browser
            .goto(&format!("{dashboards_url}{organization}/weekly"))
            .await?;
        session.wait_for_heading("Weekly rates").await?;
        session.screenshot("weekly-as-jira-allows").await?;
        let limited = browser.source().await?;
        browser.goto(&format!("{onboarding}/account")).await?;
        session.wait_for_heading("Jira accounts").await?;
        browser
            .find(Locator::LinkText("Disconnect"))
            .await?
            .click()
            .await?;
        session
            .wait_for_heading("Disconnect your Atlassian account?")
            .await?;
        session.screenshot("atlassian-disconnect").await?;
        session.press("Disconnect").await?;
        session.wait_for_heading("Your account").await?;
        let disconnected = browser.source().await?;

        // No linked account: the views show only the way to link one.
        browser
            .goto(&format!("{dashboards_url}{organization}/weekly"))
            .await?;
        session
            .wait_for_heading("Link your Jira account to see this organization")
            .await?;
        session.screenshot("link-your-jira-account").await?;
        let unlinked = browser.source().await?;
        Ok::<_, fantoccini::error::CmdError>((connected, disconnected, setting, limited, unlinked))
    };
    let linked = linking.await;
    session.close().await;
    let (connected, disconnected, setting, limited, unlinked) =
        linked.expect("connecting and disconnecting Atlassian");
    assert!(
        setting.contains("Saved: members see only what their Jira account can see."),
        "the setting is on: {setting}"
    );
    // The linked account browses every project: its weekly rates are everyone's.
    let counts_of_the_last_week = |page: &str| {
        golden_path::html::table_rows(page)
            .last()
            .map(|row| row[2..].to_vec())
            .unwrap_or_default()
    };
    assert!(
        counts_of_the_last_week(&limited).iter().any(|n| n != "0"),
        "the linked owner sees the events: {limited}"
    );
    assert!(
        limited.contains("as your Jira account sees it"),
        "{limited}"
    );
    assert!(
        unlinked.contains("/account") && !unlinked.contains("ACME-"),
        "{unlinked}"
    );
    assert!(
        connected.contains("Your Atlassian account is connected") && connected.contains("712020:"),
        "{connected}"
    );
    assert!(
        disconnected.contains("Your Atlassian account is disconnected")
            && disconnected.contains("not linked"),
        "{disconnected}"
    );
    let (titles, log) = toured.expect("the tour of the pages");
    assert_eq!(
        titles,
        [
            "Overview · MetaFrazo",
            "Weekly rates · MetaFrazo",
            "Trends · MetaFrazo",
            "Events · MetaFrazo",
            "Why don't I see any events yet? · MetaFrazo"
        ]
    );
    let errors: Vec<&serde_json::Value> = log
        .as_array()
        .map(|entries| {
            entries
                .iter()
                .filter(|entry| entry["level"] == "SEVERE")
                .collect()
        })
        .unwrap_or_default();
    assert!(errors.is_empty(), "console errors: {errors:?}");
    eprintln!("screenshots in {}", screenshots().display());
}
