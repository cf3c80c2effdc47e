//! `GET /orgs/{organization}/export/events.csv`: every event of a view as CSV, for analysts and
//! above (viewers see views only), streamed as the warehouse reads it. The view is read from the
//! query string as every page reads it (range, default the last 12 weeks; zone; workspace,
//! project, issue type and event type; the feed's issue key and actor), so the events page links
//! to the download of what it shows. Payloads are not exported.

use axum::{
    extract::{Path, RawQuery, State},
    http::HeaderMap,
    response::Response,
};

use crate::{
    AppState,
    api::{EVENT_COLUMNS, event_record},
    csv_body::{csv_response, csv_stream_response},
    error::DashboardError,
    pages::events::feed_filters,
    view_params::View,
};

const FILENAME: &str = "metafrazo-events.csv";

pub(crate) async fn events_csv(
    State(state): State<AppState>,
    Path(organization): Path<String>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> Result<Response, DashboardError> {
    let View {
        member,
        query,
        scope,
        ..
    } = View::load(&state, &headers, &organization, raw.as_deref(), true).await?;
    if !member.role.can_export() {
        return Err(DashboardError::Forbidden(
            "exports are for analysts, admins and owners",
        ));
    }
    if scope.installations.is_empty() {
        return csv_response(FILENAME, EVENT_COLUMNS, []);
    }
    let cursor = warehouse::queries::export(&state.warehouse, &scope, &feed_filters(&query))?;
    csv_stream_response(FILENAME, EVENT_COLUMNS, cursor, event_record).await
}
