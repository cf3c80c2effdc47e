//! Onboarding's Postgres store: the schema's migrations and one module per table family.

pub mod installations;
mod migrate;

pub use migrate::{MigrateError, migrate};
