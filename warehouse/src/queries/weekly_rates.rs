//! Weekly rates: events per ISO week (Monday to Sunday in the viewer's time zone) by kind, with
//! how many days of data stand behind each week, so a partial week (the first week of a
//! connection, or this week) is marked rather than read as a drop. Every count is of distinct
//! deliveries, so a delivery stored twice is counted once. Whole hours come from the
//! `activity_hourly` rollup, the rest from the raw tables (`hour_split`).

use std::collections::BTreeMap;

use chrono::{Days, NaiveDate};
use clickhouse::{Client, Row};
use serde::Deserialize;

use super::{
    calendar::{epoch_day, week_starts},
    hour_split::{HourSplit, rollup_counts},
    scope::{QueryError, SCOPE_FILTER, Scope, bind_scope},
};

/// The kinds counted, as the `kind` of each row.
pub const KINDS: &[&str] = &[
    "issue_created",
    "issue_updated",
    "issue_resolved",
    "issue_deleted",
    "comment_created",
    "transition_new",
    "transition_indeterminate",
    "transition_done",
];

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WeeklyRates {
    pub weeks: Vec<Week>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Week {
    /// The Monday the week starts on, in the viewer's time zone.
    pub start: NaiveDate,
    /// Days of the week inside the data: after the first event and not in the future (0–7).
    pub days_with_data: u8,
    /// This week, not over yet in the viewer's zone: on its Sunday it has 7 days of data and is
    /// still partial.
    pub running: bool,
    /// Count per kind; every kind of `KINDS` is present, zero when nothing happened.
    pub counts: BTreeMap<String, u64>,
}

impl Week {
    pub fn is_partial(&self) -> bool {
        self.days_with_data < 7 || self.running
    }
}

#[derive(Row, Deserialize)]
struct CountRow {
    week: u16,
    kind: String,
    events: u64,
}

#[derive(Row, Deserialize)]
struct DataDays {
    first_day: u16,
    today: u16,
    has_data: u8,
}

pub async fn weekly_rates(client: &Client, scope: &Scope) -> Result<WeeklyRates, QueryError> {
    scope.validate()?;
    let kinds: Vec<String> = KINDS
        .iter()
        .filter(|kind| {
            scope.filters.event_types.is_empty()
                || scope.filters.event_types.iter().any(|t| t == *kind)
        })
        .map(|kind| (*kind).to_owned())
        .collect();
    // Independent queries, sent together: the view waits for the slowest, not for the sum.
    let (rows, days, starts) = tokio::try_join!(
        counts(client, scope, &kinds),
        data_days(client, scope),
        week_starts(client, scope),
    )?;
    let mut weeks = Vec::new();
    for start in starts {
        weeks.push(Week {
            start,
            days_with_data: days_with_data(start, &days),
            running: running(start, &days),
            counts: kinds.iter().map(|kind| (kind.clone(), 0)).collect(),
        });
    }
    for row in rows {
        let week = epoch_day(row.week);
        if let Some(entry) = weeks.iter_mut().find(|w| w.start == week) {
            entry.counts.insert(row.kind, row.events);
        }
    }
    Ok(WeeklyRates { weeks })
}

/// Distinct deliveries per week and kind.
async fn counts(
    client: &Client,
    scope: &Scope,
    kinds: &[String],
) -> Result<Vec<CountRow>, QueryError> {
    let split = HourSplit::of(client, scope).await?;
    let raw = split.raw_filter();
    // Whole hours from the rollup, the rest from the raw rows (see `hour_split`); a delivery is
    // in one of the two, so the counts add up. The raw part counts as the rollup does: a
    // transition is a delivery with a `status` change, its category the event's (rows written
    // before `field_changes.status_category` existed do not carry it). Dates come back as days
    // since the epoch (ClickHouse's Date in RowBinary).
    let sql = format!(
        "SELECT week, kind, toUInt64(sum(n)) AS events
         FROM (
             {rollup}
             UNION ALL
             SELECT toUInt16(toMonday(toDateTime(intDiv(occurred_at_ms, 1000)), ?)) AS week, kind,
                    toUInt64(uniqExact(installation_id, delivery_id)) AS n
             FROM (
                 SELECT installation_id, delivery_id, occurred_at_ms, event_type AS kind
                 FROM events
                 WHERE {SCOPE_FILTER} AND {raw}
                   AND event_type IN ('issue_created', 'issue_updated', 'issue_deleted', 'comment_created')
                 UNION ALL
                 SELECT installation_id, delivery_id, occurred_at_ms, 'issue_resolved' AS kind
                 FROM field_changes
                 WHERE {SCOPE_FILTER} AND {raw}
                   AND field = 'resolution' AND from_value = '' AND to_value != ''
                 UNION ALL
                 SELECT installation_id, delivery_id, occurred_at_ms, concat('transition_', status_category) AS kind
                 FROM events
                 WHERE {SCOPE_FILTER} AND {raw}
                   AND status_category != ''
                   AND (installation_id, delivery_id) IN (
                       SELECT installation_id, delivery_id FROM field_changes
                       WHERE {SCOPE_FILTER} AND {raw} AND field = 'status')
             )
             WHERE kind IN (SELECT arrayJoin(CAST(? AS Array(String))))
             GROUP BY week, kind
         )
         GROUP BY week, kind
         ORDER BY week, kind",
        rollup = rollup_counts(),
    );
    let query = split.bind_rollup(client.query(&sql), scope, kinds);
    let mut query = query.bind(&scope.time_zone);
    // Once per SCOPE_FILTER of the raw part.
    for _ in 0..4 {
        query = split.bind_raw(bind_scope(query, scope));
    }
    Ok(query.bind(kinds).fetch_all::<CountRow>().await?)
}

/// The first event ever (any kind), from the monthly minimums, and today, in the viewer's zone.
async fn data_days(client: &Client, scope: &Scope) -> Result<DataDays, QueryError> {
    Ok(client
        .query(
            "SELECT toUInt16(toDate(toDateTime(intDiv(minMerge(first_ms), 1000)), ?)) AS first_day,
                    toUInt16(toDate(now(), ?)) AS today,
                    toUInt8(count() > 0) AS has_data
             FROM first_events WHERE installation_id IN (SELECT arrayJoin(CAST(? AS Array(String))))",
        )
        .bind(&scope.time_zone)
        .bind(&scope.time_zone)
        .bind(&scope.installations)
        .fetch_one::<DataDays>()
        .await?)
}

/// Whether the week's Sunday is today or later.
fn running(week: NaiveDate, days: &DataDays) -> bool {
    week + Days::new(6) >= epoch_day(days.today)
}

fn days_with_data(week: NaiveDate, days: &DataDays) -> u8 {
    if days.has_data == 0 {
        return 0;
    }
    let (first, today) = (epoch_day(days.first_day), epoch_day(days.today));
    (0..7)
        .map(|offset| week + Days::new(offset))
        .filter(|day| *day >= first && *day <= today)
        .count() as u8
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::queries::calendar::monday_of;

    #[test]
    fn a_week_is_partial_until_its_sunday_is_over() {
        let monday = NaiveDate::from_ymd_opt(2026, 11, 30).unwrap();
        let on = |today: NaiveDate| DataDays {
            first_day: 0,
            today: (today - epoch_day(0)).num_days() as u16,
            has_data: 1,
        };
        let sunday = monday + Days::new(6);
        assert_eq!(days_with_data(monday, &on(sunday)), 7);
        assert!(running(monday, &on(sunday)), "Sunday is not over");
        assert!(!running(monday, &on(sunday + Days::new(1))));
    }

    #[test]
    fn a_week_counts_only_days_between_the_first_event_and_today() {
        let monday = NaiveDate::from_ymd_opt(2026, 11, 16).unwrap();
        let day = |date: NaiveDate| (date - epoch_day(0)).num_days() as u16;
        let data = |first: NaiveDate, today: NaiveDate| DataDays {
            first_day: day(first),
            today: day(today),
            has_data: 1,
        };
        let wednesday = monday + Days::new(2);
        let next_week = monday + Days::new(9);
        assert_eq!(days_with_data(monday, &data(wednesday, next_week)), 5);
        assert_eq!(
            days_with_data(monday, &data(monday - Days::new(30), wednesday)),
            3
        );
        assert_eq!(
            days_with_data(monday, &data(monday - Days::new(30), next_week)),
            7
        );
        assert_eq!(monday_of(wednesday), monday);
    }
}
