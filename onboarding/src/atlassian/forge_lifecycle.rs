//! `POST /forge/lifecycle`: the Forge app's lifecycle triggers (`installed`, `upgraded`) and its
//! `preUninstall` module, called through Forge Remote with a Forge Invocation Token and the app
//! system token. The installation is keyed by `app.installationId`; site and cloud id come from
//! the token, never the body. A FIT is used once: a replayed `jti` is refused.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use atlassian_auth::{connect_jwt::ConnectJwtError, forge_fit::FitClaims};
use axum::{
    extract::{Request, State},
    http::{HeaderMap, StatusCode, header::AUTHORIZATION},
};
use deadpool_postgres::GenericClient;
use serde::Deserialize;
use service_runtime::secret_cipher::SecretCipher;
use sha2::{Digest, Sha256};

use crate::{
    AppState,
    atlassian::{LifecycleError, body, lifecycle::welcome},
};
use accounts_store::{
    audit,
    installations::{self, NewInstallation, Source, State as InstallState},
};

pub const FORGE_LIFECYCLE_PATH: &str = "/forge/lifecycle";
/// The header Forge Remote carries the app system token in (`auth.appSystemToken` in the manifest).
const SYSTEM_TOKEN_HEADER: &str = "x-forge-oauth-system";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ForgeEvent {
    Installed,
    Upgraded,
    Uninstalled,
}

impl ForgeEvent {
    fn parse(event_type: &str) -> Option<Self> {
        match event_type {
            "avi:forge:installed:app" => Some(Self::Installed),
            "avi:forge:upgraded:app" => Some(Self::Upgraded),
            // What the `preUninstall` module receives.
            "avi:forge:uninstalled:app" => Some(Self::Uninstalled),
            _ => None,
        }
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ForgeLifecycleBody {
    event_type: String,
    #[serde(default)]
    installer_account_id: Option<String>,
}

/// Records the FIT as used; false when it was used before (a replay). The `jti` names the token;
/// without one, the whole token does.
pub(super) async fn first_use_of_fit(
    client: &impl GenericClient,
    claims: &FitClaims,
    authorization: Option<&str>,
) -> Result<bool, tokio_postgres::Error> {
    let used = match &claims.jti {
        Some(jti) => Sha256::digest(format!("forge-jti:{jti}").as_bytes()),
        None => Sha256::digest(
            authorization
                .unwrap_or_default()
                .trim()
                .trim_start_matches("Bearer ")
                .as_bytes(),
        ),
    };
    let expires_at = UNIX_EPOCH + Duration::from_secs(claims.exp.max(0) as u64);
    installations::first_use_of_token(client, &used, expires_at).await
}

/// The app system token Forge sent with a call (`x-forge-oauth-system`), encrypted for keeping.
/// Trust it only after the call's FIT has been verified.
pub(super) fn encrypted_system_token(
    headers: &HeaderMap,
    cipher: &SecretCipher,
) -> Option<Vec<u8>> {
    headers
        .get(SYSTEM_TOKEN_HEADER)
        .and_then(|value| value.to_str().ok())
        .map(str::trim)
        .filter(|token| !token.is_empty())
        .map(|token| cipher.encrypt(token.as_bytes()))
}

pub(crate) async fn forge_lifecycle(
    State(state): State<AppState>,
    headers: HeaderMap,
    request: Request,
) -> Result<StatusCode, LifecycleError> {
    let body = body::read(request, state.atlassian.body_read_timeout).await?;
    let authorization = headers.get(AUTHORIZATION).and_then(|v| v.to_str().ok());
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs() as i64);
    let claims = state.forge_fit.verify(authorization, now).await?;
    let body: ForgeLifecycleBody = serde_json::from_slice(&body)
        .map_err(|err| LifecycleError::InvalidBody(err.to_string()))?;
    let event = ForgeEvent::parse(&body.event_type)
        .ok_or_else(|| LifecycleError::UnknownForgeEvent(body.event_type.clone()))?;
    let installation_id = claims.app.installation_id.as_str();

    let mut client = state.postgres.get().await?;
    let transaction = client.transaction().await?;
    if !first_use_of_fit(&transaction, &claims, authorization).await? {
        return Err(LifecycleError::Replayed);
    }
    match event {
        ForgeEvent::Installed => {
            let context = claims.context.as_ref();
            let site_url = context
                .and_then(|context| context.site_url.as_deref())
                .ok_or_else(|| ConnectJwtError::MissingClaim("context.siteUrl".to_owned()))?;
            let cloud_id = context.and_then(|context| context.cloud_id.as_deref());
            let system_token = encrypted_system_token(&headers, &state.cipher);
            let display_name = url::Url::parse(site_url)
                .ok()
                .and_then(|url| url.host_str().map(str::to_owned))
                .unwrap_or_default();
            let recorded = installations::record_install(
                &transaction,
                &NewInstallation {
                    source: Source::Forge,
                    client_key: installation_id,
                    base_url: site_url,
                    cloud_id,
                    encrypted_secret: None,
                    installer_account_id: body.installer_account_id.as_deref(),
                    display_name: &display_name,
                    api_base_url: claims.app.api_base_url.as_deref(),
                    encrypted_system_token: system_token.as_deref(),
                },
            )
            .await?;
            let (recorded, setup_email) = welcome(&transaction, recorded, site_url).await?;
            tracing::info!(
                installation_id,
                installation = %recorded.id,
                first_install = recorded.first_install,
                setup_email,
                "forge installed"
            );
        }
        ForgeEvent::Upgraded => {
            if let Some(token) = encrypted_system_token(&headers, &state.cipher) {
                installations::refresh_forge_system_token(&transaction, installation_id, &token)
                    .await?;
            }
            tracing::info!(
                installation_id,
                version = claims.app.app_version.as_deref().unwrap_or("unknown"),
                "forge upgraded"
            );
        }
        ForgeEvent::Uninstalled => {
            let known =
                installations::set_state(&transaction, installation_id, InstallState::Uninstalled)
                    .await?;
            if let Some(connected) =
                installations::connected_organization(&transaction, installation_id).await?
            {
                audit::record(
                    &transaction,
                    Some(connected.organization_id),
                    None,
                    "workspace_uninstalled",
                    &connected.base_url,
                )
                .await?;
            }
            tracing::info!(installation_id, known, "forge uninstalled");
        }
    }
    transaction.commit().await?;
    // After the commit, so the sender finds the row.
    state.outbox.wake();
    Ok(StatusCode::NO_CONTENT)
}
