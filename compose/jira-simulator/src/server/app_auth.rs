//! Which app is calling Jira's REST API, for which site: a Connect app signs each request with a
//! JWT (HS256 with its installation's shared secret, `iss` the app key, a qsh for this request);
//! a Forge app sends the app system token Forge handed it. Jira serves each site at its own host;
//! the simulator serves them all on one address, so the credential tells the sites apart.

use axum::http::{HeaderMap, Method, Uri, header};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;

use super::{
    ServerState,
    user_email::{LEEWAY_SECS, token},
};
use crate::{connect::ConnectInstallation, qsh::connect_qsh};

#[derive(Deserialize)]
pub(super) struct Claims {
    pub(super) iss: String,
    pub(super) qsh: String,
}

/// The claims of `token` if `installation`'s shared secret signed it, for its app, in time.
pub(super) fn verified(token: &str, installation: &ConnectInstallation) -> Option<Claims> {
    let mut validation = Validation::new(Algorithm::HS256);
    validation.leeway = LEEWAY_SECS;
    validation.set_required_spec_claims(&["exp", "iss"]);
    let claims: Claims = jsonwebtoken::decode(
        token,
        &DecodingKey::from_secret(installation.shared_secret.as_bytes()),
        &validation,
    )
    .ok()?
    .claims;
    (claims.iss == installation.app_key).then_some(claims)
}

/// The path part of the site's base URL: the site's REST API lives under it, so a qsh is
/// computed relative to it.
pub(super) fn site_path(installation: &ConnectInstallation) -> String {
    url::Url::parse(&installation.site_base_url)
        .map(|url| url.path().to_owned())
        .unwrap_or_default()
}

/// An app installed on a site, calling as itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct CallingApp {
    /// `https://<name>.atlassian.net`: the site whose data the call is about.
    pub(super) site_base_url: String,
    /// The Connect client key or the Forge installation id, for the logs.
    pub(super) installation: String,
}

#[derive(Debug, thiserror::Error)]
pub(super) enum AppAuthError {
    #[error("no Connect JWT or app system token in the Authorization header")]
    Missing,
    #[error("the JWT is not signed by an app installed here, or has expired")]
    UnknownSigner,
    #[error("the app is not installed on this site")]
    Uninstalled,
    #[error("the JWT's qsh does not match this request")]
    QshMismatch,
    #[error("the app system token is not valid")]
    UnknownToken,
}

/// The app making this request, by the credential it carries. Every error is Jira's 401.
pub(super) async fn calling_app(
    state: &ServerState,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
) -> Result<CallingApp, AppAuthError> {
    if let Some(bearer) = headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "))
    {
        // The lookup may read the installations file: keep that off the async workers.
        let registry = state.registry.clone();
        let system_token = bearer.trim().to_owned();
        let app = tokio::task::spawn_blocking(move || registry.forge_user(&system_token))
            .await
            .ok()
            .flatten()
            .ok_or(AppAuthError::UnknownToken)?;
        return Ok(CallingApp {
            site_base_url: app.site.url,
            installation: app.installation_id,
        });
    }
    let query = uri.query().unwrap_or_default();
    let jwt = token(headers, query).ok_or(AppAuthError::Missing)?;
    // The lookup may read the installations file: keep that off the async workers.
    let registry = state.registry.clone();
    let signed_with = jwt.clone();
    let (installation, installed) = tokio::task::spawn_blocking(move || {
        registry.connect_signed(|installation| verified(&signed_with, installation).is_some())
    })
    .await
    .ok()
    .flatten()
    .ok_or(AppAuthError::UnknownSigner)?;
    let claims = verified(&jwt, &installation).ok_or(AppAuthError::UnknownSigner)?;
    if claims.qsh
        != connect_qsh(
            method.as_str(),
            uri.path(),
            query,
            &site_path(&installation),
        )
    {
        return Err(AppAuthError::QshMismatch);
    }
    // Jira forgets an uninstalled app's secret: its JWTs no longer open the REST API.
    if !installed {
        return Err(AppAuthError::Uninstalled);
    }
    Ok(CallingApp {
        site_base_url: installation.site_base_url,
        installation: installation.client_key,
    })
}
