use futures::{FutureExt, future::BoxFuture};

use crate::DependencyCheck;

/// Runs `SELECT 1` through the same client the service queries with.
pub struct ClickHouseCheck(pub clickhouse::Client);

impl DependencyCheck for ClickHouseCheck {
    fn name(&self) -> &'static str {
        "clickhouse"
    }

    fn check(&self) -> BoxFuture<'_, Result<(), String>> {
        async move {
            self.0
                .query("SELECT 1")
                .fetch_one::<u8>()
                .await
                .map(drop)
                .map_err(|err| err.to_string())
        }
        .boxed()
    }
}
