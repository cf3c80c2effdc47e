//! `POST /atlassian/lifecycle/{installed,uninstalled,enabled,disabled}`: Atlassian's install
//! callbacks. Trusted only when RS256-signed by Atlassian (key by `kid` from the install-key
//! server), addressed to our base URL, bound to this request by `qsh`, fresh, and not seen
//! before. Anything else is refused with 401 and changes nothing.

use atlassian_auth::{
    connect_jwt::{self, ConnectJwtError, Expected},
    install_keys::InstallKeyError,
};
use axum::{
    extract::{OriginalUri, Path, Request, State},
    http::{HeaderMap, StatusCode, header::AUTHORIZATION},
};
use jsonwebtoken::Algorithm;
use serde::Deserialize;
use sha2::{Digest, Sha256};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::{
    AppState,
    atlassian::{LifecycleError, body},
};
use accounts_store::{
    audit,
    installations::{self, NewInstallation, Source, State as InstallState},
    outbox::{self, Email},
};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum LifecycleEvent {
    Installed,
    Uninstalled,
    Enabled,
    Disabled,
}

impl LifecycleEvent {
    fn parse(name: &str) -> Option<Self> {
        match name {
            "installed" => Some(Self::Installed),
            "uninstalled" => Some(Self::Uninstalled),
            "enabled" => Some(Self::Enabled),
            "disabled" => Some(Self::Disabled),
            _ => None,
        }
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct LifecycleBody {
    key: String,
    client_key: String,
    #[serde(default)]
    shared_secret: Option<String>,
    base_url: String,
    #[serde(default)]
    cloud_id: Option<String>,
    #[serde(default)]
    description: Option<String>,
}

/// Atlassian sends secrets of at least 32 characters; a shorter one is not theirs.
const MIN_SHARED_SECRET_LEN: usize = 32;

pub(crate) async fn lifecycle(
    State(state): State<AppState>,
    Path(event): Path<String>,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    request: Request,
) -> Result<StatusCode, LifecycleError> {
    let body = body::read(request, state.atlassian.body_read_timeout).await?;
    let event = LifecycleEvent::parse(&event).ok_or(LifecycleError::UnknownEvent)?;
    let authorization = headers.get(AUTHORIZATION).and_then(|v| v.to_str().ok());
    let token =
        connect_jwt::token_from(authorization, uri.query()).ok_or(ConnectJwtError::Missing)?;
    let (header, issuer) = connect_jwt::peek(&token)?;
    // Only Atlassian's asymmetric signature proves an install: a shared-secret (HS256) token
    // could be minted by anyone who learned an old secret.
    if header.alg != Algorithm::RS256 {
        return Err(ConnectJwtError::UnsupportedAlgorithm(format!("{:?}", header.alg)).into());
    }
    let kid = header.kid.ok_or(ConnectJwtError::MissingKeyId)?;
    let key = state.install_keys.key(&kid).await?;
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs() as i64);
    let base_url = state.atlassian.base_url();
    let qsh = connect_jwt::query_string_hash(
        "POST",
        uri.path(),
        uri.query(),
        state.atlassian.public_base_url.path(),
    );
    let claims = connect_jwt::verify(
        &token,
        &key,
        &Expected {
            algorithm: Algorithm::RS256,
            qsh: &qsh,
            audience: Some(&base_url),
            leeway_secs: state.atlassian.jwt_leeway_secs,
            now,
        },
    )?;

    let body: LifecycleBody = serde_json::from_slice(&body)
        .map_err(|err| LifecycleError::InvalidBody(err.to_string()))?;
    if body.client_key != issuer || claims.iss != body.client_key {
        return Err(LifecycleError::ClientKeyMismatch);
    }
    if body.key != state.atlassian.app_key {
        return Err(LifecycleError::ForeignApp);
    }

    let mut client = state.postgres.get().await?;
    let transaction = client.transaction().await?;
    let token_hash = Sha256::digest(token.as_bytes());
    let expires_at = UNIX_EPOCH + Duration::from_secs(claims.exp.max(0) as u64);
    if !installations::first_use_of_token(&transaction, &token_hash, expires_at).await? {
        return Err(LifecycleError::Replayed);
    }
    match event {
        LifecycleEvent::Installed => {
            let secret = body
                .shared_secret
                .as_deref()
                .filter(|secret| secret.len() >= MIN_SHARED_SECRET_LEN)
                .ok_or_else(|| {
                    LifecycleError::InvalidBody(
                        "an install must carry a sharedSecret of 32 or more characters".to_owned(),
                    )
                })?;
            let encrypted = state.cipher.encrypt(secret.as_bytes());
            let recorded = installations::record_install(
                &transaction,
                &NewInstallation {
                    source: Source::Connect,
                    client_key: &body.client_key,
                    base_url: &body.base_url,
                    cloud_id: body.cloud_id.as_deref(),
                    encrypted_secret: Some(&encrypted),
                    installer_account_id: claims.sub.as_deref(),
                    display_name: body.description.as_deref().unwrap_or("").trim(),
                    api_base_url: None,
                    encrypted_system_token: None,
                },
            )
            .await?;
            let (recorded, setup_email) = welcome(&transaction, recorded, &body.base_url).await?;
            tracing::info!(
                client_key = %body.client_key,
                installation = %recorded.id,
                first_install = recorded.first_install,
                setup_email,
                "installed"
            );
        }
        LifecycleEvent::Uninstalled | LifecycleEvent::Enabled | LifecycleEvent::Disabled => {
            let new_state = match event {
                LifecycleEvent::Uninstalled => InstallState::Uninstalled,
                LifecycleEvent::Disabled => InstallState::Disabled,
                _ => InstallState::Installed,
            };
            let known = installations::set_state(&transaction, &body.client_key, new_state).await?;
            if event == LifecycleEvent::Uninstalled
                && let Some(connected) =
                    installations::connected_organization(&transaction, &body.client_key).await?
            {
                audit::record(
                    &transaction,
                    Some(connected.organization_id),
                    None,
                    "workspace_uninstalled",
                    &body.base_url,
                )
                .await?;
            }
            tracing::info!(client_key = %body.client_key, known, state = new_state.as_str(), "lifecycle");
        }
    }
    transaction.commit().await?;
    // After the commit, so the sender finds the row.
    state.outbox.wake();
    Ok(StatusCode::NO_CONTENT)
}

impl From<InstallKeyError> for LifecycleError {
    fn from(err: InstallKeyError) -> Self {
        match err {
            InstallKeyError::Unreachable(reason) => Self::KeyServerUnreachable(reason),
            other => Self::UntrustedKey(other),
        }
    }
}

/// After an install was recorded (Connect or Forge): queue the setup email when the admin needs
/// one, and note the install in the audit log. Answers the installation and whether an email was
/// queued; `None` (the client key belongs to another kind of installation) is refused.
pub(crate) async fn welcome(
    transaction: &impl deadpool_postgres::GenericClient,
    recorded: Option<installations::Recorded>,
    site: &str,
) -> Result<(installations::Recorded, bool), LifecycleError> {
    let recorded = recorded.ok_or(LifecycleError::ClientKeyTaken)?;
    let setup_email = recorded.needs_setup_email();
    if setup_email {
        outbox::enqueue(
            transaction,
            &Email::Setup {
                installation: recorded.id,
            },
        )
        .await?;
    }
    audit::record(
        transaction,
        recorded.organization_id,
        None,
        "workspace_installed",
        site,
    )
    .await?;
    Ok((recorded, setup_email))
}
