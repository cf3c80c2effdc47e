use std::{
    net::{Ipv4Addr, SocketAddr},
    time::Duration,
};

use atlassian_auth::forge_fit;
use lettre::message::Mailbox;
use service_runtime::{
    ConfigError, ServerConfig,
    connections::{ClickHouseConfig, PostgresConfig, SmtpConfig},
    env_or, env_secret_or,
    retry::RetryPolicy,
    secret_cipher::SecretCipher,
};
use url::Url;

use crate::accounts::oidc::{ProviderConfig, ProviderKind};

pub struct Config {
    /// `ONBOARDING_ADDR`, default `127.0.0.1:8081`.
    pub server: ServerConfig,
    pub postgres: PostgresConfig,
    pub smtp: SmtpConfig,
    /// Where an organization's events are erased when it is deleted, and where the admin page
    /// reads when the last event arrived.
    pub clickhouse: ClickHouseConfig,
    pub atlassian: AtlassianConfig,
    pub accounts: AccountsConfig,
    pub mail: MailConfig,
    /// `SECRETS_KEY`: encrypts shared secrets at rest.
    pub cipher: SecretCipher,
    pub oidc: OidcConfig,
}

/// Sign-in with Google and Microsoft (OpenID Connect).
#[derive(Debug, Clone)]
pub struct OidcConfig {
    /// Per provider, `OIDC_{GOOGLE,MICROSOFT}_ISSUER`, `_CLIENT_ID`, `_CLIENT_SECRET`; defaults
    /// name the local providers of `compose/local` (`http://127.0.0.1:8091/google` and
    /// `http://127.0.0.1:8091/microsoft/7e1c4a2b-5d3f-4c8e-9a10-2b6d8f0e3c71/v2.0`, client
    /// `metafrazo-local`, secret `metafrazo-local-secret`). An issuer of `off` hides the button.
    pub providers: Vec<ProviderConfig>,
    /// `OIDC_FLOW_TTL_SECS`, default 600: how long a redirect to a provider may take to come back.
    pub flow_ttl: Duration,
}

/// Links, sessions and where people land.
#[derive(Debug, Clone)]
pub struct AccountsConfig {
    /// `SETUP_LINK_TTL_MINUTES`, default 240: how long a setup link works after its email is sent.
    pub setup_link_ttl: Duration,
    /// `INVITE_TTL_HOURS`, default 72.
    pub invite_ttl: Duration,
    /// `PASSWORD_RESET_TTL_MINUTES`, default 60: how long a "forgot your password" link works.
    pub password_reset_ttl: Duration,
    /// `SESSION_TTL_HOURS`, default 12: a session ends this long after sign-in.
    pub session_ttl: Duration,
    /// `SIGN_IN_MAX_FAILURES`, default 5, within `SIGN_IN_WINDOW_SECS`, default 900: more failed
    /// passwords for one address than this are refused (429) until the window passes.
    pub sign_in_max_failures: i64,
    pub sign_in_window_secs: i64,
    /// `DASHBOARDS_URL`, default `http://127.0.0.1:8082`: where a finished setup lands.
    pub dashboards_url: Url,
    /// `COOKIE_SECURE`, default true when `PUBLIC_BASE_URL` is https: cookies only over TLS.
    pub cookie_secure: bool,
}

/// The setup and invite emails.
#[derive(Debug, Clone)]
pub struct MailConfig {
    /// `MAIL_FROM`, default `MetaFrazo <setup@metafrazo.localhost>`.
    pub from: Mailbox,
    /// `OUTBOX_POLL_MS`, default 2000: how often the outbox is checked besides being woken.
    pub poll_interval: Duration,
    /// `OUTBOX_RETRY_BASE_MS`, default 5000, doubled per failed attempt up to
    /// `OUTBOX_RETRY_MAX_MS`, default 600000.
    pub retry: RetryPolicy,
}

pub struct AtlassianConfig {
    /// `PUBLIC_BASE_URL`, default `http://127.0.0.1:8081`: the URL Atlassian reaches us at (the
    /// descriptor's `baseUrl`, the `aud` of install tokens, the base of every `qsh`). In
    /// production one public URL fronts onboarding and ingress with a path router.
    pub public_base_url: Url,
    /// `ATLASSIAN_APP_KEY`, default `io.metafrazo.jira`: the Connect app key.
    pub app_key: String,
    /// `ATLASSIAN_INSTALL_KEYS_URL`, default `http://127.0.0.1:8090/install-keys` (the local Jira
    /// simulator); Atlassian's is `https://connect-install-keys.atlassian.com`.
    pub install_keys_url: Url,
    /// `JWT_LEEWAY_SECS`, default 30: allowed clock skew for `exp` and `iat`.
    pub jwt_leeway_secs: u64,
    /// `ATLASSIAN_API_BASE_URL`, default `http://127.0.0.1:8090` (the local Jira simulator, which
    /// serves every simulated site): where Jira REST calls go. `site` sends each to the
    /// installation's own site, as production must.
    pub api_base_override: Option<Url>,
    /// `FORGE_APP_ID`, default the demo app's ARI (as ingress): the only `aud` accepted in a
    /// Forge Invocation Token.
    pub forge_app_id: String,
    /// `FORGE_JWKS_URL`, default `http://127.0.0.1:8090/forge/jwks.json` (the local simulator, as
    /// ingress); Atlassian's is `https://forge.cdn.prod.atlassian-dev.net/.well-known/jwks.json`.
    pub forge_jwks_url: Url,
    /// `ONBOARDING_BODY_READ_TIMEOUT_MS`, default 10000: a lifecycle callback's whole body must
    /// arrive within it, else 408, so a client trickling bytes holds no connection for long.
    pub body_read_timeout: Duration,
}

impl Config {
    pub fn from_env() -> Result<Self, ConfigError> {
        let atlassian = AtlassianConfig::from_env()?;
        Ok(Self {
            server: ServerConfig::from_env(
                "ONBOARDING_ADDR",
                SocketAddr::from((Ipv4Addr::LOCALHOST, 8081)),
            )?,
            postgres: PostgresConfig::from_env()?,
            smtp: SmtpConfig::from_env()?,
            clickhouse: ClickHouseConfig::from_env()?,
            accounts: AccountsConfig::from_env(&atlassian.public_base_url)?,
            atlassian,
            mail: MailConfig::from_env()?,
            cipher: SecretCipher::from_env()?,
            oidc: OidcConfig::from_env()?,
        })
    }
}

impl AccountsConfig {
    pub fn from_env(public_base_url: &Url) -> Result<Self, ConfigError> {
        Ok(Self {
            setup_link_ttl: Duration::from_secs(60 * env_or("SETUP_LINK_TTL_MINUTES", 240)?),
            invite_ttl: Duration::from_secs(3600 * env_or("INVITE_TTL_HOURS", 72)?),
            password_reset_ttl: Duration::from_secs(60 * env_or("PASSWORD_RESET_TTL_MINUTES", 60)?),
            session_ttl: Duration::from_secs(3600 * env_or("SESSION_TTL_HOURS", 12)?),
            sign_in_max_failures: env_or("SIGN_IN_MAX_FAILURES", 5)?,
            sign_in_window_secs: env_or("SIGN_IN_WINDOW_SECS", 900)?,
            dashboards_url: env_or(
                "DASHBOARDS_URL",
                Url::parse("http://127.0.0.1:8082").expect("valid default"),
            )?,
            cookie_secure: env_or("COOKIE_SECURE", public_base_url.scheme() == "https")?,
        })
    }

    /// Where an organization's members land: its overview on the dashboards.
    pub fn organization_dashboards(&self, organization: uuid::Uuid) -> String {
        format!(
            "{}/orgs/{organization}",
            self.dashboards_url.as_str().trim_end_matches('/')
        )
    }
}

impl OidcConfig {
    pub fn from_env() -> Result<Self, ConfigError> {
        let mut providers = Vec::new();
        for (kind, names, default_issuer) in [
            (
                ProviderKind::Google,
                [
                    "OIDC_GOOGLE_ISSUER",
                    "OIDC_GOOGLE_CLIENT_ID",
                    "OIDC_GOOGLE_CLIENT_SECRET",
                ],
                "http://127.0.0.1:8091/google",
            ),
            (
                ProviderKind::Microsoft,
                [
                    "OIDC_MICROSOFT_ISSUER",
                    "OIDC_MICROSOFT_CLIENT_ID",
                    "OIDC_MICROSOFT_CLIENT_SECRET",
                ],
                "http://127.0.0.1:8091/microsoft/7e1c4a2b-5d3f-4c8e-9a10-2b6d8f0e3c71/v2.0",
            ),
        ] {
            let [issuer_name, id_name, secret_name] = names;
            let issuer = env_or(issuer_name, default_issuer.to_owned())?;
            if issuer == "off" {
                continue;
            }
            let issuer = Url::parse(&issuer).map_err(|err| ConfigError::Invalid {
                name: issuer_name,
                reason: err.to_string(),
                value: issuer.clone(),
            })?;
            let client_id = env_or(id_name, "metafrazo-local".to_owned())?;
            // The local defaults are only for the local provider: a real one needs its own.
            let local = matches!(issuer.host_str(), Some("127.0.0.1" | "localhost"));
            if !local && client_id == "metafrazo-local" {
                return Err(ConfigError::Invalid {
                    name: id_name,
                    reason: format!(
                        "set it (and {secret_name}) to the client registered at {issuer}"
                    ),
                    value: client_id,
                });
            }
            providers.push(ProviderConfig {
                kind,
                issuer,
                client_id,
                client_secret: env_secret_or(secret_name, "metafrazo-local-secret")?,
            });
        }
        Ok(Self {
            providers,
            flow_ttl: Duration::from_secs(env_or("OIDC_FLOW_TTL_SECS", 600)?),
        })
    }
}

impl MailConfig {
    pub fn from_env() -> Result<Self, ConfigError> {
        Ok(Self {
            from: env_or(
                "MAIL_FROM",
                "MetaFrazo <setup@metafrazo.localhost>"
                    .parse()
                    .expect("valid default"),
            )?,
            poll_interval: Duration::from_millis(env_or("OUTBOX_POLL_MS", 2000)?),
            retry: RetryPolicy::new(
                Duration::from_millis(env_or("OUTBOX_RETRY_BASE_MS", 5000)?),
                Duration::from_millis(env_or("OUTBOX_RETRY_MAX_MS", 600_000)?),
            ),
        })
    }
}

impl AtlassianConfig {
    pub fn from_env() -> Result<Self, ConfigError> {
        Ok(Self {
            public_base_url: env_or(
                "PUBLIC_BASE_URL",
                Url::parse("http://127.0.0.1:8081").expect("valid default"),
            )?,
            app_key: env_or("ATLASSIAN_APP_KEY", "io.metafrazo.jira".to_owned())?,
            install_keys_url: env_or(
                "ATLASSIAN_INSTALL_KEYS_URL",
                Url::parse("http://127.0.0.1:8090/install-keys").expect("valid default"),
            )?,
            jwt_leeway_secs: env_or("JWT_LEEWAY_SECS", 30)?,
            api_base_override: match env_or(
                "ATLASSIAN_API_BASE_URL",
                "http://127.0.0.1:8090".to_owned(),
            )?
            .as_str()
            {
                "site" => None,
                url => Some(Url::parse(url).map_err(|err| ConfigError::Invalid {
                    name: "ATLASSIAN_API_BASE_URL",
                    reason: err.to_string(),
                    value: url.to_owned(),
                })?),
            },
            forge_app_id: env_or("FORGE_APP_ID", forge_fit::DEMO_APP_ID.to_owned())?,
            forge_jwks_url: env_or(
                "FORGE_JWKS_URL",
                Url::parse(forge_fit::LOCAL_JWKS_URL).expect("valid default"),
            )?,
            body_read_timeout: Duration::from_millis(env_or(
                "ONBOARDING_BODY_READ_TIMEOUT_MS",
                10_000,
            )?),
        })
    }

    /// The public base URL as Atlassian compares it: no trailing slash.
    pub fn base_url(&self) -> String {
        self.public_base_url
            .as_str()
            .trim_end_matches('/')
            .to_owned()
    }
}
