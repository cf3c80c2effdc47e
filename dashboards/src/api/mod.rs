//! The JSON API under `/api/v1/`, for notebooks and BI tools: the pages' view-models (`views/`)
//! as JSON, for the caller's organization only (another organization's ids answer 404), with
//! `format=csv` for analysts and above. Each handler's `#[utoipa::path]` and the view-models'
//! schemas make the OpenAPI document served at `/api/v1/openapi.json` (`openapi.rs`).

mod format;
pub(crate) mod openapi;
pub(crate) mod saved_views;

use axum::{
    Json,
    extract::{Path, RawQuery, State},
    http::HeaderMap,
    response::{IntoResponse, Response},
};
use serde::Deserialize;
use utoipa::IntoParams;

use crate::{
    AppState, access,
    csv_body::csv_response,
    error::{ApiError, DashboardError, ErrorBody},
    event_id,
    view_params::ViewQuery,
    view_request::{ApiCaller, ApiView, OrganizationPath},
    views::{
        event_detail::EventDetail, events::EventsPage, flow::Flow, organizations::Organizations,
        sprints::Sprints, time_logged::TimeLogged, trends::Trends, weekly_rates::WeeklyRates,
    },
};
use format::{FormatQuery, wants_csv};

/// Events per page of the API's feed.
const FEED_PAGE_SIZE: u32 = 100;

/// The event of `…/events/{id}`.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub(crate) struct EventPath {
    /// An event's `id`, as the feed gives it.
    id: String,
}

#[utoipa::path(
    get,
    tag = "analytics",
    path = "/api/v1/orgs",
    summary = "The caller's organizations",
    responses(
        (status = 200, description = "The organizations, with the caller's role in each", body = Organizations),
        (status = 401, description = "No session cookie or API token, or a revoked one", body = ErrorBody),
    )
)]
pub(crate) async fn organizations(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Json<Organizations>, ApiError> {
    let user = access::user(&state.postgres, &headers, &state.sign_in_url).await?;
    let client = state.postgres.get().await?;
    let memberships = accounts_store::organizations::of_user(&client, user.user_id).await?;
    Ok(Json(Organizations::new(memberships)))
}

#[utoipa::path(
    get,
    tag = "analytics",
    path = "/api/v1/orgs/{organization}/weekly-rates",
    summary = "Events per ISO week by kind, with the days of data behind each week",
    params(OrganizationPath, ViewQuery, FormatQuery),
    responses(
        (status = 200, description = "The weeks; as CSV a row per week, a column per kind", content(
            (WeeklyRates = "application/json"),
            (String = "text/csv"),
        )),
        (status = 400, description = "A parameter that cannot be read (a date, a time zone, weeks out of range)", body = ErrorBody),
        (status = 401, description = "No session cookie or API token", body = ErrorBody),
        (status = 403, description = "`format=csv` for a viewer, or the organization's sign-in policy refuses the caller", body = ErrorBody),
        (status = 404, description = "Not a member of this organization, or no such organization", body = ErrorBody),
        (status = 422, description = "`too_large`: the view reads more than one request may (DASHBOARDS_QUERY_MAX_*); narrow the range, workspaces or filters", body = ErrorBody),
        (status = 503, description = "The warehouse or Postgres is briefly unavailable; retry", body = ErrorBody),
    )
)]
pub(crate) async fn weekly_rates(
    State(state): State<AppState>,
    view: ApiView,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let csv = wants_csv(raw.as_deref(), &view.member)?;
    let rates = WeeklyRates::load(&state.warehouse, &view).await?;
    if csv {
        return Ok(csv_response("weekly-rates.csv", &rates.weeks)?);
    }
    Ok(Json(rates).into_response())
}

#[utoipa::path(
    get,
    tag = "analytics",
    path = "/api/v1/orgs/{organization}/trends",
    summary = "Created against resolved, reopened, backlog, median time to resolution and field changes per week",
    params(OrganizationPath, ViewQuery, FormatQuery),
    responses(
        (status = 200, description = "The weeks; as CSV a row per week, a column per field's changes", content(
            (Trends = "application/json"),
            (String = "text/csv"),
        )),
        (status = 400, description = "A parameter that cannot be read (a date, a time zone, weeks out of range)", body = ErrorBody),
        (status = 401, description = "No session cookie or API token", body = ErrorBody),
        (status = 403, description = "`format=csv` for a viewer, or the organization's sign-in policy refuses the caller", body = ErrorBody),
        (status = 404, description = "Not a member of this organization, or no such organization", body = ErrorBody),
        (status = 422, description = "`too_large`: the view reads more than one request may (DASHBOARDS_QUERY_MAX_*); narrow the range, workspaces or filters", body = ErrorBody),
        (status = 503, description = "The warehouse or Postgres is briefly unavailable; retry", body = ErrorBody),
    )
)]
pub(crate) async fn trends(
    State(state): State<AppState>,
    view: ApiView,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let csv = wants_csv(raw.as_deref(), &view.member)?;
    let trends = Trends::load(&state.warehouse, &view).await?;
    if csv {
        return Ok(csv_response("trends.csv", &trends.weeks)?);
    }
    Ok(Json(trends).into_response())
}

#[utoipa::path(
    get,
    tag = "analytics",
    path = "/api/v1/orgs/{organization}/flow",
    summary = "Flow: cycle and lead time, throughput, work item age, cumulative flow and time in status",
    params(OrganizationPath, ViewQuery, FormatQuery),
    responses(
        (status = 200, description = "The flow of the range's issues; as CSV a row per week (completions, throughput, cycle and lead time percentiles)", content(
            (Flow = "application/json"),
            (String = "text/csv"),
        )),
        (status = 400, description = "A parameter that cannot be read (a date, a time zone, weeks out of range)", body = ErrorBody),
        (status = 401, description = "No session cookie or API token", body = ErrorBody),
        (status = 403, description = "`format=csv` for a viewer, or the organization's sign-in policy refuses the caller", body = ErrorBody),
        (status = 404, description = "Not a member of this organization, or no such organization", body = ErrorBody),
        (status = 422, description = "`too_large`: the view reads more than one request may (DASHBOARDS_QUERY_MAX_*); narrow the range, workspaces or filters", body = ErrorBody),
        (status = 503, description = "The warehouse or Postgres is briefly unavailable; retry", body = ErrorBody),
    )
)]
pub(crate) async fn flow(
    State(state): State<AppState>,
    view: ApiView,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let csv = wants_csv(raw.as_deref(), &view.member)?;
    let flow = Flow::load(&state.warehouse, &view).await?;
    if csv {
        return Ok(csv_response("flow.csv", &flow.weeks)?);
    }
    Ok(Json(flow).into_response())
}

#[utoipa::path(
    get,
    tag = "analytics",
    path = "/api/v1/orgs/{organization}/sprints",
    summary = "Sprints: committed, added, removed and completed issues per sprint, any board type",
    params(OrganizationPath, ViewQuery, FormatQuery),
    responses(
        (status = 200, description = "The sprints overlapping the range, each count with its issues; as CSV a row per sprint (an unknown count is an empty cell)", content(
            (Sprints = "application/json"),
            (String = "text/csv"),
        )),
        (status = 400, description = "A parameter that cannot be read (a date, a time zone, weeks out of range)", body = ErrorBody),
        (status = 401, description = "No session cookie or API token", body = ErrorBody),
        (status = 403, description = "`format=csv` for a viewer, or the organization's sign-in policy refuses the caller", body = ErrorBody),
        (status = 404, description = "Not a member of this organization, or no such organization", body = ErrorBody),
        (status = 422, description = "`too_large`: the view reads more than one request may (DASHBOARDS_QUERY_MAX_*); narrow the range, workspaces or filters", body = ErrorBody),
        (status = 503, description = "The warehouse or Postgres is briefly unavailable; retry", body = ErrorBody),
    )
)]
pub(crate) async fn sprints(
    State(state): State<AppState>,
    view: ApiView,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let csv = wants_csv(raw.as_deref(), &view.member)?;
    let sprints = Sprints::load(&state.warehouse, &view).await?;
    if csv {
        return Ok(csv_response("sprints.csv", &sprints.sprints)?);
    }
    Ok(Json(sprints).into_response())
}

#[utoipa::path(
    get,
    tag = "analytics",
    path = "/api/v1/orgs/{organization}/time-logged",
    summary = "Time logged per week, per project and per person, from worklogs",
    params(OrganizationPath, ViewQuery, FormatQuery),
    responses(
        (status = 200, description = "Seconds logged per week, in all and per project and person, with the issues behind each; as CSV a row per week and project or person (`dimension` is `total`, `project` or `person`)", content(
            (TimeLogged = "application/json"),
            (String = "text/csv"),
        )),
        (status = 400, description = "A parameter that cannot be read (a date, a time zone, weeks out of range)", body = ErrorBody),
        (status = 401, description = "No session cookie or API token", body = ErrorBody),
        (status = 403, description = "`format=csv` for a viewer, or the organization's sign-in policy refuses the caller", body = ErrorBody),
        (status = 404, description = "Not a member of this organization, or no such organization", body = ErrorBody),
        (status = 422, description = "`too_large`: the view reads more than one request may (DASHBOARDS_QUERY_MAX_*); narrow the range, workspaces or filters", body = ErrorBody),
        (status = 503, description = "The warehouse or Postgres is briefly unavailable; retry", body = ErrorBody),
    )
)]
pub(crate) async fn time_logged(
    State(state): State<AppState>,
    view: ApiView,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let csv = wants_csv(raw.as_deref(), &view.member)?;
    let logged = TimeLogged::load(&state.warehouse, &view).await?;
    if csv {
        return Ok(csv_response("time-logged.csv", &logged.cells())?);
    }
    Ok(Json(logged).into_response())
}

#[utoipa::path(
    get,
    tag = "analytics",
    path = "/api/v1/orgs/{organization}/events",
    summary = "The event feed, newest first, 100 per page",
    params(OrganizationPath, ViewQuery, crate::feed_params::FeedQuery, FormatQuery),
    responses(
        (status = 200, description = "A page of events; as CSV a row per event", content(
            (EventsPage = "application/json"),
            (String = "text/csv"),
        )),
        (status = 400, description = "A parameter that cannot be read (a date, a time zone, weeks out of range, a paging cursor)", body = ErrorBody),
        (status = 401, description = "No session cookie or API token", body = ErrorBody),
        (status = 403, description = "`format=csv` for a viewer, or the organization's sign-in policy refuses the caller", body = ErrorBody),
        (status = 404, description = "Not a member of this organization, or no such organization", body = ErrorBody),
        (status = 422, description = "`too_large`: the view reads more than one request may (DASHBOARDS_QUERY_MAX_*); narrow the range, workspaces or filters", body = ErrorBody),
        (status = 503, description = "The warehouse or Postgres is briefly unavailable; retry", body = ErrorBody),
    )
)]
pub(crate) async fn events(
    State(state): State<AppState>,
    view: ApiView,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let csv = wants_csv(raw.as_deref(), &view.member)?;
    let after = view.feed.cursor()?;
    let page = if view.scope.installations.is_empty() {
        EventsPage::default()
    } else {
        let page = warehouse::queries::feed(
            &state.warehouse,
            &view.scope,
            &view.feed.filters(),
            after.as_ref(),
            FEED_PAGE_SIZE,
        )
        .await?;
        EventsPage::from(&page)
    };
    if csv {
        return Ok(csv_response("events.csv", &page.events)?);
    }
    Ok(Json(page).into_response())
}

#[utoipa::path(
    get,
    tag = "analytics",
    path = "/api/v1/orgs/{organization}/events/{id}",
    summary = "One event with its field changes; the payload for analysts and above",
    params(OrganizationPath, EventPath),
    responses(
        (status = 200, description = "The event", body = EventDetail),
        (status = 401, description = "No session cookie or API token", body = ErrorBody),
        (status = 403, description = "The organization's sign-in policy refuses the caller", body = ErrorBody),
        (status = 404, description = "No such event among this organization's, or not a member", body = ErrorBody),
        (status = 503, description = "The warehouse or Postgres is briefly unavailable; retry", body = ErrorBody),
    )
)]
pub(crate) async fn event(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path(EventPath { id }): Path<EventPath>,
) -> Result<Json<EventDetail>, ApiError> {
    let member = caller.member;
    let key = event_id::decode(&id).ok_or(DashboardError::NotFound)?;
    let detail = event_id::lookup(&state.warehouse, &member, &key)
        .await?
        .ok_or(DashboardError::NotFound)?;
    Ok(Json(EventDetail::new(
        &detail,
        member.role.can_see_payloads(),
    )))
}
