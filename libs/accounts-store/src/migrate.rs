//! Versioned Postgres migrations, embedded in the binary, applied in order under an advisory
//! lock (several instances may start at once) and recorded in `schema_migrations`. A database
//! migrated by a newer build is refused rather than silently run against.

use deadpool_postgres::Pool;

struct Migration {
    version: i32,
    name: &'static str,
    sql: &'static str,
}

const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "installations",
        sql: include_str!("../migrations/0001_installations.sql"),
    },
    Migration {
        version: 2,
        name: "organizations",
        sql: include_str!("../migrations/0002_organizations.sql"),
    },
    Migration {
        version: 3,
        name: "api_tokens",
        sql: include_str!("../migrations/0003_api_tokens.sql"),
    },
    Migration {
        version: 4,
        name: "forge",
        sql: include_str!("../migrations/0004_forge.sql"),
    },
    Migration {
        version: 5,
        name: "oidc",
        sql: include_str!("../migrations/0005_oidc.sql"),
    },
    Migration {
        version: 6,
        name: "sign_in_policy",
        sql: include_str!("../migrations/0006_sign_in_policy.sql"),
    },
    Migration {
        version: 7,
        name: "identity_email_verified",
        sql: include_str!("../migrations/0007_identity_email_verified.sql"),
    },
    Migration {
        version: 8,
        name: "api_token_sign_in_method",
        sql: include_str!("../migrations/0008_api_token_sign_in_method.sql"),
    },
    Migration {
        version: 9,
        name: "password_resets",
        sql: include_str!("../migrations/0009_password_resets.sql"),
    },
    Migration {
        version: 10,
        name: "setup_link_recipient",
        sql: include_str!("../migrations/0010_setup_link_recipient.sql"),
    },
    Migration {
        version: 11,
        name: "api_token_expiry",
        sql: include_str!("../migrations/0011_api_token_expiry.sql"),
    },
    Migration {
        version: 12,
        name: "outbox_failed",
        sql: include_str!("../migrations/0012_outbox_failed.sql"),
    },
    Migration {
        version: 13,
        name: "email_verification",
        sql: include_str!("../migrations/0013_email_verification.sql"),
    },
    Migration {
        version: 14,
        name: "installation_released",
        sql: include_str!("../migrations/0014_installation_released.sql"),
    },
    Migration {
        version: 15,
        name: "oidc_flows_in_the_browser",
        sql: include_str!("../migrations/0015_oidc_flows_in_the_browser.sql"),
    },
    Migration {
        version: 16,
        name: "sign_in_failures_by_client",
        sql: include_str!("../migrations/0016_sign_in_failures_by_client.sql"),
    },
    Migration {
        version: 17,
        name: "saved_views",
        sql: include_str!("../migrations/0017_saved_views.sql"),
    },
    Migration {
        version: 18,
        name: "weekly_digest",
        sql: include_str!("../migrations/0018_weekly_digest.sql"),
    },
    Migration {
        version: 19,
        name: "atlassian_accounts",
        sql: include_str!("../migrations/0019_atlassian_accounts.sql"),
    },
    Migration {
        version: 20,
        name: "jira_permissions",
        sql: include_str!("../migrations/0020_jira_permissions.sql"),
    },
];

/// Arbitrary, fixed: the advisory lock key that serializes migrations.
const MIGRATION_LOCK: i64 = 0x6d66_6d69_6772;

#[derive(Debug, thiserror::Error)]
pub enum MigrateError {
    #[error(
        "the database is at schema version {found}, newer than this build knows ({known}); deploy the newer build"
    )]
    NewerSchema { found: i32, known: i32 },
    #[error("cannot reach Postgres to migrate: {0}")]
    Pool(#[from] deadpool_postgres::PoolError),
    #[error("migration failed: {0}")]
    Postgres(#[from] tokio_postgres::Error),
}

/// Applies every migration the database lacks; returns how many were applied.
pub async fn migrate(pool: &Pool) -> Result<usize, MigrateError> {
    let mut client = pool.get().await?;
    let transaction = client.transaction().await?;
    transaction
        .execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
        .await?;
    transaction
        .batch_execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations (
                version    integer PRIMARY KEY,
                name       text NOT NULL,
                applied_at timestamptz NOT NULL DEFAULT now()
            )",
        )
        .await?;
    let recorded: Vec<i32> = transaction
        .query("SELECT version FROM schema_migrations", &[])
        .await?
        .iter()
        .map(|row| row.get(0))
        .collect();
    let current = recorded.iter().copied().max().unwrap_or(0);
    let known = MIGRATIONS.last().map_or(0, |migration| migration.version);
    if current > known {
        return Err(MigrateError::NewerSchema {
            found: current,
            known,
        });
    }
    let mut applied = 0;
    // Every version not recorded, not only those above the highest: branches number their
    // migrations apart (0014 merged before 0013), and a gap filled later must still run.
    for migration in MIGRATIONS.iter().filter(|m| !recorded.contains(&m.version)) {
        transaction.batch_execute(migration.sql).await?;
        transaction
            .execute(
                "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)",
                &[&migration.version, &migration.name],
            )
            .await?;
        tracing::info!(
            version = migration.version,
            name = migration.name,
            "migrated"
        );
        applied += 1;
    }
    transaction.commit().await?;
    Ok(applied)
}
