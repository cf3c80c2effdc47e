//! Serves onboarding; `onboarding webhook-connection create --name N --jira-url U` instead
//! creates an admin-webhook connection and prints its URL path and secret, and
//! `onboarding demo-organization …` makes the local stack's demo organization.

use anyhow::Context;
use clap::{CommandFactory, Parser, Subcommand};

#[derive(Parser)]
#[command(
    about = "MetaFrazo onboarding: install callbacks, setup links, organizations",
    // Its settings are read from the environment, not flags: `--help` lists them all the same.
    after_long_help = service_runtime::config::environment_help(&onboarding::Config::command())
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Serve HTTP (the default).
    Serve,
    /// Manage webhooks registered by a Jira admin.
    #[command(subcommand)]
    WebhookConnection(WebhookCommand),
    /// The local stack's demo: an account owning an organization that an installed workspace
    /// is connected to (idempotent). Prints the organization's id.
    DemoOrganization {
        #[arg(long)]
        email: String,
        #[arg(long)]
        password: String,
        #[arg(long)]
        name: String,
        /// The installed workspace's client key (Connect `clientKey`, Forge installation id).
        #[arg(long)]
        client_key: String,
    },
}

#[derive(Subcommand)]
enum WebhookCommand {
    /// Create a connection: prints the path to register in Jira and the secret, once.
    Create {
        #[arg(long)]
        name: String,
        /// The Jira site the webhooks come from.
        #[arg(long)]
        jira_url: String,
    },
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    service_runtime::telemetry::init("onboarding");
    let config = onboarding::Config::from_env().context("reading the configuration")?;
    // The subcommands connect too: the same refusal as serving, before anything connects.
    config.validate().context("checking the configuration")?;
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => {
            let app = onboarding::build(config).await?;
            app.run_until_stopped(service_runtime::shutdown_signal())
                .await?;
            tracing::info!("stopped");
        }
        Command::WebhookConnection(WebhookCommand::Create { name, jira_url }) => {
            let pool = config
                .postgres
                .pool()
                .context("configuring the Postgres pool")?;
            accounts_store::migrate(&pool).await.with_context(|| {
                format!("migrating Postgres at {}", config.postgres.display_url())
            })?;
            let created = onboarding::webhook_connections::create(
                &pool,
                &config.cipher,
                &name,
                &jira_url,
                config.accounts.setup_link_ttl,
            )
            .await?;
            println!("webhook URL path: /webhooks/{}", created.id);
            println!("secret (shown once): {}", created.secret);
            println!(
                "connect it to an organization (one-time link): {}/setup/{}",
                config.atlassian.base_url(),
                created.setup_token
            );
        }
        Command::DemoOrganization {
            email,
            password,
            name,
            client_key,
        } => {
            let pool = config
                .postgres
                .pool()
                .context("configuring the Postgres pool")?;
            accounts_store::migrate(&pool).await.with_context(|| {
                format!("migrating Postgres at {}", config.postgres.display_url())
            })?;
            let demo = onboarding::demo::DemoOrganization {
                email: &email,
                password: &password,
                name: &name,
                client_key: &client_key,
            };
            println!("{}", onboarding::demo::create(&pool, &demo).await?);
        }
    }
    Ok(())
}
