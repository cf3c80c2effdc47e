//! The one-time secrets we hand out (setup links, invites, sessions): 256 random bits, sent
//! base64url-encoded, and stored only as their SHA-256, so a database leak opens no door.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use rand::RngCore;
use sha2::{Digest, Sha256};

/// A freshly minted token: the text we send, and the hash we keep.
pub struct MintedToken {
    pub text: String,
    pub sha256: Vec<u8>,
}

pub fn mint() -> MintedToken {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    let text = URL_SAFE_NO_PAD.encode(bytes);
    let sha256 = hash(&text);
    MintedToken { text, sha256 }
}

/// The stored form of a token someone presented. Anything that is not 43 base64url characters
/// cannot be one of ours; it still hashes, and simply matches nothing.
pub fn hash(text: &str) -> Vec<u8> {
    Sha256::digest(text.as_bytes()).to_vec()
}

/// What a presented one-time token (a setup link, an invite, a password reset) opens.
#[derive(Debug, Clone)]
pub enum Redeemable<T> {
    Valid(T),
    Expired,
    Used,
    /// Withdrawn, or replaced by a newer one.
    Revoked,
    /// Not one we made: mistyped, cut short, or tampered with.
    Unknown,
}

impl<T> Redeemable<T> {
    /// From the stored row's state. Used wins over revoked and expired: "this link was already
    /// used" is the more helpful page.
    pub fn of(used: bool, revoked: bool, expired: bool, valid: impl FnOnce() -> T) -> Self {
        if used {
            Self::Used
        } else if revoked {
            Self::Revoked
        } else if expired {
            Self::Expired
        } else {
            Self::Valid(valid())
        }
    }
}

/// Whether `text` has the shape of a minted token: lets a page tell "tampered" from "unknown".
pub fn well_formed(text: &str) -> bool {
    text.len() == 43
        && URL_SAFE_NO_PAD
            .decode(text)
            .is_ok_and(|bytes| bytes.len() == 32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_used_token_says_so_before_revoked_or_expired() {
        let state = |used, revoked, expired| match Redeemable::of(used, revoked, expired, || ()) {
            Redeemable::Valid(()) => "valid",
            Redeemable::Used => "used",
            Redeemable::Revoked => "revoked",
            Redeemable::Expired => "expired",
            Redeemable::Unknown => "unknown",
        };
        assert_eq!(state(true, true, true), "used");
        assert_eq!(state(false, true, true), "revoked");
        assert_eq!(state(false, false, true), "expired");
        assert_eq!(state(false, false, false), "valid");
    }

    #[test]
    fn minted_tokens_are_distinct_well_formed_and_stored_only_as_their_hash() {
        let first = mint();
        let second = mint();
        assert_ne!(first.text, second.text);
        assert!(well_formed(&first.text));
        assert_eq!(first.sha256, hash(&first.text));
        assert_eq!(first.sha256.len(), 32);
    }

    #[test]
    fn a_changed_character_is_not_well_formed_or_not_the_same_hash() {
        let token = mint().text;
        assert!(!well_formed(&token[..42]));
        assert!(!well_formed(&format!("{token}=")));
        let mut flipped = token.clone().into_bytes();
        flipped[0] = if flipped[0] == b'A' { b'B' } else { b'A' };
        let flipped = String::from_utf8(flipped).unwrap();
        assert_ne!(hash(&flipped), hash(&token));
    }
}
