//! `GET /orgs/{organization}/export/events.csv`: the last 90 days of events as CSV, for analysts
//! and above (viewers see views only). Payloads are not exported.

use axum::{
    extract::{Path, State},
    http::{HeaderMap, HeaderValue, header},
    response::{IntoResponse, Response},
};
use chrono::{Duration, Utc};
use warehouse::queries::{FeedFilters, Filters, Scope, feed};

use crate::{AppState, access, error::DashboardError};

const EXPORT_DAYS: i64 = 90;
/// Bounds one export's memory; a notebook wanting more pages the JSON API.
const MAX_ROWS: usize = 100_000;
const PAGE: u32 = 500;

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
    let mut writer = csv::Writer::from_writer(Vec::new());
    let write_err = |err: csv::Error| DashboardError::Store(format!("writing CSV: {err}"));
    writer
        .write_record([
            "installation_id",
            "delivery_id",
            "occurred_at_ms",
            "received_at_ms",
            "event_type",
            "project_key",
            "issue_key",
            "issue_type",
            "status",
            "status_category",
            "priority",
            "actor_account_id",
        ])
        .map_err(write_err)?;
    let installations = member.installation_ids();
    if !installations.is_empty() {
        let now = Utc::now();
        let scope = Scope {
            installations,
            from: now - Duration::days(EXPORT_DAYS),
            to: now + Duration::minutes(1),
            time_zone: "UTC".to_owned(),
            filters: Filters::default(),
        };
        let filters = FeedFilters::default();
        let mut cursor = None;
        let mut written = 0;
        loop {
            let page = feed(&state.warehouse, &scope, &filters, cursor.as_ref(), PAGE).await?;
            for event in &page.events {
                writer
                    .write_record([
                        event.installation_id.as_str(),
                        &event.delivery_id,
                        &event.occurred_at_ms.to_string(),
                        &event.received_at_ms.to_string(),
                        &event.event_type,
                        &event.project_key,
                        &event.issue_key,
                        &event.issue_type,
                        &event.status,
                        &event.status_category,
                        &event.priority,
                        &event.actor_account_id,
                    ])
                    .map_err(write_err)?;
            }
            written += page.events.len();
            match page.next {
                Some(next) if written < MAX_ROWS => cursor = Some(next),
                _ => break,
            }
        }
    }
    let body = writer
        .into_inner()
        .map_err(|err| DashboardError::Store(format!("writing CSV: {err}")))?;
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/csv; charset=utf-8"),
    );
    headers.insert(
        header::CONTENT_DISPOSITION,
        HeaderValue::from_static("attachment; filename=\"metafrazo-events.csv\""),
    );
    Ok(response)
}
