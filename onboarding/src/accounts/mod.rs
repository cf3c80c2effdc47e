//! Account rules that are not storage: passwords, and sign-in through identity providers.

pub mod oidc;
pub mod passwords;
