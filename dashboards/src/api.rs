//! The JSON API under `/api/v1/`, for notebooks and BI tools: the same data as the pages, for
//! the caller's organization only (another organization's ids answer 404), with `format=csv`
//! for analysts and above. Described by `/api/v1/openapi.json` (`openapi.json` beside this
//! crate's manifest), which a test holds to what the routes answer.

use axum::{
    Json,
    extract::{Path, RawQuery, State},
    http::HeaderMap,
    response::{IntoResponse, Response},
};
use serde::Serialize;
use serde_json::{Value, json};

use crate::{
    AppState, access,
    access::Member,
    csv_body::csv_response,
    error::{ApiError, DashboardError},
    event_id,
    pages::{
        events::{cursor, feed_filters},
        trends::TREND_FIELDS,
    },
    view_params::View,
};

pub(crate) const OPENAPI: &str = include_str!("../openapi.json");

/// The columns of an event in CSV, in order.
pub(crate) const EVENT_COLUMNS: &[&str] = &[
    "id",
    "installation_id",
    "delivery_id",
    "occurred_at_ms",
    "received_at_ms",
    "event_type",
    "family",
    "project_key",
    "issue_key",
    "issue_type",
    "status",
    "status_category",
    "priority",
    "actor_account_id",
];

const FEED_PAGE_SIZE: u32 = 100;

pub(crate) fn event_record(event: &warehouse::EventRow) -> Vec<String> {
    vec![
        event_id::encode(event),
        event.installation_id.to_string(),
        event.delivery_id.clone(),
        event.occurred_at_ms.to_string(),
        event.received_at_ms.to_string(),
        event.event_type.clone(),
        event.family.clone(),
        event.project_key.clone(),
        event.issue_key.clone(),
        event.issue_type.clone(),
        event.status.clone(),
        event.status_category.clone(),
        event.priority.clone(),
        event.actor_account_id.clone(),
    ]
}

fn event_json(event: &warehouse::EventRow) -> Value {
    let record = event_record(event);
    let mut object = serde_json::Map::new();
    for (column, value) in EVENT_COLUMNS.iter().zip(record) {
        let value = match *column {
            "occurred_at_ms" | "received_at_ms" => json!(value.parse::<i64>().unwrap_or(0)),
            _ => json!(value),
        };
        object.insert((*column).to_owned(), value);
    }
    Value::Object(object)
}

/// Whether the caller asked for CSV, which needs the export right.
fn wants_csv(raw: Option<&str>, member: &Member) -> Result<bool, DashboardError> {
    let csv = raw
        .map(|raw| {
            url::form_urlencoded::parse(raw.as_bytes()).any(|(k, v)| k == "format" && v == "csv")
        })
        .unwrap_or(false);
    if csv && !member.role.can_export() {
        return Err(DashboardError::Forbidden(
            "CSV exports are for analysts, admins and owners",
        ));
    }
    Ok(csv)
}

async fn caller(
    state: &AppState,
    headers: &HeaderMap,
    organization: &str,
) -> Result<Member, DashboardError> {
    access::member(&state.postgres, headers, organization, &state.sign_in_url).await
}

#[derive(Serialize)]
struct OrganizationJson {
    id: String,
    name: String,
    role: &'static str,
}

/// `GET /api/v1/orgs`: the caller's organizations, to find the ids the other calls take.
pub(crate) async fn organizations(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let user = access::user(&state.postgres, &headers, &state.sign_in_url).await?;
    let client = state.postgres.get().await.map_err(DashboardError::from)?;
    let organizations = accounts_store::organizations::of_user(&client, user.user_id)
        .await
        .map_err(DashboardError::from)?
        .into_iter()
        .map(|(organization, role)| OrganizationJson {
            id: organization.id.to_string(),
            name: organization.name,
            role: role.as_str(),
        })
        .collect::<Vec<_>>();
    Ok(Json(json!({ "organizations": organizations })).into_response())
}

pub(crate) async fn weekly_rates(
    State(state): State<AppState>,
    Path(organization): Path<String>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let View {
        member, tz, scope, ..
    } = View::load(&state, &headers, &organization, raw.as_deref(), false).await?;
    let csv = wants_csv(raw.as_deref(), &member)?;
    let weeks = if scope.installations.is_empty() {
        Vec::new()
    } else {
        warehouse::queries::weekly_rates(&state.warehouse, &scope)
            .await
            .map_err(DashboardError::from)?
            .weeks
    };
    let kinds = warehouse::queries::weekly_rates::KINDS;
    if csv {
        let mut header = vec!["week_start", "days_with_data", "partial"];
        header.extend(kinds.iter().copied());
        let records = weeks.iter().map(|week| {
            let mut record = vec![
                week.start.to_string(),
                week.days_with_data.to_string(),
                week.is_partial().to_string(),
            ];
            record.extend(
                kinds
                    .iter()
                    .map(|kind| week.counts.get(*kind).copied().unwrap_or(0).to_string()),
            );
            record
        });
        return Ok(csv_response("weekly-rates.csv", &header, records)?);
    }
    let weeks: Vec<Value> = weeks
        .iter()
        .map(|week| {
            json!({
                "start": week.start.to_string(),
                "days_with_data": week.days_with_data,
                "partial": week.is_partial(),
                "counts": week.counts,
            })
        })
        .collect();
    Ok(Json(json!({
        "time_zone": tz.name(),
        "from": scope.from.to_rfc3339(),
        "to": scope.to.to_rfc3339(),
        "kinds": kinds,
        "weeks": weeks,
    }))
    .into_response())
}

pub(crate) async fn trends(
    State(state): State<AppState>,
    Path(organization): Path<String>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let View {
        member, tz, scope, ..
    } = View::load(&state, &headers, &organization, raw.as_deref(), false).await?;
    let csv = wants_csv(raw.as_deref(), &member)?;
    let fields: Vec<String> = TREND_FIELDS.iter().map(|f| (*f).to_owned()).collect();
    let weeks = if scope.installations.is_empty() {
        Vec::new()
    } else {
        warehouse::queries::trends(&state.warehouse, &scope, &fields)
            .await
            .map_err(DashboardError::from)?
            .weeks
    };
    if csv {
        let mut header = vec![
            "week_start",
            "created",
            "resolved",
            "reopened",
            "backlog",
            "median_hours_to_resolution",
        ];
        let field_columns: Vec<String> = TREND_FIELDS
            .iter()
            .map(|f| format!("{f}_changes"))
            .collect();
        header.extend(field_columns.iter().map(String::as_str));
        let records = weeks.iter().map(|week| {
            let mut record = vec![
                week.start.to_string(),
                week.created.to_string(),
                week.resolved.to_string(),
                week.reopened.to_string(),
                week.backlog.to_string(),
                week.median_hours_to_resolution
                    .map(|h| h.to_string())
                    .unwrap_or_default(),
            ];
            record.extend(
                TREND_FIELDS
                    .iter()
                    .map(|f| week.field_changes.get(*f).copied().unwrap_or(0).to_string()),
            );
            record
        });
        return Ok(csv_response("trends.csv", &header, records)?);
    }
    let weeks: Vec<Value> = weeks
        .iter()
        .map(|week| {
            json!({
                "start": week.start.to_string(),
                "created": week.created,
                "resolved": week.resolved,
                "reopened": week.reopened,
                "backlog": week.backlog,
                "median_hours_to_resolution": week.median_hours_to_resolution,
                "field_changes": week.field_changes,
            })
        })
        .collect();
    Ok(Json(json!({
        "time_zone": tz.name(),
        "from": scope.from.to_rfc3339(),
        "to": scope.to.to_rfc3339(),
        "weeks": weeks,
    }))
    .into_response())
}

pub(crate) async fn events(
    State(state): State<AppState>,
    Path(organization): Path<String>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let View {
        member,
        query,
        scope,
        ..
    } = View::load(&state, &headers, &organization, raw.as_deref(), false).await?;
    let csv = wants_csv(raw.as_deref(), &member)?;
    let after = cursor(&query)?;
    let page = if scope.installations.is_empty() {
        warehouse::queries::FeedPage {
            events: Vec::new(),
            next: None,
        }
    } else {
        warehouse::queries::feed(
            &state.warehouse,
            &scope,
            &feed_filters(&query),
            after.as_ref(),
            FEED_PAGE_SIZE,
        )
        .await
        .map_err(DashboardError::from)?
    };
    if csv {
        return Ok(csv_response(
            "events.csv",
            EVENT_COLUMNS,
            page.events.iter().map(event_record),
        )?);
    }
    Ok(Json(json!({
        "events": page.events.iter().map(event_json).collect::<Vec<_>>(),
        "next": page.next.as_ref().map(event_id::encode_cursor),
    }))
    .into_response())
}

pub(crate) async fn event(
    State(state): State<AppState>,
    Path((organization, id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let member = caller(&state, &headers, &organization).await?;
    let key = event_id::decode(&id).ok_or(DashboardError::NotFound)?;
    let detail = event_id::lookup(&state.warehouse, &member.installation_ids(), &key)
        .await
        .map_err(DashboardError::from)?
        .ok_or(DashboardError::NotFound)?;
    let mut body = event_json(&detail.event);
    body["field_changes"] = json!(
        detail
            .field_changes
            .iter()
            .map(|change| json!({
                "field": change.field,
                "from": change.from_value,
                "to": change.to_value,
                "from_string": change.from_string,
                "to_string": change.to_string,
            }))
            .collect::<Vec<_>>()
    );
    if member.role.can_see_payloads() {
        body["payload"] = serde_json::from_str(&detail.event.payload)
            .unwrap_or(Value::String(detail.event.payload.clone()));
    }
    Ok(Json(body).into_response())
}

pub(crate) async fn openapi() -> Response {
    (
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        OPENAPI,
    )
        .into_response()
}
