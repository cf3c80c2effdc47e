//! Forge Invocation Tokens (FITs), as ingress and onboarding both receive them from Forge Remote:
//! RS256 only, key by `kid` from the Forge JWKS, `iss` `forge/invocation-token`, `aud` exactly our
//! app ARI, `exp`/`nbf`/`iat` within the leeway. What the installation may do is the caller's call.

mod keys;

pub use keys::{FetchLimits, ForgeKeyError, ForgeKeys};

/// `FORGE_APP_ID`'s default, read by ingress and onboarding alike: the demo app's ARI, which the
/// local simulator signs for. A deployment sets its own app's (`forge register` prints it).
pub const DEMO_APP_ID: &str = "ari:cloud:ecosystem::app/406d303d-0393-4ec4-ad7c-1435be94583a";

/// `FORGE_JWKS_URL`'s default: the local Jira simulator's. Atlassian's is
/// `https://forge.cdn.prod.atlassian-dev.net/.well-known/jwks.json`.
pub const LOCAL_JWKS_URL: &str = "http://127.0.0.1:8090/forge/jwks.json";

/// Which Forge app we are and where its tokens' keys are: read once, from the same variables, by
/// ingress (events) and onboarding (lifecycle calls), so the two cannot accept different apps.
#[derive(Debug, Clone, clap::Args)]
pub struct ForgeAppConfig {
    /// The app's ARI: the only `aud` accepted in a Forge Invocation Token.
    #[arg(long = "forge-app-id", env = "FORGE_APP_ID", default_value = DEMO_APP_ID)]
    pub app_id: String,
    /// Where the keys that sign Forge Invocation Tokens are published.
    #[arg(long = "forge-jwks-url", env = "FORGE_JWKS_URL", default_value = LOCAL_JWKS_URL)]
    pub jwks_url: url::Url,
}

use jsonwebtoken::{Algorithm, Validation, errors::ErrorKind};
use serde::Deserialize;

use crate::connect_jwt::{self, ConnectJwtError};

pub const ISSUER: &str = "forge/invocation-token";

/// The claims we use; Forge sends more, which are ignored.
#[derive(Debug, Clone, Deserialize)]
pub struct FitClaims {
    pub exp: i64,
    #[serde(default)]
    pub iat: Option<i64>,
    #[serde(default)]
    pub nbf: Option<i64>,
    #[serde(default)]
    pub jti: Option<String>,
    pub app: FitApp,
    #[serde(default)]
    pub context: Option<FitContext>,
    /// The account id of the user whose action made the call (a UI's `invokeRemote`); absent for
    /// product events and lifecycle calls.
    #[serde(default)]
    pub principal: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FitApp {
    pub installation_id: String,
    #[serde(default)]
    pub api_base_url: Option<String>,
    #[serde(default)]
    pub app_version: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FitContext {
    #[serde(default)]
    pub cloud_id: Option<String>,
    #[serde(default)]
    pub site_url: Option<String>,
}

/// Why a FIT was not trusted; every variant but `KeysUnavailable` is the caller's 401.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FitError {
    #[error(transparent)]
    Token(#[from] ConnectJwtError),
    #[error("the token's issuer is not Atlassian's Forge")]
    WrongIssuer,
    #[error("the token is signed by a key Atlassian does not publish")]
    UnknownSigningKey,
    /// Our trouble, not the caller's: answer 503 so Forge retries.
    #[error("the Forge JWKS cannot be fetched: {0}")]
    KeysUnavailable(String),
}

impl FitError {
    /// A stable code for API bodies, logs and metric labels.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Token(err) => err.code(),
            Self::WrongIssuer => "wrong_issuer",
            Self::UnknownSigningKey => "unknown_signing_key",
            Self::KeysUnavailable(_) => "keys_unavailable",
        }
    }
}

pub struct FitVerifier {
    pub keys: ForgeKeys,
    /// Our app ARI: the only `aud` accepted.
    pub app_id: String,
    pub leeway_secs: u64,
}

impl FitVerifier {
    /// Verifies the FIT in an `Authorization: Bearer <FIT>` header value at time `now` (epoch
    /// seconds) and answers its claims.
    pub async fn verify(
        &self,
        authorization: Option<&str>,
        now: i64,
    ) -> Result<FitClaims, FitError> {
        let token = authorization
            .and_then(|value| value.trim().strip_prefix("Bearer "))
            .map(str::trim)
            .ok_or(ConnectJwtError::Missing)?;
        let header = connect_jwt::decode_header(token)?;
        if header.alg != Algorithm::RS256 {
            return Err(ConnectJwtError::UnsupportedAlgorithm(format!("{:?}", header.alg)).into());
        }
        let kid = header.kid.ok_or(ConnectJwtError::MissingKeyId)?;
        let key = match self.keys.key(&kid).await {
            Ok(key) => key,
            Err(ForgeKeyError::Unknown) => return Err(FitError::UnknownSigningKey),
            Err(ForgeKeyError::Unavailable(reason)) => {
                return Err(FitError::KeysUnavailable(reason));
            }
        };
        let mut validation = Validation::new(Algorithm::RS256);
        // Time is checked below, against the injected `now`.
        validation.validate_exp = false;
        validation.validate_nbf = false;
        validation.set_audience(&[&self.app_id]);
        validation.set_issuer(&[ISSUER]);
        validation.required_spec_claims =
            ["iss".to_owned(), "aud".to_owned(), "exp".to_owned()].into();
        let claims = jsonwebtoken::decode::<FitClaims>(token, &key, &validation)
            .map_err(|err| match err.kind() {
                ErrorKind::InvalidSignature => FitError::Token(ConnectJwtError::BadSignature),
                ErrorKind::InvalidAudience => FitError::Token(ConnectJwtError::WrongAudience),
                ErrorKind::InvalidIssuer => FitError::WrongIssuer,
                ErrorKind::MissingRequiredClaim(claim) => {
                    FitError::Token(ConnectJwtError::MissingClaim(claim.clone()))
                }
                ErrorKind::Json(_) => FitError::Token(ConnectJwtError::MissingClaim(
                    "app.installationId".to_owned(),
                )),
                _ => FitError::Token(ConnectJwtError::Malformed),
            })?
            .claims;
        let leeway = i64::try_from(self.leeway_secs).unwrap_or(i64::MAX);
        if claims.exp.saturating_add(leeway) < now {
            return Err(ConnectJwtError::Expired.into());
        }
        let not_before = [claims.iat, claims.nbf].into_iter().flatten().max();
        if not_before.is_some_and(|at| at.saturating_sub(leeway) > now) {
            return Err(ConnectJwtError::IssuedInTheFuture.into());
        }
        Ok(claims)
    }
}
