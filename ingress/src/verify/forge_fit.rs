//! Forge Remote events: `Authorization: Bearer <FIT>`, a Forge Invocation Token checked by
//! `atlassian_auth::forge_fit` (RS256, Forge JWKS, `iss`, `aud`, freshness); here only whether
//! `app.installationId` names an active Forge installation.

use std::sync::Arc;

use atlassian_auth::{
    connect_jwt::ConnectJwtError,
    forge_fit::{FitError, FitVerifier},
};

use super::Refused;
use contracts::Source;

use crate::installations::{Installation, Installations};

pub struct ForgeVerifier {
    pub fit: FitVerifier,
}

/// A refusal (401), or the keys being unreachable (503: Forge retries).
pub enum FitFailure {
    Refused(Refused, Option<String>),
    KeysUnavailable(String),
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
        Ok(installation)
    }
}
