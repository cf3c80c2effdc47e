//! Atlassian's public keys for signed install callbacks, fetched by `kid` from the install-key
//! server (`{ATLASSIAN_INSTALL_KEYS_URL}/{kid}` answers a PEM) and cached: keys do not change
//! once published, so a kid is fetched once per process.

use std::{collections::HashMap, sync::Arc, time::Duration};

use jsonwebtoken::DecodingKey;
use tokio::sync::RwLock;
use url::Url;

#[derive(Debug, thiserror::Error)]
pub enum InstallKeyError {
    #[error("the key id is not one Atlassian would issue")]
    InvalidKeyId,
    #[error("Atlassian's install-key server does not know this key id")]
    UnknownKey,
    #[error("Atlassian's install-key server cannot be reached: {0}")]
    Unreachable(String),
    #[error("Atlassian's install-key server sent something that is not an RSA public key")]
    NotAKey,
}

#[derive(Clone)]
pub struct InstallKeys {
    base: Url,
    http: reqwest::Client,
    cache: Arc<RwLock<HashMap<String, DecodingKey>>>,
}

impl InstallKeys {
    pub fn new(base: Url) -> Self {
        Self {
            base,
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(5))
                .build()
                .expect("an HTTP client with a timeout"),
            cache: Arc::default(),
        }
    }

    pub async fn key(&self, kid: &str) -> Result<DecodingKey, InstallKeyError> {
        // The kid goes into a URL path: allow only what Atlassian's ids contain, so a token
        // cannot steer the request elsewhere.
        let valid = !kid.is_empty()
            && kid.len() <= 128
            && kid
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.')
            && !kid.starts_with('.');
        if !valid {
            return Err(InstallKeyError::InvalidKeyId);
        }
        if let Some(key) = self.cache.read().await.get(kid) {
            return Ok(key.clone());
        }
        let url = format!("{}/{kid}", self.base.as_str().trim_end_matches('/'));
        let response = self
            .http
            .get(&url)
            .send()
            .await
            .map_err(|err| InstallKeyError::Unreachable(err.to_string()))?;
        match response.status() {
            status if status.is_success() => {}
            reqwest::StatusCode::NOT_FOUND => return Err(InstallKeyError::UnknownKey),
            status => return Err(InstallKeyError::Unreachable(format!("answered {status}"))),
        }
        let pem = response
            .bytes()
            .await
            .map_err(|err| InstallKeyError::Unreachable(err.to_string()))?;
        let key = DecodingKey::from_rsa_pem(&pem).map_err(|_| InstallKeyError::NotAKey)?;
        self.cache.write().await.insert(kid.to_owned(), key.clone());
        Ok(key)
    }
}
