//! `GET /orgs/{organization}/events`: the feed, newest first, filtered and paged, refreshing
//! itself while on the first page; `GET /orgs/{organization}/events/{id}`: one event with its
//! field changes and, for analysts and above, its payload.

use askama::Template;
use axum::{
    extract::{Path, RawQuery, State},
    http::HeaderMap,
    response::Response,
};
use contracts::InstallationId;
use warehouse::queries::{Cursor, FeedFilters};

use super::{
    frame::{FilterForm, Frame},
    render,
};
use crate::{
    AppState, access,
    error::DashboardError,
    event_id,
    view_params::{View, ViewQuery},
};

const PAGE_SIZE: u32 = 50;

pub(crate) struct EventLine {
    pub id: String,
    pub when: String,
    pub event_type: String,
    pub issue_key: String,
    pub project_key: String,
    pub issue_type: String,
    pub status: String,
    pub actor: String,
    pub workspace: String,
}

#[derive(Template)]
#[template(path = "events.html")]
struct EventsPage {
    frame: Frame,
    filters: FilterForm,
    events: Vec<EventLine>,
    show_workspace: bool,
    older: Option<String>,
    /// The download of what the page shows, for roles that may export.
    download: Option<String>,
    live: bool,
}

pub(crate) fn feed_filters(query: &ViewQuery) -> FeedFilters {
    FeedFilters {
        issue_key: query.issue_key.clone().filter(|v| !v.trim().is_empty()),
        actor_account_id: query.actor.clone().filter(|v| !v.trim().is_empty()),
    }
}

pub(crate) fn cursor(query: &ViewQuery) -> Result<Option<Cursor>, DashboardError> {
    query
        .after
        .as_deref()
        .filter(|after| !after.is_empty())
        .map(|after| {
            event_id::decode_cursor(after).ok_or_else(|| {
                DashboardError::BadRequest("the paging cursor is not valid".to_owned())
            })
        })
        .transpose()
}

pub(crate) async fn feed(
    State(state): State<AppState>,
    Path(organization): Path<String>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> Result<Response, DashboardError> {
    let View {
        member,
        query,
        tz,
        scope,
    } = View::load(&state, &headers, &organization, raw.as_deref(), true).await?;
    let after = cursor(&query)?;
    let page = if scope.installations.is_empty() {
        None
    } else {
        Some(
            warehouse::queries::feed(
                &state.warehouse,
                &scope,
                &feed_filters(&query),
                after.as_ref(),
                PAGE_SIZE,
            )
            .await?,
        )
    };
    let workspace_name = |id: InstallationId| {
        member
            .installations
            .iter()
            .find(|installation| installation.id == id)
            .map(|installation| installation.base_url.clone())
            .unwrap_or_default()
    };
    let events = page
        .as_ref()
        .map(|page| {
            page.events
                .iter()
                .map(|event| EventLine {
                    id: event_id::encode(event),
                    when: chrono::DateTime::from_timestamp_millis(event.occurred_at_ms)
                        .map(|at| {
                            at.with_timezone(&tz)
                                .format("%Y-%m-%d %H:%M:%S")
                                .to_string()
                        })
                        .unwrap_or_default(),
                    event_type: event.event_type.clone(),
                    issue_key: event.issue_key.clone(),
                    project_key: event.project_key.clone(),
                    issue_type: event.issue_type.clone(),
                    status: event.status.clone(),
                    actor: event.actor_account_id.clone(),
                    workspace: workspace_name(event.installation_id),
                })
                .collect()
        })
        .unwrap_or_default();
    let older = page.and_then(|page| page.next).map(|next| {
        let mut pairs = view_query_string(&query);
        pairs.append_pair("after", &event_id::encode_cursor(&next));
        format!("?{}", pairs.finish())
    });
    let download = member.role.can_export().then(|| {
        format!(
            "/orgs/{organization}/export/events.csv?{}",
            view_query_string(&query).finish()
        )
    });
    let mut filters = FilterForm::new(&member, &query, tz);
    filters.show_event_type = true;
    filters.show_feed_filters = true;
    filters.issue_key = query.issue_key.clone().unwrap_or_default();
    filters.actor = query.actor.clone().unwrap_or_default();
    Ok(render(&EventsPage {
        frame: Frame::new(&member, state.onboarding_url.as_str(), tz, "events"),
        filters,
        show_workspace: member.installations.len() > 1,
        events,
        older,
        download,
        live: after.is_none(),
    }))
}

/// The view's range, zone and filters as a query string, for the links that keep them: older
/// events, and the download of what the page shows.
fn view_query_string(query: &ViewQuery) -> url::form_urlencoded::Serializer<'static, String> {
    let mut pairs = url::form_urlencoded::Serializer::new(String::new());
    for (name, values) in [
        ("project", &query.project),
        ("issue_type", &query.issue_type),
        ("event_type", &query.event_type),
        ("workspace", &query.workspace),
    ] {
        for value in values {
            pairs.append_pair(name, value);
        }
    }
    for (name, value) in [
        ("issue_key", &query.issue_key),
        ("actor", &query.actor),
        ("tz", &query.tz),
    ] {
        if let Some(value) = value {
            pairs.append_pair(name, value);
        }
    }
    if let Some(weeks) = query.weeks {
        pairs.append_pair("weeks", &weeks.to_string());
    }
    for (name, date) in [("from", query.from), ("to", query.to)] {
        if let Some(date) = date {
            pairs.append_pair(name, &date.to_string());
        }
    }
    pairs
}

#[derive(Template)]
#[template(path = "event.html")]
struct EventPage {
    frame: Frame,
    event: warehouse::EventRow,
    fields: Vec<(&'static str, String)>,
    changes: Vec<(String, String, String)>,
    payload: Option<String>,
}

pub(crate) async fn event(
    State(state): State<AppState>,
    Path((organization, id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Response, DashboardError> {
    let member =
        access::member(&state.postgres, &headers, &organization, &state.sign_in_url).await?;
    let tz = ViewQuery::default().time_zone(access::time_zone_cookie(&headers).as_deref())?;
    let key = event_id::decode(&id).ok_or(DashboardError::NotFound)?;
    let detail = event_id::lookup(&state.warehouse, &member.installation_ids(), &key)
        .await?
        .ok_or(DashboardError::NotFound)?;
    let event = detail.event;
    let at = |ms: i64| {
        chrono::DateTime::from_timestamp_millis(ms)
            .map(|at| {
                at.with_timezone(&tz)
                    .format("%Y-%m-%d %H:%M:%S %Z")
                    .to_string()
            })
            .unwrap_or_default()
    };
    let fields = vec![
        ("Happened", at(event.occurred_at_ms)),
        ("Received", at(event.received_at_ms)),
        ("Event", event.event_type.clone()),
        ("Family", event.family.clone()),
        ("Issue", event.issue_key.clone()),
        ("Project", event.project_key.clone()),
        ("Issue type", event.issue_type.clone()),
        (
            "Status",
            format!("{} ({})", event.status, event.status_category),
        ),
        ("Priority", event.priority.clone()),
        ("Actor", event.actor_account_id.clone()),
        ("Delivered through", event.source.clone()),
        ("Delivery id", event.delivery_id.clone()),
    ];
    let changes = detail
        .field_changes
        .into_iter()
        .map(|change| (change.field, change.from_string, change.to_string))
        .collect();
    let payload = member.role.can_see_payloads().then(|| {
        serde_json::from_str::<serde_json::Value>(&event.payload)
            .and_then(|value| serde_json::to_string_pretty(&value))
            .unwrap_or_else(|_| event.payload.clone())
    });
    Ok(render(&EventPage {
        frame: Frame::new(&member, state.onboarding_url.as_str(), tz, "events"),
        event,
        fields,
        changes,
        payload,
    }))
}
