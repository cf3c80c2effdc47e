//! Readiness for a service that reads or writes the warehouse's tables: ready once the schema is
//! at the version this build knows. Without it a service started beside a fresh warehouse
//! answered ready while the pipeline (or `warehouse-migrate`) was still migrating (tens of
//! seconds on a cluster, every statement ON CLUSTER) and failed each request on a table that did
//! not exist yet.

use clickhouse::Client;
use futures::{FutureExt, future::BoxFuture};
use service_runtime::DependencyCheck;

use super::{current_version, latest_version};

/// Reads `schema_migrations` through the client the service works with.
pub struct SchemaCheck(pub Client);

impl DependencyCheck for SchemaCheck {
    fn name(&self) -> &'static str {
        "warehouse_schema"
    }

    fn check(&self) -> BoxFuture<'_, Result<(), String>> {
        async move {
            let needed = latest_version();
            match current_version(&self.0).await {
                // A newer build may have migrated further; its additions are not ours to read.
                Ok(found) if found >= needed => Ok(()),
                Ok(found) => Err(format!(
                    "the warehouse schema is at version {found}, this build needs {needed}: \
                     the pipeline (or warehouse-migrate) has not migrated it yet"
                )),
                Err(err) => Err(format!("cannot read the schema version: {err}")),
            }
        }
        .boxed()
    }
}
