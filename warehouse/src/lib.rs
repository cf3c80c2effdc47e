//! The ClickHouse side of MetaFrazo: schema, migrations and every analytical query.
//! SQL here must run on Debian's ClickHouse 18.16 (the local stack) and on a current LTS; where
//! a choice exists only for 18.16, the SQL says so.

pub mod erase;
pub mod flow;
pub mod migrate;
pub mod queries;
pub mod retention;
pub mod rows;
pub mod sealing;
pub mod topology;

pub use erase::erase_installations;
pub use migrate::{MigrateError, migrate};
pub use rows::{EventRow, FieldChangeRow, SprintRow, WorklogRow};
pub use topology::Topology;
