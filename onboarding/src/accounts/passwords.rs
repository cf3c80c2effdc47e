//! Passwords: argon2id with the crate's defaults (19 MiB, 2 passes, OWASP's recommendation), the
//! policy for new ones, and [`Hashing`], the bounded pool every request hashes through.

use std::sync::{Arc, LazyLock};

use tokio::sync::Semaphore;

use argon2::{
    Argon2,
    password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString, rand_core::OsRng},
};

/// NIST SP 800-63B asks for at least 8; we ask a little more, and no composition rules.
pub const MIN_LENGTH: usize = 10;
/// Long enough for any passphrase; short enough that hashing stays cheap to refuse.
pub const MAX_LENGTH: usize = 256;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PasswordPolicyError {
    #[error("a password needs at least {MIN_LENGTH} characters")]
    TooShort,
    #[error("a password may have at most {MAX_LENGTH} characters")]
    TooLong,
}

pub fn check_policy(password: &str) -> Result<(), PasswordPolicyError> {
    let length = password.chars().count();
    if length < MIN_LENGTH {
        return Err(PasswordPolicyError::TooShort);
    }
    if length > MAX_LENGTH {
        return Err(PasswordPolicyError::TooLong);
    }
    Ok(())
}

/// The PHC string to store. Hashing takes tens of milliseconds of CPU: call it from
/// `spawn_blocking`.
pub fn hash(password: &str) -> String {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .expect("argon2id with default parameters accepts any password and salt")
        .to_string()
}

/// Whether `password` matches the stored PHC string; a malformed stored hash matches nothing.
pub fn verify(password: &str, stored: &str) -> bool {
    PasswordHash::new(stored).is_ok_and(|parsed| {
        Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok()
    })
}

/// Verifies against the account's stored hash; with none (no such account, or one that signs in
/// only through an identity provider) it still spends the same hashing time, so timing does
/// not tell which addresses have accounts.
pub fn verify_stored(password: &str, stored: Option<&str>) -> bool {
    static DUMMY: LazyLock<String> = LazyLock::new(|| hash("no account has this password"));
    match stored {
        Some(stored) => verify(password, stored),
        None => {
            verify(password, &DUMMY);
            false
        }
    }
}

/// Hashing for requests, at most `PASSWORD_HASHES_IN_FLIGHT` at once. Sign-in, sign-up and
/// password reset hash before anyone is authenticated, and each hash holds 19 MiB for tens of
/// milliseconds: unbounded, a few hundred parallel requests exhaust memory. When every slot is
/// taken the request is answered at once (503 with `Retry-After`), not queued.
#[derive(Clone)]
pub struct Hashing {
    slots: Arc<Semaphore>,
}

#[derive(Debug, thiserror::Error)]
pub enum HashingError {
    #[error("every password hashing slot is taken")]
    Busy,
    #[error("the hashing task failed: {0}")]
    Task(#[from] tokio::task::JoinError),
}

impl Hashing {
    pub fn new(in_flight: usize) -> Self {
        Self {
            slots: Arc::new(Semaphore::new(in_flight)),
        }
    }

    /// [`hash`], off the async threads.
    pub async fn hash(&self, password: String) -> Result<String, HashingError> {
        self.run(move || hash(&password)).await
    }

    /// [`verify_stored`], off the async threads.
    pub async fn verify_stored(
        &self,
        password: String,
        stored: Option<String>,
    ) -> Result<bool, HashingError> {
        self.run(move || verify_stored(&password, stored.as_deref()))
            .await
    }

    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, HashingError> {
        let slot = Arc::clone(&self.slots)
            .try_acquire_owned()
            .map_err(|_| HashingError::Busy)?;
        let span = tracing::Span::current();
        Ok(tokio::task::spawn_blocking(move || {
            let _slot = slot;
            span.in_scope(work)
        })
        .await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hash_verifies_its_password_only_and_is_argon2id_salted() {
        let stored = hash("correct horse battery");
        assert!(stored.starts_with("$argon2id$"));
        assert!(verify("correct horse battery", &stored));
        assert!(!verify("correct horse batterY", &stored));
        assert_ne!(stored, hash("correct horse battery"), "salted");
        assert!(!verify("anything", "not a phc string"));
    }

    #[tokio::test]
    async fn hashing_answers_busy_when_no_slot_is_free_and_frees_its_slot_after() {
        let none = Hashing::new(0);
        assert!(matches!(
            none.hash("correct horse battery".into()).await,
            Err(HashingError::Busy)
        ));
        let one = Hashing::new(1);
        let stored = one.hash("correct horse battery".into()).await.unwrap();
        assert!(
            one.verify_stored("correct horse battery".into(), Some(stored))
                .await
                .unwrap(),
            "the first hash gave its slot back"
        );
    }

    #[test]
    fn the_policy_counts_characters_not_bytes() {
        assert_eq!(check_policy("short"), Err(PasswordPolicyError::TooShort));
        assert_eq!(
            check_policy("ééééééééé"),
            Err(PasswordPolicyError::TooShort)
        );
        assert_eq!(check_policy("éééééééééé"), Ok(()));
        assert_eq!(
            check_policy(&"x".repeat(MAX_LENGTH + 1)),
            Err(PasswordPolicyError::TooLong)
        );
    }
}
