//! When an installation's last event arrived: for the Jira admin page and the troubleshooting
//! page.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use clickhouse::Client;
use contracts::InstallationId;

use super::QueryError;

/// The receive time of the newest event stored for the installation; `None` before the first.
pub async fn last_event_received(
    client: &Client,
    installation_id: InstallationId,
) -> Result<Option<SystemTime>, QueryError> {
    // Prunes by the primary key, whose first column is the installation.
    let newest: i64 = client
        .query("SELECT max(received_at_ms) FROM events WHERE installation_id = ?")
        .bind(installation_id.to_string())
        .fetch_one()
        .await?;
    Ok((newest > 0).then(|| UNIX_EPOCH + Duration::from_millis(newest as u64)))
}
