//! Versioned ClickHouse migrations, embedded in the build, applied in order and recorded in
//! `schema_migrations`. Each migration is written to be re-runnable (`IF NOT EXISTS`, backfills
//! whose copies change no number), since ClickHouse has no transactions or locks: two instances
//! starting at once both succeed. 18.16 cannot write `ADD COLUMN IF NOT EXISTS`, so the runner
//! skips an `ALTER TABLE t ADD COLUMN c …` statement (one column each) when `c` is there. A
//! database migrated by a newer build is refused. The files are written for one server; on a
//! cluster the runner sends each statement's cluster form (`plan`).

mod plan;
mod schema_check;

pub use plan::UnknownStatement;
pub use schema_check::SchemaCheck;

use clickhouse::{Client, Row};
use serde::Deserialize;
use service_runtime::connections::ClickHouseConfig;

use crate::topology::Topology;
use plan::{ClusterPlan, Step};

struct Migration {
    version: u32,
    name: &'static str,
    /// One or more statements, each ending with `;` at the end of a line (ClickHouse takes one
    /// statement per request).
    sql: &'static str,
}

const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "events",
        sql: include_str!("../../migrations/0001_events.sql"),
    },
    Migration {
        version: 2,
        name: "field_changes",
        sql: include_str!("../../migrations/0002_field_changes.sql"),
    },
    Migration {
        version: 3,
        name: "field_changes_status_category",
        sql: include_str!("../../migrations/0003_field_changes_status_category.sql"),
    },
    Migration {
        version: 4,
        name: "rollups",
        sql: include_str!("../../migrations/0004_rollups.sql"),
    },
    Migration {
        version: 5,
        name: "events_occurred_at_note",
        sql: include_str!("../../migrations/0005_events_occurred_at_note.sql"),
    },
    Migration {
        version: 6,
        name: "issue_timeline",
        sql: include_str!("../../migrations/0006_issue_timeline.sql"),
    },
    Migration {
        version: 7,
        name: "flow_facts",
        sql: include_str!("../../migrations/0007_flow_facts.sql"),
    },
    Migration {
        version: 8,
        name: "issue_dimensions",
        sql: include_str!("../../migrations/0008_issue_dimensions.sql"),
    },
    Migration {
        version: 9,
        name: "sprints_worklogs",
        sql: include_str!("../../migrations/0009_sprints_worklogs.sql"),
    },
    Migration {
        version: 10,
        name: "sealed_hours",
        sql: include_str!("../../migrations/0010_sealed_hours.sql"),
    },
    Migration {
        version: 11,
        name: "last_received",
        sql: include_str!("../../migrations/0011_last_received.sql"),
    },
    Migration {
        version: 12,
        name: "flow_compaction",
        sql: include_str!("../../migrations/0012_flow_compaction.sql"),
    },
    Migration {
        version: 13,
        name: "flow_snapshots",
        sql: include_str!("../../migrations/0013_flow_snapshots.sql"),
    },
    Migration {
        version: 14,
        name: "flow_snapshots_by_week",
        sql: include_str!("../../migrations/0014_flow_snapshots_by_week.sql"),
    },
    Migration {
        version: 15,
        name: "events_security_level",
        sql: include_str!("../../migrations/0015_events_security_level.sql"),
    },
    Migration {
        version: 16,
        name: "issues_to_check",
        sql: include_str!("../../migrations/0016_issues_to_check.sql"),
    },
];

/// The version whose tables the flow facts' backfill fills (Rust, not SQL: each issue's history
/// is walked by `crate::flow`). It runs once, in the run that applies this version, after the
/// run's last migration: it reads columns added up to [`FLOW_FACTS_READ`].
const FLOW_FACTS: u32 = 7;
/// The newest version whose columns the backfill reads; a run that stops short of it (an upgrade
/// test's older target) leaves the facts empty.
const FLOW_FACTS_READ: u32 = 8;

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
    #[error("migration {version}: {source}")]
    Plan {
        version: u32,
        source: UnknownStatement,
    },
    #[error("cannot read the schema version: {0}")]
    Version(#[from] clickhouse::error::Error),
}

#[derive(Row, Deserialize)]
struct Version {
    version: u32,
}

/// Applies what the database lacks; returns the versions applied. On a cluster
/// (`CLICKHOUSE_CLUSTER`) every statement runs in its cluster form ([`plan`]) on every replica.
pub async fn migrate(config: &ClickHouseConfig) -> Result<Vec<u32>, MigrateError> {
    migrate_to(config, latest_version()).await
}

/// Applies what the database lacks up to `target` (an older schema: for upgrade tests, or to
/// stop before a migration while looking at data).
pub async fn migrate_to(config: &ClickHouseConfig, target: u32) -> Result<Vec<u32>, MigrateError> {
    let client = config.client();
    let client = &client;
    let topology = Topology::named(client, &config.cluster).await?;
    let mut plan = Plan::new(client, &topology).await?;
    let ledger = plan
        .render(LEDGER)
        .map_err(|source| MigrateError::Plan { version: 0, source })?;
    run(client, &ledger).await.map_err(MigrateError::Version)?;
    let current = current_version(client).await?;
    let known = latest_version();
    if current > known {
        return Err(MigrateError::NewerSchema {
            found: current,
            known,
        });
    }
    let mut applied = Vec::new();
    for migration in MIGRATIONS {
        let mut steps = Vec::new();
        for statement in statements(migration.sql) {
            steps.extend(
                plan.render(&statement)
                    .map_err(|source| MigrateError::Plan {
                        version: migration.version,
                        source,
                    })?,
            );
        }
        // Every migration is rendered, applied or not: the cluster form learns its tables.
        if migration.version <= current || migration.version > target {
            continue;
        }
        let failed = |source| MigrateError::Failed {
            version: migration.version,
            name: migration.name,
            source,
        };
        run(client, &steps).await.map_err(failed)?;
        client
            .query("INSERT INTO schema_migrations (version, name) VALUES (?, ?)")
            .bind(migration.version)
            .bind(migration.name)
            .execute()
            .await
            .map_err(failed)?;
        applied.push(migration.version);
    }
    if applied.contains(&FLOW_FACTS) && target >= FLOW_FACTS_READ {
        let refreshed =
            crate::flow::refresh_all(client)
                .await
                .map_err(|source| MigrateError::Failed {
                    version: FLOW_FACTS,
                    name: "flow_facts",
                    source,
                })?;
        tracing::info!(issues = refreshed.issues, "flow facts backfilled");
    }
    Ok(applied)
}

/// Where the versions applied are recorded; created before anything else.
const LEDGER: &str = "CREATE TABLE IF NOT EXISTS schema_migrations (
    version UInt32,
    name String,
    applied_at DateTime DEFAULT now()
) ENGINE = MergeTree() ORDER BY version";

/// The statements of the migrations in the form the topology needs.
enum Plan {
    Single,
    Cluster(ClusterPlan),
}

impl Plan {
    async fn new(client: &Client, topology: &Topology) -> Result<Self, MigrateError> {
        Ok(match topology {
            Topology::Single => Self::Single,
            Topology::Cluster { .. } => {
                let database: String = client.query("SELECT currentDatabase()").fetch_one().await?;
                Self::Cluster(ClusterPlan::new(topology, &database))
            }
        })
    }

    fn render(&mut self, statement: &str) -> Result<Vec<Step>, UnknownStatement> {
        match self {
            Self::Single => Ok(vec![plan::single(statement)]),
            Self::Cluster(plan) => plan.render(statement),
        }
    }
}

async fn run(client: &Client, steps: &[Step]) -> Result<(), clickhouse::error::Error> {
    for step in steps {
        if let Some((table, column)) = &step.unless_column
            && column_exists(client, table, column).await?
        {
            continue;
        }
        for statement in &step.statements {
            client.query(statement).execute().await?;
        }
    }
    Ok(())
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
    use super::plan::added_column;
    use super::*;

    #[test]
    fn every_migration_has_a_cluster_form() {
        let topology = Topology::Cluster {
            name: "metafrazo".into(),
            shards: 2,
        };
        let mut plan = ClusterPlan::new(&topology, "db");
        plan.render(LEDGER).unwrap();
        for migration in MIGRATIONS {
            for statement in statements(migration.sql) {
                let steps = plan
                    .render(&statement)
                    .unwrap_or_else(|err| panic!("{}: {err}", migration.name));
                for sql in steps.iter().flat_map(|step| &step.statements) {
                    let ddl = !sql.trim_start().starts_with("INSERT");
                    assert!(
                        !ddl || sql.contains(" ON CLUSTER "),
                        "{}: {sql}",
                        migration.name
                    );
                }
            }
        }
    }

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

    #[test]
    fn every_added_column_is_one_statement_of_its_own() {
        for migration in MIGRATIONS {
            for statement in statements(migration.sql) {
                let adds = statement.matches("ADD COLUMN").count();
                assert!(
                    adds == 0 || (adds == 1 && added_column(&statement).is_some()),
                    "{}: {statement}",
                    migration.name
                );
            }
        }
    }
}
