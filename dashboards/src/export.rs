//! `GET /orgs/{organization}/export/events.csv`: every event of the last 90 days as CSV, for
//! analysts and above (viewers see views only), streamed as the warehouse reads it. Payloads are
//! not exported.

use axum::{
    extract::{Path, State},
    http::HeaderMap,
    response::Response,
};
use chrono::{Duration, Utc};
use warehouse::queries::{Filters, Scope};

use crate::{
    AppState, access,
    api::EVENT_COLUMNS,
    api::event_record,
    csv_body::{csv_response, csv_stream_response},
    error::DashboardError,
};

const EXPORT_DAYS: i64 = 90;
const FILENAME: &str = "metafrazo-events.csv";

pub(crate) async fn events_csv(
    State(state): State<AppState>,
    Path(organization): Path<String>,
    headers: HeaderMap,
) -> Result<Response, DashboardError> {
    let member =
        access::member(&state.postgres, &headers, &organization, &state.sign_in_url).await?;
    if !member.role.can_export() {
        return Err(DashboardError::Forbidden(
            "exports are for analysts, admins and owners",
        ));
    }
    let installations = member.installation_ids();
    if installations.is_empty() {
        return csv_response(FILENAME, EVENT_COLUMNS, []);
    }
    let now = Utc::now();
    let scope = Scope {
        installations,
        from: now - Duration::days(EXPORT_DAYS),
        to: now + Duration::minutes(1),
        time_zone: "UTC".to_owned(),
        filters: Filters::default(),
    };
    let cursor = warehouse::queries::export(&state.warehouse, &scope)?;
    csv_stream_response(FILENAME, EVENT_COLUMNS, cursor, event_record).await
}
