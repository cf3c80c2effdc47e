//! The Postgres store of accounts and installations: the schema's migrations and one module per
//! table family. Onboarding writes it; the dashboards read who is signed in and what they may
//! see, and write only their members' saved views (`saved_views`); ingress follows the
//! installations read model. Every SQL statement on these tables is in this crate, so a
//! newcomer asking "where is the SQL for members?" opens `organizations.rs`.

pub mod access;
pub mod api_tokens;
pub mod atlassian_accounts;
pub mod audit;
pub mod csrf;
pub mod digests;
pub mod email_verifications;
pub mod identities;
pub mod installations;
pub mod invites;
pub mod jira_permissions;
mod migrate;
pub mod organizations;
pub mod outbox;
pub mod password_resets;
pub mod roles;
pub mod saved_views;
pub mod sessions;
pub mod setup_links;
pub mod sign_in_policy;
pub mod tokens;
pub mod users;

pub use migrate::{MigrateError, migrate};
