//! `GET /orgs/{organization}/weekly`: events per week by kind, as a chart and a table.

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
    labels::kind_label,
    view_params::View,
};

pub(crate) struct WeekRow {
    pub start: String,
    pub partial: bool,
    pub days: u8,
    pub counts: Vec<u64>,
}

#[derive(Template)]
#[template(path = "weekly.html")]
struct WeeklyPage {
    frame: Frame,
    filters: FilterForm,
    chart: String,
    kinds: Vec<&'static str>,
    weeks: Vec<WeekRow>,
}

pub(crate) async fn weekly(
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
    let kinds = warehouse::queries::weekly_rates::KINDS;
    let weeks = if scope.installations.is_empty() {
        Vec::new()
    } else {
        warehouse::queries::weekly_rates(&state.warehouse, &scope)
            .await?
            .weeks
    };
    let labels: Vec<String> = weeks
        .iter()
        .map(|week| week.start.format("%b %-d").to_string())
        .collect();
    let partial: Vec<bool> = weeks.iter().map(|week| week.is_partial()).collect();
    let chart = Chart {
        title: "Events per week by kind",
        unit: "events",
        x_labels: &labels,
        partial: &partial,
        series: kinds
            .iter()
            .map(|kind| Series {
                name: kind_label(kind).to_owned(),
                values: weeks
                    .iter()
                    .map(|week| Some(week.counts.get(*kind).copied().unwrap_or(0) as f64))
                    .collect(),
            })
            .collect(),
    }
    .stacked_bars();
    let rows = weeks
        .iter()
        .map(|week| WeekRow {
            start: week.start.to_string(),
            partial: week.is_partial(),
            days: week.days_with_data,
            counts: kinds
                .iter()
                .map(|kind| week.counts.get(*kind).copied().unwrap_or(0))
                .collect(),
        })
        .collect();
    let mut filters = FilterForm::new(&member, &query, tz);
    filters.show_event_type = false;
    Ok(render(&WeeklyPage {
        frame: Frame::new(&member, state.onboarding_url.as_str(), tz, "weekly"),
        filters,
        chart,
        kinds: kinds.iter().map(|kind| kind_label(kind)).collect(),
        weeks: rows,
    }))
}
