//! The CSRF token of a browser's forms: derived from its visitor cookie (`mf_visitor`, 256
//! random bits, HttpOnly, SameSite=Lax, set on a browser's first request), so a page of another
//! site, which can neither read the cookie nor set it, cannot forge a form. Onboarding's forms
//! and the dashboards' share the one public address, the one cookie and this one derivation
//! (`dashboards/tests/saved_views.rs` checks a token from an onboarding page is accepted by a
//! dashboards form).

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// The cookie every visitor gets before any page renders a form.
pub const VISITOR_COOKIE: &str = "mf_visitor";

/// The form field that carries the token.
pub const FIELD: &str = "csrf";

/// The token the forms of the browser holding `visitor_cookie` carry.
pub fn token_for(visitor_cookie: &str) -> String {
    let digest = Sha256::new()
        .chain_update(b"metafrazo csrf\0")
        .chain_update(visitor_cookie.as_bytes())
        .finalize();
    digest[..20]
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

/// Whether `submitted` is the token of the browser whose token is `expected`, compared in
/// constant time; an empty token (no visitor cookie) never matches.
pub fn matches(expected: &str, submitted: &str) -> bool {
    !expected.is_empty()
        && expected.len() == submitted.len()
        && bool::from(expected.as_bytes().ct_eq(submitted.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_differ_per_visitor_are_stable_and_only_their_own_matches() {
        assert_eq!(token_for("a"), token_for("a"));
        assert_ne!(token_for("a"), token_for("b"));
        assert_eq!(token_for("a").len(), 40);
        assert!(matches(&token_for("a"), &token_for("a")));
        assert!(!matches(&token_for("a"), &token_for("b")));
        assert!(!matches(&token_for("a"), ""));
        assert!(!matches("", ""));
    }
}
