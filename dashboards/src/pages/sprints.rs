//! `GET /orgs/{organization}/sprints`: per sprint, the issues committed, added, removed and
//! completed, as a chart with a table beside it, drawn from the view-model the API serves. Each
//! count links to the issues behind it, listed on the page, each linking to its events.

use askama::Template;
use axum::extract::{RawQuery, State};
use axum::response::Response;
use chrono::DateTime;

use super::{
    drill_down::{IssueEvents, page_query},
    frame::{FilterForm, Frame},
    render,
};
use crate::{
    AppState,
    charts::{Chart, Series},
    error::DashboardError,
    view_request::PageView,
    views::sprints::{Sprint, SprintIssues, Sprints},
};

#[derive(Template)]
#[template(path = "sprints.html")]
struct SprintsPage {
    frame: Frame,
    filters: FilterForm,
    chart: String,
    view: Sprints,
    /// The events feed of the page's range and filters, to which an issue is added.
    drill_down: IssueEvents,
}

/// One count of a sprint as the page shows it: its text, and the anchor of its issue list.
struct Cell {
    text: String,
    anchor: Option<String>,
}

impl SprintsPage {
    fn events_of(&self, issue_key: &str) -> String {
        self.drill_down.of(issue_key)
    }

    fn local(&self, ms: &Option<i64>) -> String {
        let tz: chrono_tz::Tz = self.frame.time_zone.parse().unwrap_or(chrono_tz::UTC);
        ms.and_then(DateTime::from_timestamp_millis)
            .map(|at| at.with_timezone(&tz).format("%Y-%m-%d %H:%M").to_string())
            .unwrap_or_else(|| "unknown".to_owned())
    }

    /// The lists of a sprint, for its drill-down section: (what, anchor, issues).
    fn lists<'a>(
        &self,
        index: &usize,
        sprint: &'a Sprint,
    ) -> Vec<(&'static str, String, &'a SprintIssues)> {
        let mut lists = Vec::new();
        if let Some(committed) = &sprint.committed {
            lists.push(("Committed", anchor(*index, "committed"), committed));
        }
        lists.push(("Added", anchor(*index, "added"), &sprint.added));
        lists.push(("Removed", anchor(*index, "removed"), &sprint.removed));
        if let Some(completed) = &sprint.completed {
            lists.push(("Completed", anchor(*index, "completed"), completed));
        }
        if sprint.completed_unknown.count > 0 {
            lists.push((
                "In it at the close, status unknown",
                anchor(*index, "unknown"),
                &sprint.completed_unknown,
            ));
        }
        lists
    }

    /// The count `what` of a sprint, linked to its issue list; `unknown` when the stream
    /// cannot know it.
    fn cell(&self, index: &usize, what: &str, sprint: &Sprint) -> Cell {
        let issues = match what {
            "committed" => sprint.committed.as_ref(),
            "added" => Some(&sprint.added),
            "removed" => Some(&sprint.removed),
            _ => sprint.completed.as_ref(),
        };
        match issues {
            None => Cell {
                text: "unknown".to_owned(),
                anchor: None,
            },
            Some(issues) => Cell {
                text: issues.count.to_string(),
                anchor: Some(anchor(*index, what)),
            },
        }
    }
}

fn anchor(index: usize, what: &str) -> String {
    format!("sprint-{index}-{what}")
}

pub(crate) async fn sprints(
    State(state): State<AppState>,
    view: PageView,
    RawQuery(raw): RawQuery,
) -> Result<Response, DashboardError> {
    let sprints = Sprints::load(&state.warehouse, &view).await?;
    let organization = view.member.organization_id.to_string();
    let drill_down = IssueEvents::new(&organization, &page_query(raw.as_deref()));
    let labels: Vec<String> = sprints.sprints.iter().map(|s| s.name.clone()).collect();
    let series = |name: &str, value: fn(&Sprint) -> Option<u64>| Series {
        name: name.to_owned(),
        values: sprints
            .sprints
            .iter()
            .map(|s| value(s).map(|v| v as f64))
            .collect(),
    };
    let chart = Chart {
        title: "Issues committed, added, removed and completed per sprint",
        unit: "issues",
        x_labels: &labels,
        partial: &[],
        series: vec![
            series("Committed", |s| s.committed.as_ref().map(|c| c.count)),
            series("Added", |s| Some(s.added.count)),
            series("Removed", |s| Some(s.removed.count)),
            series("Completed", |s| s.completed.as_ref().map(|c| c.count)),
        ],
    }
    .line();
    Ok(render(&SprintsPage {
        frame: Frame::new(
            &view.member,
            state.onboarding_url.as_str(),
            view.tz,
            "sprints",
        ),
        filters: FilterForm::without_issue_dimensions(&view.member, &view.query, view.tz),
        chart,
        view: sprints,
        drill_down,
    }))
}
