//! `GET /orgs/{organization}/export/events.csv`: the last 90 days of events as CSV, for analysts
//! and above (viewers see views only). Payloads are not exported.

use axum::{
    extract::{Path, State},
    http::HeaderMap,
    response::Response,
};
use chrono::{Duration, Utc};
use warehouse::queries::{Filters, Scope};

use crate::{
    AppState, access, api::EVENT_COLUMNS, api::event_record, csv_body::csv_response,
    error::DashboardError,
};

const EXPORT_DAYS: i64 = 90;
/// Bounds one export's memory; a notebook wanting more pages the JSON API.
const MAX_ROWS: u32 = 100_000;

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
    let events = if installations.is_empty() {
        Vec::new()
    } else {
        let now = Utc::now();
        let scope = Scope {
            installations,
            from: now - Duration::days(EXPORT_DAYS),
            to: now + Duration::minutes(1),
            time_zone: "UTC".to_owned(),
            filters: Filters::default(),
        };
        warehouse::queries::export(&state.warehouse, &scope, MAX_ROWS).await?
    };
    let records = events.iter().map(event_record);
    csv_response("metafrazo-events.csv", EVENT_COLUMNS, records)
}
