//! The `installations` table: every connected Jira workspace and its state. Each write fires
//! the `installation_changed` notification (a trigger), which every ingress follows.

pub mod read_model;

use std::time::SystemTime;

use contracts::InstallationId;
pub use contracts::Source;
use deadpool_postgres::GenericClient;
use uuid::Uuid;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    Installed,
    Uninstalled,
    Disabled,
}

impl State {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Installed => "installed",
            Self::Uninstalled => "uninstalled",
            Self::Disabled => "disabled",
        }
    }
}

/// SQL for the organization of installation `i`, or else the one its Jira site was last
/// connected to: a Forge reinstall comes back with a new installation id for the same cloud id,
/// and should be offered its old organization (and history) like a Connect reinstall.
pub const PREVIOUS_ORGANIZATION: &str = "coalesce(i.organization_id,
    (SELECT p.organization_id FROM installations p
     WHERE p.cloud_id = i.cloud_id AND p.id <> i.id AND p.organization_id IS NOT NULL
     ORDER BY p.updated_at DESC LIMIT 1))";

/// A workspace as Atlassian (or an admin) announced it.
pub struct NewInstallation<'a> {
    pub source: Source,
    pub client_key: &'a str,
    pub base_url: &'a str,
    pub cloud_id: Option<&'a str>,
    /// Already encrypted with the `SecretCipher`; `None` for Forge.
    pub encrypted_secret: Option<&'a [u8]>,
    pub installer_account_id: Option<&'a str>,
    pub display_name: &'a str,
    /// Forge: `app.apiBaseUrl`, where the site's REST API is called.
    pub api_base_url: Option<&'a str>,
    /// Forge: the app system token, already encrypted with the `SecretCipher`.
    pub encrypted_system_token: Option<&'a [u8]>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recorded {
    pub id: Uuid,
    /// False when the client key was known: a reinstall, whose secret was rotated.
    pub first_install: bool,
    /// Whether it was installed just before this call (Jira re-sends `installed` to rotate a
    /// secret or on upgrades), as opposed to new or coming back after an uninstall.
    pub was_installed: bool,
    pub organization_id: Option<Uuid>,
}

impl Recorded {
    /// Whether the installing admin should get a setup email: a new or returning workspace, or
    /// one whose setup was never finished. Not for a secret rotation of a connected one.
    pub fn needs_setup_email(&self) -> bool {
        !self.was_installed || self.organization_id.is_none()
    }
}

/// Inserts the installation, or for a known client key of the same source rotates its secret
/// and marks it installed again, keeping its id (and so its organization and history).
/// `None` when the client key is already held by an installation of another source.
pub async fn record_install(
    client: &impl GenericClient,
    new: &NewInstallation<'_>,
) -> Result<Option<Recorded>, tokio_postgres::Error> {
    let row = client
        .query_opt(
            "WITH previous AS (SELECT state FROM installations WHERE client_key = $3)
             INSERT INTO installations
                 (id, source, client_key, base_url, cloud_id, secret, state, installer_account_id, display_name,
                  api_base_url, forge_system_token)
             VALUES ($1, $2, $3, $4, $5, $6, 'installed', $7, $8, $9, $10)
             ON CONFLICT (client_key) DO UPDATE SET
                 base_url = EXCLUDED.base_url,
                 cloud_id = coalesce(EXCLUDED.cloud_id, installations.cloud_id),
                 secret = EXCLUDED.secret,
                 state = 'installed',
                 installer_account_id = coalesce(EXCLUDED.installer_account_id, installations.installer_account_id),
                 api_base_url = coalesce(EXCLUDED.api_base_url, installations.api_base_url),
                 forge_system_token = coalesce(EXCLUDED.forge_system_token, installations.forge_system_token),
                 updated_at = now(),
                 uninstalled_at = NULL
             WHERE installations.source = EXCLUDED.source
             RETURNING id, (xmax = 0) AS inserted, organization_id,
                       coalesce((SELECT state = 'installed' FROM previous), false) AS was_installed",
            &[
                &Uuid::new_v4(),
                &new.source.store_name(),
                &new.client_key,
                &new.base_url,
                &new.cloud_id,
                &new.encrypted_secret,
                &new.installer_account_id,
                &new.display_name,
                &new.api_base_url,
                &new.encrypted_system_token,
            ],
        )
        .await?;
    Ok(row.map(|row| Recorded {
        id: row.get("id"),
        first_install: row.get("inserted"),
        was_installed: row.get("was_installed"),
        organization_id: row.get("organization_id"),
    }))
}

/// Sets the state of a known installation; false when the client key is unknown.
pub async fn set_state(
    client: &impl GenericClient,
    client_key: &str,
    state: State,
) -> Result<bool, tokio_postgres::Error> {
    let updated = client
        .execute(
            "UPDATE installations
             SET state = $2,
                 updated_at = now(),
                 uninstalled_at = CASE WHEN $2 = 'uninstalled' THEN now() ELSE uninstalled_at END
             WHERE client_key = $1",
            &[&client_key, &state.as_str()],
        )
        .await?;
    Ok(updated == 1)
}

/// Keeps the newest app system token Forge handed us for a Forge installation: the tokens are
/// short-lived, and the setup email's installer lookup needs a live one when it is sent again
/// long after the install. False when no installed Forge installation has that id.
pub async fn refresh_forge_system_token(
    client: &impl GenericClient,
    client_key: &str,
    encrypted_system_token: &[u8],
) -> Result<bool, tokio_postgres::Error> {
    let updated = client
        .execute(
            "UPDATE installations SET forge_system_token = $2, updated_at = now()
             WHERE client_key = $1 AND source = 'forge' AND state = 'installed'",
            &[&client_key, &encrypted_system_token],
        )
        .await?;
    Ok(updated == 1)
}

/// Records a lifecycle token as used; false when it was used before (a replay).
pub async fn first_use_of_token(
    client: &impl GenericClient,
    token_sha256: &[u8],
    expires_at: SystemTime,
) -> Result<bool, tokio_postgres::Error> {
    client
        .execute(
            "DELETE FROM lifecycle_tokens_seen WHERE expires_at < now() - interval '1 hour'",
            &[],
        )
        .await?;
    let inserted = client
        .execute(
            "INSERT INTO lifecycle_tokens_seen (token_sha256, expires_at) VALUES ($1, $2)
             ON CONFLICT DO NOTHING",
            &[&token_sha256, &expires_at],
        )
        .await?;
    Ok(inserted == 1)
}

/// The current state of an installation, for tests and the admin page.
pub async fn state_of(
    client: &impl GenericClient,
    client_key: &str,
) -> Result<Option<(Uuid, String, Option<Vec<u8>>)>, tokio_postgres::Error> {
    Ok(client
        .query_opt(
            "SELECT id, state, secret FROM installations WHERE client_key = $1",
            &[&client_key],
        )
        .await?
        .map(|row| (row.get(0), row.get(1), row.get(2))))
}

/// What the Jira admin page shows about an installation, and the secret its tokens are signed
/// with (still encrypted).
#[derive(Debug, Clone)]
pub struct AdminView {
    pub id: InstallationId,
    pub client_key: String,
    pub state: String,
    pub base_url: String,
    pub display_name: String,
    pub encrypted_secret: Option<Vec<u8>>,
    pub organization: Option<(Uuid, String)>,
}

pub async fn admin_view(
    client: &impl GenericClient,
    client_key: &str,
) -> Result<Option<AdminView>, tokio_postgres::Error> {
    let row = client
        .query_opt(
            "SELECT i.id, i.client_key, i.state, i.base_url, i.display_name, i.secret, o.id, o.name
             FROM installations i LEFT JOIN organizations o ON o.id = i.organization_id
             WHERE i.client_key = $1 AND i.source = 'connect'",
            &[&client_key],
        )
        .await?;
    Ok(row.map(|row| AdminView {
        id: row.get(0),
        client_key: row.get(1),
        state: row.get(2),
        base_url: row.get(3),
        display_name: row.get(4),
        encrypted_secret: row.get(5),
        organization: row
            .get::<_, Option<Uuid>>(6)
            .map(|id| (id, row.get::<_, String>(7))),
    }))
}

/// What the Forge admin page's calls need about a Forge installation.
#[derive(Debug, Clone)]
pub struct ForgeView {
    pub id: InstallationId,
    pub client_key: String,
    pub state: String,
    /// `app.apiBaseUrl` as the install call gave it.
    pub api_base_url: Option<String>,
    pub organization: Option<(Uuid, String)>,
}

pub async fn forge_view(
    client: &impl GenericClient,
    installation_id: &str,
) -> Result<Option<ForgeView>, tokio_postgres::Error> {
    let row = client
        .query_opt(
            "SELECT i.id, i.client_key, i.state, i.api_base_url, o.id, o.name
             FROM installations i LEFT JOIN organizations o ON o.id = i.organization_id
             WHERE i.client_key = $1 AND i.source = 'forge'",
            &[&installation_id],
        )
        .await?;
    Ok(row.map(|row| ForgeView {
        id: row.get(0),
        client_key: row.get(1),
        state: row.get(2),
        api_base_url: row.get(3),
        organization: row
            .get::<_, Option<Uuid>>(4)
            .map(|id| (id, row.get::<_, String>(5))),
    }))
}

/// The organization a workspace is connected to, and the address it was installed at: what an
/// uninstall records in that organization's audit log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Connected {
    pub organization_id: Uuid,
    pub base_url: String,
}

/// `None` when no installation has `client_key`, or it is connected to no organization.
pub async fn connected_organization(
    client: &impl GenericClient,
    client_key: &str,
) -> Result<Option<Connected>, tokio_postgres::Error> {
    let row = client
        .query_opt(
            "SELECT organization_id, base_url FROM installations
             WHERE client_key = $1 AND organization_id IS NOT NULL",
            &[&client_key],
        )
        .await?;
    Ok(row.map(|row| Connected {
        organization_id: row.get(0),
        base_url: row.get(1),
    }))
}

/// What the setup email needs of an installation: where to send it and how to ask Jira for the
/// installer's address (credentials still encrypted).
#[derive(Debug, Clone)]
pub struct SetupMailing {
    pub installed: bool,
    pub base_url: String,
    pub display_name: String,
    pub installer_account_id: Option<String>,
    /// The organization it is (or its Jira site was last) connected to, offered again.
    pub previous_organization_name: Option<String>,
    pub encrypted_secret: Option<Vec<u8>>,
    pub api_base_url: Option<String>,
    pub encrypted_system_token: Option<Vec<u8>>,
}

/// `None` when the installation is gone.
pub async fn setup_mailing(
    client: &impl GenericClient,
    installation: Uuid,
) -> Result<Option<SetupMailing>, tokio_postgres::Error> {
    let row = client
        .query_opt(
            &format!(
                "SELECT i.state, i.base_url, i.display_name, i.secret, i.installer_account_id,
                        o.name, i.api_base_url, i.forge_system_token
                 FROM installations i
                 LEFT JOIN organizations o ON o.id = {PREVIOUS_ORGANIZATION}
                 WHERE i.id = $1"
            ),
            &[&installation],
        )
        .await?;
    Ok(row.map(|row| SetupMailing {
        installed: row.get::<_, &str>(0) == State::Installed.as_str(),
        base_url: row.get(1),
        display_name: row.get(2),
        encrypted_secret: row.get(3),
        installer_account_id: row.get(4),
        previous_organization_name: row.get(5),
        api_base_url: row.get(6),
        encrypted_system_token: row.get(7),
    }))
}

/// What onboarding holds to call Jira as the app for an installation, still encrypted: the
/// Connect shared secret, or the Forge API base and app system token. A webhook connection has
/// only the HMAC secret of the events Jira sends us.
#[derive(Debug, Clone)]
pub struct AppCredentials {
    pub source: Source,
    pub base_url: String,
    pub encrypted_secret: Option<Vec<u8>>,
    pub api_base_url: Option<String>,
    pub encrypted_system_token: Option<Vec<u8>>,
}

/// `None` when the installation is gone, or its source is one this build does not know.
pub async fn app_credentials(
    client: &impl GenericClient,
    installation: Uuid,
) -> Result<Option<AppCredentials>, tokio_postgres::Error> {
    let row = client
        .query_opt(
            "SELECT source, base_url, secret, api_base_url, forge_system_token
             FROM installations WHERE id = $1",
            &[&installation],
        )
        .await?;
    Ok(row.and_then(|row| {
        Some(AppCredentials {
            source: Source::from_store_name(row.get(0)).ok()?,
            base_url: row.get(1),
            encrypted_secret: row.get(2),
            api_base_url: row.get(3),
            encrypted_system_token: row.get(4),
        })
    }))
}
