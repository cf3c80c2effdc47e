//! Forge Remote events: `Authorization: Bearer <FIT>`, a Forge Invocation Token signed RS256 by
//! Atlassian (keys from the Forge JWKS), `iss` `forge/invocation-token`, `aud` our app id,
//! fresh within the leeway; `app.installationId` names the installation.

use std::sync::Arc;

use jsonwebtoken::{Algorithm, Validation, errors::ErrorKind};
use serde::Deserialize;
use service_kit::connect_jwt::ConnectJwtError;

use super::{ForgeKeys, Refused, forge_keys::ForgeKeyError};
use crate::{
    envelope::Source,
    installations::{Installation, Installations},
};

pub const ISSUER: &str = "forge/invocation-token";

#[derive(Debug, Deserialize)]
struct FitClaims {
    exp: i64,
    #[serde(default)]
    iat: Option<i64>,
    app: FitApp,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct FitApp {
    installation_id: String,
}

pub struct ForgeVerifier {
    pub keys: ForgeKeys,
    pub app_id: String,
    pub leeway_secs: u64,
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

impl ForgeVerifier {
    pub async fn verify(
        &self,
        installations: &Installations,
        authorization: Option<&str>,
        now: i64,
    ) -> Result<Arc<Installation>, FitFailure> {
        let token = authorization
            .and_then(|value| value.trim().strip_prefix("Bearer "))
            .map(str::trim)
            .ok_or(ConnectJwtError::Missing)?;
        let header = service_kit::connect_jwt::decode_header(token)?;
        if header.alg != Algorithm::RS256 {
            return Err(ConnectJwtError::UnsupportedAlgorithm(format!("{:?}", header.alg)).into());
        }
        let kid = header.kid.ok_or(ConnectJwtError::MissingKeyId)?;
        let key = match self.keys.key(&kid).await {
            Ok(key) => key,
            Err(ForgeKeyError::Unknown) => return Err(Refused::UnknownSigningKey.into()),
            Err(ForgeKeyError::Unavailable(reason)) => {
                return Err(FitFailure::KeysUnavailable(reason));
            }
        };
        let mut validation = Validation::new(Algorithm::RS256);
        validation.validate_exp = false;
        validation.set_audience(&[&self.app_id]);
        validation.set_issuer(&[ISSUER]);
        validation.required_spec_claims =
            ["iss".to_owned(), "aud".to_owned(), "exp".to_owned()].into();
        let claims = jsonwebtoken::decode::<FitClaims>(token, &key, &validation)
            .map_err(|err| match err.kind() {
                ErrorKind::InvalidSignature => Refused::Token(ConnectJwtError::BadSignature),
                ErrorKind::InvalidAudience => Refused::Token(ConnectJwtError::WrongAudience),
                ErrorKind::InvalidIssuer => Refused::WrongIssuer,
                ErrorKind::MissingRequiredClaim(claim) => {
                    Refused::Token(ConnectJwtError::MissingClaim(claim.clone()))
                }
                ErrorKind::Json(_) => Refused::Token(ConnectJwtError::MissingClaim(
                    "app.installationId".to_owned(),
                )),
                _ => Refused::Token(ConnectJwtError::Malformed),
            })?
            .claims;
        let leeway = i64::try_from(self.leeway_secs).unwrap_or(i64::MAX);
        if claims.exp.saturating_add(leeway) < now {
            return Err(ConnectJwtError::Expired.into());
        }
        if claims
            .iat
            .is_some_and(|iat| iat.saturating_sub(leeway) > now)
        {
            return Err(ConnectJwtError::IssuedInTheFuture.into());
        }
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
