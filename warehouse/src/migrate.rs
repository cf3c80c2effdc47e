//! Versioned ClickHouse migrations, embedded in the build, applied in order and recorded in
//! `schema_migrations`. Each migration is written to be re-runnable (`IF NOT EXISTS`, backfills
//! whose copies change no number), since ClickHouse has no transactions or locks: two instances
//! starting at once both succeed. A database migrated by a newer build is refused.

use clickhouse::{Client, Row};
use serde::Deserialize;

struct Migration {
    version: u32,
    name: &'static str,
    /// One or more statements, each ending with `;` at the end of a line (ClickHouse takes one
    /// statement per request).
    sql: &'static str,
    /// `(table, column)`: the migration is already in place when that column exists. For an
    /// `ADD COLUMN`, which 18.16 cannot write as `IF NOT EXISTS`.
    done_if_column: Option<(&'static str, &'static str)>,
}

const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "events",
        sql: include_str!("../migrations/0001_events.sql"),
        done_if_column: None,
    },
    Migration {
        version: 2,
        name: "field_changes",
        sql: include_str!("../migrations/0002_field_changes.sql"),
        done_if_column: None,
    },
    Migration {
        version: 3,
        name: "field_changes_status_category",
        sql: include_str!("../migrations/0003_field_changes_status_category.sql"),
        done_if_column: Some(("field_changes", "status_category")),
    },
    Migration {
        version: 4,
        name: "rollups",
        sql: include_str!("../migrations/0004_rollups.sql"),
        done_if_column: None,
    },
    Migration {
        version: 5,
        name: "events_occurred_at_note",
        sql: include_str!("../migrations/0005_events_occurred_at_note.sql"),
        done_if_column: Some(("events", "occurred_at_note")),
    },
    Migration {
        version: 6,
        name: "issue_timeline",
        sql: include_str!("../migrations/0006_issue_timeline.sql"),
        done_if_column: None,
    },
    Migration {
        version: 7,
        name: "flow_facts",
        sql: include_str!("../migrations/0007_flow_facts.sql"),
        done_if_column: None,
    },
    Migration {
        version: 9,
        name: "sprints_worklogs",
        sql: include_str!("../migrations/0009_sprints_worklogs.sql"),
        done_if_column: None,
    },
];

/// The version whose tables the flow facts' backfill fills: it runs once that migration's
/// statements have (Rust, not SQL: each issue's history is walked by `crate::flow`).
const FLOW_FACTS: u32 = 7;

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
    migrate_to(client, latest_version()).await
}

/// Applies what the database lacks up to `target` (an older schema: for upgrade tests, or to
/// stop before a migration while looking at data).
pub async fn migrate_to(client: &Client, target: u32) -> Result<Vec<u32>, MigrateError> {
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
    let pending = MIGRATIONS
        .iter()
        .filter(|m| m.version > current && m.version <= target);
    for migration in pending {
        let failed = |source| MigrateError::Failed {
            version: migration.version,
            name: migration.name,
            source,
        };
        let done = match migration.done_if_column {
            Some((table, column)) => column_exists(client, table, column).await.map_err(failed)?,
            None => false,
        };
        if !done {
            for statement in statements(migration.sql) {
                client.query(&statement).execute().await.map_err(failed)?;
            }
        }
        if migration.version == FLOW_FACTS {
            let refreshed = crate::flow::refresh_all(client).await.map_err(failed)?;
            tracing::info!(issues = refreshed.issues, "flow facts backfilled");
        }
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

/// The statements of a migration file: split where a line ends with `;`, comments and blank
/// pieces dropped. Our migrations never put `;` at the end of a line inside a statement.
fn statements(sql: &str) -> Vec<String> {
    let mut statements = Vec::new();
    let mut current = String::new();
    for line in sql.lines() {
        let code = line.trim_end();
        if code.trim_start().starts_with("--") {
            continue;
        }
        match code.strip_suffix(';') {
            Some(last) => {
                current.push_str(last);
                statements.push(std::mem::take(&mut current));
            }
            None => {
                current.push_str(code);
                current.push('\n');
            }
        }
    }
    statements.push(current);
    statements.retain(|statement| !statement.trim().is_empty());
    statements
}

async fn column_exists(
    client: &Client,
    table: &str,
    column: &str,
) -> Result<bool, clickhouse::error::Error> {
    let found: u8 = client
        .query(
            "SELECT toUInt8(count() > 0) FROM system.columns
             WHERE database = currentDatabase() AND table = ? AND name = ?",
        )
        .bind(table)
        .bind(column)
        .fetch_one()
        .await?;
    Ok(found == 1)
}

pub async fn current_version(client: &Client) -> Result<u32, clickhouse::error::Error> {
    Ok(client
        .query("SELECT toUInt32(max(version)) AS version FROM schema_migrations")
        .fetch_one::<Version>()
        .await?
        .version)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_migration_splits_into_statements_without_comments() {
        for migration in MIGRATIONS {
            let statements = statements(migration.sql);
            assert!(!statements.is_empty(), "{}", migration.name);
            for statement in &statements {
                assert!(!statement.contains("--"), "{}: {statement}", migration.name);
                assert!(!statement.trim_end().ends_with(';'), "{}", migration.name);
            }
        }
        assert_eq!(statements("SELECT 1;\n-- x;\nSELECT\n  2;\n\n").len(), 2);
    }
}
