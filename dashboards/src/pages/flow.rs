//! `GET /orgs/{organization}/flow`: cycle and lead time per week, throughput, the control chart,
//! cumulative flow, work in progress and its age, and time in status, as charts with a table
//! beside each, drawn from the flow view-model the API serves. Every issue on the page links to
//! its events in the same range.

use accounts_store::saved_views::SavedPage;
use askama::Template;
use axum::extract::{RawQuery, State};
use axum::response::Response;
use chrono::{DateTime, Days, NaiveDate};

use super::{
    drill_down::{DrillDown, IssueEvents, page_query},
    frame::{FilterForm, Frame},
    render,
    saved_views::SaveViewForm,
};
use crate::{
    AppState,
    charts::{Chart, Point, Series},
    error::DashboardError,
    forms::FormToken,
    view_request::PageView,
    views::flow::{
        Completion, Flow, FlowDay, FlowWeek, GroupFlow, Percentiles, StatusTime, WorkItem,
        hours_label,
    },
};

/// One row of the breakdown table: a group and the flow page narrowed to it.
struct GroupLine {
    /// What the group is by: `project`, `issue type`, `priority`, `assignee`, `label`,
    /// `component`.
    by: &'static str,
    name: String,
    /// `None` for the groups a filter cannot ask for (no assignee, label or component).
    href: Option<String>,
    completions: u64,
    p50: String,
    p85: String,
    p95: String,
}

#[derive(Template)]
#[template(path = "flow.html")]
struct FlowPage {
    frame: Frame,
    filters: FilterForm,
    save: SaveViewForm,
    cycle: String,
    lead: String,
    throughput: String,
    control: String,
    cumulative: String,
    flow: Flow,
    /// The events feed of the same range, to which an issue is added.
    drill_down: IssueEvents,
    groups: Vec<GroupLine>,
    at_risk: usize,
    completed: u64,
    range_p85: String,
}

impl FlowPage {
    fn events_of(&self, issue_key: &str) -> String {
        self.drill_down.of(issue_key)
    }

    fn hours(&self, hours: &Option<f64>) -> String {
        hours_label(*hours)
    }

    fn done_at(&self, completion: &Completion) -> String {
        self.local(completion.done_ms)
    }

    fn since(&self, item: &WorkItem) -> String {
        item.in_progress_since_ms
            .map_or_else(|| "before the connection".to_owned(), |ms| self.local(ms))
    }

    fn local(&self, ms: i64) -> String {
        let tz: chrono_tz::Tz = self.frame.time_zone.parse().unwrap_or(chrono_tz::UTC);
        DateTime::from_timestamp_millis(ms)
            .map(|at| at.with_timezone(&tz).format("%Y-%m-%d %H:%M").to_string())
            .unwrap_or_default()
    }

    fn status_hours(&self, status: &StatusTime) -> (String, String) {
        (
            format!("{:.1}", status.total_hours),
            format!("{:.1}", status.median_hours),
        )
    }
}

pub(crate) async fn flow(
    State(state): State<AppState>,
    view: PageView,
    token: FormToken,
    RawQuery(raw): RawQuery,
) -> Result<Response, DashboardError> {
    let flow = Flow::load(&state.warehouse, &view).await?;
    let organization = view.member.organization_id.to_string();
    // The page's own range and filters, so an issue's events are the same slice of time; `links`
    // carries the filters to this page over other days: a week's completions, or what was in
    // progress at a day's end.
    let kept = page_query(raw.as_deref());
    let drill_down = IssueEvents::new(&organization, &kept);
    let groups = group_lines(&flow, &organization, &kept);
    let links = DrillDown::new(&view, raw.as_deref());
    let range_link =
        |from: NaiveDate, to: NaiveDate, anchor: &str| links.page("flow", from, to, anchor);

    let labels: Vec<String> = flow
        .weeks
        .iter()
        .map(|w| w.start.format("%b %-d").to_string())
        .collect();
    let chart = |title: &'static str, unit: &'static str, series: Vec<Series>| Chart {
        title,
        unit,
        x_labels: &labels,
        partial: &[],
        series,
    };
    let percentiles = |title: &'static str, of: fn(&FlowWeek) -> &Percentiles| {
        let series = |name: &str, pick: fn(&Percentiles) -> Option<f64>| Series {
            name: name.to_owned(),
            values: flow.weeks.iter().map(|w| pick(of(w))).collect(),
        };
        chart(
            title,
            "hours",
            vec![
                series("p50", |p| p.p50_hours),
                series("p85", |p| p.p85_hours),
                series("p95", |p| p.p95_hours),
            ],
        )
        .line()
    };
    let cycle = percentiles("Cycle time per week (p50, p85, p95)", |w| &w.cycle_time);
    let lead = percentiles("Lead time per week (p50, p85, p95)", |w| &w.lead_time);
    let throughput = chart(
        "Issues completed per week",
        "issues",
        vec![Series {
            name: "Throughput".to_owned(),
            values: flow
                .weeks
                .iter()
                .map(|w| Some(w.throughput as f64))
                .collect(),
        }],
    )
    .stacked_bars_linked(
        &flow
            .weeks
            .iter()
            .map(|w| range_link(w.start, w.start + Days::new(6), "completions"))
            .collect::<Vec<_>>(),
    );
    let span = week_span(&flow, &view.tz);
    let points: Vec<Point> = flow
        .completions
        .iter()
        .filter_map(|c| {
            c.cycle_hours.map(|hours| Point {
                x_ms: c.done_ms,
                y: hours,
                label: format!("{} ({}), done", c.issue_key, c.issue_type),
                href: drill_down.of(&c.issue_key),
                marked: c.outlier,
            })
        })
        .collect();
    let control = chart(
        "Cycle time of each completion (control chart)",
        "hours",
        vec![
            Series {
                name: "Completion".into(),
                values: Vec::new(),
            },
            Series {
                name: "Outlier (above p95)".into(),
                values: Vec::new(),
            },
        ],
    )
    .scatter(span, &points);
    let day_labels: Vec<String> = flow
        .days
        .iter()
        .map(|d| d.date.format("%b %-d").to_string())
        .collect();
    let daily = |name: &str, value: fn(&FlowDay) -> u64| Series {
        name: name.to_owned(),
        values: flow.days.iter().map(|d| Some(value(d) as f64)).collect(),
    };
    let cumulative = Chart {
        title: "Cumulative flow: issues by status category at each day's end",
        unit: "issues",
        x_labels: &day_labels,
        partial: &[],
        series: vec![
            daily("Done (in range)", |d| d.done),
            daily("In progress", |d| d.indeterminate),
            daily("To do", |d| d.new),
        ],
    }
    .stacked_bars_linked(
        &flow
            .days
            .iter()
            .map(|d| range_link(d.date, d.date, "work-items"))
            .collect::<Vec<_>>(),
    );
    Ok(render(&FlowPage {
        frame: Frame::new(&view.member, state.onboarding_url.as_str(), view.tz, "flow"),
        filters: FilterForm::new(&view.member, &view.query, view.tz),
        save: SaveViewForm::new(&view.member, SavedPage::Flow, raw.as_deref(), &token),
        cycle,
        lead,
        throughput,
        control,
        cumulative,
        at_risk: flow.work_items.iter().filter(|item| item.at_risk).count(),
        completed: flow.weeks.iter().map(|w| w.completions).sum(),
        range_p85: hours_label(flow.cycle_time.p85_hours),
        drill_down,
        groups,
        flow,
    }))
}

/// The breakdown table's rows, each linking to this page with its group added to the filters
/// (the query's other pairs kept).
fn group_lines(flow: &Flow, organization: &str, kept: &[(String, String)]) -> Vec<GroupLine> {
    let lists: [(&'static str, &'static str, &[GroupFlow]); 6] = [
        ("project", "project", &flow.projects),
        ("issue type", "issue_type", &flow.issue_types),
        ("priority", "priority", &flow.priorities),
        ("assignee", "assignee", &flow.assignees),
        ("label", "label", &flow.labels),
        ("component", "component", &flow.components),
    ];
    lists
        .into_iter()
        .flat_map(|(by, parameter, groups)| {
            groups.iter().map(move |group| GroupLine {
                by,
                name: group.name.clone(),
                href: (!group.key.is_empty()).then(|| {
                    let query = url::form_urlencoded::Serializer::new(String::new())
                        .extend_pairs(kept)
                        .append_pair(parameter, &group.key)
                        .finish();
                    format!("/orgs/{organization}/flow?{query}")
                }),
                completions: group.completions,
                p50: hours_label(group.cycle_time.p50_hours),
                p85: hours_label(group.cycle_time.p85_hours),
                p95: hours_label(group.cycle_time.p95_hours),
            })
        })
        .collect()
}

/// From the first week's Monday to the end of the last week, in milliseconds: the control
/// chart's x axis, whose labels are the weeks.
fn week_span(flow: &Flow, tz: &chrono_tz::Tz) -> (i64, i64) {
    let midnight = |date: chrono::NaiveDate| {
        date.and_hms_opt(0, 0, 0)
            .and_then(|at| at.and_local_timezone(*tz).earliest())
            .map_or(0, |at| at.timestamp_millis())
    };
    match (flow.weeks.first(), flow.weeks.last()) {
        (Some(first), Some(last)) => (midnight(first.start), midnight(last.start + Days::new(7))),
        _ => (0, 1),
    }
}
