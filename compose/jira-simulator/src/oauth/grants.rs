//! What the authorization server has handed out and what each grants: single-use authorization
//! codes (10 minutes) waiting for the app to redeem them, and the access tokens (1 hour) they
//! became. Every method takes `now` (seconds since the epoch) so the expiries are testable.

use std::{
    collections::HashMap,
    sync::{
        Mutex, PoisonError,
        atomic::{AtomicBool, Ordering},
    },
};

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use rand::RngCore;

use super::{Site, pkce::s256_challenge};

/// Atlassian's authorization codes expire after 10 minutes.
const CODE_LIFETIME_SECS: u64 = 600;

/// Atlassian's 3LO access tokens expire after an hour.
const TOKEN_LIFETIME_SECS: u64 = 3600;

/// The Atlassian account the member signed in with at the consent page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct LinkedAccount {
    pub(crate) account_id: String,
    pub(crate) email: String,
}

/// What the member agreed to at the consent page, bound to the client and the login that asked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Consent {
    pub(crate) client_id: String,
    pub(crate) redirect_uri: String,
    pub(crate) code_challenge: String,
    pub(crate) scope: String,
    pub(crate) account: LinkedAccount,
    pub(crate) sites: Vec<Site>,
}

/// What a live access token opens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct AccessGrant {
    pub(crate) account: LinkedAccount,
    pub(crate) sites: Vec<Site>,
    pub(crate) scope: String,
    expires_at: u64,
}

/// The token endpoint's answer to a redeemed code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct IssuedToken {
    pub(crate) access_token: String,
    pub(crate) expires_in: u64,
    pub(crate) scope: String,
}

/// Why a code was not exchanged for a token; each is `invalid_grant` to the app.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub(crate) enum RedeemError {
    #[error("the authorization code is unknown or was already used")]
    UnknownCode,
    #[error("the authorization code has expired")]
    Expired,
    #[error("the authorization code was issued to another client")]
    OtherClient,
    #[error("the redirect_uri is not the one the authorization code was issued for")]
    OtherRedirectUri,
    #[error("the code_verifier does not match the code_challenge")]
    VerifierMismatch,
}

#[derive(Debug)]
struct PendingCode {
    consent: Consent,
    expires_at: u64,
}

#[derive(Debug, Default)]
pub(crate) struct OAuthGrants {
    codes: Mutex<HashMap<String, PendingCode>>,
    tokens: Mutex<HashMap<String, AccessGrant>>,
    /// Every code and token handed out, in order: a test asserts none of them is stored by the
    /// app, long after they expired.
    issued: Mutex<Vec<String>>,
    /// Whether the token endpoint and the platform API answer 503, as in an Atlassian incident.
    failing: AtomicBool,
}

impl OAuthGrants {
    /// A fresh single-use code for `consent`, valid for 10 minutes.
    pub(crate) fn issue_code(&self, consent: Consent, now: u64) -> String {
        let code = random_secret();
        let mut codes = self.codes.lock().unwrap_or_else(PoisonError::into_inner);
        // Codes nobody redeemed in time would otherwise pile up in a long-running `serve`.
        codes.retain(|_, pending| pending.expires_at > now);
        codes.insert(
            code.clone(),
            PendingCode {
                consent,
                expires_at: now + CODE_LIFETIME_SECS,
            },
        );
        drop(codes);
        self.record_issued(&code);
        code
    }

    /// Exchanges `code` for an access token. The code is gone after this call whatever the
    /// answer, so a code that leaked with a wrong verifier cannot be tried again.
    pub(crate) fn redeem(
        &self,
        code: &str,
        client_id: &str,
        redirect_uri: &str,
        code_verifier: &str,
        now: u64,
    ) -> Result<IssuedToken, RedeemError> {
        let pending = self
            .codes
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(code)
            .ok_or(RedeemError::UnknownCode)?;
        if pending.expires_at <= now {
            return Err(RedeemError::Expired);
        }
        let consent = pending.consent;
        if consent.client_id != client_id {
            return Err(RedeemError::OtherClient);
        }
        if consent.redirect_uri != redirect_uri {
            return Err(RedeemError::OtherRedirectUri);
        }
        if s256_challenge(code_verifier) != consent.code_challenge {
            return Err(RedeemError::VerifierMismatch);
        }
        let access_token = random_secret();
        let mut tokens = self.tokens.lock().unwrap_or_else(PoisonError::into_inner);
        tokens.retain(|_, grant| grant.expires_at > now);
        tokens.insert(
            access_token.clone(),
            AccessGrant {
                account: consent.account,
                sites: consent.sites,
                scope: consent.scope.clone(),
                expires_at: now + TOKEN_LIFETIME_SECS,
            },
        );
        drop(tokens);
        self.record_issued(&access_token);
        Ok(IssuedToken {
            access_token,
            expires_in: TOKEN_LIFETIME_SECS,
            scope: consent.scope,
        })
    }

    /// What `access_token` opens, while it is live.
    pub(crate) fn access_grant(&self, access_token: &str, now: u64) -> Option<AccessGrant> {
        self.tokens
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(access_token)
            .filter(|grant| grant.expires_at > now)
            .cloned()
    }

    pub(crate) fn set_failing(&self, failing: bool) {
        self.failing.store(failing, Ordering::SeqCst);
    }

    pub(crate) fn is_failing(&self) -> bool {
        self.failing.load(Ordering::SeqCst)
    }

    pub(crate) fn issued(&self) -> Vec<String> {
        self.issued
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn record_issued(&self, secret: &str) {
        self.issued
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(secret.to_owned());
    }
}

/// 256 random bits as unpadded base64url: unguessable, and safe in a URL as it is.
fn random_secret() -> String {
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: u64 = 1_700_000_000;
    const VERIFIER: &str = "a-verifier-long-enough-to-be-a-real-pkce-verifier-0123456789";
    const REDIRECT_URI: &str = "http://127.0.0.1:5123/auth/atlassian/callback";

    fn consent() -> Consent {
        Consent {
            client_id: "metafrazo-local".into(),
            redirect_uri: REDIRECT_URI.into(),
            code_challenge: s256_challenge(VERIFIER),
            scope: "read:me read:jira-work".into(),
            account: LinkedAccount {
                account_id: "712020:4a0e6b7c-0000-4000-8000-000000000001".into(),
                email: "jira-user-1@example.test".into(),
            },
            sites: vec![Site::unhosted("cloud-1")],
        }
    }

    fn redeem_at(grants: &OAuthGrants, code: &str, now: u64) -> Result<IssuedToken, RedeemError> {
        grants.redeem(code, "metafrazo-local", REDIRECT_URI, VERIFIER, now)
    }

    #[test]
    fn a_code_redeems_until_ten_minutes_have_passed() {
        let grants = OAuthGrants::default();
        let last_second = grants.issue_code(consent(), NOW);
        assert!(redeem_at(&grants, &last_second, NOW + 599).is_ok());
        let late = grants.issue_code(consent(), NOW);
        assert_eq!(
            redeem_at(&grants, &late, NOW + 600),
            Err(RedeemError::Expired)
        );
    }

    #[test]
    fn a_token_opens_its_grant_for_an_hour() {
        let grants = OAuthGrants::default();
        let code = grants.issue_code(consent(), NOW);
        let token = redeem_at(&grants, &code, NOW).expect("redeems");
        assert_eq!(token.expires_in, 3600);
        let grant = grants
            .access_grant(&token.access_token, NOW + 3599)
            .expect("live for an hour");
        assert_eq!(grant.account, consent().account);
        assert_eq!(grant.sites, consent().sites);
        assert!(
            grants
                .access_grant(&token.access_token, NOW + 3600)
                .is_none()
        );
    }

    #[test]
    fn every_refusal_burns_the_code() {
        let cases: [(&str, &str, &str, RedeemError); 3] = [
            (
                "metafrazo-other",
                REDIRECT_URI,
                VERIFIER,
                RedeemError::OtherClient,
            ),
            (
                "metafrazo-local",
                "http://localhost:5123/auth/atlassian/callback",
                VERIFIER,
                RedeemError::OtherRedirectUri,
            ),
            (
                "metafrazo-local",
                REDIRECT_URI,
                "another-verifier",
                RedeemError::VerifierMismatch,
            ),
        ];
        for (client_id, redirect_uri, verifier, refusal) in cases {
            let grants = OAuthGrants::default();
            let code = grants.issue_code(consent(), NOW);
            assert_eq!(
                grants.redeem(&code, client_id, redirect_uri, verifier, NOW),
                Err(refusal),
                "{refusal}"
            );
            assert_eq!(
                redeem_at(&grants, &code, NOW),
                Err(RedeemError::UnknownCode),
                "after {refusal}"
            );
        }
    }

    #[test]
    fn codes_and_tokens_are_distinct_secrets_and_all_recorded() {
        let grants = OAuthGrants::default();
        let first = grants.issue_code(consent(), NOW);
        let second = grants.issue_code(consent(), NOW);
        let token = redeem_at(&grants, &first, NOW).expect("redeems");
        assert_ne!(first, second);
        assert_eq!(first.len(), 43, "256 bits, unpadded base64url");
        assert_eq!(grants.issued(), vec![first, second, token.access_token]);
    }
}
