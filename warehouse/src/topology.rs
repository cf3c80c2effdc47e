//! Where the warehouse's tables live: on one server, or on a ClickHouse cluster named by
//! `CLICKHOUSE_CLUSTER`.
//!
//! On a cluster every table is two: `<name>_local`, a `Replicated…MergeTree` on each replica of
//! each shard, and `<name>`, a `Distributed` table over them sharded by installation. Queries and
//! inserts name `<name>` on both topologies, so they are the same SQL; the client's settings
//! (`service_runtime::connections::ClickHouseConfig::client`) make inserts through a
//! `Distributed` table synchronous and let subqueries read the shard's own rows (every row of an
//! installation lives on one shard). Only statements that change a table's parts or rows in place
//! (mutations, dropped partitions) and the schema itself address the local tables, on every
//! replica: [`Topology::storage`] names them.
//!
//! A running service reads the topology from the schema ([`Topology::of`]), so it can never
//! disagree with how the database was migrated; only the migrations take it from the config.

use clickhouse::{Client, Row};
use serde::Deserialize;

/// The suffix of a cluster's replicated tables, under the `Distributed` table of the plain name.
pub const LOCAL_SUFFIX: &str = "_local";

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Topology {
    /// One server: each table is the table.
    Single,
    /// A cluster as `remote_servers` in the servers' config names it, of `shards` shards.
    Cluster { name: String, shards: u32 },
}

#[derive(Row, Deserialize)]
struct Engine {
    engine_full: String,
}

impl Topology {
    /// From `CLICKHOUSE_CLUSTER` (empty is one server); the shards from the server's config.
    pub async fn named(client: &Client, cluster: &str) -> Result<Self, clickhouse::error::Error> {
        match cluster.trim() {
            "" => Ok(Self::Single),
            name => Self::cluster(client, name).await,
        }
    }

    async fn cluster(client: &Client, name: &str) -> Result<Self, clickhouse::error::Error> {
        let shards: u32 = client
            .query("SELECT toUInt32(uniqExact(shard_num)) FROM system.clusters WHERE cluster = ?")
            .bind(name)
            .fetch_one()
            .await?;
        Ok(Self::Cluster {
            name: name.to_owned(),
            shards,
        })
    }

    /// The topology the database was migrated with: `schema_migrations`, the first table any
    /// migration creates, is `Distributed` over the cluster on a cluster. A database not yet
    /// migrated reads as one server.
    pub async fn of(client: &Client) -> Result<Self, clickhouse::error::Error> {
        let engines: Vec<Engine> = client
            .query(
                "SELECT engine_full FROM system.tables
                 WHERE database = currentDatabase() AND name = 'schema_migrations'",
            )
            .fetch_all()
            .await?;
        match engines
            .first()
            .and_then(|engine| distributed_cluster(&engine.engine_full))
        {
            Some(name) => Self::cluster(client, &name).await,
            None => Ok(Self::Single),
        }
    }

    /// `table` as a statement that changes its parts or rows in place names it: itself on one
    /// server; its replicated table on a cluster, for one replica per shard (`events_local`, or
    /// `events_local ON CLUSTER c` on several shards).
    pub fn storage(&self, table: &str) -> String {
        format!(
            "`{}`{}",
            self.local_name(table).replace('`', "``"),
            self.to_each_shard()
        )
    }

    /// What a statement that changes a replicated table in place adds to reach every shard:
    /// ` ON CLUSTER name` on several shards; nothing on one shard (replication carries it) or
    /// one server.
    pub fn to_each_shard(&self) -> String {
        match self {
            Self::Cluster { name, shards } if *shards > 1 => {
                format!(" ON CLUSTER `{}`", name.replace('`', "``"))
            }
            _ => String::new(),
        }
    }

    /// The name `system.parts` and `system.columns` know `table`'s rows by.
    pub fn local_name(&self, table: &str) -> String {
        match self {
            Self::Single => table.to_owned(),
            Self::Cluster { .. } => format!("{table}{LOCAL_SUFFIX}"),
        }
    }
}

/// The cluster of an engine that reads `Distributed(cluster, database, table[, key])`.
fn distributed_cluster(engine_full: &str) -> Option<String> {
    let arguments = engine_full.trim().strip_prefix("Distributed(")?;
    let cluster = arguments.split([',', ')']).next()?.trim();
    let cluster = cluster.trim_matches(|c| c == '\'' || c == '`' || c == '"');
    (!cluster.is_empty()).then(|| cluster.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cluster_is_read_from_a_distributed_engine_and_nothing_else() {
        assert_eq!(
            distributed_cluster("Distributed(metafrazo, db, schema_migrations_local, 0)"),
            Some("metafrazo".into())
        );
        assert_eq!(
            distributed_cluster("Distributed('metafrazo', 'db', 't', rand())"),
            Some("metafrazo".into())
        );
        assert_eq!(distributed_cluster("MergeTree ORDER BY version"), None);
        assert_eq!(distributed_cluster("Distributed()"), None);
    }

    #[test]
    fn storage_names_the_local_table_for_one_replica_of_each_shard() {
        assert_eq!(Topology::Single.storage("events"), "`events`");
        let cluster = |shards| Topology::Cluster {
            name: "metafrazo".into(),
            shards,
        };
        assert_eq!(cluster(1).storage("events"), "`events_local`");
        assert_eq!(
            cluster(2).storage("events"),
            "`events_local` ON CLUSTER `metafrazo`"
        );
        assert_eq!(cluster(1).local_name("events"), "events_local");
    }
}
