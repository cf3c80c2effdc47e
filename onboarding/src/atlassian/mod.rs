//! Everything onboarding does with Atlassian: the Connect descriptor, the lifecycle callbacks,
//! the admin pages Jira shows inside its UI (Connect's, and the Forge page's remote calls), and
//! the Jira APIs we call (a user's email, whether a user administers Jira, whether the app is
//! still installed).

mod admin_page;
pub mod app_installed;
mod body;
mod context_jwt;
pub mod descriptor;
mod error;
mod forge_lifecycle;
mod forge_ui;
pub mod jira_users;
mod lifecycle;

pub(crate) use admin_page::{admin_page, finish_setup_here, resend_setup_email};
pub use error::LifecycleError;
pub use forge_lifecycle::FORGE_LIFECYCLE_PATH;
pub(crate) use forge_lifecycle::forge_lifecycle;
pub use forge_ui::{FORGE_UI_PATH, ForgeUiError};
pub(crate) use forge_ui::{
    link as forge_ui_link, resend as forge_ui_resend, status as forge_ui_status,
};
pub(crate) use lifecycle::lifecycle;
