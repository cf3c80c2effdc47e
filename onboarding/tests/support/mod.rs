//! What the onboarding tests share: the service on a fresh Postgres and ClickHouse with the
//! Jira simulator in front, a cookie-keeping browser stand-in, and the SMTP sink's mailbox.

#![allow(dead_code, unreachable_pub)]

pub mod atlassian;
pub mod browser;
pub mod oidc;

pub use browser::Browser;

use service_runtime::retry::RetryPolicy;
use std::time::Duration;

use jira_simulator::{ConnectInstallation, Simulator, SimulatorConfig, Target, WorkspaceSpec};
use test_kit::{Mail, Mailbox, Stack, TestApp};

pub const PUBLIC_BASE_URL: &str = "https://metafrazo.test";

pub struct Harness {
    pub sim: Simulator,
    pub app: TestApp,
    pub target: Target,
    pub pool: deadpool_postgres::Pool,
    pub warehouse: clickhouse::Client,
    pub mailbox: Mailbox,
}

impl Harness {
    pub async fn start() -> Self {
        Self::start_with(|_| {}).await
    }

    /// Starts with `adjust` applied to the configuration (a gated SMTP server, say).
    pub async fn start_with(adjust: impl FnOnce(&mut onboarding::Config)) -> Self {
        let sim = Simulator::start(SimulatorConfig::default()).await.unwrap();
        let stack = Stack::from_env();
        let mut config = onboarding::Config::from_env().unwrap();
        config.server.listen_on_free_ports();
        // Tests run the development fallbacks (the simulator, the committed key).
        config.server.deployment = service_runtime::config::Deployment::Local;
        config.postgres = stack.fresh_postgres().await;
        config.clickhouse = stack.fresh_clickhouse().await;
        config.atlassian.public_base_url = PUBLIC_BASE_URL.parse().unwrap();
        config.atlassian.install_keys_url = sim.install_keys_base_url().unwrap();
        config.atlassian.api_base_override = sim.url();
        config.atlassian.forge.jwks_url = sim.jwks_url().unwrap();
        config.atlassian.forge.app_id = SimulatorConfig::default().forge.app_ari;
        config.atlassian_oauth.auth_url = sim.url();
        config.atlassian_oauth.api_url = sim.url().unwrap();
        config.accounts.sign_in_max_failures = 3;
        config.accounts.dashboards_url = "http://dashboards.test".parse().unwrap();
        config.mail.poll_interval = Duration::from_millis(200);
        config.mail.retry =
            RetryPolicy::new(Duration::from_millis(200), Duration::from_millis(500));
        adjust(&mut config);
        let pool = config.postgres.pool().unwrap();
        let warehouse = config.clickhouse.client();
        warehouse::migrate(&config.clickhouse).await.unwrap();
        let app = TestApp::spawn(onboarding::build(config).await.unwrap());
        let target = Target::new(app.address.parse().unwrap(), app.address.parse().unwrap());
        Self {
            sim,
            app,
            target,
            pool,
            warehouse,
            mailbox: Mailbox::of_stack(),
        }
    }

    pub fn browser(&self) -> Browser {
        Browser::new(&self.app.address)
    }

    /// Installs the app on a new site and waits for the setup email to its installer.
    pub async fn install_and_read_setup_email(&self) -> (ConnectInstallation, Mail) {
        let installation = self.install().await;
        let mail = self
            .mailbox
            .wait_for(
                &installation.installer_email,
                onboarding::mail::messages::SETUP_SUBJECT,
                0,
            )
            .await;
        (installation, mail)
    }

    /// Uninstalls and reinstalls `installation` as Jira does, and reads the new setup email
    /// (the address's second).
    pub async fn reinstall_and_read_setup_email(
        &self,
        installation: &ConnectInstallation,
    ) -> (ConnectInstallation, Mail) {
        self.sim
            .uninstall_connect(&self.target, installation)
            .await
            .unwrap();
        let installation = self
            .sim
            .reinstall_connect(&self.target, installation)
            .await
            .unwrap();
        let mail = self
            .mailbox
            .wait_for(
                &installation.installer_email,
                onboarding::mail::messages::SETUP_SUBJECT,
                1,
            )
            .await;
        (installation, mail)
    }

    pub async fn install(&self) -> ConnectInstallation {
        self.sim
            .install_connect(&self.target, &WorkspaceSpec::random())
            .await
            .unwrap()
    }

    /// A browser signed up with a fresh address, confirmed from the SMTP sink as its owner
    /// would (the account's first confirmation email).
    pub async fn signed_up(&self, email: &str) -> Browser {
        let browser = self.signed_up_unconfirmed(email).await;
        self.confirm_address(email, 0).await;
        browser
    }

    /// A browser signed up with a fresh address, on the "check your inbox" page: the address is
    /// not confirmed.
    pub async fn signed_up_unconfirmed(&self, email: &str) -> Browser {
        let mut browser = self.browser();
        browser.get("/sign-up").await.assert_status(200);
        browser
            .submit(
                "/sign-up",
                &[
                    ("email", email),
                    ("password", "a long enough password"),
                    ("next", "/"),
                ],
            )
            .await
            // To "check your inbox" (`email_verification.rs` checks the page).
            .assert_redirect_to("/");
        browser
    }

    /// Confirms `email` from the newest confirmation email after the first `already`, in a
    /// browser of its own; answers where that landed.
    pub async fn confirm_address(&self, email: &str, already: usize) -> String {
        test_kit::confirm_address(&self.mailbox, &self.app.address, email, already).await
    }

    /// MetaFrazo's id for the workspace Atlassian calls `client_key`, as the install stored it.
    pub async fn installation_id(&self, client_key: &str) -> contracts::InstallationId {
        let client = self.pool.get().await.unwrap();
        client
            .query_one(
                "SELECT id FROM installations WHERE client_key = $1",
                &[&client_key],
            )
            .await
            .unwrap()
            .get(0)
    }

    pub async fn count(&self, sql: &str) -> i64 {
        let client = self.pool.get().await.unwrap();
        client.query_one(sql, &[]).await.unwrap().get(0)
    }

    /// Invites `invitee` to Acme (`org`) with `role` and has them accept in a fresh browser.
    pub async fn invite_and_accept(
        &self,
        owner: &mut Browser,
        org: &str,
        invitee: &str,
        role: &str,
    ) -> Browser {
        owner
            .get(&format!("/orgs/{org}/members"))
            .await
            .assert_status(200);
        owner
            .submit(
                &format!("/orgs/{org}/invites"),
                &[("email", invitee), ("role", role)],
            )
            .await
            .assert_redirect_to(&format!("/orgs/{org}/members?done=invited"));
        let mail = self
            .mailbox
            .wait_for(invitee, "Join Acme on MetaFrazo", 0)
            .await;
        assert!(mail.text.contains(&format!("as {role}")), "{}", mail.text);
        let path = mail.link_path(&format!("{PUBLIC_BASE_URL}/invites/"));
        let mut browser = self.signed_up(invitee).await;
        browser
            .get(&path)
            .await
            .assert_status(200)
            .assert_contains("Accept and join");
        browser
            .submit(&path, &[])
            .await
            .assert_redirect_to("http://dashboards.test/orgs/");
        browser.get(&path).await.assert_status(410);
        browser
    }

    /// An organization "Acme" made by a confirmed owner from a setup link, and the path of the
    /// invitation it mailed to `invitee`.
    pub async fn invitation_to_acme(&self, invitee: &str) -> String {
        let (_, mail) = self.install_and_read_setup_email().await;
        let mut owner = self.signed_up(&email("owner")).await;
        let org = owner.create_organization(&setup_path(&mail), "Acme").await;
        owner.get(&format!("/orgs/{org}/members")).await;
        owner
            .submit(
                &format!("/orgs/{org}/invites"),
                &[("email", invitee), ("role", "viewer")],
            )
            .await
            .assert_redirect_to(&format!("/orgs/{org}/members?done=invited"));
        self.mailbox
            .wait_for(invitee, "Join Acme on MetaFrazo", 0)
            .await
            .link_path(&format!("{}/invites/", PUBLIC_BASE_URL))
    }
}

/// A fresh address for a test's user.
pub fn email(name: &str) -> String {
    format!(
        "{name}.{}@example.test",
        &uuid::Uuid::new_v4().simple().to_string()[..10]
    )
}

/// The setup path of the link in a setup email.
pub fn setup_path(mail: &Mail) -> String {
    mail.link_path(&format!("{PUBLIC_BASE_URL}/setup/"))
}
