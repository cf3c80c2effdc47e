//! How Atlassian proves who is calling us: a Connect JWT (HS256 with the installation's shared
//! secret, or RS256 for signed install callbacks) bound to its request by the `qsh` claim, a
//! Forge Invocation Token checked against Forge's JWKS, and the install-key server's public keys.

pub mod app_request;
pub mod connect_jwt;
pub mod forge_fit;
pub mod install_keys;
