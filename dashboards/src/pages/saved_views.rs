//! Saved views: "Save this view" on the weekly rates, trends, flow and events pages keeps the page
//! and its query string under a name, for the member alone or (analysts and above) for the whole
//! organization; `GET /orgs/{organization}/views` lists what the member sees, and
//! `GET /orgs/{organization}/views/{view}`, the link that is shared, sends them to the page.
//! Forms carry the CSRF token (`forms`), and each reads the caller's role in the transaction
//! that acts on it, holding their membership row, as onboarding's forms do.

use accounts_store::{
    organizations,
    saved_views::{
        self, Created, Deleted, NewView, QUERY_MAX_CHARS, SavedPage, SavedView, ViewName,
    },
};
use askama::Template;
use axum::{
    body::Bytes,
    extract::{Path, Query, State},
    response::{IntoResponse, Redirect, Response},
};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use url::form_urlencoded;
use uuid::Uuid;

use super::{frame::Frame, render};
use crate::{
    AppState,
    access::Member,
    error::DashboardError,
    feed_params::FeedQuery,
    forms::{self, FormToken},
    view_params::ViewQuery,
    view_request::PageCaller,
    views::saved_views::{link, opens},
};

/// The query keys a view keeps: its range, zone and filters (`view_params`) and the feed's
/// issue and actor (`feed_params`); never a page's paging cursor, nor anything no page reads.
const KEPT_KEYS: [&str; 10] = [
    "weeks",
    "from",
    "to",
    "tz",
    "workspace",
    "project",
    "issue_type",
    "event_type",
    "issue_key",
    "actor",
];

/// The "Save this view" form of a page: its own page and query string, the browser's CSRF
/// token, and whether the member may share (the server decides again when it is sent).
pub(crate) struct SaveViewForm {
    pub action: String,
    pub list: String,
    pub csrf: String,
    pub page: &'static str,
    pub query: String,
    pub can_share: bool,
}

impl SaveViewForm {
    pub(crate) fn new(
        member: &Member,
        page: SavedPage,
        raw_query: Option<&str>,
        token: &FormToken,
    ) -> Self {
        let list = format!("/orgs/{}/views", member.organization_id);
        Self {
            action: list.clone(),
            list,
            csrf: token.as_str().to_owned(),
            page: page.as_str(),
            query: raw_query.unwrap_or_default().to_owned(),
            can_share: member.role.can_share_views(),
        }
    }
}

/// What a page is called in the navigation.
fn page_title(page: SavedPage) -> &'static str {
    match page {
        SavedPage::Weekly => "Weekly rates",
        SavedPage::Trends => "Trends",
        SavedPage::Flow => "Flow",
        SavedPage::Events => "Events",
    }
}

/// The query a view keeps, read first as its page will read it, so a view that saves opens:
/// a range, zone or filter the page would refuse is refused here, with the page's reason.
/// Written back from the pairs (only `KEPT_KEYS`, blank values dropped), never stored as sent.
fn query_to_keep(raw: &str, member: &Member) -> Result<String, DashboardError> {
    let refuse = |err: DashboardError| {
        DashboardError::InvalidForm(format!(
            "This view's range or filters cannot be saved: {err}."
        ))
    };
    let query = ViewQuery::parse(Some(raw)).map_err(refuse)?;
    FeedQuery::parse(Some(raw)).map_err(refuse)?;
    let tz = query.time_zone(None).map_err(refuse)?;
    query.scope(member, tz).map_err(refuse)?;
    let kept = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(
            form_urlencoded::parse(raw.as_bytes()).filter(|(key, value)| {
                KEPT_KEYS.contains(&key.as_ref()) && !value.trim().is_empty()
            }),
        )
        .finish();
    if kept.len() > QUERY_MAX_CHARS {
        return Err(DashboardError::InvalidForm(format!(
            "This view's filters are too long to save (at most {QUERY_MAX_CHARS} characters): choose fewer."
        )));
    }
    Ok(kept)
}

/// The form of `POST /orgs/{organization}/views`. Missing fields read as empty, so a form
/// without its token is refused as such.
#[derive(Deserialize)]
struct SaveForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    page: String,
    #[serde(default)]
    query: String,
    /// The checkbox: present when ticked.
    shared: Option<String>,
}

#[derive(Deserialize)]
struct CsrfForm {
    #[serde(default)]
    csrf: String,
}

/// `POST /orgs/{organization}/views`: saves the page and query under the name, then shows the
/// list.
pub(crate) async fn save(
    State(state): State<AppState>,
    caller: PageCaller,
    token: FormToken,
    body: Bytes,
) -> Result<Response, DashboardError> {
    let form: SaveForm = forms::read(&body)?;
    token.check(&form.csrf)?;
    let member = &caller.member;
    let name = ViewName::parse(&form.name).map_err(|err| {
        DashboardError::InvalidForm(format!("{}.", capitalized(&err.to_string())))
    })?;
    let page = SavedPage::parse(&form.page).ok_or_else(|| {
        DashboardError::InvalidForm(
            "Only the weekly rates, trends, flow and events pages can be saved as views."
                .to_owned(),
        )
    })?;
    let query = query_to_keep(&form.query, member)?;
    let shared = form.shared.is_some();

    let mut client = state.postgres.get().await?;
    let transaction = client.transaction().await?;
    let role =
        organizations::role_of_locked(&transaction, member.organization_id, member.user.user_id)
            .await?
            .ok_or(DashboardError::NotFound)?;
    if shared && !role.can_share_views() {
        return Err(DashboardError::Forbidden(
            "sharing a view with the organization needs the analyst role; save it for yourself instead",
        ));
    }
    let view = NewView {
        name: &name,
        page,
        query: &query,
        shared,
    };
    match saved_views::create(
        &transaction,
        member.organization_id,
        member.user.user_id,
        &view,
    )
    .await?
    {
        Created::Created(_) => {}
        Created::DuplicateName if shared => {
            return Err(DashboardError::Conflict(format!(
                "The organization already has a shared view named \u{201c}{}\u{201d}. Choose another name.",
                name.as_str()
            )));
        }
        Created::DuplicateName => {
            return Err(DashboardError::Conflict(format!(
                "You already have a view named \u{201c}{}\u{201d}. Choose another name, or delete that one first.",
                name.as_str()
            )));
        }
        Created::NotAMember => return Err(DashboardError::NotFound),
    }
    transaction.commit().await?;
    Ok(back_to_list(member.organization_id, "saved"))
}

/// `POST /orgs/{organization}/views/{view}/delete`: a member's own view, or a shared one for
/// admins and owners.
pub(crate) async fn delete(
    State(state): State<AppState>,
    caller: PageCaller,
    token: FormToken,
    Path((_, view)): Path<(String, String)>,
    body: Bytes,
) -> Result<Response, DashboardError> {
    let form: CsrfForm = forms::read(&body)?;
    token.check(&form.csrf)?;
    let view = Uuid::parse_str(&view).map_err(|_| DashboardError::NotFound)?;
    let member = &caller.member;
    let mut client = state.postgres.get().await?;
    let transaction = client.transaction().await?;
    let role =
        organizations::role_of_locked(&transaction, member.organization_id, member.user.user_id)
            .await?
            .ok_or(DashboardError::NotFound)?;
    match saved_views::delete(
        &transaction,
        member.organization_id,
        member.user.user_id,
        role,
        view,
    )
    .await?
    {
        Deleted::Deleted => {}
        Deleted::NotFound => return Err(DashboardError::NotFound),
        Deleted::NotAllowed => {
            return Err(DashboardError::Forbidden(
                "deleting a view another member shared needs the admin role",
            ));
        }
    }
    transaction.commit().await?;
    Ok(back_to_list(member.organization_id, "deleted"))
}

/// `GET /orgs/{organization}/views/{view}`: the view's page with its query (303), for whoever
/// may see the view; 404 for anyone else, as for any page not theirs.
pub(crate) async fn open(
    State(state): State<AppState>,
    caller: PageCaller,
    Path((_, view)): Path<(String, String)>,
) -> Result<Response, DashboardError> {
    let view = Uuid::parse_str(&view).map_err(|_| DashboardError::NotFound)?;
    let member = &caller.member;
    let client = state.postgres.get().await?;
    let view = saved_views::get(&client, member.organization_id, member.user.user_id, view)
        .await?
        .ok_or(DashboardError::NotFound)?;
    Ok(Redirect::to(&opens(member.organization_id, view.page, &view.query)).into_response())
}

fn back_to_list(organization: Uuid, done: &str) -> Response {
    Redirect::to(&format!("/orgs/{organization}/views?done={done}")).into_response()
}

fn capitalized(text: &str) -> String {
    let mut chars = text.chars();
    chars
        .next()
        .map(|first| first.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

#[derive(Deserialize)]
pub(crate) struct Done {
    done: Option<String>,
}

/// Fixed notices by name: the query string never puts text of its own on the page.
fn notice(done: Option<&str>) -> Option<&'static str> {
    Some(match done? {
        "saved" => "View saved. Open it from here, or share its link.",
        "deleted" => "View deleted.",
        _ => return None,
    })
}

/// A row of the list.
struct ViewLine {
    name: String,
    page: &'static str,
    /// The range and filters, for a person: `weeks 8 · project PAY`.
    filters: String,
    /// The view's own path: opening it, or sharing it.
    href: String,
    /// The same on the public address, to copy.
    link: String,
    author: String,
    mine: bool,
    saved_on: String,
    /// Where its delete button posts, when the member may delete it.
    delete: Option<String>,
}

#[derive(Template)]
#[template(path = "views.html")]
struct ViewsPage {
    frame: Frame,
    csrf: String,
    notice: Option<&'static str>,
    can_share: bool,
    personal: Vec<ViewLine>,
    shared: Vec<ViewLine>,
}

/// `GET /orgs/{organization}/views`: the member's own views, then the organization's.
pub(crate) async fn list(
    State(state): State<AppState>,
    caller: PageCaller,
    token: FormToken,
    Query(done): Query<Done>,
) -> Result<Response, DashboardError> {
    let member = &caller.member;
    let client = state.postgres.get().await?;
    let views = saved_views::visible(&client, member.organization_id, member.user.user_id).await?;
    let public = state.dashboards_url.as_str().trim_end_matches('/');
    let line = |view: SavedView| {
        let href = link(member.organization_id, view.id);
        ViewLine {
            page: page_title(view.page),
            filters: filters_summary(&view.query, member),
            link: format!("{public}{href}"),
            delete: view
                .deletable_by(member.user.user_id, member.role)
                .then(|| format!("{href}/delete")),
            href,
            mine: view.owner_id == member.user.user_id,
            saved_on: DateTime::<Utc>::from(view.created_at)
                .with_timezone(&caller.tz)
                .format("%Y-%m-%d")
                .to_string(),
            author: view.owner_email,
            name: view.name,
        }
    };
    let (shared, personal): (Vec<SavedView>, Vec<SavedView>) =
        views.into_iter().partition(|view| view.shared);
    Ok(render(&ViewsPage {
        frame: Frame::new(member, state.onboarding_url.as_str(), caller.tz, "views"),
        csrf: token.as_str().to_owned(),
        notice: notice(done.done.as_deref()),
        can_share: member.role.can_share_views(),
        personal: personal.into_iter().map(line).collect(),
        shared: shared.into_iter().map(line).collect(),
    }))
}

/// A saved query for a person: each key and value, workspaces by name.
fn filters_summary(query: &str, member: &Member) -> String {
    let parts: Vec<String> = form_urlencoded::parse(query.as_bytes())
        .map(|(key, value)| {
            let value = match key.as_ref() {
                "workspace" => member
                    .installations
                    .iter()
                    .find(|installation| installation.id.to_string() == value)
                    .map_or_else(
                        || value.to_string(),
                        |installation| installation.label().to_owned(),
                    ),
                _ => value.to_string(),
            };
            format!("{} {value}", key.replace('_', " "))
        })
        .collect();
    if parts.is_empty() {
        format!(
            "the page's defaults (the last {} weeks)",
            crate::view_params::DEFAULT_WEEKS
        )
    } else {
        parts.join(" · ")
    }
}
