//! What ingress needs to accept a workspace's events, read from `installations`: every row by
//! its client key, and the notification a trigger sends on every write (migration 0001). Ingress
//! holds these in memory; defined here, beside the writes, so a renamed column or channel is
//! one change that the compiler and this crate's tests see.

use contracts::{ClientKey, InstallationId, Source};

/// Sent by the `installation_changed` trigger with the row's client key as its payload.
pub const CHANGED_CHANNEL: &str = "installation_changed";

/// The statement that subscribes a connection to [`CHANGED_CHANNEL`].
pub fn listen_statement() -> String {
    format!("LISTEN {CHANGED_CHANNEL}")
}

/// One installation as ingress sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Access {
    pub id: InstallationId,
    pub client_key: ClientKey,
    pub source: Source,
    /// The shared secret (Connect) or HMAC secret (webhook) as stored, encrypted with the
    /// services' `SecretCipher`; none for Forge.
    pub encrypted_secret: Option<Vec<u8>>,
    /// Only installed workspaces may send; uninstalled and disabled ones are refused, and so
    /// are those a deleted organization released (`released_at`), until connected again.
    pub installed: bool,
}

const COLUMNS: &str = "SELECT id, client_key, source, secret, state, released_at IS NULL AS held \
                       FROM installations";

/// Every installation; a row this model cannot read is logged and left out.
pub async fn all(client: &tokio_postgres::Client) -> Result<Vec<Access>, tokio_postgres::Error> {
    let rows = client.query(COLUMNS, &[]).await?;
    Ok(rows.iter().filter_map(from_row).collect())
}

/// The installation of `client_key`, if there is one this model can read.
pub async fn by_client_key(
    client: &tokio_postgres::Client,
    client_key: &str,
) -> Result<Option<Access>, tokio_postgres::Error> {
    let row = client
        .query_opt(&format!("{COLUMNS} WHERE client_key = $1"), &[&client_key])
        .await?;
    Ok(row.as_ref().and_then(from_row))
}

fn from_row(row: &tokio_postgres::Row) -> Option<Access> {
    let client_key: &str = row.get("client_key");
    let Ok(client_key) = ClientKey::parse(client_key) else {
        tracing::error!("installation with an empty client key; ignored");
        return None;
    };
    let Ok(source) = Source::from_store_name(row.get("source")) else {
        tracing::error!(%client_key, "installation of an unknown source; ignored");
        return None;
    };
    Some(Access {
        id: row.get("id"),
        client_key,
        source,
        encrypted_secret: row.get("secret"),
        installed: row.get::<_, &str>("state") == super::State::Installed.as_str()
            && row.get::<_, bool>("held"),
    })
}
