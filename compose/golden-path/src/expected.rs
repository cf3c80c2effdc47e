//! What every view should show for a stream of lifecycle events, computed here from what the
//! simulator says happened (kinds, changes, times), never from a payload, a row or the
//! warehouse's code: the other side of the golden path's comparison.
//!
//! The definitions are the product's, as the README and the pages state them: weeks run Monday
//! to Sunday in the viewer's time zone; each delivery counts once; a resolution is a change of
//! `resolution` from empty to a value, a reopen the reverse; a transition is an update that
//! changes `status`, counted by the category the issue moved into; the backlog is created −
//! resolved + reopened, cumulative over the weeks shown; the median time to resolution is over
//! the resolutions of a week whose issue's creation was seen, the upper middle for an even count.

use std::collections::BTreeMap;

use chrono::{DateTime, Datelike, Days, NaiveDate, TimeZone};
use chrono_tz::Tz;
use jira_simulator::lifecycle::{LifecycleEvent, LifecycleKind};

/// The weekly-rates kinds, in the order the product lists them.
pub const KINDS: [&str; 8] = [
    "issue_created",
    "issue_updated",
    "issue_resolved",
    "issue_deleted",
    "comment_created",
    "transition_new",
    "transition_indeterminate",
    "transition_done",
];

/// The fields whose changes the trends count.
pub const TREND_FIELDS: [&str; 3] = ["assignee", "priority", "status"];

/// The Monday of the week `at_ms` falls in, in `tz`.
pub fn week_of(at_ms: i64, tz: Tz) -> NaiveDate {
    let local = DateTime::from_timestamp_millis(at_ms)
        .expect("a representable time")
        .with_timezone(&tz)
        .date_naive();
    local - Days::new(u64::from(local.weekday().num_days_from_monday()))
}

/// What a view of the last `weeks` weeks covers, as the product defines it: the `7 × weeks`
/// days ending today (in the viewer's zone), and every week those days touch, so the first
/// one is usually partial.
#[derive(Debug, Clone)]
pub struct ViewRange {
    pub from_ms: i64,
    /// Exclusive: midnight after today.
    pub to_ms: i64,
    pub weeks: Vec<NaiveDate>,
}

impl ViewRange {
    pub fn last_weeks(now_ms: i64, weeks: u32, tz: Tz) -> Self {
        let today = DateTime::from_timestamp_millis(now_ms)
            .expect("a representable time")
            .with_timezone(&tz)
            .date_naive();
        let from = today - Days::new(7 * u64::from(weeks)) + Days::new(1);
        let mut starts = Vec::new();
        let mut monday = from - Days::new(u64::from(from.weekday().num_days_from_monday()));
        while monday <= today {
            starts.push(monday);
            monday = monday + Days::new(7);
        }
        Self {
            from_ms: start_of_day_ms(from, tz),
            to_ms: start_of_day_ms(today + Days::new(1), tz),
            weeks: starts,
        }
    }

    pub fn holds(&self, event: &LifecycleEvent) -> bool {
        (self.from_ms..self.to_ms).contains(&event.at_ms)
    }
}

/// The kinds one delivery counts as.
pub fn kinds_of(event: &LifecycleEvent) -> Vec<&'static str> {
    let mut kinds = Vec::new();
    match event.kind {
        LifecycleKind::Created => kinds.push("issue_created"),
        LifecycleKind::Commented => kinds.push("comment_created"),
        LifecycleKind::Deleted => kinds.push("issue_deleted"),
        LifecycleKind::Updated => {
            kinds.push("issue_updated");
            if event.changes.iter().any(is_resolution) {
                kinds.push("issue_resolved");
            }
            if event.changes.iter().any(|change| change.field == "status") {
                kinds.push(match event.issue.status.category {
                    "new" => "transition_new",
                    "indeterminate" => "transition_indeterminate",
                    _ => "transition_done",
                });
            }
        }
    }
    kinds
}

fn is_resolution(change: &jira_simulator::lifecycle::FieldChange) -> bool {
    change.field == "resolution" && change.from.is_none() && change.to.is_some()
}

fn is_reopen(change: &jira_simulator::lifecycle::FieldChange) -> bool {
    change.field == "resolution" && change.from.is_some() && change.to.is_none()
}

/// Count per week and kind (every kind present, zero included), over the weeks shown.
pub fn weekly_rates(
    events: &[LifecycleEvent],
    range: &ViewRange,
    tz: Tz,
) -> BTreeMap<NaiveDate, BTreeMap<&'static str, u64>> {
    let mut rates: BTreeMap<NaiveDate, BTreeMap<&'static str, u64>> = range
        .weeks
        .iter()
        .map(|week| (*week, KINDS.iter().map(|kind| (*kind, 0)).collect()))
        .collect();
    for event in events.iter().filter(|event| range.holds(event)) {
        let Some(week) = rates.get_mut(&week_of(event.at_ms, tz)) else {
            continue;
        };
        for kind in kinds_of(event) {
            *week.entry(kind).or_default() += 1;
        }
    }
    rates
}

#[derive(Debug, Clone, PartialEq)]
pub struct TrendWeek {
    pub start: NaiveDate,
    pub created: u64,
    pub resolved: u64,
    pub reopened: u64,
    pub backlog: i64,
    pub median_hours_to_resolution: Option<f64>,
    pub field_changes: BTreeMap<&'static str, u64>,
}

pub fn trends(events: &[LifecycleEvent], range: &ViewRange, tz: Tz) -> Vec<TrendWeek> {
    let mut rows: BTreeMap<NaiveDate, TrendWeek> = range
        .weeks
        .iter()
        .map(|start| {
            (
                *start,
                TrendWeek {
                    start: *start,
                    created: 0,
                    resolved: 0,
                    reopened: 0,
                    backlog: 0,
                    median_hours_to_resolution: None,
                    field_changes: TREND_FIELDS.iter().map(|field| (*field, 0)).collect(),
                },
            )
        })
        .collect();
    let created: BTreeMap<&str, i64> = events
        .iter()
        .filter(|event| event.kind == LifecycleKind::Created)
        .map(|event| (event.issue.id.as_str(), event.at_ms))
        .collect();
    let mut durations: BTreeMap<NaiveDate, Vec<i64>> = BTreeMap::new();
    for event in events.iter().filter(|event| range.holds(event)) {
        let week = week_of(event.at_ms, tz);
        let Some(row) = rows.get_mut(&week) else {
            continue;
        };
        if event.kind == LifecycleKind::Created {
            row.created += 1;
        }
        for change in &event.changes {
            if let Some(count) = row.field_changes.get_mut(change.field) {
                *count += 1;
            }
            if is_resolution(change) {
                row.resolved += 1;
                if let Some(created_ms) = created.get(event.issue.id.as_str()) {
                    durations
                        .entry(week)
                        .or_default()
                        .push(event.at_ms - created_ms);
                }
            }
            if is_reopen(change) {
                row.reopened += 1;
            }
        }
    }
    let mut open = 0;
    let mut weeks: Vec<TrendWeek> = rows.into_values().collect();
    for week in &mut weeks {
        open += week.created as i64 - week.resolved as i64 + week.reopened as i64;
        week.backlog = open;
        if let Some(mut durations) = durations.remove(&week.start) {
            durations.sort_unstable();
            week.median_hours_to_resolution =
                Some(durations[durations.len() / 2] as f64 / 3_600_000.0);
        }
    }
    weeks
}

/// What the overview's headline says: issue and comment events this week and last week, and
/// issues created this week (each delivery once: resolutions and transitions are updates).
pub fn overview(events: &[LifecycleEvent], now_ms: i64, tz: Tz) -> (u64, u64, u64) {
    let this = week_of(now_ms, tz);
    let last = this - Days::new(7);
    let in_week = |week: NaiveDate| {
        events
            .iter()
            .filter(|event| week_of(event.at_ms, tz) == week)
            .count() as u64
    };
    let created = events
        .iter()
        .filter(|event| event.kind == LifecycleKind::Created && week_of(event.at_ms, tz) == this)
        .count() as u64;
    (in_week(this), in_week(last), created)
}

/// Midnight at the start of `day` in `tz`, as epoch milliseconds.
pub fn start_of_day_ms(day: NaiveDate, tz: Tz) -> i64 {
    tz.from_local_datetime(&day.and_hms_opt(0, 0, 0).expect("midnight"))
        .earliest()
        .expect("a midnight that exists")
        .timestamp_millis()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weeks_start_on_monday_in_the_viewers_zone() {
        // 2026-11-29 is a Sunday: 20:00 UTC is already Monday in Kolkata.
        let sunday_evening = chrono::Utc
            .with_ymd_and_hms(2026, 11, 29, 20, 0, 0)
            .unwrap()
            .timestamp_millis();
        assert_eq!(
            week_of(sunday_evening, chrono_tz::UTC),
            NaiveDate::from_ymd_opt(2026, 11, 23).unwrap()
        );
        assert_eq!(
            week_of(sunday_evening, chrono_tz::Asia::Kolkata),
            NaiveDate::from_ymd_opt(2026, 11, 30).unwrap()
        );
        // Three weeks back from a Sunday: the 21 days from Monday 2026-11-09, three weeks.
        let shown = ViewRange::last_weeks(sunday_evening, 3, chrono_tz::UTC);
        assert_eq!(shown.weeks.len(), 3);
        assert_eq!(
            shown.weeks[0],
            NaiveDate::from_ymd_opt(2026, 11, 9).unwrap()
        );
        // From a Wednesday, the first of four weeks is partial.
        let wednesday = sunday_evening + 3 * 24 * 3_600_000;
        let shown = ViewRange::last_weeks(wednesday, 3, chrono_tz::UTC);
        assert_eq!(shown.weeks.len(), 4);
    }
}
