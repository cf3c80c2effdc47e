//! Connect webhooks: `Authorization: JWT <token>`, HS256 with the installation's shared secret,
//! `iss` the client key, `qsh` binding the token to this request, fresh within the leeway.

use std::sync::Arc;

use atlassian_auth::connect_jwt::{self, ConnectJwtError, Expected};
use jsonwebtoken::{Algorithm, DecodingKey};
use secrecy::ExposeSecret;

use super::Refused;
use contracts::Source;

use crate::installations::{Installation, Installations};

pub struct ConnectRequest<'a> {
    pub authorization: Option<&'a str>,
    pub method: &'a str,
    pub path: &'a str,
    pub query: Option<&'a str>,
}

pub struct ConnectVerifier {
    pub base_path: String,
    pub leeway_secs: u64,
}

impl ConnectVerifier {
    pub fn verify(
        &self,
        installations: &Installations,
        request: &ConnectRequest<'_>,
        now: i64,
    ) -> Result<Arc<Installation>, (Refused, Option<String>)> {
        let token = connect_jwt::token_from(request.authorization, request.query)
            .ok_or((ConnectJwtError::Missing.into(), None))?;
        let (header, issuer) = connect_jwt::peek(&token).map_err(|err| (err.into(), None))?;
        let refuse = |refused: Refused| (refused, Some(issuer.clone()));
        // Refuse other algorithms before touching any key: `none`, and RS256 signed with a
        // shared secret mistaken for a public key, are the classic confusions.
        if header.alg != Algorithm::HS256 {
            return Err(refuse(
                ConnectJwtError::UnsupportedAlgorithm(format!("{:?}", header.alg)).into(),
            ));
        }
        let installation = installations
            .get(&issuer)
            .ok_or_else(|| refuse(Refused::UnknownInstallation))?;
        if installation.source != Source::Connect {
            return Err(refuse(Refused::WrongSource));
        }
        if !installation.installed {
            return Err(refuse(Refused::Uninstalled));
        }
        let secret = installation
            .secret
            .as_ref()
            .ok_or_else(|| refuse(Refused::UnknownInstallation))?;
        let qsh = connect_jwt::query_string_hash(
            request.method,
            request.path,
            request.query,
            &self.base_path,
        );
        connect_jwt::verify(
            &token,
            &DecodingKey::from_secret(secret.expose_secret()),
            &Expected {
                algorithm: Algorithm::HS256,
                qsh: &qsh,
                audience: None,
                leeway_secs: self.leeway_secs,
                now,
            },
        )
        .map_err(|err| refuse(err.into()))?;
        Ok(installation)
    }
}
