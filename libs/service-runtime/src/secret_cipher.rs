//! Encrypts the secrets we must keep in readable form (Atlassian shared secrets, webhook HMAC
//! secrets) before they reach a database: AES-256-GCM with a random nonce per value, the key
//! from `SECRETS_KEY` (base64 of 32 bytes). Onboarding encrypts; ingress decrypts.

use aes_gcm::{
    Aes256Gcm, KeyInit, Nonce,
    aead::{Aead, AeadCore, OsRng},
};
use base64::{Engine, engine::general_purpose::STANDARD};
use secrecy::{ExposeSecret, SecretSlice, SecretString};

/// Only for the local stack: every real deployment sets `SECRETS_KEY`.
pub const DEVELOPMENT_KEY: &str = "bWV0YWZyYXpvLWxvY2FsLWRldmVsb3BtZW50LWtleSE=";
const NONCE_LEN: usize = 12;

#[derive(Debug, thiserror::Error)]
pub enum CipherError {
    #[error("SECRETS_KEY must be the base64 of exactly 32 bytes")]
    BadKey,
    #[error(
        "a stored secret does not decrypt with SECRETS_KEY (wrong key, or the value is damaged)"
    )]
    Undecryptable,
}

#[derive(Clone)]
pub struct SecretCipher {
    cipher: Aes256Gcm,
    /// Made from `DEVELOPMENT_KEY`, which is in the repository: fine for the local stack, and
    /// refused elsewhere (`refuse_development_key`).
    development: bool,
}

impl SecretCipher {
    /// The value parser of a `SECRETS_KEY` field (`value_parser = SecretCipher::parse_key`,
    /// `default_value = DEVELOPMENT_KEY`): a key of the wrong length is refused as the
    /// configuration is read, and the development key is logged as such.
    pub fn parse_key(key: &str) -> Result<Self, CipherError> {
        let cipher = Self::from_base64(&SecretString::from(key))?;
        if cipher.development {
            tracing::warn!("SECRETS_KEY is not set: using the local development key");
        }
        Ok(cipher)
    }

    /// Outside local mode the development key is refused: it is committed in the repository, so
    /// every secret it encrypted could be read by anyone with a copy of a database dump. Unset
    /// and empty (`SECRETS_KEY=`, as Docker Compose passes it) both fall back to it.
    pub fn refuse_development_key(
        &self,
        deployment: crate::config::Deployment,
    ) -> Result<(), crate::ConfigError> {
        if !self.development {
            return Ok(());
        }
        deployment.allow_fallback(
            "SECRETS_KEY",
            "is unset, empty or the development key committed in the repository",
        )
    }

    pub fn from_base64(key: &SecretString) -> Result<Self, CipherError> {
        let bytes = STANDARD
            .decode(key.expose_secret().trim())
            .map_err(|_| CipherError::BadKey)?;
        let cipher = Aes256Gcm::new_from_slice(&bytes).map_err(|_| CipherError::BadKey)?;
        Ok(Self {
            cipher,
            // Compared as bytes, so the committed key spelled another way is caught too.
            development: STANDARD
                .decode(DEVELOPMENT_KEY)
                .is_ok_and(|dev| dev == bytes),
        })
    }

    /// `nonce || ciphertext`, as stored.
    pub fn encrypt(&self, plaintext: &[u8]) -> Vec<u8> {
        let nonce = Aes256Gcm::generate_nonce(&mut OsRng);
        let ciphertext = self
            .cipher
            .encrypt(&nonce, plaintext)
            .expect("AES-GCM encryption of an in-memory buffer cannot fail");
        let mut stored = nonce.to_vec();
        stored.extend_from_slice(&ciphertext);
        stored
    }

    pub fn decrypt(&self, stored: &[u8]) -> Result<SecretSlice<u8>, CipherError> {
        if stored.len() < NONCE_LEN {
            return Err(CipherError::Undecryptable);
        }
        let (nonce, ciphertext) = stored.split_at(NONCE_LEN);
        let nonce: [u8; NONCE_LEN] = nonce.try_into().map_err(|_| CipherError::Undecryptable)?;
        self.cipher
            .decrypt(&Nonce::from(nonce), ciphertext)
            .map(SecretSlice::from)
            .map_err(|_| CipherError::Undecryptable)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cipher(key: &str) -> SecretCipher {
        SecretCipher::from_base64(&SecretString::from(key.to_owned())).unwrap()
    }

    #[test]
    fn a_secret_round_trips_and_never_encrypts_the_same_way_twice() {
        let cipher = cipher(DEVELOPMENT_KEY);
        let first = cipher.encrypt(b"shared secret");
        let second = cipher.encrypt(b"shared secret");
        assert_ne!(first, second, "a fresh nonce per value");
        assert!(!first.windows(6).any(|window| window == b"shared"));
        assert_eq!(
            cipher.decrypt(&first).unwrap().expose_secret(),
            b"shared secret"
        );
    }

    #[test]
    fn another_key_or_a_damaged_value_does_not_decrypt() {
        let stored = cipher(DEVELOPMENT_KEY).encrypt(b"shared secret");
        let other = cipher("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=");
        assert!(matches!(
            other.decrypt(&stored),
            Err(CipherError::Undecryptable)
        ));
        let mut damaged = stored.clone();
        *damaged.last_mut().unwrap() ^= 1;
        assert!(cipher(DEVELOPMENT_KEY).decrypt(&damaged).is_err());
        assert!(cipher(DEVELOPMENT_KEY).decrypt(&stored[..5]).is_err());
    }

    #[test]
    fn a_key_of_the_wrong_length_is_refused() {
        let short = SecretString::from("c2hvcnQ=".to_owned());
        assert!(matches!(
            SecretCipher::from_base64(&short),
            Err(CipherError::BadKey)
        ));
    }
}
