//! Which part of a scope's range the hourly rollup (`activity_hourly`) answers and which raw
//! rows a view reads instead, so that every delivery is counted by exactly one of the two.
//!
//! The rollup holds whole UTC hours. An hour answers from the rollup when it lies inside the
//! range and inside one of the viewer's weeks; the rest is read from the raw tables: the partial
//! hours at the range's ends, and the hours a week boundary cuts (in a zone whose offset is not
//! whole hours, such as Asia/Kolkata: one hour per week). Both sets are bounded by time, and a
//! delivery's copies share its time, so no delivery is in both and none in neither.

use clickhouse::{Client, Row, query::Query};
use serde::Deserialize;

use super::{
    scope::{QueryError, Scope},
    visibility::{bind_visible_projects, visible_project},
};

const HOUR_MS: i64 = 3_600_000;

/// `hour` (an expression for a whole UTC hour) is one the sealed and rollup tables answer for:
/// inside the range's whole hours and inside one viewer's week. Bind with
/// [`HourSplit::bind_whole_hours`].
pub(crate) fn whole_hours(hour: &str) -> String {
    format!(
        "({hour} >= toDateTime(?) AND {hour} < toDateTime(?)
          AND toMonday({hour}, ?) = toMonday({hour} + 3599, ?))"
    )
}

/// The project and issue-type filters and the visibility's projects, on a table grouped by
/// them (a visibility that hides issues reads raw rows instead: [`Scope::beyond_rollup`]).
pub(crate) const PROJECT_AND_TYPE: &str = concat!(
    "(empty(CAST(? AS Array(String))) OR has(CAST(? AS Array(String)), project_key))
      AND (empty(CAST(? AS Array(String))) OR has(CAST(? AS Array(String)), issue_type))
      AND ",
    visible_project!()
);

/// The rollup's rows of a view: the scope's installations, the given kinds, whole hours inside
/// one viewer's week, the project and issue-type filters.
fn rollup_rows() -> String {
    format!(
        "installation_id IN (SELECT arrayJoin(CAST(? AS Array(String))))
         AND kind IN (SELECT arrayJoin(CAST(? AS Array(String))))
         AND {whole} AND {PROJECT_AND_TYPE}",
        whole = whole_hours("hour")
    )
}

/// The newest `column` of each hour of the scope's installations in `table`, for the hours
/// `hours` lets through, as `(installation_id, hour, alias)`. Bind the installations, then
/// `hours`' own.
fn newest_per_hour(table: &str, column: &str, alias: &str, hours: &str) -> String {
    format!(
        "SELECT installation_id, hour, max({column}) AS {alias}
         FROM {table}
         WHERE installation_id IN (SELECT arrayJoin(CAST(? AS Array(String))))
           AND {hours}
         GROUP BY installation_id, hour"
    )
}

/// The hours of the split's whole hours, for [`newest_per_hour`]; bind `first_hour`, `end_hour`.
const SPLIT_HOURS: &str = "hour >= toDateTime(?) AND hour < toDateTime(?)";

/// The hours of the range whose seal is newer than their last touch (`crate::sealing`), as
/// `(installation_id, hour)`. Bind with [`HourSplit::bind_sealed_hours`].
fn sealed_hours() -> String {
    format!(
        "(SELECT installation_id, hour
          FROM ({seals})
          ANY INNER JOIN ({touches}) USING (installation_id, hour)
          WHERE sealed > touched)",
        seals = newest_per_hour("activity_hour_seals", "sealed_at", "sealed", SPLIT_HOURS),
        touches = newest_per_hour(
            "activity_hours_touched",
            "touched_at",
            "touched",
            SPLIT_HOURS
        ),
    )
}

/// Distinct deliveries per viewer's week and kind from the rollup (see [`rollup_rows`]):
/// columns `week` (days since the epoch), `kind`, `n`. Sealed hours add their counts (the
/// newest version of each, which for a sealed hour is its count); the others merge their sets
/// of delivery ids, read (PREWHERE) only for them: ClickHouse 18.16 does not move the `NOT IN`
/// there itself, and reading every set of the range only to drop it was most of a view's time.
/// Two SELECTs joined by UNION ALL, to place in a caller's UNION ALL. Bind with
/// [`HourSplit::bind_rollup`].
pub(crate) fn rollup_counts() -> String {
    let (rollup_rows, sealed_hours) = (rollup_rows(), sealed_hours());
    format!(
        "SELECT toUInt16(toMonday(hour, ?)) AS week, kind, argMax(deliveries, sealed_at) AS n
         FROM activity_hourly_sealed
         WHERE {rollup_rows} AND (installation_id, hour) IN {sealed_hours}
         GROUP BY installation_id, kind, hour, project_key, issue_type
         UNION ALL
         SELECT toUInt16(toMonday(hour, ?)) AS week, kind, toUInt64(uniqExactMerge(deliveries)) AS n
         FROM activity_hourly
         PREWHERE {rollup_rows} AND (installation_id, hour) NOT IN {sealed_hours}
         GROUP BY week, kind"
    )
}

/// One raw span: the `occurred_at` bounds let the primary key prune, the millisecond bounds are
/// exact.
const RAW_SPAN: &str = "(occurred_at >= toDateTime(intDiv(?, 1000))
    AND occurred_at <= toDateTime(intDiv(?, 1000))
    AND occurred_at_ms >= ? AND occurred_at_ms < ?)";

#[derive(Row, Deserialize)]
struct CutHours {
    hours: Vec<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct HourSplit {
    /// Whole hours `[first_hour, end_hour)`, seconds since the epoch, answered by the rollup
    /// (less the cut hours); empty when `first_hour >= end_hour`.
    first_hour: i64,
    end_hour: i64,
    /// Millisecond spans `[start, end)` read from the raw tables, sorted and disjoint.
    raw_spans: Vec<(i64, i64)>,
}

impl HourSplit {
    /// Splits the scope's range; asks ClickHouse which hours a week boundary cuts, as only it
    /// knows the viewer's zone the way the views compute weeks.
    pub(crate) async fn of(client: &Client, scope: &Scope) -> Result<Self, QueryError> {
        let (from_ms, to_ms) = (scope.from.timestamp_millis(), scope.to.timestamp_millis());
        let first_hour = from_ms.div_euclid(HOUR_MS) + i64::from(from_ms % HOUR_MS != 0);
        let end_hour = to_ms.div_euclid(HOUR_MS);
        // The rollup is grouped by project and issue type only: a view filtered by anything
        // else reads every delivery from the raw tables.
        if first_hour >= end_hour || scope.beyond_rollup() {
            return Ok(Self::raw_only(from_ms, to_ms));
        }
        let cut = client
            .query(
                "SELECT arrayFilter(h -> toMonday(toDateTime(h), ?) != toMonday(toDateTime(h + 3599), ?),
                                    arrayMap(i -> toInt64(? + i * 3600), range(?))) AS hours",
            )
            .bind(&scope.time_zone)
            .bind(&scope.time_zone)
            .bind(first_hour * 3600)
            .bind((end_hour - first_hour) as u64)
            .fetch_one::<CutHours>()
            .await?;
        Ok(Self::from_parts(
            from_ms, to_ms, first_hour, end_hour, &cut.hours,
        ))
    }

    /// The whole hours of the scope's range (inside one viewer's week, as the rollup is read)
    /// that every installation of the scope which reached them has sealed since (see
    /// `crate::sealing`), sorted, in seconds; and a split that reads everything else raw. For a
    /// view whose sealed numbers have no sets beside them to fall back on: it adds the listed
    /// hours from its sealed table and reads the rest, the few hours sealing has not reached,
    /// from the raw rows. Any filter beyond project and type lists no hour.
    pub(crate) async fn sealed(
        client: &Client,
        scope: &Scope,
    ) -> Result<(Vec<u32>, Self), QueryError> {
        let split = Self::of(client, scope).await?;
        if split.first_hour >= split.end_hour {
            return Ok((Vec::new(), split));
        }
        let sql = format!(
            "SELECT toUInt32(hour) AS sealed_hour
             FROM ({touches})
             ANY LEFT JOIN ({seals}) USING (installation_id, hour)
             GROUP BY hour
             HAVING min(sealed > touched) = 1
             ORDER BY hour",
            touches = newest_per_hour(
                "activity_hours_touched",
                "touched_at",
                "touched",
                &whole_hours("hour")
            ),
            seals = newest_per_hour("activity_hour_seals", "sealed_at", "sealed", SPLIT_HOURS),
        );
        let query = split.bind_whole_hours(client.query(&sql).bind(&scope.installations), scope);
        let hours: Vec<u32> = query
            .bind(&scope.installations)
            .bind(split.first_hour)
            .bind(split.end_hour)
            .fetch_all()
            .await?;
        let raw = Self::all_but(
            scope.from.timestamp_millis(),
            scope.to.timestamp_millis(),
            &hours,
        );
        Ok((hours, raw))
    }

    /// Reads `[from_ms, to_ms)` raw except `hours` (sorted, seconds, inside the range).
    fn all_but(from_ms: i64, to_ms: i64, hours: &[u32]) -> Self {
        let mut raw_spans = Vec::new();
        let mut unread = from_ms;
        for hour in hours {
            let start = i64::from(*hour) * 1000;
            if start > unread {
                raw_spans.push((unread, start));
            }
            unread = unread.max(start + HOUR_MS);
        }
        if unread < to_ms {
            raw_spans.push((unread, to_ms));
        }
        Self {
            first_hour: 0,
            end_hour: 0,
            raw_spans,
        }
    }

    fn raw_only(from_ms: i64, to_ms: i64) -> Self {
        Self {
            first_hour: 0,
            end_hour: 0,
            raw_spans: vec![(from_ms, to_ms)],
        }
    }

    /// `first_hour` and `end_hour` in hours since the epoch, `cut` in seconds.
    fn from_parts(from_ms: i64, to_ms: i64, first_hour: i64, end_hour: i64, cut: &[i64]) -> Self {
        let mut spans = vec![(from_ms, first_hour * HOUR_MS), (end_hour * HOUR_MS, to_ms)];
        spans.extend(cut.iter().map(|h| (h * 1000, h * 1000 + HOUR_MS)));
        spans.retain(|(start, end)| start < end);
        spans.sort_unstable();
        let mut raw_spans: Vec<(i64, i64)> = Vec::with_capacity(spans.len());
        for (start, end) in spans {
            match raw_spans.last_mut() {
                Some(last) if last.1 >= start => last.1 = last.1.max(end),
                _ => raw_spans.push((start, end)),
            }
        }
        Self {
            first_hour: first_hour * 3600,
            end_hour: end_hour * 3600,
            raw_spans,
        }
    }

    /// The raw rows' condition, to AND with the scope filter: the spans, or nothing at all.
    /// Only `?` placeholders vary with the spans; bind with [`HourSplit::bind_raw`].
    pub(crate) fn raw_filter(&self) -> String {
        if self.raw_spans.is_empty() {
            return "0".to_owned();
        }
        let spans = vec![RAW_SPAN; self.raw_spans.len()];
        format!("({})", spans.join(" OR "))
    }

    pub(crate) fn bind_raw(&self, mut query: Query) -> Query {
        for (start, end) in &self.raw_spans {
            query = query.bind(start).bind(end).bind(start).bind(end);
        }
        query
    }

    /// Binds the values of one [`rollup_counts`], in its order.
    pub(crate) fn bind_rollup(&self, mut query: Query, scope: &Scope, kinds: &[String]) -> Query {
        for _ in 0..2 {
            query = query.bind(&scope.time_zone);
            query = self.bind_rollup_rows(query, scope, kinds);
            query = self.bind_sealed_hours(query, scope);
        }
        query
    }

    fn bind_rollup_rows(&self, query: Query, scope: &Scope, kinds: &[String]) -> Query {
        let query = query.bind(&scope.installations).bind(kinds);
        bind_project_and_type(self.bind_whole_hours(query, scope), scope)
    }

    /// Binds one [`whole_hours`].
    pub(crate) fn bind_whole_hours(&self, query: Query, scope: &Scope) -> Query {
        query
            .bind(self.first_hour)
            .bind(self.end_hour)
            .bind(&scope.time_zone)
            .bind(&scope.time_zone)
    }

    /// Binds one [`sealed_hours`].
    fn bind_sealed_hours(&self, mut query: Query, scope: &Scope) -> Query {
        for _ in 0..2 {
            query = query
                .bind(&scope.installations)
                .bind(self.first_hour)
                .bind(self.end_hour);
        }
        query
    }
}

/// Binds one [`PROJECT_AND_TYPE`].
pub(crate) fn bind_project_and_type(query: Query, scope: &Scope) -> Query {
    let query = query
        .bind(&scope.filters.projects)
        .bind(&scope.filters.projects)
        .bind(&scope.filters.issue_types)
        .bind(&scope.filters.issue_types);
    bind_visible_projects(query, scope)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_raw_spans_are_the_partial_ends_and_the_cut_hours() {
        let cases = [
            (
                "a range on whole hours, no cut: all from the rollup",
                (10 * HOUR_MS, 20 * HOUR_MS, vec![]),
                vec![],
            ),
            (
                "partial hours at both ends",
                (10 * HOUR_MS - 5, 20 * HOUR_MS + 7, vec![]),
                vec![
                    (10 * HOUR_MS - 5, 10 * HOUR_MS),
                    (20 * HOUR_MS, 20 * HOUR_MS + 7),
                ],
            ),
            (
                "a cut hour next to the start joins its span",
                (10 * HOUR_MS - 5, 20 * HOUR_MS, vec![10 * 3600, 15 * 3600]),
                vec![
                    (10 * HOUR_MS - 5, 11 * HOUR_MS),
                    (15 * HOUR_MS, 16 * HOUR_MS),
                ],
            ),
        ];
        for (message, (from, to, cut), want) in cases {
            let first = from.div_euclid(HOUR_MS) + i64::from(from % HOUR_MS != 0);
            let end = to.div_euclid(HOUR_MS);
            let split = HourSplit::from_parts(from, to, first, end, &cut);
            assert_eq!(split.raw_spans, want, "{message}");
            assert_eq!(
                (split.first_hour, split.end_hour),
                (first * 3600, end * 3600)
            );
        }
        let sealed = HourSplit::all_but(
            10 * HOUR_MS - 5,
            20 * HOUR_MS,
            &[10 * 3600, 11 * 3600, 15 * 3600],
        );
        assert_eq!(
            sealed.raw_spans,
            vec![
                (10 * HOUR_MS - 5, 10 * HOUR_MS),
                (12 * HOUR_MS, 15 * HOUR_MS),
                (16 * HOUR_MS, 20 * HOUR_MS)
            ],
            "everything but the sealed hours, adjacent ones together"
        );
        assert!(sealed.first_hour >= sealed.end_hour, "no rollup hours");
        let short = HourSplit::raw_only(5, 9);
        assert_eq!(short.raw_spans, vec![(5, 9)]);
        assert!(
            short.first_hour >= short.end_hour,
            "nothing from the rollup"
        );
    }
}
