//! `GET /`: the root of the one public address. A stranger signs in and comes back here, a member
//! of exactly one organization lands on its overview, anyone else on onboarding's list of their
//! organizations. Never "Page not found".

use axum::{
    extract::State,
    http::HeaderMap,
    response::{IntoResponse, Redirect, Response},
};

use crate::{AppState, access, error::DashboardError};

pub(crate) async fn home(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Response, DashboardError> {
    let user = match access::user(&state.postgres, &headers, &state.sign_in_url).await {
        Ok(user) => user,
        Err(DashboardError::SignInFirst { sign_in_url }) => {
            return Ok(Redirect::to(&format!("{sign_in_url}?next=%2F")).into_response());
        }
        Err(err) => return Err(err),
    };
    let client = state.postgres.get().await?;
    let organizations = accounts_store::organizations::of_user(&client, user.user_id).await?;
    let target = match organizations.as_slice() {
        [(only, _)] => format!("/orgs/{}", only.id),
        _ => format!(
            "{}/orgs",
            state.onboarding_url.as_str().trim_end_matches('/')
        ),
    };
    Ok(Redirect::to(&target).into_response())
}
