//! Everything Atlassian calls on onboarding: the Connect descriptor and the lifecycle callbacks.

pub mod descriptor;
mod error;
pub mod install_keys;
mod lifecycle;

pub use error::LifecycleError;
pub(crate) use lifecycle::lifecycle;
