//! Atlassian's Forge signing keys, from the JWKS URL in config. Fetched on first use and again
//! when a token names a `kid` we do not hold (Atlassian rotates keys), but at most once a
//! minute, so a flood of tokens with invented kids cannot turn into a flood of fetches.

use std::{
    collections::HashMap,
    sync::Arc,
    time::{Duration, Instant},
};

use jsonwebtoken::{DecodingKey, jwk::JwkSet};
use tokio::sync::Mutex;
use url::Url;

const MIN_REFRESH_INTERVAL: Duration = Duration::from_secs(60);

#[derive(Debug, thiserror::Error)]
pub enum ForgeKeyError {
    #[error("no Forge key has this kid")]
    Unknown,
    #[error("the Forge JWKS cannot be fetched: {0}")]
    Unavailable(String),
}

#[derive(Clone)]
pub struct ForgeKeys {
    url: Url,
    http: reqwest::Client,
    state: Arc<Mutex<KeyState>>,
}

#[derive(Default)]
struct KeyState {
    keys: HashMap<String, DecodingKey>,
    last_fetch: Option<Instant>,
}

impl ForgeKeys {
    pub fn new(url: Url) -> Self {
        Self {
            url,
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(5))
                .build()
                .expect("an HTTP client with a timeout"),
            state: Arc::default(),
        }
    }

    pub async fn key(&self, kid: &str) -> Result<DecodingKey, ForgeKeyError> {
        let mut state = self.state.lock().await;
        if let Some(key) = state.keys.get(kid) {
            return Ok(key.clone());
        }
        let may_fetch = state
            .last_fetch
            .is_none_or(|at| at.elapsed() >= MIN_REFRESH_INTERVAL);
        if !may_fetch {
            return Err(ForgeKeyError::Unknown);
        }
        let fetched = self.fetch().await;
        state.last_fetch = Some(Instant::now());
        state.keys = fetched?;
        state.keys.get(kid).cloned().ok_or(ForgeKeyError::Unknown)
    }

    async fn fetch(&self) -> Result<HashMap<String, DecodingKey>, ForgeKeyError> {
        let set: JwkSet = self
            .http
            .get(self.url.clone())
            .send()
            .await
            .and_then(reqwest::Response::error_for_status)
            .map_err(|err| ForgeKeyError::Unavailable(err.to_string()))?
            .json()
            .await
            .map_err(|err| ForgeKeyError::Unavailable(err.to_string()))?;
        Ok(set
            .keys
            .iter()
            .filter_map(|jwk| {
                let kid = jwk.common.key_id.clone()?;
                DecodingKey::from_jwk(jwk).ok().map(|key| (kid, key))
            })
            .collect())
    }
}
