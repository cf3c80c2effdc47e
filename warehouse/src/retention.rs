//! Retention by whole months: drops the monthly partitions older than the retention from every
//! table partitioned by month. ClickHouse 18.16 has no TTL; on a current LTS a TTL could do
//! this, but dropping partitions works on both and frees the space at once.

use chrono::{Datelike, NaiveDate};
use clickhouse::{Client, Row};
use serde::Deserialize;

use crate::topology::Topology;

/// Every table partitioned by `toYYYYMM` of its event time (UTC). The rollups are partitioned
/// like the raw rows they come from, so a month leaves all of them together.
pub const PARTITIONED_TABLES: &[&str] = &[
    "events",
    "field_changes",
    "activity_hourly",
    "activity_hours_touched",
    "activity_hourly_sealed",
    "activity_hour_seals",
    "resolution_times_sealed",
    "resolutions",
    "issue_creations",
    "first_events",
    "issue_timeline",
    "sprints",
    "worklogs",
    "sprint_moves",
];

/// One monthly partition dropped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DroppedPartition {
    pub table: &'static str,
    /// `YYYYMM`.
    pub month: u32,
}

#[derive(Debug, thiserror::Error)]
pub enum RetentionError {
    #[error("cannot list the warehouse's partitions: {0}")]
    List(#[source] clickhouse::error::Error),
    #[error("cannot drop partition {month} of {table}: {source}")]
    Drop {
        table: &'static str,
        month: u32,
        source: clickhouse::error::Error,
    },
}

#[derive(Row, Deserialize)]
struct Partition {
    table: String,
    partition: String,
}

/// The oldest month kept (`YYYYMM`) when keeping `months` whole months before `today`'s:
/// with 25 months on 2026-11-23 the partitions before 2024-10 go, so at least 25 months of
/// history stay.
pub fn first_kept_month(today: NaiveDate, months: u32) -> u32 {
    let index = today.year() * 12 + today.month0() as i32 - months as i32;
    let (year, month0) = (index.div_euclid(12), index.rem_euclid(12));
    (year.max(0) as u32) * 100 + month0 as u32 + 1
}

/// Drops every partition of [`PARTITIONED_TABLES`] for a month before `first_kept` (`YYYYMM`);
/// returns what it dropped. Dropping a partition already gone is not an error, so two
/// instances running this at once both succeed.
pub async fn drop_months_before(
    client: &Client,
    first_kept: u32,
) -> Result<Vec<DroppedPartition>, RetentionError> {
    // On a cluster the parts are the local tables' (this replica's; a dropped partition
    // leaves every replica of every shard).
    let topology = Topology::of(client).await.map_err(RetentionError::List)?;
    let stored: Vec<String> = PARTITIONED_TABLES
        .iter()
        .map(|table| topology.local_name(table))
        .collect();
    let partitions = client
        .query(
            "SELECT DISTINCT table, partition FROM system.parts
             WHERE database = currentDatabase() AND active AND has(CAST(? AS Array(String)), table)
             ORDER BY table, partition",
        )
        .bind(&stored)
        .fetch_all::<Partition>()
        .await
        .map_err(RetentionError::List)?;
    let mut dropped = Vec::new();
    for partition in partitions {
        let Some(table) = PARTITIONED_TABLES
            .iter()
            .copied()
            .find(|known| topology.local_name(known) == partition.table)
        else {
            continue;
        };
        // A month partition is its `YYYYMM` number; anything else is not ours to drop.
        let Ok(month) = partition.partition.parse::<u32>() else {
            continue;
        };
        if month >= first_kept {
            continue;
        }
        client
            .query(&format!(
                "ALTER TABLE {} DROP PARTITION ?",
                topology.storage(table)
            ))
            .bind(month)
            .execute()
            .await
            .map_err(|source| RetentionError::Drop {
                table,
                month,
                source,
            })?;
        dropped.push(DroppedPartition { table, month });
    }
    Ok(dropped)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_kept_month_counts_whole_months_back() {
        let day = |y, m, d| NaiveDate::from_ymd_opt(y, m, d).unwrap();
        let cases = [
            (
                day(2026, 11, 23),
                25,
                202410,
                "25 months back crosses two years",
            ),
            (
                day(2026, 11, 1),
                1,
                202610,
                "one month keeps the previous month",
            ),
            (day(2026, 1, 31), 1, 202512, "back across a year"),
            (day(2026, 3, 5), 0, 202603, "zero keeps only this month"),
            (day(2026, 12, 31), 12, 202512, "a year back, same month"),
        ];
        for (today, months, want, message) in cases {
            assert_eq!(first_kept_month(today, months), want, "{message}");
        }
    }
}
