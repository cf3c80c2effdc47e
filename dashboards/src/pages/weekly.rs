//! `GET /orgs/{organization}/weekly`: events per week by kind, as a chart and a table, both
//! drawn from the weekly rates view-model the API serves.

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
    labels::kind_label,
    view_request::PageView,
    views::weekly_rates::{WeekRates, WeeklyRates},
};

#[derive(Template)]
#[template(path = "weekly.html")]
struct WeeklyPage {
    frame: Frame,
    filters: FilterForm,
    save: SaveViewForm,
    chart: String,
    /// The table's columns: each kind, and the word the page uses for it.
    kinds: Vec<(&'static str, &'static str)>,
    weeks: Vec<WeekLine>,
}

/// A row of the table: the week, and per kind (in `kinds`' order) its count and the events
/// behind it.
struct WeekLine {
    rates: WeekRates,
    cells: Vec<(u64, String)>,
}

pub(crate) async fn weekly(
    State(state): State<AppState>,
    view: PageView,
    token: FormToken,
    RawQuery(raw): RawQuery,
) -> Result<Response, DashboardError> {
    let rates = WeeklyRates::load(&state.warehouse, &view).await?;
    let kinds: Vec<(&'static str, &'static str)> = rates
        .kinds
        .iter()
        .map(|kind| (*kind, kind_label(kind)))
        .collect();
    let labels: Vec<String> = rates
        .weeks
        .iter()
        .map(|week| week.start.format("%b %-d").to_string())
        .collect();
    let partial: Vec<bool> = rates.weeks.iter().map(|week| week.partial).collect();
    let links = DrillDown::new(&view, raw.as_deref());
    // Per kind, per week: the events counted there.
    let events_behind: Vec<Vec<String>> = kinds
        .iter()
        .map(|(kind, _)| {
            rates
                .weeks
                .iter()
                .map(|week| links.week_events(week.start, kind))
                .collect()
        })
        .collect();
    let chart = Chart {
        title: "Events per week by kind",
        unit: "events",
        x_labels: &labels,
        partial: &partial,
        series: kinds
            .iter()
            .map(|(kind, label)| Series {
                name: (*label).to_owned(),
                values: rates
                    .weeks
                    .iter()
                    .map(|week| Some(week.count(kind) as f64))
                    .collect(),
            })
            .collect(),
    }
    .stacked_bars_linked_each(&events_behind);
    let weeks = rates
        .weeks
        .into_iter()
        .enumerate()
        .map(|(w, rates)| WeekLine {
            cells: kinds
                .iter()
                .zip(&events_behind)
                .map(|((kind, _), links)| (rates.count(kind), links[w].clone()))
                .collect(),
            rates,
        })
        .collect();
    let mut filters = FilterForm::new(&view.member, &view.query, view.tz);
    filters.show_event_type = false;
    Ok(render(&WeeklyPage {
        frame: Frame::new(
            &view.member,
            state.onboarding_url.as_str(),
            view.tz,
            "weekly",
        ),
        filters,
        save: SaveViewForm::new(&view.member, SavedPage::Weekly, raw.as_deref(), &token),
        chart,
        kinds,
        weeks,
    }))
}
