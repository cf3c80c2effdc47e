//! The Forge Invocation Tokens this ingress has accepted, by `jti`, each kept until it expires:
//! a token captured in flight cannot carry a second delivery while it is still valid.
//!
//! Forge mints a fresh token for every attempt, retries included, so refusing a token seen
//! before never refuses a genuine retry. The set lives in memory, per instance: a replay sent to
//! another instance passes here but carries the same content-derived delivery id, so the
//! warehouse still stores it once; this set keeps it off the topic where it can.

use std::{
    cmp::Reverse,
    collections::{BinaryHeap, HashSet},
    sync::{Mutex, PoisonError},
};

use sha2::{Digest, Sha256};

/// Tokens live about 25 s, so this is some 20,000 Forge deliveries a second, far beyond what
/// one instance takes; each entry costs under 100 bytes, so the cap bounds memory to tens of
/// MiB whatever `exp` Atlassian signs.
pub const DEFAULT_CAPACITY: usize = 500_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TokenUse {
    #[error("this Forge Invocation Token was already used for a delivery")]
    Reused,
    /// Our limit, not the caller's fault: answered 503, which Forge retries with a new token.
    #[error("too many Forge Invocation Tokens are live at once")]
    Full,
}

/// A `jti`, hashed: entries have a fixed size however long the claim is.
type Key = [u8; 32];

pub struct SeenTokens {
    capacity: usize,
    /// How long past `exp` the verifier still accepts a token: it must be remembered as long.
    leeway_secs: i64,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    seen: HashSet<Key>,
    /// Soonest-forgettable first: (the second after which the token is refused anyway, key).
    expiries: BinaryHeap<Reverse<(i64, Key)>>,
}

impl SeenTokens {
    pub fn new(capacity: usize, leeway_secs: u64) -> Self {
        Self {
            capacity,
            leeway_secs: i64::try_from(leeway_secs).unwrap_or(i64::MAX),
            state: Mutex::default(),
        }
    }

    /// Records the token `jti`, valid until `exp`, as used at `now` (epoch seconds). Checking
    /// and recording are one step under the lock, so of concurrent deliveries with one token
    /// exactly one gets `Ok`.
    pub fn first_use(&self, jti: &str, exp: i64, now: i64) -> Result<(), TokenUse> {
        let key: Key = Sha256::digest(jti.as_bytes()).into();
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        state.forget_expired(now);
        if state.seen.contains(&key) {
            return Err(TokenUse::Reused);
        }
        if state.seen.len() >= self.capacity {
            return Err(TokenUse::Full);
        }
        state.seen.insert(key);
        state
            .expiries
            .push(Reverse((exp.saturating_add(self.leeway_secs), key)));
        Ok(())
    }

    /// Tokens tracked at `now`, after forgetting the expired ones (for the gauge).
    pub fn tracked(&self, now: i64) -> usize {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        state.forget_expired(now);
        state.seen.len()
    }
}

impl State {
    fn forget_expired(&mut self, now: i64) {
        while let Some(Reverse((until, key))) = self.expiries.peek().copied() {
            if until >= now {
                break;
            }
            self.expiries.pop();
            self.seen.remove(&key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_is_used_once_until_it_expires_then_forgotten() {
        let seen = SeenTokens::new(10, 30);
        assert_eq!(seen.first_use("a", 1_000, 990), Ok(()));
        assert_eq!(seen.first_use("a", 1_000, 995), Err(TokenUse::Reused));
        // Still refused within the leeway, as the verifier still accepts it then.
        assert_eq!(seen.first_use("a", 1_000, 1_030), Err(TokenUse::Reused));
        assert_eq!(seen.tracked(1_030), 1);
        assert_eq!(seen.tracked(1_031), 0);
        assert_eq!(seen.first_use("b", 1_000, 990), Ok(()));
    }

    #[test]
    fn past_the_cap_new_tokens_wait_until_old_ones_expire() {
        let seen = SeenTokens::new(2, 0);
        assert_eq!(seen.first_use("a", 100, 90), Ok(()));
        assert_eq!(seen.first_use("b", 200, 90), Ok(()));
        assert_eq!(seen.first_use("c", 200, 90), Err(TokenUse::Full));
        assert_eq!(seen.first_use("a", 100, 90), Err(TokenUse::Reused));
        assert_eq!(
            seen.first_use("c", 200, 101),
            Ok(()),
            "a expired, room again"
        );
    }

    #[test]
    fn of_many_threads_with_one_token_exactly_one_uses_it() {
        let seen = std::sync::Arc::new(SeenTokens::new(10, 0));
        let accepted: usize = (0..8)
            .map(|_| {
                let seen = std::sync::Arc::clone(&seen);
                std::thread::spawn(move || seen.first_use("same", 100, 90).is_ok())
            })
            .collect::<Vec<_>>()
            .into_iter()
            .map(|thread| usize::from(thread.join().unwrap()))
            .sum();
        assert_eq!(accepted, 1);
    }
}
