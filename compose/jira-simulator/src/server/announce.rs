//! `POST /_simulator/installations` and `/_simulator/installations/forget`: how a simulator in
//! another process (the CLI's `install`, a test) tells this `serve` about the installations it
//! makes and ends. Real Jira knows every site it installed an app on; here the process that
//! plays the install and the one that serves Jira's REST API are two, so the first announces
//! each installation before it calls the app, and the email and permission lookups the app makes
//! next find it.
//!
//! `POST /_simulator/permissions` and `/_simulator/permissions/failing`: how a test in another
//! process changes what each account may see on a site, or makes the bulk permission check fail,
//! as a Jira admin changing a permission scheme (or an incident) would while the app runs.

use axum::{Json, extract::State, http::StatusCode};

use super::ServerState;
use crate::announce::{Announcement, FailingAnnouncement, PermissionsAnnouncement};

pub(super) async fn installed(
    State(state): State<ServerState>,
    Json(announcement): Json<Announcement>,
) -> StatusCode {
    state.registry.remember(&announcement);
    StatusCode::NO_CONTENT
}

pub(super) async fn forget(
    State(state): State<ServerState>,
    Json(announcement): Json<Announcement>,
) -> StatusCode {
    state.registry.forget(&announcement);
    StatusCode::NO_CONTENT
}

pub(super) async fn permissions(
    State(state): State<ServerState>,
    Json(announcement): Json<PermissionsAnnouncement>,
) -> StatusCode {
    state
        .permissions
        .set(&announcement.site, announcement.permissions);
    StatusCode::NO_CONTENT
}

pub(super) async fn permissions_failing(
    State(state): State<ServerState>,
    Json(announcement): Json<FailingAnnouncement>,
) -> StatusCode {
    state.permissions.set_failing(announcement.failing);
    StatusCode::NO_CONTENT
}
