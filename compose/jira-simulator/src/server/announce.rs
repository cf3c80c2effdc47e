//! `POST /_simulator/installations` and `/_simulator/installations/forget`: how a simulator in
//! another process (the CLI's `install`, a test) tells this `serve` about the installations it
//! makes and ends. Real Jira knows every site it installed an app on; here the process that
//! plays the install and the one that serves Jira's REST API are two, so the first announces
//! each installation before it calls the app, and the email and permission lookups the app makes
//! next find it.

use axum::{Json, extract::State, http::StatusCode};

use super::ServerState;
use crate::announce::Announcement;

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
