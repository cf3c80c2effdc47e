//! Trends per ISO week (viewer's time zone): issues created against resolved, reopened, the open
//! backlog at each week's end, the median time from creation to resolution of the issues
//! resolved that week, and how often chosen fields changed. All counts are of distinct
//! deliveries (or changelog items), so duplicates change nothing. Counts come from the
//! `activity_hourly` rollup (sealed or not) for whole hours and from the raw tables for the rest
//! (`hour_split`); the median from sealed hours' resolution times and, for the rest, the narrow
//! `resolutions` and `issue_creations` tables.
//!
//! We never backfill: the backlog counts issues created since the workspace was connected
//! (created − resolved + reopened, cumulative from the first event), and the time to
//! resolution is known only for issues whose creation we saw.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use clickhouse::{Client, Row, query::Query};
use serde::Deserialize;

use super::{
    calendar::{epoch_day, week_starts},
    hour_split::{HourSplit, PROJECT_AND_TYPE, bind_project_and_type, rollup_counts},
    scope::{QueryError, SCOPE_FILTER, Scope, bind_scope},
};
use crate::sealing::one_of_hours;

#[derive(Debug, Clone, PartialEq)]
pub struct Trends {
    pub weeks: Vec<TrendWeek>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct TrendWeek {
    /// The Monday the week starts on, in the viewer's time zone.
    pub start: NaiveDate,
    pub created: u64,
    pub resolved: u64,
    /// Resolutions cleared again.
    pub reopened: u64,
    /// Open issues at the end of the week, counted from the first event in range.
    pub backlog: i64,
    /// Median hours from creation to resolution of the issues resolved this week whose
    /// creation we saw (for an even count, the upper of the two middle values, as ClickHouse's
    /// `quantileExact` gives it); `None` when there were none.
    pub median_hours_to_resolution: Option<f64>,
    /// Changes per requested field (`assignee`, `priority`, …), zero when none.
    pub field_changes: BTreeMap<String, u64>,
}

/// An issue as one 128-bit value: its installation and id, hashed with a separator no id holds.
const ISSUE_KEY: &str = "sipHash128(concat(installation_id, '\\0', issue_id))";

#[derive(Row, Deserialize)]
struct WeekCount {
    week: u16,
    kind: String,
    n: u64,
}

#[derive(Row, Deserialize)]
struct WeekMedian {
    week: u16,
    resolved_with_creation: u64,
    median_ms: f64,
}

pub async fn trends(
    client: &Client,
    scope: &Scope,
    fields: &[String],
) -> Result<Trends, QueryError> {
    scope.validate()?;
    // Independent queries, sent together: the view waits for the slowest, not for the sum.
    let (counts, medians, starts) = tokio::try_join!(
        counts(client, scope, fields),
        medians(client, scope),
        week_starts(client, scope),
    )?;
    let mut weeks: Vec<TrendWeek> = starts
        .into_iter()
        .map(|start| TrendWeek {
            start,
            created: 0,
            resolved: 0,
            reopened: 0,
            backlog: 0,
            median_hours_to_resolution: None,
            field_changes: fields.iter().map(|field| (field.clone(), 0)).collect(),
        })
        .collect();
    for row in counts {
        let Some(week) = weeks.iter_mut().find(|w| w.start == epoch_day(row.week)) else {
            continue;
        };
        match row.kind.as_str() {
            "issue_created" => week.created = row.n,
            "resolved" => week.resolved = row.n,
            "reopened" => week.reopened = row.n,
            other => {
                if let Some(field) = other.strip_prefix("field:")
                    && let Some(count) = week.field_changes.get_mut(field)
                {
                    *count += row.n;
                }
            }
        }
    }
    for row in medians {
        if let Some(week) = weeks.iter_mut().find(|w| w.start == epoch_day(row.week))
            && row.resolved_with_creation > 0
        {
            week.median_hours_to_resolution = Some(row.median_ms / 3_600_000.0);
        }
    }
    let mut open = 0i64;
    for week in &mut weeks {
        open += week.created as i64 - week.resolved as i64 + week.reopened as i64;
        week.backlog = open;
    }
    Ok(Trends { weeks })
}

/// Created, resolved, reopened and field changes per week and kind.
async fn counts(
    client: &Client,
    scope: &Scope,
    fields: &[String],
) -> Result<Vec<WeekCount>, QueryError> {
    let kinds: Vec<String> = ["issue_created", "resolved", "reopened"]
        .into_iter()
        .map(str::to_owned)
        .chain(fields.iter().map(|field| format!("field:{field}")))
        .collect();
    let split = HourSplit::of(client, scope).await?;
    let raw = split.raw_filter();
    // Whole hours from the rollup, the rest from the raw rows (see `hour_split`); a delivery is
    // in one of the two, so the counts add up.
    let sql = format!(
        "SELECT week, kind, toUInt64(sum(n)) AS n
         FROM (
             {rollup}
             UNION ALL
             SELECT toUInt16(toMonday(toDateTime(intDiv(occurred_at_ms, 1000)), ?)) AS week, kind,
                    toUInt64(uniqExact(installation_id, delivery_id, item)) AS n
             FROM (
                 SELECT installation_id, delivery_id, toUInt16(0) AS item, occurred_at_ms,
                        'issue_created' AS kind
                 FROM events WHERE {SCOPE_FILTER} AND {raw} AND event_type = 'issue_created'
                 UNION ALL
                 SELECT installation_id, delivery_id, item_index AS item, occurred_at_ms,
                        multiIf(field = 'resolution' AND from_value = '' AND to_value != '', 'resolved',
                                field = 'resolution' AND from_value != '' AND to_value = '', 'reopened',
                                concat('field:', field)) AS kind
                 FROM field_changes WHERE {SCOPE_FILTER} AND {raw}
             )
             WHERE kind IN (SELECT arrayJoin(CAST(? AS Array(String))))
             GROUP BY week, kind
         )
         GROUP BY week, kind",
        rollup = rollup_counts(),
    );
    let query = split.bind_rollup(client.query(&sql), scope, &kinds);
    let mut query = query.bind(&scope.time_zone);
    for _ in 0..2 {
        query = split.bind_raw(bind_scope(query, scope));
    }
    Ok(query.bind(&kinds).fetch_all::<WeekCount>().await?)
}

/// Of a sealed table's rows, the newest seal of each hour, project and issue type.
const NEWEST_SEAL: &str =
    "ORDER BY sealed_at DESC LIMIT 1 BY installation_id, hour, project_key, issue_type";

/// Resolution time: the time from each resolution's issue's earliest creation to the
/// resolution. Sealed hours give theirs ready (`resolution_times_sealed`, see
/// `crate::sealing`), looking up again only the creations that were not stored when the hour
/// was sealed; the rest of the range (the hours sealing has not reached, the range's partial
/// ends) joins its resolutions with their issues' creations, both from their narrow tables.
/// There the resolutions are the join's table and only their issues' creations are read;
/// copies of a resolution are grouped away by its key, and both keys are joined and grouped as
/// 128-bit hashes of their strings (as `uniqExact` counts strings).
///
/// A sealed hour's newest row is picked whole (`LIMIT 1 BY`): `argMax` of its arrays cost
/// 70 ms for a 10-million-event tenant's 17,000 rows, as 18.16 copies each array through a
/// generic value. The creations looked up again are those of every seal's unseen issues, a
/// superset the join narrows to the newest seals' own.
async fn medians(client: &Client, scope: &Scope) -> Result<Vec<WeekMedian>, QueryError> {
    let (sealed_hours, split) = HourSplit::sealed(client, scope).await?;
    let sealed = format!(
        "installation_id IN (SELECT arrayJoin(CAST(? AS Array(String))))
         AND {hours} AND {PROJECT_AND_TYPE}",
        hours = one_of_hours("hour")
    );
    let live = format!("{SCOPE_FILTER} AND {raw}", raw = split.raw_filter());
    let sql = format!(
        "SELECT week, toUInt64(count()) AS resolved_with_creation,
                toFloat64(quantileExact(0.5)(duration_ms)) AS median_ms
         FROM (
             SELECT toUInt16(toMonday(hour, ?)) AS week, arrayJoin(durations) AS duration_ms
             FROM (
                 SELECT hour, durations_ms AS durations
                 FROM resolution_times_sealed
                 WHERE {sealed}
                 {NEWEST_SEAL}
             )
             UNION ALL
             SELECT toUInt16(toMonday(hour, ?)) AS week, resolved_ms - created_ms AS duration_ms
             FROM (
                 SELECT installation_id, hour, issue_id, resolved_ms
                 FROM (
                     SELECT installation_id, hour, unseen_issue_ids AS ids,
                            unseen_resolved_ms AS times
                     FROM resolution_times_sealed
                     WHERE {sealed}
                     {NEWEST_SEAL}
                 )
                 ARRAY JOIN ids AS issue_id, times AS resolved_ms
             )
             ALL INNER JOIN (
                 SELECT installation_id, issue_id, min(created_ms) AS created_ms
                 FROM issue_creations
                 WHERE installation_id IN (SELECT arrayJoin(CAST(? AS Array(String))))
                   AND issue_id IN (
                       SELECT arrayJoin(unseen_issue_ids) FROM resolution_times_sealed
                       WHERE {sealed})
                 GROUP BY installation_id, issue_id
             ) USING (installation_id, issue_id)
             WHERE resolved_ms >= created_ms
             UNION ALL
             SELECT toUInt16(toMonday(toDateTime(intDiv(resolved_ms, 1000)), ?)) AS week,
                    resolved_ms - created_ms AS duration_ms
             FROM (
                 SELECT any(resolved_ms) AS resolved_ms, min(created_ms) AS created_ms
                 FROM (
                     SELECT {ISSUE_KEY} AS issue, created_ms
                     FROM issue_creations
                     WHERE installation_id IN (SELECT arrayJoin(CAST(? AS Array(String))))
                       AND issue_id IN (SELECT issue_id FROM resolutions WHERE {live})
                 )
                 ALL INNER JOIN (
                     SELECT {ISSUE_KEY} AS issue,
                            sipHash128(concat(installation_id, '\\0', delivery_id, '\\0',
                                              toString(item_index))) AS resolution,
                            occurred_at_ms AS resolved_ms
                     FROM resolutions
                     WHERE {live}
                 ) USING (issue)
                 GROUP BY resolution
             )
             WHERE resolved_ms >= created_ms
         )
         GROUP BY week"
    );
    let bind_sealed = |query: Query| {
        let query = query.bind(&scope.installations).bind(&sealed_hours);
        bind_project_and_type(query, scope)
    };
    let bind_live = |query: Query| split.bind_raw(bind_scope(query, scope));
    let query = bind_sealed(client.query(&sql).bind(&scope.time_zone));
    let query = bind_sealed(query.bind(&scope.time_zone));
    let query = bind_sealed(query.bind(&scope.installations));
    let query = query.bind(&scope.time_zone).bind(&scope.installations);
    let query = bind_live(bind_live(query));
    Ok(query.fetch_all::<WeekMedian>().await?)
}
