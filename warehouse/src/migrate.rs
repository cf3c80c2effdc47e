//! Versioned ClickHouse migrations, embedded in the build, applied in order and recorded in
//! `schema_migrations`. Each migration is written to be re-runnable (`IF NOT EXISTS`), since
//! ClickHouse has no transactions or locks: two instances starting at once both succeed.
//! A database migrated by a newer build is refused.

use clickhouse::{Client, Row};
use serde::Deserialize;

struct Migration {
    version: u32,
    name: &'static str,
    sql: &'static str,
}

const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "events",
        sql: include_str!("../migrations/0001_events.sql"),
    },
    Migration {
        version: 2,
        name: "field_changes",
        sql: include_str!("../migrations/0002_field_changes.sql"),
    },
];

/// The newest schema version this build knows.
pub fn latest_version() -> u32 {
    MIGRATIONS.last().map_or(0, |migration| migration.version)
}

#[derive(Debug, thiserror::Error)]
pub enum MigrateError {
    #[error(
        "the warehouse is at schema version {found}, newer than this build knows ({known}); deploy the newer build"
    )]
    NewerSchema { found: u32, known: u32 },
    #[error("migration {version} ({name}) failed: {source}")]
    Failed {
        version: u32,
        name: &'static str,
        source: clickhouse::error::Error,
    },
    #[error("cannot read the schema version: {0}")]
    Version(#[from] clickhouse::error::Error),
}

#[derive(Row, Deserialize)]
struct Version {
    version: u32,
}

/// Applies what the database lacks; returns the versions applied.
pub async fn migrate(client: &Client) -> Result<Vec<u32>, MigrateError> {
    client
        .query(
            "CREATE TABLE IF NOT EXISTS schema_migrations (
                version UInt32,
                name String,
                applied_at DateTime DEFAULT now()
            ) ENGINE = MergeTree() ORDER BY version",
        )
        .execute()
        .await?;
    let current = current_version(client).await?;
    let known = latest_version();
    if current > known {
        return Err(MigrateError::NewerSchema {
            found: current,
            known,
        });
    }
    let mut applied = Vec::new();
    for migration in MIGRATIONS.iter().filter(|m| m.version > current) {
        let failed = |source| MigrateError::Failed {
            version: migration.version,
            name: migration.name,
            source,
        };
        client
            .query(migration.sql)
            .execute()
            .await
            .map_err(failed)?;
        client
            .query("INSERT INTO schema_migrations (version, name) VALUES (?, ?)")
            .bind(migration.version)
            .bind(migration.name)
            .execute()
            .await
            .map_err(failed)?;
        applied.push(migration.version);
    }
    Ok(applied)
}

pub async fn current_version(client: &Client) -> Result<u32, clickhouse::error::Error> {
    Ok(client
        .query("SELECT toUInt32(max(version)) AS version FROM schema_migrations")
        .fetch_one::<Version>()
        .await?
        .version)
}
