//! Who may see what: the caller (an API token in `Authorization: Bearer`, else the session
//! cookie onboarding set), checked in Postgres on every request, their role in the organization
//! of the path, and, where the organization follows Jira's permissions, what their linked Jira
//! account may browse (`jira_permissions`). A non-member gets 404.

use accounts_store::{
    api_tokens,
    organizations::{self, LinkedInstallation},
    roles::Role,
    sessions::{self, SESSION_COOKIE, SignedIn},
    sign_in_policy::PolicyRefusal,
    tokens,
};
use axum::http::HeaderMap;
use axum_extra::extract::cookie::CookieJar;
use contracts::InstallationId;
use deadpool_postgres::Pool;
use jira_permissions::{Resolver, VisibilityError};
use warehouse::queries::Visibility;

use uuid::Uuid;

use crate::error::DashboardError;

/// A signed-in member of the organization a request is about.
pub(crate) struct Member {
    pub(crate) user: SignedIn,
    pub(crate) role: Role,
    pub(crate) organization_id: Uuid,
    pub(crate) organization_name: String,
    pub(crate) installations: Vec<LinkedInstallation>,
    /// What the member may see of them: everything, or only what their Jira account may
    /// browse when the organization follows Jira's permissions.
    pub(crate) visibility: Visibility,
}

impl Member {
    /// The organization's installations: the scope of every warehouse query.
    pub(crate) fn installation_ids(&self) -> Vec<InstallationId> {
        self.installations
            .iter()
            .map(|installation| installation.id)
            .collect()
    }
}

/// A cookie's value from the request.
fn cookie(headers: &HeaderMap, wanted: &str) -> Option<String> {
    CookieJar::from_headers(headers)
        .get(wanted)
        .map(|cookie| cookie.value().to_owned())
}

/// The browser's time zone, as the pages' script stored it.
pub(crate) fn time_zone_cookie(headers: &HeaderMap) -> Option<String> {
    // The script stores `encodeURIComponent(zone)`: `Europe%2FBerlin`, `Etc%2FGMT%2B1`.
    cookie(headers, "mf_tz").and_then(|value| {
        percent_encoding::percent_decode_str(&value)
            .decode_utf8()
            .ok()
            .map(|zone| zone.into_owned())
    })
}

/// `Authorization: Bearer <API token>`, for notebooks and BI tools.
fn bearer_token(headers: &HeaderMap) -> Option<String> {
    headers
        .get(axum::http::header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")
        .map(|token| token.trim().to_owned())
}

fn session_token(headers: &HeaderMap) -> Option<String> {
    cookie(headers, SESSION_COOKIE).filter(|token| tokens::well_formed(token))
}

/// The signed-in caller: a session cookie (pages and API) or an API token (API).
pub(crate) async fn user(
    postgres: &Pool,
    headers: &HeaderMap,
    sign_in_url: &str,
) -> Result<SignedIn, DashboardError> {
    let sign_in = || DashboardError::SignInFirst {
        sign_in_url: sign_in_url.to_owned(),
    };
    if let Some(token) = bearer_token(headers) {
        // A presented token decides alone: a wrong one is not rescued by a cookie.
        let client = postgres.get().await?;
        return api_tokens::authenticate(&client, &token)
            .await?
            .ok_or_else(sign_in);
    }
    let token = session_token(headers).ok_or_else(sign_in)?;
    let client = postgres.get().await?;
    sessions::authenticate(&client, &token)
        .await?
        .ok_or_else(sign_in)
}

/// Who asks (see [`user`]), their role in `organization` (a non-member gets 404) under its
/// sign-in policy, its installations, and what the member may see of them.
pub(crate) async fn member(
    postgres: &Pool,
    permissions: &Resolver,
    headers: &HeaderMap,
    organization: &str,
    sign_in_url: &str,
    onboarding_url: &str,
) -> Result<Member, DashboardError> {
    let user = user(postgres, headers, sign_in_url).await?;
    let organization_id = Uuid::parse_str(organization).map_err(|_| DashboardError::NotFound)?;
    let client = postgres.get().await?;
    let role = organizations::role_of(&client, organization_id, user.user_id)
        .await?
        .ok_or(DashboardError::NotFound)?;
    let organization = organizations::get(&client, organization_id)
        .await?
        .ok_or(DashboardError::NotFound)?;
    // The organization's sign-in policy (onboarding's, where owners set it) applies here too.
    let policy = organizations::sign_in_policy(&client, organization_id).await?;
    match policy.admits(&user.method, &user.email) {
        Ok(()) => {}
        Err(PolicyRefusal::SsoRequired) => {
            return Err(DashboardError::Forbidden(
                "this organization requires signing in with Google or Microsoft: sign out, then sign in again with one",
            ));
        }
        Err(PolicyRefusal::DomainNotAllowed) => {
            return Err(DashboardError::Forbidden(
                "this organization admits only addresses at its allowed email domains",
            ));
        }
    }
    let installations = organizations::installations(&client, organization_id).await?;
    drop(client);
    let ids: Vec<InstallationId> = installations
        .iter()
        .map(|installation| installation.id)
        .collect();
    let visibility = permissions
        .visibility(organization_id, user.user_id, &ids)
        .await
        .map_err(|err| match err {
            VisibilityError::NotLinked => DashboardError::LinkJiraFirst {
                account_url: format!("{}/account", onboarding_url.trim_end_matches('/')),
            },
            VisibilityError::Postgres(err) => DashboardError::Postgres(err),
            VisibilityError::Pool(err) => DashboardError::Pool(err),
            VisibilityError::Warehouse(err) => DashboardError::from(err),
            err @ VisibilityError::JiraUnavailable(_) => DashboardError::JiraUnavailable(err),
        })?;
    Ok(Member {
        user,
        role,
        organization_id,
        organization_name: organization.name,
        installations,
        visibility,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_browser_zone_cookie_is_read_whole_and_decoded() {
        let mut headers = HeaderMap::new();
        headers.insert(
            axum::http::header::COOKIE,
            "mf_session=x; mf_tz=Etc%2FGMT%2B1".parse().unwrap(),
        );
        assert_eq!(time_zone_cookie(&headers).as_deref(), Some("Etc/GMT+1"));
        assert_eq!(cookie(&headers, "mf_session").as_deref(), Some("x"));
        assert_eq!(cookie(&headers, "absent"), None);
    }
}
