//! Atlassian's OAuth 2.0 (3LO) authorization server, as a member linking their Atlassian account
//! meets it: one registered client, codes bound to a PKCE challenge, and bearer tokens that open
//! the platform API (`accessible-resources`, `/me`). The HTTP side is `server/oauth/`.

mod client;
mod grants;
mod pkce;
mod site;

pub(crate) use client::{allowed_redirect_uri, client_secret_matches, is_registered_client};
pub(crate) use grants::{AccessGrant, Consent, LinkedAccount, OAuthGrants, RedeemError};
pub(crate) use site::Site;
