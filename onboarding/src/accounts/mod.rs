//! Account rules that are not storage: passwords, sign-in through identity providers, the
//! sign-in policies of organizations, and the count of sign-in attempts.

pub mod oidc;
pub mod passwords;
pub mod sign_in_metrics;
