//! One view-model per view, built by one function from the warehouse's results. The JSON API
//! serializes it as it is, its rows write the CSV (`CsvRow`), and the pages draw their tables
//! from the same rows, so the three cannot disagree. The doc comments on these types are the
//! schemas of the OpenAPI document (`openapi.rs`): what each count means lives here.

pub(crate) mod event_detail;
pub(crate) mod events;
pub(crate) mod flow;
pub(crate) mod organizations;
pub(crate) mod saved_views;
pub(crate) mod sprints;
pub(crate) mod time_logged;
pub(crate) mod trends;
pub(crate) mod weekly_rates;

use serde::Serialize;
use utoipa::ToSchema;

use crate::{error::DashboardError, view_request::View};

/// The range a view covers, as whole days in its time zone.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Range {
    /// The IANA time zone of the view's days and weeks (`tz`, else UTC).
    pub time_zone: String,
    /// Midnight starting the first day, in the time zone (RFC 3339).
    #[schema(format = DateTime)]
    pub from: String,
    /// Midnight ending the last day, exclusive (RFC 3339).
    #[schema(format = DateTime)]
    pub to: String,
}

/// Refuses, for a view that reads neither deliveries nor flow facts (sprints, time logged), the
/// filters judged by what a delivery states of its issue: silently ignoring them would show
/// numbers the analyst did not ask for.
pub(crate) fn refuse_issue_dimensions<A>(view: &View<A>, name: &str) -> Result<(), DashboardError> {
    let query = &view.query;
    let asked = [
        ("priority", &query.priority),
        ("assignee", &query.assignee),
        ("label", &query.label),
        ("component", &query.component),
    ]
    .into_iter()
    .filter(|(_, values)| !values.is_empty())
    .map(|(filter, _)| filter)
    .collect::<Vec<_>>();
    if asked.is_empty() {
        Ok(())
    } else {
        Err(DashboardError::BadRequest(format!(
            "the {name} view filters by workspace, project and issue type only, not by {}",
            asked.join(", ")
        )))
    }
}

impl Range {
    pub(crate) fn of<A>(view: &View<A>) -> Self {
        Self {
            time_zone: view.tz.name().to_owned(),
            from: view.scope.from.to_rfc3339(),
            to: view.scope.to.to_rfc3339(),
        }
    }
}
