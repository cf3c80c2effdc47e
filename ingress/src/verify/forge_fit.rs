//! Forge Remote events: `Authorization: Bearer <FIT>`, a Forge Invocation Token checked by
//! `atlassian_auth::forge_fit` (RS256, Forge JWKS, `iss`, `aud`, freshness); here whether
//! `app.installationId` names an active Forge installation, and that the token (by its `jti`)
//! carries no other delivery: a captured request is not replayed while its token lives.

use std::sync::Arc;

use atlassian_auth::{
    connect_jwt::ConnectJwtError,
    forge_fit::{FitError, FitVerifier},
};

use super::{
    Refused,
    seen_tokens::{SeenTokens, TokenUse},
};
use contracts::Source;

use crate::installations::{Installation, Installations};

pub struct ForgeVerifier {
    pub fit: FitVerifier,
    pub seen: SeenTokens,
}

/// A refusal (401), or our trouble (503: Forge retries, with a new token): the keys being
/// unreachable, or too many live tokens to remember another.
pub enum FitFailure {
    Refused(Refused, Option<String>),
    KeysUnavailable(String),
    TooManyTokens,
}

impl From<Refused> for FitFailure {
    fn from(refused: Refused) -> Self {
        Self::Refused(refused, None)
    }
}

impl From<ConnectJwtError> for FitFailure {
    fn from(err: ConnectJwtError) -> Self {
        Self::Refused(err.into(), None)
    }
}

impl From<FitError> for FitFailure {
    fn from(err: FitError) -> Self {
        match err {
            FitError::Token(err) => err.into(),
            FitError::WrongIssuer => Refused::WrongIssuer.into(),
            FitError::UnknownSigningKey => Refused::UnknownSigningKey.into(),
            FitError::KeysUnavailable(reason) => Self::KeysUnavailable(reason),
        }
    }
}

impl ForgeVerifier {
    pub async fn verify(
        &self,
        installations: &Installations,
        authorization: Option<&str>,
        now: i64,
    ) -> Result<Arc<Installation>, FitFailure> {
        let claims = self.fit.verify(authorization, now).await?;
        let installation_id = claims.app.installation_id;
        let refuse = |refused| FitFailure::Refused(refused, Some(installation_id.clone()));
        let installation = installations
            .get(&installation_id)
            .ok_or_else(|| refuse(Refused::UnknownInstallation))?;
        if installation.source != Source::Forge {
            return Err(refuse(Refused::WrongSource));
        }
        if !installation.installed {
            return Err(refuse(Refused::Uninstalled));
        }
        // Recorded last, once the token is wholly trusted: a forged token must not take a
        // place in the set.
        let jti = claims
            .jti
            .as_deref()
            .filter(|jti| !jti.is_empty())
            .ok_or_else(|| {
                refuse(Refused::Token(ConnectJwtError::MissingClaim(
                    "jti".to_owned(),
                )))
            })?;
        match self.seen.first_use(jti, claims.exp, now) {
            Ok(()) => Ok(installation),
            Err(TokenUse::Reused) => Err(refuse(Refused::TokenReused)),
            Err(TokenUse::Full) => Err(FitFailure::TooManyTokens),
        }
    }
}
