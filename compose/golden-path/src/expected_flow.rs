//! What the flow view should show for a stream of lifecycle events, computed here from what the
//! simulator says happened (kinds, statuses, changes, times), never from a payload, a row or the
//! warehouse's code: the other side of the golden path's comparison for
//! `GET /api/v1/orgs/{org}/flow`.
//!
//! The definitions are the product's (`flow_spec`): each delivery counts once, in time order;
//! only deliveries before `as_of_ms` count. An issue's life is a run of segments, one per status
//! it stayed in; a segment's start is known unless it is the first one of an issue whose creation
//! was not seen. A cycle starts at the first `indeterminate` segment and sums the time spent in
//! `indeterminate` statuses (time back in a `new` status is excluded) until a `done` segment with
//! a known start, which is a completion; a reopen starts a new cycle. Percentiles are nearest
//! rank; hours are milliseconds / 3 600 000.
//!
//! Filters (`assignee`, `priority`, `label`, `component`) judge a completion by the issue as the
//! delivery that moved it into done states it, and a segment (work items, cumulative flow, time
//! in status) by the issue as the delivery that started it states it (the first delivery seen,
//! for the first segment of an issue first seen mid-flight). They choose which completions and
//! segments count; a cycle's time is still the whole cycle's.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::{DateTime, Days, NaiveDate};
use chrono_tz::Tz;
use jira_simulator::lifecycle::{
    DONE, IN_PROGRESS, IN_REVIEW, LifecycleEvent, LifecycleKind, TO_DO,
};

use crate::expected::{Filter, ViewRange, start_of_day_ms, week_of};

const HOUR_MS: f64 = 3_600_000.0;

/// Nearest-rank percentiles of a set of durations, in hours (`None` when there are none).
#[derive(Debug, Clone, PartialEq)]
pub struct Percentiles {
    pub count: u64,
    pub p50_hours: Option<f64>,
    pub p85_hours: Option<f64>,
    pub p95_hours: Option<f64>,
}

/// One week (Monday to Sunday in the viewer's zone) of completions.
#[derive(Debug, Clone, PartialEq)]
pub struct FlowWeek {
    pub start: NaiveDate,
    pub completions: u64,
    /// Distinct issues with at least one completion in the week.
    pub throughput: u64,
    pub cycle_time: Percentiles,
    /// Completions that ended a cycle whose start was not seen.
    pub cycle_start_unseen: u64,
    pub lead_time: Percentiles,
    /// Completions of issues whose creation was not seen.
    pub lead_creation_unseen: u64,
}

/// A point of the control chart: one completion in range.
#[derive(Debug, Clone, PartialEq)]
pub struct Completion {
    pub issue_key: String,
    pub project_key: String,
    pub issue_type: String,
    /// The priority the delivery that moved the issue into done left it with.
    pub priority: String,
    /// The assignee's account id that delivery left it with (`""`: unassigned).
    pub assignee: String,
    /// The labels and component names that delivery left it with, sorted.
    pub labels: Vec<String>,
    pub components: Vec<String>,
    pub done_ms: i64,
    /// `None` when the cycle's start was unseen or there was no cycle (straight to done).
    pub cycle_hours: Option<f64>,
    /// `None` when the issue's creation was unseen.
    pub lead_hours: Option<f64>,
    /// The cycle time is above the p95 of the range's known cycle times.
    pub outlier: bool,
}

/// Completions of one project (issue type, priority, assignee, label, component) over the
/// whole range.
#[derive(Debug, Clone, PartialEq)]
pub struct GroupFlow {
    pub key: String,
    /// The assignee's display name (of the group's latest completion), `Unassigned`,
    /// `No label`, `No component`; else the key.
    pub name: String,
    pub completions: u64,
    pub cycle_time: Percentiles,
}

/// An issue in progress as of `as_of_ms`.
#[derive(Debug, Clone, PartialEq)]
pub struct WorkItem {
    pub issue_key: String,
    pub project_key: String,
    pub issue_type: String,
    pub status: String,
    /// The assignee's account id as the delivery that moved it into its status left it (`""`:
    /// unassigned).
    pub assignee: String,
    /// That assignee's display name (`""`: unassigned).
    pub assignee_name: String,
    /// The current cycle's start; `None` when unseen.
    pub in_progress_since_ms: Option<i64>,
    /// The current cycle's in-progress time so far (paused time excluded); `None` when unseen.
    pub age_hours: Option<f64>,
    /// p85 of the known cycle times of the project's completions in range.
    pub project_p85_hours: Option<f64>,
    pub at_risk: bool,
}

/// The cumulative flow at a day's end.
#[derive(Debug, Clone, PartialEq)]
pub struct FlowDay {
    pub date: NaiveDate,
    pub new: u64,
    pub indeterminate: u64,
    pub done: u64,
    /// Status name → issues in it (only names with a count above zero).
    pub statuses: BTreeMap<String, u64>,
}

/// Time spent in one status that is not `done`, over the range.
#[derive(Debug, Clone, PartialEq)]
pub struct StatusTime {
    pub status: String,
    pub category: String,
    pub issues: u64,
    pub total_hours: f64,
    pub median_hours: f64,
}

/// Everything the flow view shows.
#[derive(Debug, Clone, PartialEq)]
pub struct Flow {
    /// Exactly the range's weeks, oldest first.
    pub weeks: Vec<FlowWeek>,
    /// Sorted by (done_ms, issue_key).
    pub completions: Vec<Completion>,
    /// Sorted by key; only projects with a completion in range.
    pub projects: Vec<GroupFlow>,
    /// Sorted by key; only issue types with a completion in range.
    pub issue_types: Vec<GroupFlow>,
    /// Sorted by key: the priority at each completion; only those with a completion in range.
    pub priorities: Vec<GroupFlow>,
    /// Sorted by key: the assignee at each completion (`""`: unassigned).
    pub assignees: Vec<GroupFlow>,
    /// Sorted by key: each label at each completion (`""`: none; two labels, counted under
    /// each).
    pub labels: Vec<GroupFlow>,
    /// Sorted by key, as labels.
    pub components: Vec<GroupFlow>,
    /// Sorted by issue_key.
    pub work_items: Vec<WorkItem>,
    pub days: Vec<FlowDay>,
    /// Sorted by category (new, indeterminate), then status name.
    pub statuses: Vec<StatusTime>,
}

/// A stretch of an issue's life in one status.
#[derive(Debug, Clone)]
struct Segment<'a> {
    status: &'a str,
    /// For the first segment of an issue whose creation was unseen, the first delivery's time
    /// (where it starts to count in the cumulative flow), with `start_known` false.
    start_ms: i64,
    start_known: bool,
    end_ms: i64,
    /// The delivery that started the segment (the first delivery for an unseen start).
    event: &'a LifecycleEvent,
}

/// What the counted deliveries say about one issue.
struct History<'a> {
    created_ms: Option<i64>,
    first_ms: i64,
    deleted_ms: Option<i64>,
    segments: Vec<Segment<'a>>,
    /// The last delivery before the deletion (or the end).
    last: &'a LifecycleEvent,
}

/// How a completion's cycle ended.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Cycle {
    /// Straight to done.
    None,
    Unseen,
    Known(i64),
}

/// A completion, before it is turned into the view's shape.
struct Done<'a> {
    issue_id: &'a str,
    event: &'a LifecycleEvent,
    done_ms: i64,
    cycle: Cycle,
    lead_ms: Option<i64>,
}

impl Done<'_> {
    fn cycle_ms(&self) -> Option<i64> {
        match self.cycle {
            Cycle::Known(ms) => Some(ms),
            Cycle::None | Cycle::Unseen => None,
        }
    }
}

/// The status categories the stream teaches: by status id and by status name.
struct Categories<'a> {
    by_id: HashMap<&'a str, (&'a str, &'a str)>,
    by_name: HashMap<&'a str, &'a str>,
}

impl<'a> Categories<'a> {
    fn learn(events: &'a [LifecycleEvent]) -> Self {
        let mut by_id = HashMap::new();
        let mut by_name = HashMap::new();
        for status in [TO_DO, IN_PROGRESS, IN_REVIEW, DONE] {
            by_id.insert(status.id, (status.name, status.category));
            by_name.insert(status.name, status.category);
        }
        // What the deliveries say wins over the constants.
        for event in events {
            let status = event.issue.status;
            by_id.insert(status.id, (status.name, status.category));
            by_name.insert(status.name, status.category);
        }
        Self { by_id, by_name }
    }

    fn of(&self, name: &str) -> Option<&'a str> {
        self.by_name.get(name).copied()
    }
}

/// The flow metrics of the deliveries `events` (each once, any order), for `range` in `tz`, as of
/// `as_of_ms` (min(now, end of range)).
pub fn flow(events: &[LifecycleEvent], range: &ViewRange, tz: Tz, as_of_ms: i64) -> Flow {
    flow_filtered(events, range, tz, as_of_ms, &Filter::default())
}

/// [`flow`] with `filter` on completions (by the delivery that completed) and on segments (by
/// the delivery that started them).
pub fn flow_filtered(
    events: &[LifecycleEvent],
    range: &ViewRange,
    tz: Tz,
    as_of_ms: i64,
    filter: &Filter,
) -> Flow {
    let categories = Categories::learn(events);
    let histories = histories(events, &categories, as_of_ms);
    let mut dones = Vec::new();
    let mut current_cycles = BTreeMap::new();
    for (id, history) in &histories {
        let (issue_dones, current) = walk(id, history, &categories);
        dones.extend(issue_dones);
        if history.deleted_ms.is_none()
            && history.segments.last().is_some_and(|segment| {
                categories.of(segment.status) == Some("indeterminate")
                    && filter.matches(&segment.event.issue)
            })
        {
            current_cycles.insert(*id, current);
        }
    }
    let in_range: Vec<Done> = dones
        .into_iter()
        .filter(|done| {
            (range.from_ms..range.to_ms).contains(&done.done_ms)
                && filter.matches(&done.event.issue)
        })
        .collect();

    let weeks = range
        .weeks
        .iter()
        .map(|start| {
            let week: Vec<&Done> = in_range
                .iter()
                .filter(|done| week_of(done.done_ms, tz) == *start)
                .collect();
            FlowWeek {
                start: *start,
                completions: week.len() as u64,
                throughput: week
                    .iter()
                    .map(|done| done.issue_id)
                    .collect::<BTreeSet<_>>()
                    .len() as u64,
                cycle_time: percentiles(week.iter().filter_map(|done| done.cycle_ms()).collect()),
                cycle_start_unseen: week
                    .iter()
                    .filter(|done| done.cycle == Cycle::Unseen)
                    .count() as u64,
                lead_time: percentiles(week.iter().filter_map(|done| done.lead_ms).collect()),
                lead_creation_unseen: week.iter().filter(|done| done.lead_ms.is_none()).count()
                    as u64,
            }
        })
        .collect();

    let mut known: Vec<i64> = in_range.iter().filter_map(Done::cycle_ms).collect();
    known.sort_unstable();
    let p95_ms = (!known.is_empty()).then(|| nearest_rank(&known, 95));
    let mut completions: Vec<Completion> = in_range
        .iter()
        .map(|done| Completion {
            issue_key: done.event.issue.key.clone(),
            project_key: done.event.issue.project_key.to_owned(),
            issue_type: done.event.issue.issue_type.to_owned(),
            priority: done.event.issue.priority.to_owned(),
            assignee: done
                .event
                .issue
                .assignee
                .map(|person| person.account_id.to_owned())
                .unwrap_or_default(),
            labels: names(&done.event.issue.labels),
            components: names(&done.event.issue.components),
            done_ms: done.done_ms,
            cycle_hours: done.cycle_ms().map(hours),
            lead_hours: done.lead_ms.map(hours),
            outlier: matches!((done.cycle_ms(), p95_ms), (Some(cycle), Some(p95)) if cycle > p95),
        })
        .collect();
    completions.sort_by(|a, b| (a.done_ms, &a.issue_key).cmp(&(b.done_ms, &b.issue_key)));

    let projects = groups(&in_range, |done| by_key(done.event.issue.project_key));
    let issue_types = groups(&in_range, |done| by_key(done.event.issue.issue_type));
    let priorities = groups(&in_range, |done| by_key(done.event.issue.priority));
    let assignees = groups(&in_range, |done| match done.event.issue.assignee {
        Some(person) => vec![(person.account_id, person.name)],
        None => vec![("", "Unassigned")],
    });
    let labels = groups(&in_range, |done| {
        each_or(&done.event.issue.labels, "No label")
    });
    let components = groups(&in_range, |done| {
        each_or(&done.event.issue.components, "No component")
    });

    let mut project_p85_ms: BTreeMap<&str, i64> = BTreeMap::new();
    for project in in_range.iter().map(|done| done.event.issue.project_key) {
        let mut cycles: Vec<i64> = in_range
            .iter()
            .filter(|done| done.event.issue.project_key == project)
            .filter_map(Done::cycle_ms)
            .collect();
        cycles.sort_unstable();
        if !cycles.is_empty() {
            project_p85_ms.insert(project, nearest_rank(&cycles, 85));
        }
    }
    let mut work_items: Vec<WorkItem> = current_cycles
        .iter()
        .map(|(id, current)| {
            let history = &histories[id];
            let issue = &history.last.issue;
            let segment = history.segments.last().expect("a segment");
            let status = segment.status;
            let (since, age_ms) = match current {
                Some((start, age)) => (Some(*start), Some(*age)),
                None => (None, None),
            };
            let p85 = project_p85_ms.get(issue.project_key).copied();
            WorkItem {
                issue_key: issue.key.clone(),
                project_key: issue.project_key.to_owned(),
                issue_type: issue.issue_type.to_owned(),
                status: status.to_owned(),
                assignee: segment
                    .event
                    .issue
                    .assignee
                    .map(|person| person.account_id.to_owned())
                    .unwrap_or_default(),
                assignee_name: segment
                    .event
                    .issue
                    .assignee
                    .map(|person| person.name.to_owned())
                    .unwrap_or_default(),
                in_progress_since_ms: since,
                age_hours: age_ms.map(hours),
                project_p85_hours: p85.map(hours),
                at_risk: matches!((age_ms, p85), (Some(age), Some(p85)) if age > p85),
            }
        })
        .collect();
    work_items.sort_by(|a, b| a.issue_key.cmp(&b.issue_key));

    Flow {
        weeks,
        completions,
        projects,
        issue_types,
        priorities,
        assignees,
        labels,
        components,
        work_items,
        days: days(&histories, &categories, range, tz, as_of_ms, filter),
        statuses: time_in_status(&histories, &categories, range, as_of_ms, filter),
    }
}

/// Each issue's segments, from the deliveries before `as_of_ms`, in (time, sequence) order.
fn histories<'a>(
    events: &'a [LifecycleEvent],
    categories: &Categories<'a>,
    as_of_ms: i64,
) -> BTreeMap<&'a str, History<'a>> {
    let mut counted: Vec<&LifecycleEvent> = events
        .iter()
        .filter(|event| event.at_ms < as_of_ms)
        .collect();
    counted.sort_by_key(|event| (event.at_ms, event.sequence));
    let mut histories: BTreeMap<&str, History> = BTreeMap::new();
    for event in counted {
        let status = event.issue.status.name;
        let Some(history) = histories.get_mut(event.issue.id.as_str()) else {
            let mut segments = Vec::new();
            let created_ms = (event.kind == LifecycleKind::Created).then_some(event.at_ms);
            if created_ms.is_none() {
                // The issue predates the connection: what it was in before its first delivery
                // is known only when that delivery changed its status.
                if let Some(change) = event.changes.iter().find(|change| change.field == "status") {
                    let from = change
                        .from
                        .as_deref()
                        .and_then(|id| categories.by_id.get(id))
                        .map(|(name, _)| *name)
                        .or(change.from_string.as_deref());
                    if let Some(from) = from {
                        segments.push(Segment {
                            status: from,
                            start_ms: event.at_ms,
                            start_known: false,
                            end_ms: event.at_ms,
                            event,
                        });
                    }
                }
            }
            // Seen creation: the status it was created in, from then. Unseen: if the first
            // delivery changed the status, the new one from then (a known start); otherwise the
            // status it is in, from an unseen start.
            let start_known = created_ms.is_some() || !segments.is_empty();
            segments.push(Segment {
                status,
                start_ms: event.at_ms,
                start_known,
                end_ms: as_of_ms,
                event,
            });
            let deleted_ms = (event.kind == LifecycleKind::Deleted).then_some(event.at_ms);
            histories.insert(
                event.issue.id.as_str(),
                History {
                    created_ms,
                    first_ms: event.at_ms,
                    deleted_ms,
                    segments,
                    last: event,
                },
            );
            continue;
        };
        if history.deleted_ms.is_some() {
            // After a deletion the issue is nowhere.
            continue;
        }
        if event.kind == LifecycleKind::Deleted {
            history.deleted_ms = Some(event.at_ms);
            continue;
        }
        history.last = event;
        if history.segments.last().expect("a segment").status != status {
            history.segments.push(Segment {
                status,
                start_ms: event.at_ms,
                start_known: true,
                end_ms: as_of_ms,
                event,
            });
        }
    }
    for history in histories.values_mut() {
        let end_ms = history.deleted_ms.unwrap_or(as_of_ms);
        let starts: Vec<i64> = history.segments.iter().map(|s| s.start_ms).collect();
        for (index, segment) in history.segments.iter_mut().enumerate() {
            segment.end_ms = starts.get(index + 1).copied().unwrap_or(end_ms);
        }
    }
    histories
}

/// The completions of one issue, and (when it is still in a cycle at the end) the current
/// cycle's start and in-progress time, `None` when its start was unseen.
fn walk<'a>(
    id: &'a str,
    history: &History<'a>,
    categories: &Categories<'_>,
) -> (Vec<Done<'a>>, Option<(i64, i64)>) {
    let mut dones = Vec::new();
    // In a cycle: its start when known, and the in-progress time so far.
    let mut cycle: Option<(Option<i64>, i64)> = None;
    for segment in &history.segments {
        match categories.of(segment.status) {
            Some("indeterminate") => {
                let current =
                    cycle.get_or_insert((segment.start_known.then_some(segment.start_ms), 0));
                current.1 += segment.end_ms - segment.start_ms;
            }
            Some("done") => {
                let ended = cycle.take();
                if !segment.start_known {
                    continue;
                }
                dones.push(Done {
                    issue_id: id,
                    event: segment.event,
                    done_ms: segment.start_ms,
                    cycle: match ended {
                        None => Cycle::None,
                        Some((None, _)) => Cycle::Unseen,
                        Some((Some(_), spent)) => Cycle::Known(spent),
                    },
                    lead_ms: history.created_ms.map(|created| segment.start_ms - created),
                });
            }
            // `new` (paused: time back in to-do is excluded), or a status of unknown category.
            _ => {}
        }
    }
    let current = cycle.and_then(|(start, spent)| start.map(|start| (start, spent)));
    (dones, current)
}

/// The cumulative flow at the end of each day of the range, up to the day holding `as_of_ms`.
fn days(
    histories: &BTreeMap<&str, History<'_>>,
    categories: &Categories<'_>,
    range: &ViewRange,
    tz: Tz,
    as_of_ms: i64,
    filter: &Filter,
) -> Vec<FlowDay> {
    let date_of = |ms: i64| {
        DateTime::from_timestamp_millis(ms)
            .expect("a representable time")
            .with_timezone(&tz)
            .date_naive()
    };
    let mut days = Vec::new();
    if as_of_ms < range.from_ms {
        return days;
    }
    let last_day = date_of(range.to_ms - 1);
    let mut day = date_of(range.from_ms);
    while day <= last_day {
        let next_midnight = start_of_day_ms(day + Days::new(1), tz);
        let t = next_midnight.min(as_of_ms);
        let mut flow_day = FlowDay {
            date: day,
            new: 0,
            indeterminate: 0,
            done: 0,
            statuses: BTreeMap::new(),
        };
        for history in histories.values() {
            if history.first_ms >= t || history.deleted_ms.is_some_and(|deleted| deleted < t) {
                continue;
            }
            let Some(segment) = history
                .segments
                .iter()
                .rev()
                .find(|segment| segment.start_ms < t)
            else {
                continue;
            };
            if !filter.matches(&segment.event.issue) {
                continue;
            }
            let category = categories.of(segment.status);
            match category {
                Some("new") => flow_day.new += 1,
                Some("indeterminate") => flow_day.indeterminate += 1,
                Some("done") => {
                    if !segment.start_known || segment.start_ms < range.from_ms {
                        continue;
                    }
                    flow_day.done += 1;
                }
                _ => {}
            }
            *flow_day
                .statuses
                .entry(segment.status.to_owned())
                .or_default() += 1;
        }
        days.push(flow_day);
        if as_of_ms < next_midnight {
            break;
        }
        day = day + Days::new(1);
    }
    days
}

/// Time in each status that is not `done`, over segments with a known start, clipped to
/// [from_ms, as_of_ms).
fn time_in_status(
    histories: &BTreeMap<&str, History<'_>>,
    categories: &Categories<'_>,
    range: &ViewRange,
    as_of_ms: i64,
    filter: &Filter,
) -> Vec<StatusTime> {
    // (category order, status) → issue → time.
    let mut spent: BTreeMap<(u8, &str, &str), BTreeMap<&str, i64>> = BTreeMap::new();
    for (id, history) in histories {
        for segment in history
            .segments
            .iter()
            .filter(|s| s.start_known && filter.matches(&s.event.issue))
        {
            let (order, category) = match categories.of(segment.status) {
                Some("new") => (0, "new"),
                Some("indeterminate") => (1, "indeterminate"),
                _ => continue,
            };
            let from = segment.start_ms.max(range.from_ms);
            let to = segment.end_ms.min(as_of_ms);
            if to > from {
                *spent
                    .entry((order, segment.status, category))
                    .or_default()
                    .entry(id)
                    .or_default() += to - from;
            }
        }
    }
    spent
        .into_iter()
        .map(|((_, status, category), per_issue)| {
            let mut sums: Vec<i64> = per_issue.into_values().collect();
            sums.sort_unstable();
            StatusTime {
                status: status.to_owned(),
                category: category.to_owned(),
                issues: sums.len() as u64,
                total_hours: hours(sums.iter().sum()),
                median_hours: hours(nearest_rank(&sums, 50)),
            }
        })
        .collect()
}

/// The completions under each (key, name) `keys` gives a completion (one completion may count
/// under several keys); a group's name is its latest completion's.
fn groups<'a>(
    dones: &[Done<'a>],
    keys: impl Fn(&Done<'a>) -> Vec<(&'a str, &'a str)>,
) -> Vec<GroupFlow> {
    let mut by_key: BTreeMap<&str, (Vec<&Done>, (i64, &str))> = BTreeMap::new();
    for done in dones {
        for (key, name) in keys(done) {
            let (group, latest) = by_key.entry(key).or_insert((Vec::new(), (i64::MIN, name)));
            group.push(done);
            if done.done_ms >= latest.0 {
                *latest = (done.done_ms, name);
            }
        }
    }
    by_key
        .into_iter()
        .map(|(key, (dones, (_, name)))| GroupFlow {
            key: key.to_owned(),
            name: name.to_owned(),
            completions: dones.len() as u64,
            cycle_time: percentiles(dones.iter().filter_map(|done| done.cycle_ms()).collect()),
        })
        .collect()
}

/// A group keyed and named by the value itself.
fn by_key(value: &str) -> Vec<(&str, &str)> {
    vec![(value, value)]
}

/// One group per value, or the `""` group named `none` when there is none.
fn each_or<'a>(values: &[&'a str], none: &'a str) -> Vec<(&'a str, &'a str)> {
    if values.is_empty() {
        return vec![("", none)];
    }
    values.iter().map(|value| (*value, *value)).collect()
}

fn names(values: &[&str]) -> Vec<String> {
    let mut names: Vec<String> = values.iter().map(|value| (*value).to_owned()).collect();
    names.sort();
    names
}

/// p50, p85 and p95 of durations in milliseconds, in hours.
fn percentiles(mut values: Vec<i64>) -> Percentiles {
    values.sort_unstable();
    let at = |percent| (!values.is_empty()).then(|| hours(nearest_rank(&values, percent)));
    Percentiles {
        count: values.len() as u64,
        p50_hours: at(50),
        p85_hours: at(85),
        p95_hours: at(95),
    }
}

/// The nearest-rank percentile of sorted, non-empty `values`: v[ceil(p·n) − 1].
fn nearest_rank(values: &[i64], percent: usize) -> i64 {
    let rank = (percent * values.len()).div_ceil(100);
    values[rank.max(1) - 1]
}

fn hours(ms: i64) -> f64 {
    ms as f64 / HOUR_MS
}

#[cfg(test)]
mod tests {
    use super::*;
    use jira_simulator::lifecycle::{LifecycleSpec, generate};

    const END_MS: i64 = 1_796_000_000_000;
    const HOUR: i64 = 3_600_000;

    fn stream(seed: u64) -> Vec<LifecycleEvent> {
        generate(&LifecycleSpec {
            seed,
            issues: 80,
            weeks: 6,
            end_ms: END_MS,
        })
    }

    /// Seven weeks back from the end: every event of a six-week stream is in range.
    fn whole() -> ViewRange {
        ViewRange::last_weeks(END_MS, 7, chrono_tz::UTC)
    }

    fn whole_flow(events: &[LifecycleEvent]) -> Flow {
        flow(events, &whole(), chrono_tz::UTC, END_MS)
    }

    /// An issue's status moves, in time order: (time, from id, to id).
    fn moves<'a>(events: &'a [LifecycleEvent], id: &str) -> Vec<(i64, &'a str, &'a str)> {
        events
            .iter()
            .filter(|event| event.issue.id == id)
            .flat_map(|event| {
                event
                    .changes
                    .iter()
                    .filter(|change| change.field == "status")
                    .map(move |change| {
                        (
                            event.at_ms,
                            change.from.as_deref().unwrap_or(""),
                            change.to.as_deref().unwrap_or(""),
                        )
                    })
            })
            .collect()
    }

    fn ids(events: &[LifecycleEvent]) -> BTreeSet<String> {
        events.iter().map(|event| event.issue.id.clone()).collect()
    }

    fn key_of(events: &[LifecycleEvent], id: &str) -> String {
        events
            .iter()
            .find(|event| event.issue.id == id)
            .expect("the issue")
            .issue
            .key
            .clone()
    }

    fn created_at(events: &[LifecycleEvent], id: &str) -> i64 {
        events
            .iter()
            .find(|event| event.issue.id == id && event.kind == LifecycleKind::Created)
            .expect("a creation")
            .at_ms
    }

    fn is_deleted(events: &[LifecycleEvent], id: &str) -> bool {
        events
            .iter()
            .any(|event| event.issue.id == id && event.kind == LifecycleKind::Deleted)
    }

    /// The issues whose status moves are exactly `path` (status ids, from the first `from`).
    fn issues_moving(events: &[LifecycleEvent], path: &[&str]) -> Vec<String> {
        ids(events)
            .into_iter()
            .filter(|id| {
                let moves = moves(events, id);
                moves.len() + 1 == path.len()
                    && moves
                        .iter()
                        .enumerate()
                        .all(|(i, (_, from, to))| *from == path[i] && *to == path[i + 1])
            })
            .collect()
    }

    fn completions_of<'a>(flow: &'a Flow, key: &str) -> Vec<&'a Completion> {
        flow.completions
            .iter()
            .filter(|completion| completion.issue_key == key)
            .collect()
    }

    fn week_with(flow: &Flow, done_ms: i64) -> &FlowWeek {
        let week = week_of(done_ms, chrono_tz::UTC);
        flow.weeks
            .iter()
            .find(|row| row.start == week)
            .expect("the week")
    }

    const ONE_ROUND: [&str; 4] = [TO_DO.id, IN_PROGRESS.id, IN_REVIEW.id, DONE.id];
    const PAUSED: [&str; 6] = [
        TO_DO.id,
        IN_PROGRESS.id,
        TO_DO.id,
        IN_PROGRESS.id,
        IN_REVIEW.id,
        DONE.id,
    ];

    #[test]
    fn nearest_rank_percentiles_pick_a_value_of_the_set() {
        let values: Vec<i64> = (1..=20).map(|h| h * HOUR).collect();
        let got = percentiles(values);
        assert_eq!(got.count, 20);
        assert_eq!(got.p50_hours, Some(10.0));
        assert_eq!(got.p85_hours, Some(17.0));
        assert_eq!(got.p95_hours, Some(19.0));
        let one = percentiles(vec![3 * HOUR]);
        assert_eq!(
            (one.p50_hours, one.p85_hours, one.p95_hours),
            (Some(3.0), Some(3.0), Some(3.0))
        );
        let none = percentiles(Vec::new());
        assert_eq!(none.count, 0);
        assert_eq!(none.p50_hours, None);
        // Two values: p50 is the lower one (rank 1), p85 and p95 the upper.
        let two = percentiles(vec![HOUR, 2 * HOUR]);
        assert_eq!(
            (two.p50_hours, two.p85_hours, two.p95_hours),
            (Some(1.0), Some(2.0), Some(2.0))
        );
    }

    #[test]
    fn a_paused_issue_excludes_its_time_back_in_to_do() {
        let events = stream(7);
        let paused: Vec<String> = issues_moving(&events, &PAUSED)
            .into_iter()
            .filter(|id| !is_deleted(&events, id))
            .collect();
        assert!(
            !paused.is_empty(),
            "the stream has a paused, finished issue"
        );
        let got = whole_flow(&events);
        for id in &paused {
            let m = moves(&events, id);
            let (started, paused_at, resumed, done) = (m[0].0, m[1].0, m[2].0, m[4].0);
            let cycle = (done - started) - (resumed - paused_at);
            let key = key_of(&events, id);
            let completions = completions_of(&got, &key);
            assert_eq!(completions.len(), 1, "{key}");
            assert_eq!(completions[0].done_ms, done);
            assert_eq!(completions[0].cycle_hours, Some(cycle as f64 / 3.6e6));
            assert!(completions[0].cycle_hours < Some((done - started) as f64 / 3.6e6));
            assert_eq!(
                completions[0].lead_hours,
                Some((done - created_at(&events, id)) as f64 / 3.6e6)
            );
        }
    }

    #[test]
    fn a_reopened_issue_completes_twice_with_a_cycle_each() {
        let events = stream(7);
        let path = [
            TO_DO.id,
            IN_PROGRESS.id,
            IN_REVIEW.id,
            DONE.id,
            TO_DO.id,
            IN_PROGRESS.id,
            IN_REVIEW.id,
            DONE.id,
        ];
        let reopened = issues_moving(&events, &path);
        assert!(!reopened.is_empty(), "the stream has an issue done twice");
        let got = whole_flow(&events);
        for id in &reopened {
            let m = moves(&events, id);
            let key = key_of(&events, id);
            let completions = completions_of(&got, &key);
            assert_eq!(completions.len(), 2, "{key}");
            assert_eq!(completions[0].done_ms, m[2].0);
            assert_eq!(completions[1].done_ms, m[6].0);
            // The second cycle starts when the reopened work is picked up again.
            assert_eq!(
                completions[0].cycle_hours,
                Some((m[2].0 - m[0].0) as f64 / 3.6e6)
            );
            assert_eq!(
                completions[1].cycle_hours,
                Some((m[6].0 - m[4].0) as f64 / 3.6e6)
            );
            let created = created_at(&events, id);
            assert_eq!(
                completions[1].lead_hours,
                Some((m[6].0 - created) as f64 / 3.6e6)
            );
        }
    }

    #[test]
    fn an_unseen_creation_makes_the_lead_time_unknown_but_not_the_cycle() {
        let events = stream(7);
        let before = whole_flow(&events);
        let id = issues_moving(&events, &ONE_ROUND)
            .into_iter()
            .next()
            .expect("a finished issue");
        let key = key_of(&events, &id);
        let without: Vec<LifecycleEvent> = events
            .iter()
            .filter(|event| !(event.issue.id == id && event.kind == LifecycleKind::Created))
            .cloned()
            .collect();
        let after = whole_flow(&without);
        let (was, now) = (completions_of(&before, &key), completions_of(&after, &key));
        assert_eq!(was.len(), 1);
        assert_eq!(now.len(), 1);
        assert!(was[0].lead_hours.is_some());
        assert_eq!(now[0].lead_hours, None);
        assert_eq!(now[0].cycle_hours, was[0].cycle_hours);
        let (week_was, week_now) = (
            week_with(&before, was[0].done_ms),
            week_with(&after, was[0].done_ms),
        );
        assert_eq!(
            week_now.lead_creation_unseen,
            week_was.lead_creation_unseen + 1
        );
        assert_eq!(week_now.lead_time.count + 1, week_was.lead_time.count);
        assert_eq!(week_now.cycle_time, week_was.cycle_time);
        assert_eq!(week_now.completions, week_was.completions);
    }

    #[test]
    fn work_picked_up_before_the_connection_has_an_unseen_cycle_start() {
        let events = stream(7);
        let before = whole_flow(&events);
        let id = issues_moving(&events, &ONE_ROUND)
            .into_iter()
            .next()
            .expect("a finished issue");
        let key = key_of(&events, &id);
        let in_review_at = moves(&events, &id)[1].0;
        // The first delivery seen is the move In Progress → In Review.
        let cut: Vec<LifecycleEvent> = events
            .iter()
            .filter(|event| !(event.issue.id == id && event.at_ms < in_review_at))
            .cloned()
            .collect();
        let after = whole_flow(&cut);
        let was = completions_of(&before, &key);
        let now = completions_of(&after, &key);
        assert_eq!(now.len(), 1);
        assert_eq!(now[0].done_ms, was[0].done_ms);
        assert_eq!(now[0].cycle_hours, None);
        assert_eq!(now[0].lead_hours, None);
        assert!(!now[0].outlier);
        let (week_was, week_now) = (
            week_with(&before, was[0].done_ms),
            week_with(&after, was[0].done_ms),
        );
        assert_eq!(week_now.cycle_start_unseen, week_was.cycle_start_unseen + 1);
        assert_eq!(week_now.cycle_time.count + 1, week_was.cycle_time.count);
        assert_eq!(week_now.completions, week_was.completions);
        assert_eq!(week_now.throughput, week_was.throughput);

        // Cut just after the resolution instead: the first delivery seen is the move to Done,
        // from In Review: a completion (known start) ending a cycle started unseen.
        let done_at = moves(&events, &id)[2].0;
        let late: Vec<LifecycleEvent> = events
            .iter()
            .filter(|event| !(event.issue.id == id && event.at_ms < done_at))
            .cloned()
            .collect();
        let late_flow = whole_flow(&late);
        let now = completions_of(&late_flow, &key);
        assert_eq!(now.len(), 1);
        assert_eq!(now[0].cycle_hours, None);
        assert_eq!(
            week_with(&late_flow, done_at).cycle_start_unseen,
            week_was.cycle_start_unseen + 1
        );
    }

    #[test]
    fn an_issue_first_seen_done_is_not_a_completion_until_done_again() {
        let events = stream(7);
        let path = [
            TO_DO.id,
            IN_PROGRESS.id,
            IN_REVIEW.id,
            DONE.id,
            TO_DO.id,
            IN_PROGRESS.id,
            IN_REVIEW.id,
            DONE.id,
        ];
        let id = issues_moving(&events, &path)
            .into_iter()
            .next()
            .expect("an issue done twice");
        let key = key_of(&events, &id);
        let m = moves(&events, &id);
        // Seen from the reopen on: Done (unseen start) → To Do → … → Done.
        let cut: Vec<LifecycleEvent> = events
            .iter()
            .filter(|event| !(event.issue.id == id && event.at_ms < m[3].0))
            .cloned()
            .collect();
        let got = whole_flow(&cut);
        let completions = completions_of(&got, &key);
        assert_eq!(completions.len(), 1);
        assert_eq!(completions[0].done_ms, m[6].0);
        assert_eq!(
            completions[0].cycle_hours,
            Some((m[6].0 - m[4].0) as f64 / 3.6e6)
        );
        assert_eq!(completions[0].lead_hours, None);
    }

    #[test]
    fn straight_to_done_is_a_completion_without_a_cycle() {
        let events = stream(7);
        let before = whole_flow(&events);
        let id = issues_moving(&events, &ONE_ROUND)
            .into_iter()
            .next()
            .expect("a finished issue");
        let key = key_of(&events, &id);
        let skipped: Vec<LifecycleEvent> = events
            .iter()
            .filter(|event| {
                !(event.issue.id == id && event.issue.status.category == "indeterminate")
            })
            .cloned()
            .collect();
        let after = whole_flow(&skipped);
        let was = completions_of(&before, &key);
        let now = completions_of(&after, &key);
        assert_eq!(now.len(), 1);
        assert_eq!(now[0].done_ms, was[0].done_ms);
        assert_eq!(now[0].cycle_hours, None);
        assert_eq!(now[0].lead_hours, was[0].lead_hours);
        let (week_was, week_now) = (
            week_with(&before, was[0].done_ms),
            week_with(&after, was[0].done_ms),
        );
        assert_eq!(week_now.completions, week_was.completions);
        assert_eq!(week_now.throughput, week_was.throughput);
        assert_eq!(week_now.cycle_start_unseen, week_was.cycle_start_unseen);
        assert_eq!(week_now.cycle_time.count + 1, week_was.cycle_time.count);
    }

    #[test]
    fn weeks_groups_and_completions_agree() {
        let events = stream(11);
        let range = ViewRange::last_weeks(END_MS, 3, chrono_tz::Asia::Kolkata);
        let got = flow(&events, &range, chrono_tz::Asia::Kolkata, END_MS);
        assert_eq!(
            got.weeks.iter().map(|w| w.start).collect::<Vec<_>>(),
            range.weeks
        );
        assert!(!got.completions.is_empty());
        let total: u64 = got.weeks.iter().map(|w| w.completions).sum();
        assert_eq!(total, got.completions.len() as u64);
        for week in &got.weeks {
            assert!(week.throughput <= week.completions);
            assert!(week.cycle_time.count + week.cycle_start_unseen <= week.completions);
            assert_eq!(
                week.lead_time.count + week.lead_creation_unseen,
                week.completions
            );
            assert!(week.cycle_time.p50_hours <= week.cycle_time.p85_hours);
            assert!(week.cycle_time.p85_hours <= week.cycle_time.p95_hours);
        }
        assert!(
            got.weeks.iter().any(|w| w.throughput > 0),
            "some week has completions"
        );
        assert!(
            got.completions
                .windows(2)
                .all(|w| (w[0].done_ms, &w[0].issue_key) <= (w[1].done_ms, &w[1].issue_key))
        );
        assert!(
            got.completions
                .iter()
                .all(|c| (range.from_ms..range.to_ms).contains(&c.done_ms))
        );
        for groups in [&got.projects, &got.issue_types] {
            assert_eq!(
                groups.iter().map(|g| g.completions).sum::<u64>(),
                got.completions.len() as u64
            );
            assert!(groups.windows(2).all(|w| w[0].key < w[1].key));
            assert!(groups.iter().all(|g| g.completions > 0));
        }
        // Outliers are the largest known cycle times, at most 5% of them.
        let known: Vec<f64> = got
            .completions
            .iter()
            .filter_map(|c| c.cycle_hours)
            .collect();
        let outliers: Vec<f64> = got
            .completions
            .iter()
            .filter(|c| c.outlier)
            .map(|c| c.cycle_hours.expect("an outlier has a cycle"))
            .collect();
        let lowest_outlier = outliers.iter().copied().fold(f64::INFINITY, f64::min);
        let inliers = got
            .completions
            .iter()
            .filter(|c| !c.outlier)
            .filter_map(|c| c.cycle_hours);
        assert!(inliers.into_iter().all(|h| h < lowest_outlier));
        assert!(outliers.len() * 20 <= known.len());
    }

    #[test]
    fn the_order_of_deliveries_changes_nothing() {
        let events = stream(7);
        let mut reversed = events.clone();
        reversed.reverse();
        let range = ViewRange::last_weeks(END_MS, 4, chrono_tz::UTC);
        let as_of = END_MS - 3 * 24 * HOUR;
        assert_eq!(
            flow(&events, &range, chrono_tz::UTC, as_of),
            flow(&reversed, &range, chrono_tz::UTC, as_of)
        );
    }

    #[test]
    fn days_run_to_today_and_end_where_the_issues_are() {
        let events = stream(7);
        let got = whole_flow(&events);
        assert_eq!(got.days.len(), 49);
        assert_eq!(
            got.days.last().expect("a day").date,
            DateTime::from_timestamp_millis(END_MS)
                .expect("a time")
                .date_naive()
        );
        // At the end, every issue not deleted is counted in its last status.
        let mut last: BTreeMap<&str, &LifecycleEvent> = BTreeMap::new();
        for event in &events {
            last.insert(event.issue.id.as_str(), event);
        }
        let alive: Vec<&&LifecycleEvent> = last
            .values()
            .filter(|event| event.kind != LifecycleKind::Deleted)
            .collect();
        let count = |category: &str| {
            alive
                .iter()
                .filter(|event| event.issue.status.category == category)
                .count() as u64
        };
        let today = got.days.last().expect("a day");
        assert_eq!(today.new, count("new"));
        assert_eq!(today.indeterminate, count("indeterminate"));
        assert_eq!(today.done, count("done"));
        assert_eq!(today.indeterminate, got.work_items.len() as u64);
        for day in &got.days {
            assert_eq!(
                day.statuses.values().sum::<u64>(),
                day.new + day.indeterminate + day.done
            );
            assert!(day.statuses.values().all(|count| *count > 0));
        }
        // The done band only shrinks on a day with a reopen or a deletion of a done issue.
        for pair in got.days.windows(2) {
            if pair[1].done >= pair[0].done {
                continue;
            }
            let (from, to) = (
                start_of_day_ms(pair[0].date + Days::new(1), chrono_tz::UTC),
                start_of_day_ms(pair[1].date + Days::new(1), chrono_tz::UTC),
            );
            assert!(
                events.iter().any(|event| (from..to).contains(&event.at_ms)
                    && (event.kind == LifecycleKind::Deleted && event.issue.status == DONE
                        || event.changes.iter().any(|change| change.field == "status"
                            && change.from.as_deref() == Some(DONE.id)))),
                "the done band shrank on {} without a reopen or deletion",
                pair[1].date
            );
        }
        // The first day counts only the issues created on it.
        let first_midnight = start_of_day_ms(got.days[0].date + Days::new(1), chrono_tz::UTC);
        let created_first_day = events
            .iter()
            .filter(|e| e.kind == LifecycleKind::Created && e.at_ms < first_midnight)
            .count() as u64;
        let first = &got.days[0];
        assert_eq!(
            first.new + first.indeterminate + first.done,
            created_first_day
        );
    }

    #[test]
    fn done_before_the_range_is_not_in_the_done_band() {
        let events = stream(7);
        let range = ViewRange::last_weeks(END_MS, 2, chrono_tz::UTC);
        let got = flow(&events, &range, chrono_tz::UTC, END_MS);
        assert_eq!(got.days.len(), 14);
        let mut last_done: BTreeMap<&str, Option<i64>> = BTreeMap::new();
        for event in &events {
            let entry = last_done.entry(event.issue.id.as_str()).or_default();
            if event.kind == LifecycleKind::Deleted {
                *entry = None;
            } else if event.changes.iter().any(|c| c.field == "status") {
                *entry = (event.issue.status == DONE).then_some(event.at_ms);
            }
        }
        let done_before = last_done
            .values()
            .filter(|done| done.is_some_and(|at| at < range.from_ms))
            .count();
        let done_in_range = last_done
            .values()
            .filter(|done| done.is_some_and(|at| at >= range.from_ms))
            .count();
        assert!(done_before > 0, "some issues were done before the range");
        assert_eq!(got.days.last().expect("a day").done, done_in_range as u64);
    }

    #[test]
    fn a_work_item_ages_by_its_in_progress_time_only() {
        let events = stream(7);
        let id = issues_moving(&events, &PAUSED)
            .into_iter()
            .next()
            .expect("a paused issue");
        let key = key_of(&events, &id);
        let m = moves(&events, &id);
        let (started, paused_at, resumed) = (m[0].0, m[1].0, m[2].0);
        // Just after it was picked up again: the deliveries from then on do not count yet.
        let as_of = resumed + 1;
        let range = ViewRange::last_weeks(END_MS, 7, chrono_tz::UTC);
        let got = flow(&events, &range, chrono_tz::UTC, as_of);
        let item = got
            .work_items
            .iter()
            .find(|item| item.issue_key == key)
            .expect("the issue is in progress");
        assert_eq!(item.status, IN_PROGRESS.name);
        assert_eq!(item.in_progress_since_ms, Some(started));
        assert_eq!(
            item.age_hours,
            Some(((paused_at - started) + 1) as f64 / 3.6e6)
        );
        assert_eq!(
            item.at_risk,
            item.project_p85_hours
                .is_some_and(|p85| item.age_hours.expect("an age") > p85)
        );
        // While paused it is not in progress, up to and including the instant it is picked up
        // again: only deliveries before as_of count.
        for as_of in [paused_at + 1, resumed] {
            let paused_flow = flow(&events, &range, chrono_tz::UTC, as_of);
            assert!(
                paused_flow
                    .work_items
                    .iter()
                    .all(|item| item.issue_key != key)
            );
        }
        // Nothing that happened at or after as_of counts.
        assert!(got.completions.iter().all(|c| c.done_ms < as_of));
        assert!(
            got.work_items
                .windows(2)
                .all(|w| w[0].issue_key < w[1].issue_key)
        );
    }

    #[test]
    fn time_in_status_covers_the_statuses_not_done() {
        let events = stream(7);
        let got = whole_flow(&events);
        let names: Vec<(&str, &str)> = got
            .statuses
            .iter()
            .map(|s| (s.category.as_str(), s.status.as_str()))
            .collect();
        assert_eq!(
            names,
            vec![
                ("new", TO_DO.name),
                ("indeterminate", IN_PROGRESS.name),
                ("indeterminate", IN_REVIEW.name),
            ]
        );
        // Every issue spent time in To Do; those that moved to In Progress, there.
        assert_eq!(got.statuses[0].issues, ids(&events).len() as u64);
        let started = ids(&events)
            .into_iter()
            .filter(|id| moves(&events, id).iter().any(|m| m.2 == IN_PROGRESS.id))
            .count() as u64;
        assert_eq!(got.statuses[1].issues, started);
        // A narrower range only clips the time.
        let narrow = flow(
            &events,
            &ViewRange::last_weeks(END_MS, 1, chrono_tz::UTC),
            chrono_tz::UTC,
            END_MS,
        );
        for status in &narrow.statuses {
            let wide = got
                .statuses
                .iter()
                .find(|s| s.status == status.status)
                .expect("the status over the whole range");
            assert!(status.total_hours < wide.total_hours);
            assert!(status.issues <= wide.issues);
            assert!(status.median_hours > 0.0);
            assert!(status.median_hours <= status.total_hours);
        }
    }

    /// Every value `of` gives, with the filter asking for it.
    fn each_value(
        events: &[LifecycleEvent],
        of: impl Fn(&LifecycleEvent) -> Vec<String>,
        filter: impl Fn(String) -> Filter,
    ) -> Vec<Filter> {
        let values: BTreeSet<String> = events.iter().flat_map(of).collect();
        values.into_iter().map(filter).collect()
    }

    #[test]
    fn an_empty_filter_filters_nothing() {
        let events = stream(7);
        let range = whole();
        assert_eq!(
            flow_filtered(&events, &range, chrono_tz::UTC, END_MS, &Filter::default()),
            whole_flow(&events)
        );
    }

    #[test]
    fn the_priorities_and_the_assignees_partition_the_flow() {
        let events = stream(11);
        let all = whole_flow(&events);
        let by_priority = each_value(
            &events,
            |e| vec![e.issue.priority.to_owned()],
            |p| Filter {
                priorities: vec![p],
                ..Filter::default()
            },
        );
        let by_assignee = each_value(
            &events,
            |e| {
                e.issue
                    .assignee
                    .iter()
                    .map(|p| p.account_id.to_owned())
                    .collect()
            },
            |a| Filter {
                assignees: vec![a],
                ..Filter::default()
            },
        );
        for (filters, unassigned_too) in [(by_priority, false), (by_assignee, true)] {
            let parts: Vec<Flow> = filters
                .iter()
                .map(|filter| flow_filtered(&events, &whole(), chrono_tz::UTC, END_MS, filter))
                .collect();
            let mut completions: Vec<(i64, String)> = parts
                .iter()
                .flat_map(|part| {
                    part.completions
                        .iter()
                        .map(|c| (c.done_ms, c.issue_key.clone()))
                })
                .collect();
            completions.sort();
            let want: Vec<(i64, String)> = all
                .completions
                .iter()
                .filter(|c| !unassigned_too || !c.assignee.is_empty())
                .map(|c| (c.done_ms, c.issue_key.clone()))
                .collect();
            assert_eq!(completions, want);
            let mut items: Vec<String> = parts
                .iter()
                .flat_map(|part| part.work_items.iter().map(|i| i.issue_key.clone()))
                .collect();
            items.sort();
            let want: Vec<String> = all.work_items.iter().map(|i| i.issue_key.clone()).collect();
            assert_eq!(items, want, "work items are always assigned here");
            // Each day's issues: the sum of the parts, plus (by assignee) the unassigned ones.
            for (index, day) in all.days.iter().enumerate() {
                let sum = |band: fn(&FlowDay) -> u64| -> u64 {
                    parts.iter().map(|part| band(&part.days[index])).sum()
                };
                assert_eq!(sum(|d| d.indeterminate), day.indeterminate);
                assert_eq!(sum(|d| d.done), day.done);
                if unassigned_too {
                    assert!(sum(|d| d.new) <= day.new);
                } else {
                    assert_eq!(sum(|d| d.new), day.new);
                }
            }
            let total = |flow: &Flow, status: &str| {
                flow.statuses
                    .iter()
                    .find(|s| s.status == status)
                    .map_or(0.0, |s| s.total_hours)
            };
            for status in [IN_PROGRESS.name, IN_REVIEW.name] {
                let parts_total: f64 = parts.iter().map(|part| total(part, status)).sum();
                assert!((parts_total - total(&all, status)).abs() < 1e-6);
            }
        }
        // New issues are unassigned until assigned: their first To Do time is nobody's.
        let assigned: u64 = each_value(
            &events,
            |e| {
                e.issue
                    .assignee
                    .iter()
                    .map(|p| p.account_id.to_owned())
                    .collect()
            },
            |a| Filter {
                assignees: vec![a],
                ..Filter::default()
            },
        )
        .iter()
        .map(|f| flow_filtered(&events, &whole(), chrono_tz::UTC, END_MS, f).days[10].new)
        .sum();
        assert!(assigned < all.days[10].new);
    }

    #[test]
    fn a_completion_counts_by_what_its_move_into_done_stated() {
        let events = stream(7);
        let all = whole_flow(&events);
        let label = "backend";
        let filter = Filter {
            labels: vec![label.to_owned()],
            ..Filter::default()
        };
        let got = flow_filtered(&events, &whole(), chrono_tz::UTC, END_MS, &filter);
        let want: Vec<&Completion> = all
            .completions
            .iter()
            .filter(|c| c.labels.iter().any(|l| l == label))
            .collect();
        assert!(!want.is_empty());
        assert_eq!(got.completions.len(), want.len());
        // Some issue's labels changed after its completion (or before it): the latest labels
        // would count another set.
        let mut latest: BTreeMap<&str, &LifecycleEvent> = BTreeMap::new();
        for event in &events {
            latest.insert(event.issue.key.as_str(), event);
        }
        assert!(
            all.completions.iter().any(|c| {
                let now = &latest[c.issue_key.as_str()].issue.labels;
                now.contains(&label) != c.labels.iter().any(|l| l == label)
            }),
            "a completion's labels differ from its issue's latest"
        );
        // A cycle's time is the whole cycle's, whatever the filter.
        for completion in &got.completions {
            let whole = all
                .completions
                .iter()
                .find(|c| c.issue_key == completion.issue_key && c.done_ms == completion.done_ms)
                .expect("the same completion unfiltered");
            assert_eq!(completion.cycle_hours, whole.cycle_hours);
            assert_eq!(completion.lead_hours, whole.lead_hours);
        }
        // Groups: every completion once per label (or under ""), named.
        let counted: u64 = all.labels.iter().map(|g| g.completions).sum();
        let want: usize = all.completions.iter().map(|c| c.labels.len().max(1)).sum();
        assert_eq!(counted, want as u64);
        assert!(
            all.labels
                .iter()
                .any(|g| g.key.is_empty() && g.name == "No label")
        );
        assert!(
            all.components
                .iter()
                .any(|g| g.key.is_empty() && g.name == "No component")
        );
        assert!(
            all.assignees
                .iter()
                .all(|g| !g.key.is_empty() && g.name != g.key)
        );
        assert_eq!(
            all.assignees.iter().map(|g| g.completions).sum::<u64>(),
            all.completions.len() as u64
        );
    }

    #[test]
    fn a_segment_counts_by_what_the_delivery_that_started_it_stated() {
        let events = stream(7);
        // An issue relabelled while it stood in a status: its labels then are not the segment's.
        let relabelled = events
            .iter()
            .find(|e| {
                e.changes.iter().all(|c| c.field == "labels")
                    && e.issue.status.category == "indeterminate"
            })
            .expect("labels changed alone while in progress");
        let started = events
            .iter()
            .filter(|e| e.issue.id == relabelled.issue.id && e.at_ms < relabelled.at_ms)
            .rfind(|e| e.changes.iter().any(|c| c.field == "status"))
            .expect("the move into the status");
        let as_of = relabelled.at_ms + 1;
        let range = ViewRange::last_weeks(END_MS, 7, chrono_tz::UTC);
        let item_with = |labels: &[&str]| {
            let filter = Filter {
                labels: labels.iter().map(|l| (*l).to_owned()).collect(),
                ..Filter::default()
            };
            flow_filtered(&events, &range, chrono_tz::UTC, as_of, &filter)
                .work_items
                .iter()
                .any(|item| item.issue_key == relabelled.issue.key)
        };
        for label in jira_simulator::lifecycle::LABELS {
            assert_eq!(
                item_with(&[label]),
                started.issue.labels.contains(&label),
                "{label}: {:?} then, {:?} now",
                started.issue.labels,
                relabelled.issue.labels
            );
        }
    }
}
