//! Links, sessions, where people land, and the emails that carry the links.

use std::time::Duration;

use lettre::message::Mailbox;
use service_runtime::{
    ConfigError,
    config::{check, parse},
    retry::RetryPolicy,
};
use url::Url;

#[derive(Debug, Clone, clap::Args)]
pub struct AccountsConfig {
    /// Minutes a setup link works after its email is sent.
    #[arg(
        long = "setup-link-ttl-minutes",
        env = "SETUP_LINK_TTL_MINUTES",
        default_value = "240",
        value_parser = parse::minutes
    )]
    pub setup_link_ttl: Duration,
    /// Hours an invitation works.
    #[arg(
        long = "invite-ttl-hours",
        env = "INVITE_TTL_HOURS",
        default_value = "72",
        value_parser = parse::hours
    )]
    pub invite_ttl: Duration,
    /// Minutes a "forgot your password" link works.
    #[arg(
        long = "password-reset-ttl-minutes",
        env = "PASSWORD_RESET_TTL_MINUTES",
        default_value = "60",
        value_parser = parse::minutes
    )]
    pub password_reset_ttl: Duration,
    /// Hours a "confirm your email address" link works.
    #[arg(
        long = "email-verification-ttl-hours",
        env = "EMAIL_VERIFICATION_TTL_HOURS",
        default_value = "24",
        value_parser = parse::hours
    )]
    pub email_verification_ttl: Duration,
    /// Hours a session lasts after sign-in.
    #[arg(
        long = "session-ttl-hours",
        env = "SESSION_TTL_HOURS",
        default_value = "12",
        value_parser = parse::hours
    )]
    pub session_ttl: Duration,
    /// Passwords hashed at once (each argon2id run holds 19 MiB); a sign-in, sign-up or reset
    /// past it is answered 503 with `Retry-After` rather than queued.
    #[arg(
        long = "password-hashes-in-flight",
        env = "PASSWORD_HASHES_IN_FLIGHT",
        default_value_t = 8
    )]
    pub password_hashes_in_flight: usize,
    /// More failed passwords for one address than this within the window are refused (429)
    /// until the window passes.
    #[arg(
        long = "sign-in-max-failures",
        env = "SIGN_IN_MAX_FAILURES",
        default_value_t = 5
    )]
    pub sign_in_max_failures: i64,
    /// More failed passwords from one client (whatever the addresses) than this within the
    /// window are refused (429) until the window passes: one client trying many accounts.
    #[arg(
        long = "sign-in-max-failures-per-client",
        env = "SIGN_IN_MAX_FAILURES_PER_CLIENT",
        default_value_t = 50
    )]
    pub sign_in_max_failures_per_client: i64,
    /// How many proxies in front of onboarding append to `X-Forwarded-For` (the local stack's
    /// front door is one). The client is the entry that many places from the right, the last
    /// one a proxy of ours wrote; entries further left are the client's own word. 0 takes the
    /// connection's peer address.
    #[arg(
        long = "forwarded-for-hops",
        env = "FORWARDED_FOR_HOPS",
        default_value_t = 0
    )]
    pub forwarded_for_hops: usize,
    /// The window failed passwords are counted in, in seconds.
    #[arg(
        long = "sign-in-window-secs",
        env = "SIGN_IN_WINDOW_SECS",
        default_value_t = 900
    )]
    pub sign_in_window_secs: i64,
    /// Where a finished setup lands.
    #[arg(
        long = "dashboards-url",
        env = "DASHBOARDS_URL",
        default_value = "http://127.0.0.1:8082"
    )]
    pub dashboards_url: Url,
    /// Cookies only over TLS; unset, true when `PUBLIC_BASE_URL` is https.
    #[arg(
        long = "cookie-secure",
        env = "COOKIE_SECURE",
        value_parser = parse::boolean
    )]
    cookie_secure_setting: Option<bool>,
    /// `COOKIE_SECURE` as set, or as the public URL's scheme says.
    #[arg(skip)]
    pub cookie_secure: bool,
}

impl AccountsConfig {
    pub(super) fn resolve(&mut self, public_base_url: &Url) {
        self.cookie_secure = self
            .cookie_secure_setting
            .unwrap_or(public_base_url.scheme() == "https");
    }

    /// Where an organization's members land: its overview on the dashboards.
    pub fn organization_dashboards(&self, organization: uuid::Uuid) -> String {
        format!(
            "{}/orgs/{organization}",
            self.dashboards_url.as_str().trim_end_matches('/')
        )
    }

    pub fn validate(&self) -> Result<(), ConfigError> {
        check::not_zero("SETUP_LINK_TTL_MINUTES", self.setup_link_ttl)?;
        check::not_zero("INVITE_TTL_HOURS", self.invite_ttl)?;
        check::not_zero("PASSWORD_RESET_TTL_MINUTES", self.password_reset_ttl)?;
        check::not_zero("EMAIL_VERIFICATION_TTL_HOURS", self.email_verification_ttl)?;
        check::not_zero("SESSION_TTL_HOURS", self.session_ttl)?;
        check::at_least_one("PASSWORD_HASHES_IN_FLIGHT", self.password_hashes_in_flight)?;
        check::at_least_one("SIGN_IN_MAX_FAILURES", self.sign_in_max_failures)?;
        check::at_least_one(
            "SIGN_IN_MAX_FAILURES_PER_CLIENT",
            self.sign_in_max_failures_per_client,
        )?;
        check::at_least_one("SIGN_IN_WINDOW_SECS", self.sign_in_window_secs)?;
        check::http_url("DASHBOARDS_URL", &self.dashboards_url)
    }
}

/// The setup and invite emails.
#[derive(Debug, Clone, clap::Args)]
#[command(
    mut_arg("retry_first", |arg| arg
        .long("outbox-retry-base-ms")
        .env("OUTBOX_RETRY_BASE_MS")
        .default_value("5000")),
    mut_arg("retry_max", |arg| arg
        .long("outbox-retry-max-ms")
        .env("OUTBOX_RETRY_MAX_MS")
        .default_value("600000"))
)]
pub struct MailConfig {
    /// Who the emails come from.
    #[arg(
        long = "mail-from",
        env = "MAIL_FROM",
        default_value = "MetaFrazo <setup@metafrazo.localhost>"
    )]
    pub from: Mailbox,
    /// How often the outbox is checked besides being woken.
    #[arg(
        long = "outbox-poll-ms",
        env = "OUTBOX_POLL_MS",
        default_value = "2000",
        value_parser = parse::millis
    )]
    pub poll_interval: Duration,
    /// A failed send is retried after the base delay, doubled per attempt up to the maximum.
    #[command(flatten)]
    pub retry: RetryPolicy,
}

impl MailConfig {
    pub fn validate(&self) -> Result<(), ConfigError> {
        check::not_zero("OUTBOX_POLL_MS", self.poll_interval)?;
        check::not_zero("OUTBOX_RETRY_BASE_MS", self.retry.first)?;
        if self.retry.max < self.retry.first {
            return Err(ConfigError::invalid(
                "OUTBOX_RETRY_MAX_MS",
                self.retry.max.as_millis(),
                "must be at least OUTBOX_RETRY_BASE_MS",
            ));
        }
        Ok(())
    }
}
