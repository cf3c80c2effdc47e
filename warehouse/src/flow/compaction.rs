//! Compacting the flow facts, so a view reads them without FINAL (migration 12).
//!
//! A refresh writes an issue's facts again under a higher version, and the facts tables keep
//! every version until background merges fold them; FINAL folded them at read time, merging a
//! tenant's whole history at every view. A compaction merges both tables whole and, when no
//! part older than its start is left, records that start: from then on, every issue whose facts
//! were not refreshed since has exactly one row per key, which a view may filter on any column
//! before reading. The issues refreshed since (stamped in `flow_refreshes` before and after
//! their facts were inserted, by the clock read here) are the only ones a view reads with FINAL.

use clickhouse::{Client, Row};
use serde::Deserialize;

/// The facts tables a compaction merges.
const FACTS_TABLES: [&str; 2] = ["flow_segments", "flow_completions"];

/// What one compaction did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compaction {
    /// Both tables merged; views read the issues not refreshed since `started_at` (seconds
    /// since the epoch, ClickHouse's clock) without FINAL.
    Recorded { started_at: u32 },
    /// A part written before the start was still there (a merge already running took it, or
    /// ClickHouse declined); nothing recorded, views read as before.
    PartsLeft { parts: u64 },
}

/// Merges the facts tables and records the compaction when it left no older part. Every
/// pipeline runs it; two at once merge twice and may both record, which is as true.
pub async fn compact(client: &Client) -> Result<Compaction, clickhouse::error::Error> {
    let started_at: u32 = client.query("SELECT toUInt32(now())").fetch_one().await?;
    for table in FACTS_TABLES {
        client
            .query(&format!("OPTIMIZE TABLE {table} FINAL"))
            .execute()
            .await?;
    }
    // A part is as old as its newest row: one written before the start that is still active
    // was not merged. Parts written in the start's second are stamped at or after it, so the
    // comparison is strict.
    let parts: u64 = client
        .query(
            "SELECT toUInt64(count()) FROM system.parts
             WHERE database = currentDatabase() AND active
               AND table IN (SELECT arrayJoin(CAST(? AS Array(String))))
               AND modification_time < toDateTime(?)",
        )
        .bind(FACTS_TABLES.as_slice())
        .bind(started_at)
        .fetch_one()
        .await?;
    if parts > 0 {
        return Ok(Compaction::PartsLeft { parts });
    }
    client
        .query("INSERT INTO flow_compactions (started_at, finished_at) SELECT toDateTime(?), now()")
        .bind(started_at)
        .execute()
        .await?;
    drop_stamps_before(client, started_at).await?;
    Ok(Compaction::Recorded { started_at })
}

/// The start of the newest recorded compaction, if any: what a view passes to the facts'
/// readers, read once per view so all its queries split the issues alike.
pub async fn compacted_at(client: &Client) -> Result<Option<u32>, clickhouse::error::Error> {
    #[derive(Row, Deserialize)]
    struct Newest {
        compactions: u64,
        started_at: u32,
    }
    let newest: Newest = client
        .query(
            "SELECT toUInt64(count()) AS compactions, toUInt32(max(started_at)) AS started_at
             FROM flow_compactions",
        )
        .fetch_one()
        .await?;
    Ok((newest.compactions > 0).then_some(newest.started_at))
}

/// Drops the days of stamps wholly before the day ahead of `started_at`'s: no reader asks for
/// stamps older than the newest compaction, and one that read an older compaction a moment ago
/// still finds the day before.
async fn drop_stamps_before(
    client: &Client,
    started_at: u32,
) -> Result<(), clickhouse::error::Error> {
    let days: Vec<String> = client
        .query(
            "SELECT DISTINCT partition FROM system.parts
             WHERE database = currentDatabase() AND table = 'flow_refreshes' AND active
               AND toDate(partition) < toDate(toDateTime(?)) - 1",
        )
        .bind(started_at)
        .fetch_all()
        .await?;
    for day in days {
        client
            .query("ALTER TABLE flow_refreshes DROP PARTITION ?")
            .bind(&day)
            .execute()
            .await?;
    }
    Ok(())
}
