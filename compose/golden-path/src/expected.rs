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
//!
//! Filters (`assignee`, `priority`, `label`, `component`; OR within one kind, AND across kinds)
//! judge each delivery, and every changelog item it carries, by the issue as that delivery
//! states it (after the event); an unassigned issue never matches an `assignee` filter.

use std::collections::BTreeMap;

use chrono::{DateTime, Datelike, Days, NaiveDate, TimeZone};
use chrono_tz::Tz;
use jira_simulator::lifecycle::{IssueSnapshot, LifecycleEvent, LifecycleKind};

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

/// The filters a view is asked for, beyond the range: each empty list filters nothing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filter {
    /// Jira account ids.
    pub assignees: Vec<String>,
    /// Priority names.
    pub priorities: Vec<String>,
    pub labels: Vec<String>,
    /// Component names.
    pub components: Vec<String>,
}

impl Filter {
    pub fn is_empty(&self) -> bool {
        self.assignees.is_empty()
            && self.priorities.is_empty()
            && self.labels.is_empty()
            && self.components.is_empty()
    }

    /// Whether `issue` (as one delivery states it) passes every kind of filter asked for.
    pub fn matches(&self, issue: &IssueSnapshot) -> bool {
        let any = |wanted: &[String], values: &[&str]| {
            wanted.is_empty() || values.iter().any(|value| wanted.iter().any(|w| w == value))
        };
        let assignee: Vec<&str> = issue.assignee.iter().map(|p| p.account_id).collect();
        any(&self.assignees, &assignee)
            && any(&self.priorities, &[issue.priority])
            && any(&self.labels, &issue.labels)
            && any(&self.components, &issue.components)
    }

    /// The query string's parameters, each starting with `&`.
    pub fn query(&self) -> String {
        let mut query = String::new();
        for (name, values) in [
            ("assignee", &self.assignees),
            ("priority", &self.priorities),
            ("label", &self.labels),
            ("component", &self.components),
        ] {
            for value in values {
                query.push_str(&format!("&{name}={}", encode(value)));
            }
        }
        query
    }

    /// The deliveries that pass.
    pub fn apply(&self, events: &[LifecycleEvent]) -> Vec<LifecycleEvent> {
        events
            .iter()
            .filter(|event| self.matches(&event.issue))
            .cloned()
            .collect()
    }
}

/// The filters the golden path checks every view with, named: the stream's most frequent
/// assignee, label, component and priority (over what its deliveries state), and its most
/// frequent pair of a label and an assignee.
pub fn busiest_filters(events: &[LifecycleEvent]) -> Vec<(&'static str, Filter)> {
    fn busiest<T: Ord + Clone>(values: impl Iterator<Item = T>) -> T {
        let mut counts: BTreeMap<T, usize> = BTreeMap::new();
        for value in values {
            *counts.entry(value).or_default() += 1;
        }
        // The most frequent; of equals, the first in order.
        counts
            .into_iter()
            .rev()
            .max_by_key(|(_, count)| *count)
            .map(|(value, _)| value)
            .expect("events with the value")
    }
    let issues = || events.iter().map(|event| &event.issue);
    let assignee = busiest(issues().filter_map(|issue| issue.assignee.map(|p| p.account_id)));
    let label = busiest(issues().flat_map(|issue| issue.labels.iter().copied()));
    let component = busiest(issues().flat_map(|issue| issue.components.iter().copied()));
    let priority = busiest(issues().map(|issue| issue.priority));
    let (pair_label, pair_assignee) = busiest(issues().flat_map(|issue| {
        let assignee = issue.assignee.map(|p| p.account_id);
        issue
            .labels
            .iter()
            .filter_map(move |label| Some((*label, assignee?)))
    }));
    let one = |set: fn(&mut Filter, String), value: &str| {
        let mut filter = Filter::default();
        set(&mut filter, value.to_owned());
        filter
    };
    vec![
        ("assignee", one(|f, v| f.assignees.push(v), assignee)),
        ("label", one(|f, v| f.labels.push(v), label)),
        ("component", one(|f, v| f.components.push(v), component)),
        ("priority", one(|f, v| f.priorities.push(v), priority)),
        (
            "label and assignee",
            Filter {
                assignees: vec![pair_assignee.to_owned()],
                labels: vec![pair_label.to_owned()],
                ..Filter::default()
            },
        ),
    ]
}

/// `value` percent-encoded for a query string (everything but unreserved characters).
fn encode(value: &str) -> String {
    value
        .bytes()
        .map(|byte| match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (byte as char).to_string()
            }
            _ => format!("%{byte:02X}"),
        })
        .collect()
}

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
    trends_filtered(events, range, tz, &Filter::default())
}

/// [`trends`] of the deliveries `filter` passes; each resolution's time is still measured from
/// its issue's creation, whether or not the creation passes.
pub fn trends_filtered(
    events: &[LifecycleEvent],
    range: &ViewRange,
    tz: Tz,
    filter: &Filter,
) -> Vec<TrendWeek> {
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
    for event in events
        .iter()
        .filter(|event| range.holds(event) && filter.matches(&event.issue))
    {
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

    fn stream() -> Vec<LifecycleEvent> {
        jira_simulator::lifecycle::generate(&jira_simulator::lifecycle::LifecycleSpec {
            seed: 7,
            issues: 80,
            weeks: 6,
            end_ms: 1_796_000_000_000,
        })
    }

    #[test]
    fn filters_or_within_a_kind_and_across_kinds() {
        let events = stream();
        let issue = events
            .iter()
            .map(|e| &e.issue)
            .find(|i| i.labels.len() == 2 && i.assignee.is_some() && !i.components.is_empty())
            .expect("a labelled, assigned issue with a component");
        let assignee = issue.assignee.expect("an assignee").account_id.to_owned();
        let label = issue.labels[1].to_owned();
        let filter = |f: Filter| f.matches(issue);
        assert!(filter(Filter::default()));
        assert!(filter(Filter {
            labels: vec!["nope".into(), label.clone()],
            ..Filter::default()
        }));
        assert!(filter(Filter {
            labels: vec![label.clone()],
            assignees: vec![assignee.clone()],
            components: vec![issue.components[0].to_owned()],
            priorities: vec![issue.priority.to_owned()],
        }));
        assert!(!filter(Filter {
            labels: vec![label.clone()],
            assignees: vec!["someone else".into()],
            ..Filter::default()
        }));
        let unassigned = events
            .iter()
            .find(|e| e.issue.assignee.is_none())
            .expect("an unassigned issue");
        assert!(
            !Filter {
                assignees: vec![assignee.clone()],
                ..Filter::default()
            }
            .matches(&unassigned.issue)
        );
        assert_eq!(
            Filter {
                assignees: vec!["712020:a b".into()],
                labels: vec!["tech-debt".into()],
                ..Filter::default()
            }
            .query(),
            "&assignee=712020%3Aa%20b&label=tech-debt"
        );
    }

    #[test]
    fn the_busiest_filters_each_keep_some_deliveries_and_not_all() {
        let events = stream();
        let filters = busiest_filters(&events);
        assert_eq!(filters.len(), 5);
        for (name, filter) in &filters {
            let kept = filter.apply(&events).len();
            assert!(kept > 0 && kept < events.len(), "{name}: {kept}");
        }
        let by_priority: u64 = ["Highest", "High", "Medium", "Low"]
            .iter()
            .map(|priority| {
                let filter = Filter {
                    priorities: vec![(*priority).to_owned()],
                    ..Filter::default()
                };
                let range = ViewRange::last_weeks(1_796_000_000_000, 7, chrono_tz::UTC);
                weekly_rates(&filter.apply(&events), &range, chrono_tz::UTC)
                    .values()
                    .map(|kinds| kinds.values().sum::<u64>())
                    .sum::<u64>()
            })
            .sum();
        let range = ViewRange::last_weeks(1_796_000_000_000, 7, chrono_tz::UTC);
        let all: u64 = weekly_rates(&events, &range, chrono_tz::UTC)
            .values()
            .map(|kinds| kinds.values().sum::<u64>())
            .sum();
        assert_eq!(by_priority, all, "the priorities partition the rates");
    }

    #[test]
    fn a_filtered_resolution_is_timed_from_its_creation_unfiltered() {
        let events = stream();
        let range = ViewRange::last_weeks(1_796_000_000_000, 7, chrono_tz::UTC);
        // Resolutions of issues created without a label that had one when resolved.
        let (label, issue) = events
            .iter()
            .filter(|e| e.changes.iter().any(is_resolution))
            .find_map(|e| {
                let created = events
                    .iter()
                    .find(|c| c.issue.id == e.issue.id && c.kind == LifecycleKind::Created)?;
                let label = e
                    .issue
                    .labels
                    .iter()
                    .find(|l| !created.issue.labels.contains(l))?;
                Some(((*label).to_owned(), e.issue.id.clone()))
            })
            .expect("an issue labelled after its creation and resolved");
        let filter = Filter {
            labels: vec![label],
            ..Filter::default()
        };
        let with = trends_filtered(&events, &range, chrono_tz::UTC, &filter);
        let without_creations = trends(&filter.apply(&events), &range, chrono_tz::UTC);
        assert_eq!(
            with.iter().map(|w| w.resolved).sum::<u64>(),
            without_creations.iter().map(|w| w.resolved).sum::<u64>()
        );
        assert_ne!(
            with, without_creations,
            "issue {issue}'s time to resolution counts only with its creation"
        );
    }
}
