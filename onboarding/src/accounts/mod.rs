//! Account rules that are not storage: passwords, sign-in through identity providers, and the
//! sign-in policies of organizations.

pub mod oidc;
pub mod passwords;
pub mod sign_in_policy;
