//! Completions: per week, per project, issue type, priority, assignee, label and component, and
//! over the range (counts,
//! throughput, cycle and lead time percentiles), and the latest ones for the control chart.

use chrono::NaiveDate;
use clickhouse::{Client, Row};
use serde::Deserialize;

use super::{
    Completion, FactsScope, FlowWeek, GroupFlow, MAX_COMPLETIONS, Percentiles, RANKS, Window,
    bind_issues, hours, live_facts, nearest_ranks_sql,
};

/// `{name}_p50`, `_p85` and `_p95` from the array `ranks` of [`nearest_ranks_sql`], -1 where
/// `count` is 0.
fn rank_columns(ranks: &str, count: &str, name: &str) -> String {
    RANKS
        .iter()
        .enumerate()
        .map(|(i, p)| {
            format!(
                "if({count} = 0, toInt64(-1), toInt64({ranks}[{}])) AS {name}_p{p}",
                i + 1
            )
        })
        .collect::<Vec<_>>()
        .join(", ")
}
use crate::queries::scope::{QueryError, Scope};

/// Completions in the range, inside FINAL: `done_ms` is in the key, so every version of a
/// completion shares it.
fn in_range(window: &Window) -> String {
    format!(
        "AND done_ms >= {} AND done_ms < {}",
        window.from_ms, window.to_ms
    )
}

/// The aggregates of one group of completions, as ClickHouse returns them.
#[derive(Row, Deserialize)]
struct GroupRow {
    /// `week`, `project`, `issue_type`, `priority`, `assignee`, `label`, `component` or `all`.
    dimension: String,
    key: String,
    /// The assignee's display name at the group's latest completion (assignees only).
    assignee_name: String,
    completions: u64,
    throughput: u64,
    cycle_count: u64,
    cycle_p50: i64,
    cycle_p85: i64,
    cycle_p95: i64,
    cycle_start_unseen: u64,
    lead_count: u64,
    lead_p50: i64,
    lead_p85: i64,
    lead_p95: i64,
    lead_creation_unseen: u64,
}

/// Everything the completions of a range add up to.
pub(super) struct Summary {
    weeks: Vec<(NaiveDate, FlowWeek)>,
    pub(super) all: FlowWeek,
    pub(super) projects: Vec<GroupFlow>,
    pub(super) issue_types: Vec<GroupFlow>,
    pub(super) priorities: Vec<GroupFlow>,
    pub(super) assignees: Vec<GroupFlow>,
    pub(super) labels: Vec<GroupFlow>,
    pub(super) components: Vec<GroupFlow>,
}

impl Summary {
    /// The week starting `start`, zeros when nothing was completed in it.
    pub(super) fn week(&self, start: NaiveDate) -> FlowWeek {
        self.weeks
            .iter()
            .find(|(week, _)| *week == start)
            .map_or_else(|| empty_week(start), |(_, week)| week.clone())
    }
}

fn empty_week(start: NaiveDate) -> FlowWeek {
    FlowWeek {
        start,
        completions: 0,
        throughput: 0,
        cycle_time: Percentiles::NONE,
        cycle_start_unseen: 0,
        lead_time: Percentiles::NONE,
        lead_creation_unseen: 0,
    }
}

/// The range's completions grouped by week (with throughput and lead time) and, in a second
/// query run beside it, by project, issue type, priority, assignee, each label, each component
/// and over the whole range (`ARRAY JOIN` of the groupings each row belongs to, so each query
/// reads the facts once). Distinct issues
/// and lead times are counted only where they are shown: they cost more than the rest together.
pub(super) async fn summary(
    client: &Client,
    scope: &Scope,
    facts: &FactsScope,
    window: &Window,
) -> Result<Summary, QueryError> {
    let weeks = grouped(
        client,
        scope,
        facts,
        window,
        "[('week', toString(toMonday(toDateTime(intDiv(done_ms, 1000)), ?)))]",
        "uniqExact(issue_id)",
        "1",
    );
    let groups = grouped(
        client,
        scope,
        facts,
        window,
        "arrayConcat(
             [('project', project_key), ('issue_type', issue_type), ('priority', priority),
              ('assignee', assignee_account_id), ('all', '')],
             arrayMap(label -> ('label', label), if(empty(labels), [''], labels)),
             arrayMap(component -> ('component', component),
                      if(empty(components), [''], components)))",
        "0",
        "dimension = 'all'",
    );
    let (weeks, groups) = tokio::try_join!(weeks, groups)?;
    let rows = weeks.into_iter().chain(groups);
    let mut summary = Summary {
        weeks: Vec::new(),
        all: empty_week(NaiveDate::MIN),
        projects: Vec::new(),
        issue_types: Vec::new(),
        priorities: Vec::new(),
        assignees: Vec::new(),
        labels: Vec::new(),
        components: Vec::new(),
    };
    for row in rows {
        let week = FlowWeek {
            start: NaiveDate::MIN,
            completions: row.completions,
            throughput: row.throughput,
            cycle_time: Percentiles {
                count: row.cycle_count,
                p50_hours: hours(row.cycle_p50),
                p85_hours: hours(row.cycle_p85),
                p95_hours: hours(row.cycle_p95),
            },
            cycle_start_unseen: row.cycle_start_unseen,
            lead_time: Percentiles {
                count: row.lead_count,
                p50_hours: hours(row.lead_p50),
                p85_hours: hours(row.lead_p85),
                p95_hours: hours(row.lead_p95),
            },
            lead_creation_unseen: row.lead_creation_unseen,
        };
        let name = match (row.dimension.as_str(), row.key.as_str()) {
            ("assignee", "") => "Unassigned".to_owned(),
            ("assignee", _) if !row.assignee_name.is_empty() => row.assignee_name.clone(),
            ("label", "") => "No label".to_owned(),
            ("component", "") => "No component".to_owned(),
            _ => row.key.clone(),
        };
        let group = GroupFlow {
            key: row.key.clone(),
            name,
            completions: week.completions,
            cycle_time: week.cycle_time.clone(),
        };
        match row.dimension.as_str() {
            "week" => {
                if let Ok(start) = row.key.parse::<NaiveDate>() {
                    summary.weeks.push((start, FlowWeek { start, ..week }));
                }
            }
            "project" => summary.projects.push(group),
            "issue_type" => summary.issue_types.push(group),
            "priority" => summary.priorities.push(group),
            "assignee" => summary.assignees.push(group),
            "label" => summary.labels.push(group),
            "component" => summary.components.push(group),
            _ => summary.all = week,
        }
    }
    for groups in [
        &mut summary.projects,
        &mut summary.issue_types,
        &mut summary.priorities,
        &mut summary.assignees,
        &mut summary.labels,
        &mut summary.components,
    ] {
        groups.sort_by(|a, b| a.key.cmp(&b.key));
    }
    Ok(summary)
}

/// The completions of the scope's range grouped by `groupings` (an array of (dimension, key)
/// tuples; a `?` in it is the time zone), with `throughput` as the distinct-issue count and
/// lead times collected where `leads_where` holds.
async fn grouped(
    client: &Client,
    scope: &Scope,
    facts: &FactsScope,
    window: &Window,
    groupings: &str,
    throughput: &str,
    leads_where: &str,
) -> Result<Vec<GroupRow>, QueryError> {
    let cycles = "cycle_ms >= 0";
    let leads = format!("lead_ms >= 0 AND {leads_where}");
    let sql = format!(
        "SELECT dimension, key, assignee_name, completions, throughput,
                cycle_count, {cycle}, cycle_start_unseen,
                lead_count, {lead}, lead_creation_unseen
         FROM (
             SELECT tupleElement(grouped, 1) AS dimension, tupleElement(grouped, 2) AS key,
                    if(dimension = 'assignee', argMax(assignee_name, done_ms), '') AS assignee_name,
                    toUInt64(count()) AS completions,
                    toUInt64({throughput}) AS throughput,
                    toUInt64(countIf({cycles})) AS cycle_count,
                    {cycle_ranks} AS cycle_ranks,
                    toUInt64(countIf(cycle_ms = -1)) AS cycle_start_unseen,
                    toUInt64(countIf({leads})) AS lead_count,
                    {lead_ranks} AS lead_ranks,
                    toUInt64(countIf(lead_ms = -1)) AS lead_creation_unseen
             FROM {facts}
             ARRAY JOIN {groupings} AS grouped
             GROUP BY dimension, key
         )",
        cycle_ranks = nearest_ranks_sql("cycle_ms", cycles, &RANKS),
        lead_ranks = nearest_ranks_sql("lead_ms", &leads, &RANKS),
        cycle = rank_columns("cycle_ranks", "cycle_count", "cycle"),
        lead = rank_columns("lead_ranks", "lead_count", "lead"),
        facts = live_facts(
            "flow_completions",
            "issue_id, done_ms, cycle_ms, lead_ms, assignee_name",
            facts,
            &in_range(window),
            "1",
        ),
    );
    let mut query = bind_issues(client.query(&sql), scope);
    if groupings.contains('?') {
        query = query.bind(&scope.time_zone);
    }
    Ok(query.fetch_all::<GroupRow>().await?)
}

#[derive(Row, Deserialize)]
struct CompletionFact {
    issue_key: String,
    project_key: String,
    issue_type: String,
    priority: String,
    assignee_account_id: String,
    labels: Vec<String>,
    components: Vec<String>,
    done_ms: i64,
    cycle_ms: i64,
    lead_ms: i64,
}

/// The range's latest [`MAX_COMPLETIONS`] completions, oldest first; outliers are marked by the
/// caller, who knows the range's p95.
pub(super) async fn latest(
    client: &Client,
    scope: &Scope,
    facts: &FactsScope,
    window: &Window,
) -> Result<Vec<Completion>, QueryError> {
    // First the moment the latest ones begin, reading only their times; then the rows from it,
    // which a snapshot reads from its last weeks alone: sorting every row of the range by time
    // read all its columns.
    let since: i64 = bind_issues(
        client.query(&format!(
            "SELECT toInt64(min(done_ms)) FROM (
                 SELECT done_ms FROM {facts} ORDER BY done_ms DESC LIMIT {MAX_COMPLETIONS}
             )",
            facts = live_facts("flow_completions", "done_ms", facts, &in_range(window), "1"),
        )),
        scope,
    )
    .fetch_one()
    .await?;
    let sql = format!(
        "SELECT issue_key, project_key, issue_type, priority, assignee_account_id, labels,
                components, done_ms, cycle_ms, lead_ms
         FROM {facts}
         ORDER BY done_ms DESC, issue_key DESC
         LIMIT {MAX_COMPLETIONS}",
        facts = live_facts(
            "flow_completions",
            "issue_key, done_ms, cycle_ms, lead_ms",
            facts,
            &format!("{} AND done_ms >= {since}", in_range(window)),
            "1",
        ),
    );
    let mut rows: Vec<Completion> = bind_issues(client.query(&sql), scope)
        .fetch_all::<CompletionFact>()
        .await?
        .into_iter()
        .map(|row| Completion {
            issue_key: row.issue_key,
            project_key: row.project_key,
            issue_type: row.issue_type,
            priority: row.priority,
            assignee: row.assignee_account_id,
            labels: row.labels,
            components: row.components,
            done_ms: row.done_ms,
            cycle_hours: hours(row.cycle_ms),
            lead_hours: hours(row.lead_ms),
            outlier: false,
        })
        .collect();
    rows.reverse();
    Ok(rows)
}
