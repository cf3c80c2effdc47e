//! Everything onboarding does with Atlassian: the Connect descriptor, the lifecycle callbacks,
//! the admin page Jira shows inside its UI, and the one Jira API we call (a user's email).

mod admin_page;
mod context_jwt;
pub mod descriptor;
mod error;
mod forge_lifecycle;
pub mod install_keys;
pub mod jira_users;
mod lifecycle;

pub(crate) use admin_page::{admin_page, resend_setup_email};
pub use error::LifecycleError;
pub use forge_lifecycle::FORGE_LIFECYCLE_PATH;
pub(crate) use forge_lifecycle::forge_lifecycle;
pub(crate) use lifecycle::lifecycle;
