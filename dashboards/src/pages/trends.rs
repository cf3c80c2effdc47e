//! `GET /orgs/{organization}/trends`: created against resolved, the open backlog, the median
//! time to resolution, reopens and field changes per week, as charts and a table.

use askama::Template;
use axum::{
    extract::{Path, RawQuery, State},
    http::HeaderMap,
    response::Response,
};

use super::{
    frame::{FilterForm, Frame},
    render,
};
use crate::{
    AppState,
    charts::{Chart, Series},
    error::DashboardError,
    view_params::View,
};

/// The fields whose changes the trends page counts.
pub(crate) const TREND_FIELDS: &[&str] = &["assignee", "priority", "status"];

pub(crate) struct TrendRow {
    pub start: String,
    pub partial: bool,
    pub created: u64,
    pub resolved: u64,
    pub reopened: u64,
    pub backlog: i64,
    pub median: String,
    pub field_changes: Vec<u64>,
}

#[derive(Template)]
#[template(path = "trends.html")]
struct TrendsPage {
    frame: Frame,
    filters: FilterForm,
    created_resolved: String,
    backlog: String,
    median: String,
    changes: String,
    fields: Vec<&'static str>,
    weeks: Vec<TrendRow>,
}

pub(crate) async fn trends(
    State(state): State<AppState>,
    Path(organization): Path<String>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> Result<Response, DashboardError> {
    let View {
        member,
        query,
        tz,
        scope,
    } = View::load(&state, &headers, &organization, raw.as_deref(), true).await?;
    let fields: Vec<String> = TREND_FIELDS.iter().map(|f| (*f).to_owned()).collect();
    let (weeks, partial) = if scope.installations.is_empty() {
        (Vec::new(), Vec::new())
    } else {
        // Days of data per week come with the weekly rates (a week is partial there and here);
        // the two are independent, so they run side by side.
        let (trends, rates) = tokio::try_join!(
            warehouse::queries::trends(&state.warehouse, &scope, &fields),
            warehouse::queries::weekly_rates(&state.warehouse, &scope),
        )?;
        let partial = trends
            .weeks
            .iter()
            .map(|week| {
                rates
                    .weeks
                    .iter()
                    .find(|rate| rate.start == week.start)
                    .is_some_and(|rate| rate.is_partial())
            })
            .collect();
        (trends.weeks, partial)
    };
    let labels: Vec<String> = weeks
        .iter()
        .map(|w| w.start.format("%b %-d").to_string())
        .collect();
    let chart = |title: &'static str, unit: &'static str, series: Vec<Series>| Chart {
        title,
        unit,
        x_labels: &labels,
        partial: &partial,
        series,
    };
    let series = |name: &str, values: Vec<Option<f64>>| Series {
        name: name.to_owned(),
        values,
    };
    let created_resolved = chart(
        "Issues created and resolved per week",
        "issues",
        vec![
            series(
                "Created",
                weeks.iter().map(|w| Some(w.created as f64)).collect(),
            ),
            series(
                "Resolved",
                weeks.iter().map(|w| Some(w.resolved as f64)).collect(),
            ),
        ],
    )
    .line();
    let backlog = chart(
        "Open backlog at each week's end",
        "issues",
        vec![series(
            "Open",
            weeks.iter().map(|w| Some(w.backlog as f64)).collect(),
        )],
    )
    .line();
    let median = chart(
        "Median time from creation to resolution",
        "hours",
        vec![series(
            "Median",
            weeks.iter().map(|w| w.median_hours_to_resolution).collect(),
        )],
    )
    .line();
    let mut change_series = vec![series(
        "Reopened",
        weeks.iter().map(|w| Some(w.reopened as f64)).collect(),
    )];
    for field in TREND_FIELDS {
        change_series.push(series(
            &format!("{field} changes"),
            weeks
                .iter()
                .map(|w| Some(w.field_changes.get(*field).copied().unwrap_or(0) as f64))
                .collect(),
        ));
    }
    let changes = chart(
        "Reopens and field changes per week",
        "changes",
        change_series,
    )
    .line();
    let rows = weeks
        .iter()
        .zip(&partial)
        .map(|(week, partial)| TrendRow {
            start: week.start.to_string(),
            partial: *partial,
            created: week.created,
            resolved: week.resolved,
            reopened: week.reopened,
            backlog: week.backlog,
            median: week
                .median_hours_to_resolution
                .map_or_else(|| "–".to_owned(), |hours| format!("{hours:.1}")),
            field_changes: TREND_FIELDS
                .iter()
                .map(|field| week.field_changes.get(*field).copied().unwrap_or(0))
                .collect(),
        })
        .collect();
    Ok(render(&TrendsPage {
        frame: Frame::new(&member, state.onboarding_url.as_str(), tz, "trends"),
        filters: FilterForm::new(&member, &query, tz),
        created_resolved,
        backlog,
        median,
        changes,
        fields: TREND_FIELDS.to_vec(),
        weeks: rows,
    }))
}
