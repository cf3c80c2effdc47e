//! `GET /orgs/{organization}/trends`: created against resolved, the open backlog, the median
//! time to resolution, reopens and field changes per week, as charts and a table, drawn from the
//! trends view-model the API serves.

use accounts_store::saved_views::SavedPage;
use askama::Template;
use axum::{
    extract::{RawQuery, State},
    response::Response,
};

use super::{
    drill_down::DrillDown,
    frame::{FilterForm, Frame},
    render,
    saved_views::SaveViewForm,
};
use crate::{
    AppState,
    charts::{Chart, Series},
    error::DashboardError,
    forms::FormToken,
    view_request::PageView,
    views::{
        trends::{TREND_FIELDS, TrendWeek, Trends},
        weekly_rates::WeeklyRates,
    },
};

#[derive(Template)]
#[template(path = "trends.html")]
struct TrendsPage {
    frame: Frame,
    filters: FilterForm,
    save: SaveViewForm,
    created_resolved: String,
    backlog: String,
    median: String,
    changes: String,
    fields: Vec<&'static str>,
    /// Each week, and whether it is partial (as the weekly rates mark it).
    weeks: Vec<(TrendWeek, bool)>,
    links: DrillDown,
}

impl TrendsPage {
    /// The events counted under `kind` in `week`.
    fn events(&self, week: &TrendWeek, kind: &str) -> String {
        self.links.week_events(week.start, kind)
    }

    fn field_events(&self, week: &TrendWeek, field: &str) -> String {
        self.links
            .week_events(week.start, &format!("field:{field}"))
    }
}

pub(crate) async fn trends(
    State(state): State<AppState>,
    view: PageView,
    token: FormToken,
    RawQuery(raw): RawQuery,
) -> Result<Response, DashboardError> {
    // Days of data per week come with the weekly rates (a week is partial there and here); the
    // two are independent, so they run side by side.
    let (trends, rates) = tokio::try_join!(
        Trends::load(&state.warehouse, &view),
        WeeklyRates::load(&state.warehouse, &view),
    )?;
    let weeks: Vec<(TrendWeek, bool)> = trends
        .weeks
        .into_iter()
        .map(|week| {
            let partial = rates
                .weeks
                .iter()
                .find(|rate| rate.start == week.start)
                .is_some_and(|rate| rate.partial);
            (week, partial)
        })
        .collect();
    let labels: Vec<String> = weeks
        .iter()
        .map(|(w, _)| w.start.format("%b %-d").to_string())
        .collect();
    let partial: Vec<bool> = weeks.iter().map(|(_, partial)| *partial).collect();
    let chart = |title: &'static str, unit: &'static str, series: Vec<Series>| Chart {
        title,
        unit,
        x_labels: &labels,
        partial: &partial,
        series,
    };
    let links = DrillDown::new(&view, raw.as_deref());
    let behind = |kind: &str| -> Vec<String> {
        weeks
            .iter()
            .map(|(week, _)| links.week_events(week.start, kind))
            .collect()
    };
    let series = |name: &str, value: fn(&TrendWeek) -> Option<f64>| Series {
        name: name.to_owned(),
        values: weeks.iter().map(|(week, _)| value(week)).collect(),
    };
    let created_resolved = chart(
        "Issues created and resolved per week",
        "issues",
        vec![
            series("Created", |w| Some(w.created as f64)),
            series("Resolved", |w| Some(w.resolved as f64)),
        ],
    )
    .line_linked(&[behind("issue_created"), behind("resolved")]);
    let backlog = chart(
        "Open backlog at each week's end",
        "issues",
        vec![series("Open", |w| Some(w.backlog as f64))],
    )
    .line();
    let median = chart(
        "Median time from creation to resolution",
        "hours",
        vec![series("Median", |w| w.median_hours_to_resolution)],
    )
    .line_linked(&[behind("resolved")]);
    let mut change_series = vec![series("Reopened", |w| Some(w.reopened as f64))];
    for field in TREND_FIELDS {
        change_series.push(Series {
            name: format!("{field} changes"),
            values: weeks
                .iter()
                .map(|(w, _)| Some(w.changes_of(field) as f64))
                .collect(),
        });
    }
    let change_links: Vec<Vec<String>> = std::iter::once(behind("reopened"))
        .chain(
            TREND_FIELDS
                .iter()
                .map(|field| behind(&format!("field:{field}"))),
        )
        .collect();
    let changes = chart(
        "Reopens and field changes per week",
        "changes",
        change_series,
    )
    .line_linked(&change_links);
    Ok(render(&TrendsPage {
        frame: Frame::new(
            &view.member,
            state.onboarding_url.as_str(),
            view.tz,
            "trends",
        ),
        filters: FilterForm::new(&view.member, &view.query, view.tz),
        save: SaveViewForm::new(&view.member, SavedPage::Trends, raw.as_deref(), &token),
        created_resolved,
        backlog,
        median,
        changes,
        fields: TREND_FIELDS.to_vec(),
        weeks,
        links,
    }))
}
