//! Onboarding's Postgres store: the schema's migrations and one module per table family.

pub mod api_tokens;
pub mod audit;
pub mod identities;
pub mod installations;
pub mod invites;
mod migrate;
pub mod organizations;
pub mod outbox;
pub mod password_resets;
pub mod sessions;
pub mod setup_links;
pub mod users;

pub use migrate::{MigrateError, migrate};
