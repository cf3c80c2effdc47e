//! `GET /orgs/{organization}`: where a finished setup lands. Before the first event it is the
//! empty state that says what to expect; afterwards this week against last week and a small
//! chart of the last eight weeks.

use askama::Template;
use axum::{extract::State, response::Response};

use super::{frame::Frame, render};
use crate::{
    AppState,
    charts::{Chart, Series},
    error::DashboardError,
    view_params::ViewQuery,
    view_request::PageCaller,
};

#[derive(Template)]
#[template(path = "overview.html")]
struct Overview {
    frame: Frame,
    last_event: Option<String>,
    this_week: u64,
    this_week_partial: bool,
    this_week_days: u8,
    last_week: u64,
    created_this_week: u64,
    chart: String,
    can_export: bool,
    /// Name, state.
    workspaces: Vec<(String, String)>,
}

/// The overview reads no query string: always the last eight weeks, in the browser's zone.
pub(crate) async fn overview(
    State(state): State<AppState>,
    caller: PageCaller,
) -> Result<Response, DashboardError> {
    let (member, tz) = (caller.member, caller.tz);
    let query = ViewQuery {
        weeks: Some(8),
        ..ViewQuery::default()
    };
    let scope = query.scope(&member, tz)?;
    // Independent reads, side by side: the newest event, and the last eight weeks.
    let newest = async {
        let mut newest = None;
        for installation in &member.installations {
            let last =
                warehouse::queries::last_event_received(&state.warehouse, installation.id).await?;
            newest = newest.max(last);
        }
        Ok(newest)
    };
    let rates = async {
        if scope.installations.is_empty() {
            Ok(None)
        } else {
            warehouse::queries::weekly_rates(&state.warehouse, &scope)
                .await
                .map(Some)
        }
    };
    let (last_event, rates) = tokio::try_join!(newest, rates)?;
    let weeks = match (last_event, rates) {
        (Some(_), Some(rates)) => rates.weeks,
        _ => Vec::new(),
    };
    let total = |week: &warehouse::queries::Week| -> u64 {
        // Created, updated, deleted and commented are the events themselves; resolutions and
        // transitions are updates seen another way, so they are not added again.
        [
            "issue_created",
            "issue_updated",
            "issue_deleted",
            "comment_created",
        ]
        .iter()
        .map(|kind| week.counts.get(*kind).copied().unwrap_or(0))
        .sum()
    };
    let this = weeks.last();
    let labels: Vec<String> = weeks
        .iter()
        .map(|w| w.start.format("%b %-d").to_string())
        .collect();
    let partial: Vec<bool> = weeks.iter().map(|w| w.is_partial()).collect();
    let chart = Chart {
        title: "Events per week, last 8 weeks",
        unit: "events",
        x_labels: &labels,
        partial: &partial,
        series: vec![Series {
            name: "Events".to_owned(),
            values: weeks.iter().map(|w| Some(total(w) as f64)).collect(),
        }],
    }
    .stacked_bars();
    let page = Overview {
        frame: Frame::new(&member, state.onboarding_url.as_str(), tz, "overview"),
        last_event: last_event.map(|at| {
            chrono::DateTime::<chrono::Utc>::from(at)
                .with_timezone(&tz)
                .format("%Y-%m-%d %H:%M %Z")
                .to_string()
        }),
        this_week: this.map(total).unwrap_or(0),
        this_week_partial: this.is_some_and(|w| w.is_partial()),
        this_week_days: this.map_or(0, |w| w.days_with_data),
        last_week: weeks.iter().rev().nth(1).map(total).unwrap_or(0),
        created_this_week: this
            .and_then(|w| w.counts.get("issue_created").copied())
            .unwrap_or(0),
        chart,
        can_export: member.role.can_export(),
        workspaces: member
            .installations
            .iter()
            .map(|installation| {
                let name = installation.label().to_owned();
                (name, installation.state.clone())
            })
            .collect(),
    };
    Ok(render(&page))
}
