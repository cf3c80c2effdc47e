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
    // From the narrow table kept as events are inserted (migration 11), not from every event.
    let newest: i64 = client
        .query("SELECT maxMerge(received_ms) FROM last_received WHERE installation_id = ?")
        .bind(installation_id.to_string())
        .fetch_one()
        .await?;
    Ok((newest > 0).then(|| UNIX_EPOCH + Duration::from_millis(newest as u64)))
}
