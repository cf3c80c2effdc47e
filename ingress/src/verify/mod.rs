//! Deciding whether a delivery really comes from the Jira workspace it names. One module per
//! way Atlassian (or a Jira admin) signs: Connect JWTs, Forge Invocation Tokens, webhook HMACs.

pub mod connect_jwt;
pub mod forge_fit;
pub mod replay_window;
pub mod seen_tokens;
pub mod webhook_hmac;

pub use atlassian_auth::forge_fit::ForgeKeys;

use atlassian_auth::connect_jwt::ConnectJwtError;

/// Why a delivery was not trusted. Every variant is a 401.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    #[error(transparent)]
    Token(#[from] ConnectJwtError),
    #[error("no installation is known for this workspace; install the app first")]
    UnknownInstallation,
    #[error("the app is uninstalled or disabled in this workspace; reinstall it to send events")]
    Uninstalled,
    #[error("this workspace is connected another way and cannot send here")]
    WrongSource,
    #[error("the token's issuer is not Atlassian's Forge")]
    WrongIssuer,
    #[error("the token is signed by a key Atlassian does not publish")]
    UnknownSigningKey,
    #[error("no X-Hub-Signature header (expected `sha256=<hex>`)")]
    MissingSignature,
    #[error("the X-Hub-Signature does not match the body")]
    BadSignature,
    #[error(
        "the body's timestamp is older than the replay window; a delivery is trusted only that long after Jira made it"
    )]
    StaleDelivery,
    #[error(
        "the body's timestamp is further ahead of our clock than the replay window; check the Jira server's clock"
    )]
    DeliveryFromTheFuture,
    #[error("the body has no timestamp (epoch milliseconds), so how old it is cannot be told")]
    NoTimestamp,
    #[error(
        "this Forge Invocation Token was already used; Forge sends a new one with every attempt"
    )]
    TokenReused,
}

impl Refused {
    pub fn code(&self) -> &'static str {
        match self {
            Self::Token(err) => err.code(),
            Self::UnknownInstallation => "unknown_installation",
            Self::Uninstalled => "uninstalled",
            Self::WrongSource => "wrong_source",
            Self::WrongIssuer => "wrong_issuer",
            Self::UnknownSigningKey => "unknown_signing_key",
            Self::MissingSignature => "missing_signature",
            Self::BadSignature => "bad_signature",
            Self::StaleDelivery => "stale_delivery",
            Self::DeliveryFromTheFuture => "delivery_from_the_future",
            Self::NoTimestamp => "no_timestamp",
            Self::TokenReused => "token_reused",
        }
    }
}

pub(crate) fn now_secs() -> i64 {
    now_millis() / 1000
}

pub(crate) fn now_millis() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| {
            i64::try_from(elapsed.as_millis()).unwrap_or(i64::MAX)
        })
}
