//! `GET /orgs/{organization}/events`: the feed, newest first, filtered and paged, refreshing
//! itself while on the first page; `GET /orgs/{organization}/events/{id}`: one event with its
//! field changes and, for analysts and above, its payload.

use accounts_store::saved_views::SavedPage;
use askama::Template;
use axum::{
    extract::{Path, RawQuery, State},
    response::Response,
};
use chrono_tz::Tz;

use super::{
    frame::{FilterForm, Frame},
    render,
    saved_views::SaveViewForm,
};
use crate::{
    AppState,
    error::DashboardError,
    event_id,
    feed_params::FeedQuery,
    forms::FormToken,
    view_params::ViewQuery,
    view_request::{PageCaller, PageView},
    views::{
        event_detail::EventDetail,
        events::{Event, EventsPage},
    },
};

const PAGE_SIZE: u32 = 50;

/// A row of the feed's table: the API's event, and what the page adds for a person.
pub(crate) struct EventLine {
    pub event: Event,
    /// When it happened, in the viewer's zone.
    pub when: String,
    /// The workspace's address, shown when the organization has more than one.
    pub workspace: String,
}

#[derive(Template)]
#[template(path = "events.html")]
struct FeedPage {
    frame: Frame,
    filters: FilterForm,
    save: SaveViewForm,
    events: Vec<EventLine>,
    show_workspace: bool,
    older: Option<String>,
    /// The download of what the page shows, for roles that may export.
    download: Option<String>,
    live: bool,
}

pub(crate) async fn feed(
    State(state): State<AppState>,
    Path(organization): Path<String>,
    view: PageView,
    token: FormToken,
    RawQuery(raw): RawQuery,
) -> Result<Response, DashboardError> {
    let PageView {
        member,
        query,
        feed,
        tz,
        scope,
        ..
    } = view;
    let after = feed.cursor()?;
    let page = if scope.installations.is_empty() {
        EventsPage::default()
    } else {
        let page = warehouse::queries::feed(
            &state.warehouse,
            &scope,
            &feed.filters(),
            after.as_ref(),
            PAGE_SIZE,
        )
        .await?;
        EventsPage::from(&page)
    };
    let workspace_name = |id: &str| {
        member
            .installations
            .iter()
            .find(|installation| installation.id.to_string() == id)
            .map(|installation| installation.base_url.clone())
            .unwrap_or_default()
    };
    let older = page.next.as_ref().map(|next| {
        let mut pairs = view_query_string(&query, &feed);
        pairs.append_pair("after", next);
        format!("?{}", pairs.finish())
    });
    let events = page
        .events
        .into_iter()
        .map(|event| EventLine {
            when: local_time(event.occurred_at_ms, tz, "%Y-%m-%d %H:%M:%S"),
            workspace: workspace_name(&event.installation_id),
            event,
        })
        .collect();
    let download = member.role.can_export().then(|| {
        format!(
            "/orgs/{organization}/export/events.csv?{}",
            view_query_string(&query, &feed).finish()
        )
    });
    let mut filters = FilterForm::new(&member, &query, tz);
    filters.show_event_type = true;
    filters.show_feed_filters = true;
    filters.issue_key = feed.issue_key.clone().unwrap_or_default();
    filters.actor = feed.actor.clone().unwrap_or_default();
    filters.kind = feed.kind.clone().unwrap_or_default();
    Ok(render(&FeedPage {
        frame: Frame::new(&member, state.onboarding_url.as_str(), tz, "events"),
        filters,
        save: SaveViewForm::new(&member, SavedPage::Events, raw.as_deref(), &token),
        show_workspace: member.installations.len() > 1,
        events,
        older,
        download,
        live: after.is_none(),
    }))
}

/// Milliseconds since the epoch as a time in the viewer's zone.
fn local_time(ms: i64, tz: Tz, format: &str) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|at| at.with_timezone(&tz).format(format).to_string())
        .unwrap_or_default()
}

/// The view's range, zone and filters as a query string, for the links that keep them: older
/// events, and the download of what the page shows.
fn view_query_string(
    query: &ViewQuery,
    feed: &FeedQuery,
) -> url::form_urlencoded::Serializer<'static, String> {
    let mut pairs = url::form_urlencoded::Serializer::new(String::new());
    for (name, values) in [
        ("project", &query.project),
        ("issue_type", &query.issue_type),
        ("event_type", &query.event_type),
        ("workspace", &query.workspace),
        ("priority", &query.priority),
        ("assignee", &query.assignee),
        ("label", &query.label),
        ("component", &query.component),
    ] {
        for value in values {
            pairs.append_pair(name, value);
        }
    }
    for (name, value) in [
        ("issue_key", &feed.issue_key),
        ("actor", &feed.actor),
        ("kind", &feed.kind),
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
    fields: Vec<(&'static str, String)>,
    detail: EventDetail,
    payload: Option<String>,
}

pub(crate) async fn event(
    State(state): State<AppState>,
    caller: PageCaller,
    Path((_, id)): Path<(String, String)>,
) -> Result<Response, DashboardError> {
    let (member, tz) = (caller.member, caller.tz);
    let key = event_id::decode(&id).ok_or(DashboardError::NotFound)?;
    let found = event_id::lookup(&state.warehouse, &member, &key)
        .await?
        .ok_or(DashboardError::NotFound)?;
    let detail = EventDetail::new(&found, member.role.can_see_payloads());
    let event = &detail.event;
    let at = |ms: i64| local_time(ms, tz, "%Y-%m-%d %H:%M:%S %Z");
    let happened = match substitute_time(&found.event.occurred_at_note) {
        Some(why) => format!("{} ({why})", at(event.occurred_at_ms)),
        None => at(event.occurred_at_ms),
    };
    let fields = vec![
        ("Happened", happened),
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
        // How it was delivered is for the page only; the API does not carry it.
        ("Delivered through", found.event.source.clone()),
        ("Delivery id", event.delivery_id.clone()),
    ];
    Ok(render(&EventPage {
        frame: Frame::new(&member, state.onboarding_url.as_str(), tz, "events"),
        fields,
        payload: detail.payload_text(),
        detail,
    }))
}

/// Why the pipeline stored the receipt time instead of Jira's own (`events.occurred_at_note`),
/// for the reader of the page; `None` when Jira's time stands.
fn substitute_time(note: &str) -> Option<&'static str> {
    match note {
        "" => None,
        "missing" => Some("Jira sent no time; this is when MetaFrazo received it"),
        "too_old" => Some(
            "Jira's time was older than the history MetaFrazo keeps; this is when MetaFrazo received it, and the payload has Jira's",
        ),
        "in_future" => Some(
            "Jira's time was more than a day after MetaFrazo received it; this is the receipt time, and the payload has Jira's",
        ),
        _ => Some("this is when MetaFrazo received it, not Jira's own time"),
    }
}
