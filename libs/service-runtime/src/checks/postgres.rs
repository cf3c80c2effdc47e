use deadpool_postgres::Pool;
use futures::{FutureExt, future::BoxFuture};

use crate::DependencyCheck;

/// Takes a pooled connection and runs `SELECT 1`, so a broken pooled connection is noticed too.
pub struct PostgresCheck(pub Pool);

impl DependencyCheck for PostgresCheck {
    fn name(&self) -> &'static str {
        "postgres"
    }

    fn check(&self) -> BoxFuture<'_, Result<(), String>> {
        async move {
            let client = self.0.get().await.map_err(|err| err.to_string())?;
            client
                .simple_query("SELECT 1")
                .await
                .map_err(|err| err.to_string())?;
            Ok(())
        }
        .boxed()
    }
}
