//! Atlassian's Forge signing keys, from the JWKS URL in config. Fetched on first use and again
//! when a token names a `kid` we do not hold (Atlassian rotates keys), but at most once a
//! minute, so a flood of tokens with invented kids cannot turn into a flood of fetches.
//!
//! A fetch that fails is our trouble, never the caller's: until a fetch succeeds, a token whose
//! key we lack is answered "unavailable" (503, which Forge retries), never "unknown" (401, which
//! it does not), and the next fetch is tried after a short back-off rather than the minute.
//! Keys already held are served without waiting on a fetch under way.

use std::{
    collections::HashMap,
    sync::{Arc, PoisonError, RwLock},
    time::{Duration, Instant},
};

use jsonwebtoken::{DecodingKey, jwk::JwkSet};
use tokio::sync::Mutex;
use url::Url;

#[derive(Debug, thiserror::Error)]
pub enum ForgeKeyError {
    #[error("no Forge key has this kid")]
    Unknown,
    #[error("the Forge JWKS cannot be fetched: {0}")]
    Unavailable(String),
}

/// How often the key set may be fetched.
#[derive(Debug, Clone, Copy)]
pub struct FetchLimits {
    /// After a fetch that succeeded: an unknown kid within this is refused without a fetch.
    pub refresh: Duration,
    /// After a fetch that failed: tokens we hold no key for are answered "unavailable" until
    /// this has passed, then the next one fetches again.
    pub retry_after_failure: Duration,
}

impl Default for FetchLimits {
    fn default() -> Self {
        Self {
            refresh: Duration::from_secs(60),
            retry_after_failure: Duration::from_secs(2),
        }
    }
}

#[derive(Clone)]
pub struct ForgeKeys {
    url: Url,
    http: reqwest::Client,
    limits: FetchLimits,
    keys: Arc<RwLock<HashMap<String, DecodingKey>>>,
    /// Held across a fetch: one fetch at a time, and what became of the last one.
    fetching: Arc<Mutex<LastFetch>>,
}

#[derive(Default)]
struct LastFetch {
    succeeded_at: Option<Instant>,
    failed: Option<(Instant, String)>,
}

impl ForgeKeys {
    pub fn new(url: Url) -> Self {
        Self::with_limits(url, FetchLimits::default())
    }

    pub fn with_limits(url: Url, limits: FetchLimits) -> Self {
        Self {
            url,
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(5))
                .build()
                .expect("an HTTP client with a timeout"),
            limits,
            keys: Arc::default(),
            fetching: Arc::default(),
        }
    }

    pub async fn key(&self, kid: &str) -> Result<DecodingKey, ForgeKeyError> {
        if let Some(key) = self.held(kid) {
            return Ok(key);
        }
        let mut last = self.fetching.lock().await;
        // Whoever held the lock before us may have fetched it.
        if let Some(key) = self.held(kid) {
            return Ok(key);
        }
        if let Some((at, reason)) = &last.failed
            && at.elapsed() < self.limits.retry_after_failure
        {
            return Err(ForgeKeyError::Unavailable(reason.clone()));
        }
        if last.failed.is_none()
            && last
                .succeeded_at
                .is_some_and(|at| at.elapsed() < self.limits.refresh)
        {
            return Err(ForgeKeyError::Unknown);
        }
        match self.fetch().await {
            Ok(keys) => {
                *last = LastFetch {
                    succeeded_at: Some(Instant::now()),
                    failed: None,
                };
                *self.keys.write().unwrap_or_else(PoisonError::into_inner) = keys;
                self.held(kid).ok_or(ForgeKeyError::Unknown)
            }
            Err(err) => {
                last.failed = Some((Instant::now(), err.to_string()));
                Err(err)
            }
        }
    }

    fn held(&self, kid: &str) -> Option<DecodingKey> {
        self.keys
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(kid)
            .cloned()
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
