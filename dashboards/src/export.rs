//! `GET /orgs/{organization}/export/events.csv`: every event of a view as CSV, for analysts and
//! above (viewers see views only), streamed as the warehouse reads it. The view is read from the
//! query string as every page reads it (range, default the last 12 weeks; zone; workspace,
//! project, issue type and event type; the feed's issue key and actor), so the events page links
//! to the download of what it shows. Its rows are the API's events (`views::events::Event`);
//! payloads are not exported.

use axum::{extract::State, response::Response};

use crate::{
    AppState,
    csv_body::{csv_response, csv_stream_response},
    error::DashboardError,
    view_request::PageView,
    views::events::Event,
};

const FILENAME: &str = "metafrazo-events.csv";

pub(crate) async fn events_csv(
    State(state): State<AppState>,
    view: PageView,
) -> Result<Response, DashboardError> {
    if !view.member.role.can_export() {
        return Err(DashboardError::Forbidden(
            "exports are for analysts, admins and owners",
        ));
    }
    if view.scope.installations.is_empty() {
        return csv_response::<Event>(FILENAME, &[]);
    }
    let cursor = warehouse::queries::export(&state.warehouse, &view.scope, &view.feed.filters())?;
    csv_stream_response(FILENAME, cursor, |row: &warehouse::EventRow| {
        Event::from(row)
    })
    .await
}
