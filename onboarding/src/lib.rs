//! How every customer starts: Atlassian's install callbacks, the setup email and link, accounts,
//! organizations and their members. Its Postgres store is the `accounts-store` crate.

pub mod accounts;
pub mod atlassian;
mod config;
pub mod demo;
pub mod digest;
pub mod mail;
pub mod metrics;
pub mod web;
pub mod webhook_connections;

pub use config::{
    AccountsConfig, AtlassianConfig, AtlassianOAuthSettings, Config, DigestConfig, MailConfig,
    OidcConfig,
};

use anyhow::Context;
use std::sync::Arc;

use atlassian_auth::{
    forge_fit::{FitVerifier, ForgeKeys},
    install_keys::InstallKeys,
};
use axum::{
    Router,
    routing::{get, post},
};
use deadpool_postgres::Pool;
use service_runtime::{
    Application, Readiness, ServiceRouter,
    checks::{PostgresCheck, SmtpCheck},
    new_registry,
    secret_cipher::SecretCipher,
};

use crate::{
    atlassian::{descriptor, jira_users::JiraUsers},
    mail::{OutboxSender, OutboxWaker},
    metrics::{DigestMetrics, MailMetrics, SignInMetrics},
};

/// What every handler shares.
#[derive(Clone)]
pub struct AppState {
    pub postgres: Pool,
    pub atlassian: Arc<AtlassianConfig>,
    pub accounts: Arc<AccountsConfig>,
    pub install_keys: InstallKeys,
    /// Verifies the Forge Invocation Tokens of `/forge/lifecycle` and `/forge/ui/...`.
    pub forge_fit: Arc<FitVerifier>,
    pub cipher: SecretCipher,
    /// Jira's REST API: whether a Forge admin page's user administers Jira.
    pub jira: JiraUsers,
    pub outbox: OutboxWaker,
    /// For erasing a deleted organization's events and reading when the last one arrived.
    pub warehouse: clickhouse::Client,
    /// Sign-in with Google and Microsoft; empty when none is configured.
    pub oidc: accounts::oidc::Providers,
    /// `OIDC_FLOW_TTL_SECS`, also the time a member may take to consent at Atlassian.
    pub oidc_flow_ttl: std::time::Duration,
    /// Members linking their own Atlassian accounts; `None` when switched off.
    pub atlassian_oauth: Option<Arc<accounts::atlassian_oauth::AtlassianOAuth>>,
    pub sign_ins: SignInMetrics,
    /// Every password hash a request needs, bounded (`PASSWORD_HASHES_IN_FLIGHT`).
    pub hashing: accounts::passwords::Hashing,
}

/// Lifecycle bodies and forms are a few hundred bytes.
pub(crate) const BODY_LIMIT: usize = 64 * 1024;

/// Refuses an invalid configuration, migrates the schema (fails if Postgres cannot be reached:
/// nothing works without it), then binds the listener; the outbox sender and the weekly digest
/// job run beside the server.
pub async fn build(config: Config) -> anyhow::Result<Application> {
    config.validate().context("checking the configuration")?;
    let registry = new_registry()?;
    let postgres = config
        .postgres
        .pool()
        .context("configuring the Postgres pool")?;
    accounts_store::migrate(&postgres)
        .await
        .with_context(|| format!("migrating Postgres at {}", config.postgres.display_url()))?;
    let transport = config
        .smtp
        .transport()
        .context("configuring the SMTP transport")?;
    let readiness = Readiness::new(
        &registry,
        vec![
            Box::new(PostgresCheck(postgres.clone())),
            Box::new(SmtpCheck(transport.clone())),
        ],
    )?;
    let outbox = OutboxWaker::default();
    let jira = JiraUsers::new(
        config.atlassian.app_key.clone(),
        config.atlassian.api_base_override.clone(),
    );
    let sender = OutboxSender {
        pool: postgres.clone(),
        transport,
        mail: config.mail,
        accounts: config.accounts.clone(),
        public_base_url: config.atlassian.public_base_url.clone(),
        jira: jira.clone(),
        cipher: config.cipher.clone(),
        waker: outbox.clone(),
        metrics: MailMetrics::register(&registry)?,
    };
    let permissions = Arc::new(jira_permissions::Resolver::new(
        postgres.clone(),
        config.clickhouse.client(),
        jira_permissions::BulkCheck::new(
            config.atlassian.app_key.clone(),
            config.atlassian.api_base_override.clone(),
        ),
        config.cipher.clone(),
        config.digest.permissions_ttl,
        jira_permissions::VisibilityMetrics::register(&registry, "onboarding")?,
    ));
    let digests = digest::DigestJob {
        permissions,
        pool: postgres.clone(),
        warehouse: config.clickhouse.client(),
        hour: config.digest.hour,
        interval: config.digest.interval,
        waker: outbox.clone(),
        metrics: DigestMetrics::register(&registry)?,
    };
    let oidc = accounts::oidc::Providers::new(
        config.oidc.providers.clone(),
        &config.atlassian.public_base_url,
    )?;
    let atlassian_oauth = config
        .atlassian_oauth
        .resolved()
        .map(|settings| {
            accounts::atlassian_oauth::AtlassianOAuth::new(
                settings,
                &config.atlassian.public_base_url,
            )
            .map(Arc::new)
        })
        .transpose()?;
    let state = AppState {
        atlassian_oauth,
        sign_ins: SignInMetrics::register(&registry)?,
        hashing: accounts::passwords::Hashing::new(config.accounts.password_hashes_in_flight),
        oidc,
        oidc_flow_ttl: config.oidc.flow_ttl,
        postgres,
        install_keys: InstallKeys::new(config.atlassian.install_keys_url.clone()),
        forge_fit: Arc::new(FitVerifier {
            keys: ForgeKeys::new(config.atlassian.forge.jwks_url.clone()),
            app_id: config.atlassian.forge.app_id.clone(),
            leeway_secs: config.atlassian.jwt_leeway_secs,
        }),
        atlassian: Arc::new(config.atlassian),
        accounts: Arc::new(config.accounts),
        cipher: config.cipher,
        jira,
        outbox,
        warehouse: config.clickhouse.client(),
    };
    let atlassian_routes = Router::new()
        .route("/atlassian-connect.json", get(descriptor::descriptor))
        .route(
            &format!("{}/{{event}}", descriptor::LIFECYCLE_PATH),
            post(atlassian::lifecycle),
        )
        .route(descriptor::ADMIN_PAGE_PATH, get(atlassian::admin_page))
        .route(
            &format!("{}/resend", descriptor::ADMIN_PAGE_PATH),
            post(atlassian::resend_setup_email),
        )
        .route(
            &format!("{}/setup", descriptor::ADMIN_PAGE_PATH),
            post(atlassian::finish_setup_here),
        )
        .route(
            atlassian::FORGE_LIFECYCLE_PATH,
            post(atlassian::forge_lifecycle),
        )
        // The Forge admin page calls status with GET; every call is read as a POST would be.
        .route(
            &format!("{}/status", atlassian::FORGE_UI_PATH),
            get(atlassian::forge_ui_status).post(atlassian::forge_ui_status),
        )
        .route(
            &format!("{}/link", atlassian::FORGE_UI_PATH),
            post(atlassian::forge_ui_link),
        )
        .route(
            &format!("{}/resend", atlassian::FORGE_UI_PATH),
            post(atlassian::forge_ui_resend),
        )
        .with_state(state.clone());
    let routes = atlassian_routes
        .merge(web::routes(state))
        .layer(axum::extract::DefaultBodyLimit::max(BODY_LIMIT));
    let routes = ServiceRouter {
        registry,
        readiness,
    }
    .finish(routes)?;
    Ok(Application::bind(&config.server, routes)
        .await?
        .with_background("outbox sender", move |stop| sender.run(stop))
        .with_background("weekly digest", move |stop| digests.run(stop)))
}
