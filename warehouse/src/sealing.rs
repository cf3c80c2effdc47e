//! Sealing quiet hours: counting the hourly rollup's sets of delivery ids once, so views over
//! a large tenant add numbers instead of merging sets (migration 10 says why and how a seal
//! stays exact). An hour is sealed when no delivery has reached it for [`QUIET_SECS`]; a
//! delivery that reaches it later leaves the seal older than the hour's last touch, and the
//! views read that hour's sets again until it is sealed anew.
//!
//! Safe to run from any number of pipelines at once: every seal counts what was stored when it
//! began, its counts are written before the seal itself, and the views use an hour's seal only
//! while it is newer than the hour's last touch.

use clickhouse::{Client, Row};
use contracts::InstallationId;
use serde::Deserialize;

/// How long an hour must go untouched before it is sealed, by default: the hour being written
/// to now is left to the sets (it is one hour of a view), and the margin covers the moment
/// between a delivery's touch and its rows reaching the rollup, which are separate
/// materialized views of one insert, and an insert still under way.
pub const QUIET_SECS: u32 = 60;

/// At most this many hours are counted in one statement, so one statement's memory stays
/// bounded (a 10-million-event tenant's hours hold about 2,300 ids each).
const HOURS_PER_STATEMENT: usize = 500;

/// `hour` (an expression for a whole UTC hour) is one of a bound list of hours
/// (`Array(UInt32)`, seconds). A set, not `has()` of the array: `has` compares each row with
/// every hour of the list (70 ms for 17,000 rows and 2,000 hours), a set looks it up, and the
/// primary key can prune by it where `hour` is a key column.
pub(crate) fn one_of_hours(hour: &str) -> String {
    format!("{hour} IN (SELECT toDateTime(arrayJoin(CAST(? AS Array(UInt32)))))")
}

/// Where the next pass looks: touches at or after `since` (seconds since the epoch, ClickHouse's
/// clock). Zero, the start, looks at every hour ever touched.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SealCursor {
    since: u32,
}

/// What one pass did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SealPass {
    /// Hours sealed.
    pub sealed: u64,
    /// More installations have quiet hours waiting than the pass's limit let it seal.
    pub more_waiting: bool,
}

#[derive(Row, Deserialize)]
struct PendingHours {
    installation_id: String,
    hours: Vec<u32>,
}

/// Seals the hours of up to `installations` installations touched since `cursor` and untouched
/// for `quiet_secs` (at least one; [`QUIET_SECS`] unless a test cannot wait), and moves the
/// cursor past what no later pass needs to see again.
pub async fn seal_quiet_hours(
    client: &Client,
    cursor: &mut SealCursor,
    installations: u64,
    quiet_secs: u32,
) -> Result<SealPass, clickhouse::error::Error> {
    let quiet_secs = quiet_secs.max(1);
    // Seals are stamped `quiet_before`, not now: a touch stamped earlier had the quiet margin to
    // land, with its rows, before anything here is read; one stamped later (an insert still
    // under way) is not older than the seal, so the seal does not count for its hour.
    let now: u32 = client.query("SELECT toUInt32(now())").fetch_one().await?;
    let quiet_before = now.saturating_sub(quiet_secs);
    // Hours touched since the cursor (the newest touch of an hour is among those, so it is the
    // hour's last), quiet now, whose last seal is not newer than their last touch (no seal reads
    // as 1970).
    let pending: Vec<PendingHours> = client
        .query(
            "SELECT installation_id, groupArray(toUInt32(hour)) AS hours
             FROM (
                 SELECT installation_id, hour, max(touched_at) AS touched
                 FROM activity_hours_touched
                 WHERE touched_at >= toDateTime(?)
                 GROUP BY installation_id, hour
                 HAVING touched < toDateTime(?)
             )
             ANY LEFT JOIN (
                 SELECT installation_id, hour, max(sealed_at) AS sealed
                 FROM activity_hour_seals
                 WHERE (installation_id, hour) IN (
                     SELECT installation_id, hour FROM activity_hours_touched
                     WHERE touched_at >= toDateTime(?))
                 GROUP BY installation_id, hour
             ) USING (installation_id, hour)
             WHERE sealed <= touched
             GROUP BY installation_id
             ORDER BY installation_id
             LIMIT ?",
        )
        .bind(cursor.since)
        .bind(quiet_before)
        .bind(cursor.since)
        .bind(installations + 1)
        .fetch_all()
        .await?;
    let more_waiting = pending.len() as u64 > installations;
    let mut sealed = 0;
    for mut pending in pending.into_iter().take(installations as usize) {
        pending.hours.sort_unstable();
        for chunk in pending.hours.chunks(HOURS_PER_STATEMENT) {
            seal(client, &pending.installation_id, chunk, quiet_before).await?;
            sealed += chunk.len() as u64;
        }
    }
    // Touches inside the quiet margin are not sealed yet, so the next pass looks from there,
    // and a margin further back for a touch that landed late. With installations left over, it
    // looks from where this one did.
    if !more_waiting {
        cursor.since = quiet_before.saturating_sub(quiet_secs);
    }
    Ok(SealPass {
        sealed,
        more_waiting,
    })
}

/// Counts `hours` of one installation as of `sealed_at` (the rollup's sets and the resolutions'
/// times), then records the seal: a seal that is visible has all of its rows visible.
async fn seal(
    client: &Client,
    installation: &str,
    hours: &[u32],
    sealed_at: u32,
) -> Result<(), clickhouse::error::Error> {
    let (first, last) = (
        hours.iter().min().copied().unwrap_or(0),
        hours.iter().max().copied().unwrap_or(0),
    );
    client
        .query(&format!(
            "INSERT INTO activity_hourly_sealed
             SELECT installation_id, kind, hour, project_key, issue_type,
                    toUInt64(uniqExactMerge(deliveries)), toDateTime(?)
             FROM activity_hourly
             WHERE installation_id = ? AND hour >= toDateTime(?) AND hour <= toDateTime(?)
               AND {hours}
             GROUP BY installation_id, kind, hour, project_key, issue_type",
            hours = one_of_hours("hour")
        ))
        .bind(sealed_at)
        .bind(installation)
        .bind(first)
        .bind(last)
        .bind(hours)
        .execute()
        .await?;
    // Each resolution once (a copy shares its key), with its issue's earliest creation when
    // one is stored; grouped by hour, project and type as the views filter them.
    client
        .query(&format!(
            "INSERT INTO resolution_times_sealed
             SELECT installation_id, hour, project_key, issue_type,
                    groupArrayIf(resolved_ms - created_ms, seen = 1 AND resolved_ms >= created_ms),
                    groupArrayIf(issue_id, seen = 0),
                    groupArrayIf(resolved_ms, seen = 0),
                    toDateTime(?)
             FROM (
                 SELECT installation_id, toStartOfHour(occurred_at) AS hour, project_key,
                        issue_type, issue_id, any(occurred_at_ms) AS resolved_ms
                 FROM resolutions
                 WHERE installation_id = ?
                   AND occurred_at >= toDateTime(?) AND occurred_at < toDateTime(? + 3600)
                   AND {hours}
                 GROUP BY installation_id, hour, delivery_id, item_index, project_key,
                          issue_type, issue_id
             )
             ANY LEFT JOIN (
                 SELECT installation_id, issue_id, min(created_ms) AS created_ms,
                        toUInt8(1) AS seen
                 FROM issue_creations
                 WHERE installation_id = ?
                   AND issue_id IN (
                       SELECT issue_id FROM resolutions
                       WHERE installation_id = ?
                         AND occurred_at >= toDateTime(?) AND occurred_at < toDateTime(? + 3600))
                 GROUP BY installation_id, issue_id
             ) USING (installation_id, issue_id)
             GROUP BY installation_id, hour, project_key, issue_type",
            hours = one_of_hours("toStartOfHour(occurred_at)")
        ))
        .bind(sealed_at)
        .bind(installation)
        .bind(first)
        .bind(last)
        .bind(hours)
        .bind(installation)
        .bind(installation)
        .bind(first)
        .bind(last)
        .execute()
        .await?;
    client
        .query(
            "INSERT INTO activity_hour_seals
             SELECT ?, toDateTime(hour), toDateTime(?)
             FROM (SELECT arrayJoin(CAST(? AS Array(UInt32))) AS hour)",
        )
        .bind(installation)
        .bind(sealed_at)
        .bind(hours)
        .execute()
        .await
}

/// How many of the installations' touched hours are sealed, and how many not (touched since
/// their last seal, or never sealed): views read the latter from their sets.
pub async fn sealed_and_unsealed_hours(
    client: &Client,
    installations: &[InstallationId],
) -> Result<(u64, u64), clickhouse::error::Error> {
    client
        .query(
            "SELECT toUInt64(countIf(sealed > touched)), toUInt64(countIf(sealed <= touched))
             FROM (
                 SELECT installation_id, hour, max(touched_at) AS touched
                 FROM activity_hours_touched
                 WHERE has(?, installation_id)
                 GROUP BY installation_id, hour
             )
             ANY LEFT JOIN (
                 SELECT installation_id, hour, max(sealed_at) AS sealed
                 FROM activity_hour_seals
                 WHERE has(?, installation_id)
                 GROUP BY installation_id, hour
             ) USING (installation_id, hour)",
        )
        .bind(installations)
        .bind(installations)
        .fetch_one()
        .await
}
