//! Compacting the flow facts into snapshots, so a view reads them without FINAL and adds up
//! counts made once instead of every segment (migrations 13 and 14).
//!
//! A refresh writes an issue's facts again under a higher version, and the facts tables keep
//! every version until background merges fold them; FINAL folds them at read time, merging a
//! tenant's whole history at every view. A compaction copies the newest live version of every
//! fact (FINAL, once) into the snapshot tables under a new snapshot id, counts the copy's status
//! changes per hour (`flow_status_changes`), and then records the snapshot with the second it
//! started. A copy never changes afterwards, so a view can exchange an issue's share for its
//! current facts: the issues refreshed since the start (stamped in `flow_refreshes` before and
//! after their facts were inserted, by the clock read here) are read from the facts tables with
//! FINAL, every other issue from the snapshot.

use clickhouse::{Client, Row};
use serde::Deserialize;

use crate::topology::Topology;

/// Each snapshot table, the facts table it copies and the columns it copies.
const SNAPSHOT_TABLES: [(&str, &str, &str); 2] = [
    ("flow_segments_snapshot", "flow_segments", SEGMENT_COLUMNS),
    (
        "flow_completions_snapshot",
        "flow_completions",
        COMPLETION_COLUMNS,
    ),
];

const SEGMENT_COLUMNS: &str = "installation_id, issue_id, ordinal, version, live, issue_key, \
    project_key, issue_type, priority, status, status_category, start_ms, seen_from_ms, end_ms, \
    cycle_start_ms, cycle_spent_before_ms, status_visits, assignee_account_id, assignee_name, \
    labels, components";
const COMPLETION_COLUMNS: &str = "installation_id, issue_id, done_ms, version, live, issue_key, \
    project_key, issue_type, priority, cycle_ms, lead_ms, assignee_account_id, assignee_name, \
    labels, components";

/// A recorded snapshot: what a view reads the compacted facts by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Row, Deserialize)]
pub struct Snapshot {
    /// The snapshot tables' partition: the start in its high 32 bits, so a newer snapshot has a
    /// larger id, and a random low half, so two compactions in one second do not share one.
    pub id: u64,
    /// When the copy began (seconds since the epoch, ClickHouse's clock): issues stamped at or
    /// after it are read from their current facts.
    pub started_at: u32,
}

/// Copies the facts into a new snapshot, counts its status changes and records it; then drops
/// the snapshots before the previous one and the stamps no reader needs. Every pipeline runs
/// it; two at once make two snapshots, and views read the newer.
pub async fn compact(client: &Client) -> Result<Snapshot, clickhouse::error::Error> {
    let (started_at, salt): (u32, u32) = client
        .query("SELECT toUInt32(now()), rand()")
        .fetch_one()
        .await?;
    let snapshot = Snapshot {
        id: (u64::from(started_at) << 32) | u64::from(salt),
        started_at,
    };
    for (copy, table, columns) in SNAPSHOT_TABLES {
        // The filter stays outside FINAL: a row written as gone must hide the older live one
        // before anything is filtered out.
        client
            .query(&format!(
                "INSERT INTO {copy} (snapshot, {columns})
                 SELECT {id}, {columns} FROM (SELECT {columns} FROM {table} FINAL)
                 WHERE live = 1",
                id = snapshot.id,
            ))
            .execute()
            .await?;
    }
    client
        .query(&format!(
            "INSERT INTO flow_status_changes
             SELECT {id} AS snapshot, installation_id, hour, project_key, issue_type,
                    status_category, status, began, change
             FROM ({changes})",
            id = snapshot.id,
            changes = status_changes(
                &format!(
                    "(SELECT * FROM flow_segments_snapshot WHERE snapshot = {})",
                    snapshot.id
                ),
                None
            ),
        ))
        .execute()
        .await?;
    // The newest change per installation: a view ending after it counts the whole hour it
    // ends in from the changes, without reading its segments.
    client
        .query(&format!(
            "INSERT INTO flow_snapshot_latest
             SELECT {id} AS snapshot, installation_id,
                    max(greatest(seen_from_ms, if(end_ms = {open}, toInt64(-1), end_ms)))
             FROM flow_segments_snapshot WHERE snapshot = {id}
             GROUP BY installation_id",
            id = snapshot.id,
            open = super::facts::OPEN,
        ))
        .execute()
        .await?;
    client
        .query(
            "INSERT INTO flow_snapshots (snapshot, started_at, finished_at)
             SELECT ?, toDateTime(?), now()",
        )
        .bind(snapshot.id)
        .bind(snapshot.started_at)
        .execute()
        .await?;
    let topology = Topology::of(client).await?;
    drop_snapshots_before_previous(client, &topology).await?;
    for table in ["flow_refreshes", "flow_snapshots"] {
        drop_days_before(client, &topology, table, started_at).await?;
    }
    Ok(snapshot)
}

/// The status changes per UTC hour of `segments` (a table or subquery with the segment
/// columns), summed per (installation, hour, project, type, category, status, began): +1 in the
/// hour a segment is first known, -1 in the hour it ended; with `before` (milliseconds), only
/// the changes before it. A segment that ended before it was first known never counts, and
/// gives no change. Shared with the views, which take the same changes of a refreshed issue's
/// snapshot rows away and add those of its current facts.
pub(crate) fn status_changes(segments: &str, before: Option<i64>) -> String {
    let moments = "if(end_ms = {open}, [(seen_from_ms, toInt64(1))], \
                   [(seen_from_ms, toInt64(1)), (end_ms, toInt64(-1))])"
        .replace("{open}", &super::facts::OPEN.to_string());
    let moments = match before {
        Some(before) => format!("arrayFilter(m -> tupleElement(m, 1) < {before}, {moments})"),
        None => moments,
    };
    format!(
        "SELECT installation_id, project_key, issue_type, status_category, status, began,
                toStartOfHour(toDateTime(intDiv(tupleElement(moment, 1), 1000))) AS hour,
                toInt64(sum(tupleElement(moment, 2))) AS change
         FROM (
             SELECT installation_id, project_key, issue_type, status_category, status,
                    if(status_category = 'done' AND start_ms >= 0,
                       toStartOfHour(toDateTime(intDiv(start_ms, 1000))), toDateTime(0)) AS began,
                    arrayJoin({moments}) AS moment
             FROM {segments}
             WHERE status_category IN ('new', 'indeterminate', 'done') AND seen_from_ms >= 0
               AND end_ms >= seen_from_ms
         )
         GROUP BY installation_id, project_key, issue_type, status_category, status, began, hour"
    )
}

/// The newest recorded snapshot, if any: what a view passes to the facts' readers, read once
/// per view so all its queries split the issues alike.
pub async fn newest_snapshot(
    client: &Client,
) -> Result<Option<Snapshot>, clickhouse::error::Error> {
    let newest: Vec<Snapshot> = client
        .query(
            "SELECT snapshot AS id, toUInt32(started_at) AS started_at FROM flow_snapshots
             ORDER BY snapshot DESC LIMIT 1",
        )
        .fetch_all()
        .await?;
    Ok(newest.into_iter().next())
}

/// Drops every snapshot older than the previous recorded one: a view that read the previous
/// one a moment ago still finds it. A compaction that failed halfway left an unrecorded
/// snapshot, which goes with them once older than that.
async fn drop_snapshots_before_previous(
    client: &Client,
    topology: &Topology,
) -> Result<(), clickhouse::error::Error> {
    let recorded: Vec<u64> = client
        .query("SELECT snapshot FROM flow_snapshots ORDER BY snapshot DESC LIMIT 2")
        .fetch_all()
        .await?;
    let Some(&previous) = recorded.get(1) else {
        return Ok(());
    };
    let mut tables: Vec<&str> = SNAPSHOT_TABLES.iter().map(|(copy, ..)| *copy).collect();
    tables.extend(["flow_status_changes", "flow_snapshot_latest"]);
    #[derive(Row, Deserialize)]
    struct Partition {
        table: String,
        partition_id: String,
    }
    // A partition's id starts with its snapshot: the whole id of the counts' tables, the first
    // of `snapshot-week` in the copies' (migration 14). `has`, not `IN (subquery)`: ClickHouse
    // 18.16 finds no parts with a subquery on `table`.
    let old: Vec<Partition> = client
        .query(
            "SELECT DISTINCT table, partition_id FROM system.parts
             WHERE database = currentDatabase() AND active
               AND has(CAST(? AS Array(String)), table)
               AND toUInt64(splitByChar('-', partition_id)[1]) < ?",
        )
        .bind(
            tables
                .iter()
                .map(|table| topology.local_name(table))
                .collect::<Vec<_>>(),
        )
        .bind(previous)
        .fetch_all()
        .await?;
    for partition in old {
        let Some(table) = tables
            .iter()
            .find(|table| topology.local_name(table) == partition.table)
        else {
            continue;
        };
        client
            .query(&format!(
                "ALTER TABLE {} DROP PARTITION ID ?",
                topology.storage(table)
            ))
            .bind(&partition.partition_id)
            .execute()
            .await?;
    }
    Ok(())
}

/// Drops the days of `table` (stamps or records of snapshots, partitioned by day) wholly before
/// the day ahead of `started_at`'s: no reader asks for stamps older than the newest snapshot,
/// and one that read the previous snapshot a moment ago still finds the day before.
async fn drop_days_before(
    client: &Client,
    topology: &Topology,
    table: &str,
    started_at: u32,
) -> Result<(), clickhouse::error::Error> {
    let days: Vec<String> = client
        .query(
            "SELECT DISTINCT partition FROM system.parts
             WHERE database = currentDatabase() AND table = ? AND active
               AND toDate(partition) < toDate(toDateTime(?)) - 1",
        )
        .bind(topology.local_name(table))
        .bind(started_at)
        .fetch_all()
        .await?;
    for day in days {
        client
            .query(&format!(
                "ALTER TABLE {} DROP PARTITION ?",
                topology.storage(table)
            ))
            .bind(&day)
            .execute()
            .await?;
    }
    Ok(())
}
