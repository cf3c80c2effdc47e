//! Erasing installations' data, for an organization that is deleted. Every MergeTree table of
//! the database with an `installation_id` column is covered, so a table added later (a rollup)
//! cannot be forgotten here.
//!
//! `ALTER TABLE … DELETE` is a mutation: ClickHouse accepts it at once and rewrites the parts in
//! the background, so rows disappear shortly after this returns. 18.16 has mutations but not
//! lightweight `DELETE FROM`. On a cluster the tables found are the replicated ones under the
//! `Distributed` tables, and each mutation reaches every shard (replication, every replica).

use clickhouse::Client;
use contracts::InstallationId;

use crate::topology::Topology;

pub async fn erase_installations(
    client: &Client,
    installation_ids: &[InstallationId],
) -> Result<(), clickhouse::error::Error> {
    if installation_ids.is_empty() {
        return Ok(());
    }
    let topology = Topology::of(client).await?;
    let tables: Vec<String> = client
        .query(
            "SELECT name FROM system.tables
             WHERE database = currentDatabase() AND engine LIKE '%MergeTree'
               AND name IN (SELECT table FROM system.columns
                            WHERE database = currentDatabase() AND name = 'installation_id')
             ORDER BY name",
        )
        .fetch_all()
        .await?;
    for table in tables {
        // Table names come from system.tables, not from a caller; quoted all the same.
        let table = table.replace('`', "``");
        client
            .query(&format!(
                "ALTER TABLE `{table}`{} DELETE WHERE has(?, installation_id)",
                topology.to_each_shard()
            ))
            .bind(installation_ids)
            .execute()
            .await?;
    }
    Ok(())
}
