//! Account rules that are not storage: passwords and sign-in through identity providers (the
//! organizations' sign-in policies are in the accounts store).

pub mod atlassian_oauth;
pub mod oidc;
pub mod passwords;
