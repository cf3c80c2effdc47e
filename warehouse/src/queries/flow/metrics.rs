//! The flow metrics, computed from issue histories: completions and their cycle and lead times,
//! work in progress and its age, the cumulative flow at each day's end, and time in status.
//! Definitions are the product's, as `Flow`'s documentation and the flow page state them.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::{DateTime, Datelike, Days, NaiveDate, TimeZone};
use chrono_tz::Tz;

use super::{
    Completion, DayFlow, Flow, FlowWeek, GroupFlow, MAX_COMPLETIONS, Percentiles, StatusTime,
    WorkItem,
    history::{DONE, IN_PROGRESS, IssueHistory, NEW},
};

const HOUR_MS: f64 = 3_600_000.0;

/// What the metrics are computed over.
pub(crate) struct Window {
    pub from_ms: i64,
    pub to_ms: i64,
    /// min(now, to_ms): histories end here.
    pub as_of_ms: i64,
    pub tz: Tz,
}

/// One issue's completions and where it stands at the history's end.
struct Walk {
    completions: Vec<Done>,
    /// The cycle in progress at the end: its start (if seen) and summed in-progress time.
    open_cycle: Option<(Option<i64>, i64)>,
}

struct Done {
    at_ms: i64,
    /// The issue's priority when it moved into done.
    priority: String,
    /// `None`: no cycle (straight to done); `Some(None)`: a cycle whose start we did not see.
    cycle_ms: Option<Option<i64>>,
}

/// A cycle starts at the first in-progress segment, sums the time in progress (time back in
/// to-do is paused, not counted) and ends on a move into done; a reopen starts a new one.
fn walk(history: &IssueHistory) -> Walk {
    let mut completions = Vec::new();
    let mut cycle: Option<(Option<i64>, i64)> = None;
    for segment in &history.segments {
        match segment.category.as_str() {
            IN_PROGRESS => {
                let (start, spent) = cycle.get_or_insert((segment.start_ms, 0));
                if start.is_some() {
                    *spent += segment.end_ms - segment.start_ms.unwrap_or(segment.end_ms);
                }
            }
            DONE => {
                if let Some(at_ms) = segment.start_ms {
                    completions.push(Done {
                        at_ms,
                        priority: segment.priority.clone(),
                        cycle_ms: cycle.map(|(start, spent)| start.map(|_| spent)),
                    });
                }
                cycle = None;
            }
            _ => {}
        }
    }
    Walk {
        completions,
        open_cycle: history
            .segments
            .last()
            .filter(|segment| segment.category == IN_PROGRESS)
            .and(cycle),
    }
}

pub(crate) fn flow(histories: &[IssueHistory], window: &Window) -> Flow {
    let weeks = week_starts(window);
    let walks: Vec<Walk> = histories.iter().map(walk).collect();
    let completions = completions(histories, &walks, window);
    let project_p85: HashMap<&str, Option<f64>> = group(&completions, |c| &c.project_key)
        .into_iter()
        .map(|(key, cycles)| (key, Percentiles::of(cycles).p85_hours))
        .collect();
    let work_items = work_items(histories, &walks, &project_p85);
    Flow {
        as_of_ms: window.as_of_ms,
        weeks: flow_weeks(&completions, window.tz, &weeks),
        cycle_time: Percentiles::of(completions.iter().filter_map(|c| c.cycle_hours)),
        lead_time: Percentiles::of(completions.iter().filter_map(|c| c.lead_hours)),
        projects: groups(&completions, |c| &c.project_key),
        issue_types: groups(&completions, |c| &c.issue_type),
        priorities: groups(&completions, |c| &c.priority),
        work_items,
        days: days(histories, window),
        statuses: time_in_status(histories, window),
        completions_total: completions.len() as u64,
        completions: latest(completions),
    }
}

fn completions(histories: &[IssueHistory], walks: &[Walk], window: &Window) -> Vec<Completion> {
    let mut completions: Vec<Completion> = histories
        .iter()
        .zip(walks)
        .flat_map(|(history, walk)| {
            walk.completions
                .iter()
                .filter(|done| (window.from_ms..window.to_ms).contains(&done.at_ms))
                .map(|done| Completion {
                    issue_key: history.issue_key.clone(),
                    project_key: history.project_key.clone(),
                    issue_type: history.issue_type.clone(),
                    priority: done.priority.clone(),
                    done_ms: done.at_ms,
                    in_cycle: done.cycle_ms.is_some(),
                    cycle_hours: done.cycle_ms.flatten().map(hours),
                    lead_hours: history
                        .created_ms
                        .map(|created| hours(done.at_ms - created)),
                    outlier: false,
                })
        })
        .collect();
    completions.sort_by(|a, b| (a.done_ms, &a.issue_key).cmp(&(b.done_ms, &b.issue_key)));
    let p95 = Percentiles::of(completions.iter().filter_map(|c| c.cycle_hours)).p95_hours;
    for completion in &mut completions {
        completion.outlier = matches!((completion.cycle_hours, p95), (Some(c), Some(p)) if c > p);
    }
    completions
}

/// The latest [`MAX_COMPLETIONS`] of completions sorted oldest first.
fn latest(mut completions: Vec<Completion>) -> Vec<Completion> {
    let excess = completions.len().saturating_sub(MAX_COMPLETIONS);
    completions.drain(..excess);
    completions
}

fn flow_weeks(completions: &[Completion], tz: Tz, weeks: &[NaiveDate]) -> Vec<FlowWeek> {
    weeks
        .iter()
        .map(|start| {
            let of_week: Vec<&Completion> = completions
                .iter()
                .filter(|c| week_of(c.done_ms, tz) == *start)
                .collect();
            FlowWeek {
                start: *start,
                completions: of_week.len() as u64,
                throughput: of_week
                    .iter()
                    .map(|c| &c.issue_key)
                    .collect::<BTreeSet<_>>()
                    .len() as u64,
                cycle_time: Percentiles::of(of_week.iter().filter_map(|c| c.cycle_hours)),
                cycle_start_unseen: of_week
                    .iter()
                    .filter(|c| c.in_cycle && c.cycle_hours.is_none())
                    .count() as u64,
                lead_time: Percentiles::of(of_week.iter().filter_map(|c| c.lead_hours)),
                lead_creation_unseen: of_week.iter().filter(|c| c.lead_hours.is_none()).count()
                    as u64,
            }
        })
        .collect()
}

/// Known cycle hours per group key.
fn group(completions: &[Completion], key: fn(&Completion) -> &String) -> BTreeMap<&str, Vec<f64>> {
    let mut groups: BTreeMap<&str, Vec<f64>> = BTreeMap::new();
    for completion in completions {
        let cycles = groups.entry(key(completion).as_str()).or_default();
        cycles.extend(completion.cycle_hours);
    }
    groups
}

fn groups(completions: &[Completion], key: fn(&Completion) -> &String) -> Vec<GroupFlow> {
    group(completions, key)
        .into_iter()
        .map(|(group, cycles)| GroupFlow {
            key: group.to_owned(),
            completions: completions.iter().filter(|c| key(c) == group).count() as u64,
            cycle_time: Percentiles::of(cycles),
        })
        .collect()
}

fn work_items(
    histories: &[IssueHistory],
    walks: &[Walk],
    project_p85: &HashMap<&str, Option<f64>>,
) -> Vec<WorkItem> {
    let mut items: Vec<WorkItem> = histories
        .iter()
        .zip(walks)
        .filter(|(history, _)| history.deleted_ms.is_none())
        .filter_map(|(history, walk)| {
            let (start, spent) = walk.open_cycle?;
            let segment = history.segments.last()?;
            let age_hours = start.map(|_| hours(spent));
            let project_p85_hours = project_p85
                .get(history.project_key.as_str())
                .copied()
                .flatten();
            Some(WorkItem {
                issue_key: history.issue_key.clone(),
                project_key: history.project_key.clone(),
                issue_type: history.issue_type.clone(),
                status: segment.status.clone(),
                in_progress_since_ms: start,
                age_hours,
                project_p85_hours,
                at_risk: matches!((age_hours, project_p85_hours), (Some(a), Some(p)) if a > p),
            })
        })
        .collect();
    items.sort_by(|a, b| {
        b.at_risk
            .cmp(&a.at_risk)
            .then(
                b.age_hours
                    .unwrap_or(f64::MAX)
                    .total_cmp(&a.age_hours.unwrap_or(f64::MAX)),
            )
            .then_with(|| a.issue_key.cmp(&b.issue_key))
    });
    items
}

/// The Mondays of every week the range's days touch.
fn week_starts(window: &Window) -> Vec<NaiveDate> {
    let last = week_of(window.to_ms - 1, window.tz);
    let mut weeks = vec![week_of(window.from_ms, window.tz)];
    while let Some(next) = weeks.last().map(|week| *week + Days::new(7))
        && next <= last
    {
        weeks.push(next);
    }
    weeks
}

/// Each day of the range up to the one holding `as_of_ms`, with its end (the next midnight,
/// or `as_of_ms` for that day).
fn day_ends(window: &Window) -> Vec<(NaiveDate, i64)> {
    let mut days = Vec::new();
    let mut day = local_date(window.from_ms, window.tz);
    loop {
        let start = midnight_ms(day, window.tz);
        if start >= window.as_of_ms || start >= window.to_ms {
            break;
        }
        let next = day + Days::new(1);
        days.push((day, midnight_ms(next, window.tz).min(window.as_of_ms)));
        day = next;
    }
    days
}

fn days(histories: &[IssueHistory], window: &Window) -> Vec<DayFlow> {
    day_ends(window)
        .into_iter()
        .map(|(date, end_ms)| {
            let mut day = DayFlow {
                date,
                new: 0,
                indeterminate: 0,
                done: 0,
                statuses: BTreeMap::new(),
            };
            for segment in histories.iter().filter_map(|history| history.at(end_ms)) {
                let counter = match segment.category.as_str() {
                    NEW => &mut day.new,
                    IN_PROGRESS => &mut day.indeterminate,
                    // Done counts what was finished within the range.
                    DONE if segment
                        .start_ms
                        .is_some_and(|start| start >= window.from_ms) =>
                    {
                        &mut day.done
                    }
                    _ => continue,
                };
                *counter += 1;
                *day.statuses.entry(segment.status.clone()).or_default() += 1;
            }
            day
        })
        .collect()
}

fn time_in_status(histories: &[IssueHistory], window: &Window) -> Vec<StatusTime> {
    // (category, status) → per issue, the time spent there within the range.
    let mut spent: BTreeMap<(u8, &str), Vec<i64>> = BTreeMap::new();
    for history in histories {
        let mut own: BTreeMap<(u8, &str), i64> = BTreeMap::new();
        for segment in &history.segments {
            let order = match segment.category.as_str() {
                NEW => 0,
                IN_PROGRESS => 1,
                _ => continue,
            };
            let Some(start) = segment.start_ms else {
                continue;
            };
            let length = segment.end_ms.min(window.as_of_ms) - start.max(window.from_ms);
            if length > 0 {
                *own.entry((order, segment.status.as_str())).or_default() += length;
            }
        }
        for (status, ms) in own {
            spent.entry(status).or_default().push(ms);
        }
    }
    spent
        .into_iter()
        .map(|((order, status), per_issue)| StatusTime {
            status: status.to_owned(),
            category: [NEW, IN_PROGRESS][usize::from(order)].to_owned(),
            issues: per_issue.len() as u64,
            total_hours: hours(per_issue.iter().sum()),
            median_hours: nearest_rank(&per_issue, 50).map_or(0.0, hours),
        })
        .collect()
}

impl Percentiles {
    /// Nearest-rank percentiles of `values` (any order).
    pub fn of(values: impl IntoIterator<Item = f64>) -> Self {
        let mut values: Vec<f64> = values.into_iter().collect();
        values.sort_by(f64::total_cmp);
        Self {
            count: values.len() as u64,
            p50_hours: nearest_rank(&values, 50),
            p85_hours: nearest_rank(&values, 85),
            p95_hours: nearest_rank(&values, 95),
        }
    }
}

/// The nearest-rank percentile: the smallest value with at least `percent` % of the values at or
/// below it (sorted ascending in, or sorted here for integers).
fn nearest_rank<T: Copy + PartialOrd>(values: &[T], percent: usize) -> Option<T> {
    if values.is_empty() {
        return None;
    }
    let mut sorted = values.to_vec();
    sorted.sort_by(|a, b| a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal));
    let rank = (percent * sorted.len()).div_ceil(100);
    Some(sorted[rank.max(1) - 1])
}

fn hours(ms: i64) -> f64 {
    ms as f64 / HOUR_MS
}

fn local_date(ms: i64, tz: Tz) -> NaiveDate {
    DateTime::from_timestamp_millis(ms)
        .unwrap_or_default()
        .with_timezone(&tz)
        .date_naive()
}

fn week_of(ms: i64, tz: Tz) -> NaiveDate {
    let date = local_date(ms, tz);
    date - Days::new(u64::from(date.weekday().num_days_from_monday()))
}

/// Midnight starting `date` in `tz` (the earlier one when a change of clocks repeats it, the
/// first instant of the day when it skips it).
fn midnight_ms(date: NaiveDate, tz: Tz) -> i64 {
    let midnight = date.and_hms_opt(0, 0, 0).expect("midnight exists");
    match tz.from_local_datetime(&midnight) {
        chrono::LocalResult::Single(at) | chrono::LocalResult::Ambiguous(at, _) => {
            at.timestamp_millis()
        }
        chrono::LocalResult::None => (1..=4)
            .find_map(|hour| {
                tz.from_local_datetime(&(midnight + chrono::Duration::hours(hour)))
                    .earliest()
            })
            .map_or(0, |at| at.timestamp_millis()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::queries::flow::history::Segment;

    const H: i64 = 3_600_000;

    fn segment(start: Option<i64>, end: i64, status: &str, category: &str) -> Segment {
        Segment {
            start_ms: start,
            seen_from_ms: start.unwrap_or(0),
            end_ms: end,
            status: status.into(),
            category: category.into(),
            priority: "High".into(),
        }
    }

    fn issue(created: Option<i64>, segments: Vec<Segment>) -> IssueHistory {
        IssueHistory {
            issue_key: "PAY-1".into(),
            project_key: "PAY".into(),
            issue_type: "Bug".into(),
            created_ms: created,
            deleted_ms: None,
            segments,
        }
    }

    fn window() -> Window {
        Window {
            from_ms: 0,
            to_ms: 14 * 24 * H,
            as_of_ms: 10 * 24 * H,
            tz: chrono_tz::UTC,
        }
    }

    #[test]
    fn pauses_are_not_counted_and_a_reopen_is_a_cycle_of_its_own() {
        let history = issue(
            Some(0),
            vec![
                segment(Some(0), 2 * H, "To Do", NEW),
                segment(Some(2 * H), 5 * H, "In Progress", IN_PROGRESS),
                segment(Some(5 * H), 20 * H, "To Do", NEW),
                segment(Some(20 * H), 24 * H, "In Review", IN_PROGRESS),
                segment(Some(24 * H), 30 * H, "Done", DONE),
                segment(Some(30 * H), 31 * H, "To Do", NEW),
                segment(Some(31 * H), 33 * H, "In Progress", IN_PROGRESS),
                segment(Some(33 * H), 240 * H, "Done", DONE),
            ],
        );
        let flow = flow(&[history], &window());
        let cycles: Vec<_> = flow.completions.iter().map(|c| c.cycle_hours).collect();
        assert_eq!(cycles, [Some(7.0), Some(2.0)]);
        let leads: Vec<_> = flow.completions.iter().map(|c| c.lead_hours).collect();
        assert_eq!(leads, [Some(24.0), Some(33.0)]);
        assert_eq!(flow.weeks[0].completions, 2);
        assert_eq!(flow.weeks[0].throughput, 1, "one issue, done twice");
        assert!(flow.work_items.is_empty());
    }

    #[test]
    fn a_cycle_started_before_the_connection_has_no_time_and_an_open_one_has_an_age() {
        let predating = issue(
            None,
            vec![
                segment(None, 3 * H, "In Progress", IN_PROGRESS),
                segment(Some(3 * H), 240 * H, "Done", DONE),
            ],
        );
        let open = IssueHistory {
            issue_key: "PAY-2".into(),
            ..issue(
                Some(0),
                vec![
                    segment(Some(0), H, "To Do", NEW),
                    segment(Some(H), 239 * H, "In Progress", IN_PROGRESS),
                    segment(Some(239 * H), 240 * H, "In Review", IN_PROGRESS),
                ],
            )
        };
        let flow = flow(&[predating, open], &window());
        assert_eq!(flow.weeks[0].completions, 1);
        assert_eq!(flow.weeks[0].cycle_time.count, 0);
        assert_eq!(flow.weeks[0].cycle_start_unseen, 1);
        assert_eq!(flow.weeks[0].lead_creation_unseen, 1);
        let item = &flow.work_items[0];
        assert_eq!(
            (
                item.issue_key.as_str(),
                item.status.as_str(),
                item.age_hours
            ),
            ("PAY-2", "In Review", Some(239.0))
        );
        assert_eq!(item.in_progress_since_ms, Some(H));
        assert!(
            !item.at_risk,
            "no known cycle time in the project to compare with"
        );
        // Day ends: 10 days up to as_of; on day 0 both issues are in progress.
        assert_eq!(flow.days.len(), 10);
        assert_eq!((flow.days[0].indeterminate, flow.days[0].done), (1, 1));
    }

    #[test]
    fn nearest_rank_takes_the_smallest_value_with_p_percent_at_or_below() {
        let values: Vec<i64> = (1..=20).collect();
        assert_eq!(nearest_rank(&values, 50), Some(10));
        assert_eq!(nearest_rank(&values, 85), Some(17));
        assert_eq!(nearest_rank(&values, 95), Some(19));
        assert_eq!(nearest_rank(&[7], 95), Some(7));
        assert_eq!(nearest_rank::<i64>(&[], 50), None);
    }
}
