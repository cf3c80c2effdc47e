//! `GET /orgs/{organization}/time-logged`: the hours logged per week, per project and per person,
//! as a chart with tables beside it, drawn from the view-model the API serves. Each project's and
//! person's total opens the issues behind it, each linking to its events.

use askama::Template;
use axum::extract::{RawQuery, State};
use axum::response::Response;

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
    views::time_logged::TimeLogged,
};

/// Projects drawn as their own series in the chart; the rest are one "Other projects" series.
const CHART_PROJECTS: usize = 7;

#[derive(Template)]
#[template(path = "time_logged.html")]
struct TimeLoggedPage {
    frame: Frame,
    filters: FilterForm,
    chart: String,
    view: TimeLogged,

    /// The events feed of the page's range and filters, to which an issue is added.
    drill_down: IssueEvents,
}

impl TimeLoggedPage {
    fn events_of(&self, issue_key: &str) -> String {
        self.drill_down.of(issue_key)
    }

    fn hours(&self, seconds: &i64) -> String {
        hours(*seconds)
    }
}

/// Seconds as hours with two decimals, as the tables show them.
pub(crate) fn hours(seconds: i64) -> String {
    format!("{:.2}", seconds as f64 / 3600.0)
}

pub(crate) async fn time_logged(
    State(state): State<AppState>,
    view: PageView,
    RawQuery(raw): RawQuery,
) -> Result<Response, DashboardError> {
    let logged = TimeLogged::load(&state.warehouse, &view).await?;
    let organization = view.member.organization_id.to_string();
    let drill_down = IssueEvents::new(&organization, &page_query(raw.as_deref()));
    let labels: Vec<String> = logged
        .weeks
        .iter()
        .map(|w| w.start.format("%b %-d").to_string())
        .collect();
    let in_hours = |seconds: i64| Some(seconds as f64 / 3600.0);
    let mut series: Vec<Series> = logged
        .projects
        .iter()
        .take(CHART_PROJECTS)
        .map(|project| Series {
            name: if project.key.is_empty() {
                "(issue not seen)".to_owned()
            } else {
                project.key.clone()
            },
            values: project.weeks.iter().map(|w| in_hours(w.seconds)).collect(),
        })
        .collect();
    if logged.projects.len() > CHART_PROJECTS {
        series.push(Series {
            name: "Other projects".to_owned(),
            values: (0..logged.weeks.len())
                .map(|i| {
                    in_hours(
                        logged.projects[CHART_PROJECTS..]
                            .iter()
                            .map(|p| p.weeks.get(i).map_or(0, |w| w.seconds))
                            .sum(),
                    )
                })
                .collect(),
        });
    }
    let chart = Chart {
        title: "Hours logged per week, by project",
        unit: "hours",
        x_labels: &labels,
        partial: &[],
        series,
    }
    .stacked_bars();
    Ok(render(&TimeLoggedPage {
        frame: Frame::new(
            &view.member,
            state.onboarding_url.as_str(),
            view.tz,
            "time-logged",
        ),
        filters: FilterForm::without_issue_dimensions(&view.member, &view.query, view.tz),
        chart,
        view: logged,
        drill_down,
    }))
}
