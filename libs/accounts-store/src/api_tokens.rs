//! Per-user API tokens: what notebooks and BI tools present to the dashboards' JSON API instead of
//! a session cookie. Created and revoked by their user in onboarding; only the SHA-256 is stored.

use std::time::{Duration, SystemTime};

use deadpool_postgres::GenericClient;
use uuid::Uuid;

use crate::{
    sessions::SignedIn,
    tokens::{self, MintedToken},
};

/// Starts every API token, so secret scanners (GitHub's, GitGuardian's) can recognise one that
/// leaked into a notebook or a repository.
pub const PREFIX: &str = "mfp_";

/// The longest name a token may have, in characters.
pub const NAME_MAX_CHARS: usize = 100;

/// What a user called a token ("Jupyter on my laptop"), trimmed, 1 to 100 characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenName(String);

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TokenNameError {
    #[error("a token needs a name")]
    Empty,
    #[error("a token's name has at most {NAME_MAX_CHARS} characters")]
    TooLong,
}

impl TokenName {
    pub fn parse(text: &str) -> Result<Self, TokenNameError> {
        let name = text.trim();
        if name.is_empty() {
            Err(TokenNameError::Empty)
        } else if name.chars().count() > NAME_MAX_CHARS {
            Err(TokenNameError::TooLong)
        } else {
            Ok(Self(name.to_owned()))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// How long a new token works. A year unless its owner chooses otherwise: long enough that a
/// dashboard in a BI tool does not break every quarter, short enough that a token forgotten in
/// an old notebook stops working on its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TokenLifetime {
    Days30,
    Days90,
    #[default]
    OneYear,
    /// The owner's explicit choice, shown as such in the list.
    Never,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("a token expires in 30, 90 or 365 days, or never")]
pub struct TokenLifetimeError;

impl TokenLifetime {
    /// Every choice, with the form value and the label the account page offers.
    pub const CHOICES: [(TokenLifetime, &'static str, &'static str); 4] = [
        (TokenLifetime::Days30, "30", "in 30 days"),
        (TokenLifetime::Days90, "90", "in 90 days"),
        (TokenLifetime::OneYear, "365", "in a year"),
        (TokenLifetime::Never, "never", "never"),
    ];

    /// The form's value; an absent field is the default, a year.
    pub fn parse(value: &str) -> Result<Self, TokenLifetimeError> {
        if value.is_empty() {
            return Ok(Self::default());
        }
        Self::CHOICES
            .iter()
            .find(|(_, form_value, _)| *form_value == value)
            .map(|(lifetime, _, _)| *lifetime)
            .ok_or(TokenLifetimeError)
    }

    pub fn form_value(self) -> &'static str {
        Self::CHOICES
            .iter()
            .find(|(lifetime, _, _)| *lifetime == self)
            .map_or("365", |(_, value, _)| value)
    }

    /// When a token made at `now` stops working; `None` for never.
    pub fn expiry_from(self, now: SystemTime) -> Option<SystemTime> {
        let days = match self {
            Self::Days30 => 30,
            Self::Days90 => 90,
            Self::OneYear => 365,
            Self::Never => return None,
        };
        Some(now + Duration::from_secs(days * 24 * 3600))
    }
}

/// A token as its owner sees it in the list: never its text, which is not kept.
#[derive(Debug, Clone)]
pub struct ApiToken {
    pub id: Uuid,
    pub name: String,
    pub created_at: SystemTime,
    pub last_used_at: Option<SystemTime>,
    pub revoked_at: Option<SystemTime>,
    /// `None` when its owner chose that it never expires.
    pub expires_at: Option<SystemTime>,
}

/// Whether `text` has the shape of an API token: the prefix, then a minted token.
pub fn well_formed(text: &str) -> bool {
    text.strip_prefix(PREFIX).is_some_and(tokens::well_formed)
}

/// Mints a token for `user_id`, made in a session signed in with `created_via`, working until
/// `expires_at` (for ever when `None`); the text in the answer is the only copy there will ever
/// be.
pub async fn create(
    client: &impl GenericClient,
    user_id: Uuid,
    name: &TokenName,
    expires_at: Option<SystemTime>,
    created_via: &str,
) -> Result<(Uuid, MintedToken), tokio_postgres::Error> {
    let text = format!("{PREFIX}{}", tokens::mint().text);
    // The whole text, prefix included, is what is presented and so what is hashed.
    let token = MintedToken {
        sha256: tokens::hash(&text),
        text,
    };
    let id = Uuid::new_v4();
    client
        .execute(
            "INSERT INTO api_tokens (id, user_id, name, token_sha256, created_via, expires_at)
             VALUES ($1, $2, $3, $4, $5, $6)",
            &[
                &id,
                &user_id,
                &name.as_str(),
                &token.sha256,
                &created_via,
                &expires_at,
            ],
        )
        .await?;
    Ok((id, token))
}

/// The user's tokens, revoked ones included, newest first.
pub async fn list(
    client: &impl GenericClient,
    user_id: Uuid,
) -> Result<Vec<ApiToken>, tokio_postgres::Error> {
    let rows = client
        .query(
            "SELECT id, name, created_at, last_used_at, revoked_at, expires_at FROM api_tokens
             WHERE user_id = $1 ORDER BY created_at DESC, id",
            &[&user_id],
        )
        .await?;
    Ok(rows
        .into_iter()
        .map(|row| ApiToken {
            id: row.get(0),
            name: row.get(1),
            created_at: row.get(2),
            last_used_at: row.get(3),
            revoked_at: row.get(4),
            expires_at: row.get(5),
        })
        .collect())
}

/// Revokes one of the user's own tokens. True when `id` is a token of `user_id` (revoking twice
/// keeps the first time); false for anyone else's or an unknown id, which callers answer as 404.
pub async fn revoke(
    client: &impl GenericClient,
    user_id: Uuid,
    id: Uuid,
) -> Result<bool, tokio_postgres::Error> {
    let revoked = client
        .execute(
            "UPDATE api_tokens SET revoked_at = coalesce(revoked_at, now())
             WHERE id = $1 AND user_id = $2",
            &[&id, &user_id],
        )
        .await?;
    Ok(revoked == 1)
}

/// The user of a token that exists, is not revoked and has not expired. Anything without our prefix or not of a
/// minted token's shape is refused before any query, so junk in an `Authorization` header costs
/// no round trip. Looking up by hash needs no constant-time comparison: timing can reveal at
/// most a prefix of a SHA-256, which does not help to find a token that has it.
pub async fn authenticate(
    client: &impl deadpool_postgres::GenericClient,
    token: &str,
) -> Result<Option<SignedIn>, tokio_postgres::Error> {
    if !well_formed(token) {
        return Ok(None);
    }
    // `last_used_at` is for the owner's list ("is this token still in use?"); minute precision
    // is plenty, and sparing the write keeps every API call a read.
    let row = client
        .query_opt(
            "WITH hit AS (
                 SELECT t.id, t.last_used_at, u.id AS user_id, u.email, t.created_via
                 FROM api_tokens t JOIN users u ON u.id = t.user_id
                 WHERE t.token_sha256 = $1 AND t.revoked_at IS NULL
                   AND (t.expires_at IS NULL OR t.expires_at > now())
             ), touched AS (
                 UPDATE api_tokens SET last_used_at = now()
                 WHERE id IN (SELECT id FROM hit
                              WHERE last_used_at IS NULL
                                 OR last_used_at < now() - interval '1 minute')
             )
             SELECT user_id, email, created_via FROM hit",
            &[&tokens::hash(token)],
        )
        .await?;
    Ok(row.map(|row| SignedIn {
        user_id: row.get(0),
        email: row.get(1),
        // A token signs in the way the session that made it did, so an organization's
        // sign-in policy holds for it too.
        method: row.get(2),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_trimmed_required_and_at_most_100_characters() {
        assert_eq!(TokenName::parse("  BI tool ").unwrap().as_str(), "BI tool");
        assert_eq!(TokenName::parse("   "), Err(TokenNameError::Empty));
        assert_eq!(TokenName::parse(""), Err(TokenNameError::Empty));
        // Characters, not bytes: 100 two-byte letters are fine.
        assert!(TokenName::parse(&"é".repeat(100)).is_ok());
        assert_eq!(
            TokenName::parse(&"x".repeat(101)),
            Err(TokenNameError::TooLong)
        );
    }

    #[test]
    fn a_lifetime_is_a_year_unless_chosen_and_never_only_when_asked() {
        assert_eq!(TokenLifetime::parse(""), Ok(TokenLifetime::OneYear));
        for (lifetime, value, _) in TokenLifetime::CHOICES {
            assert_eq!(TokenLifetime::parse(value), Ok(lifetime));
            assert_eq!(lifetime.form_value(), value);
        }
        for bad in ["0", "-1", "36500", "Never", "365 "] {
            assert_eq!(TokenLifetime::parse(bad), Err(TokenLifetimeError), "{bad}");
        }
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        assert_eq!(
            TokenLifetime::default().expiry_from(now),
            Some(now + Duration::from_secs(365 * 86_400))
        );
        assert_eq!(TokenLifetime::Never.expiry_from(now), None);
    }

    #[test]
    fn only_the_prefix_followed_by_a_minted_token_is_well_formed() {
        let inner = tokens::mint().text;
        assert!(well_formed(&format!("{PREFIX}{inner}")));
        for (bad, why) in [
            (inner.clone(), "no prefix"),
            (format!("mfs_{inner}"), "another prefix"),
            (format!("MFP_{inner}"), "prefix in another case"),
            (format!("{PREFIX}{}", &inner[..42]), "one character short"),
            (format!("{PREFIX}{inner}A"), "one character long"),
            (format!(" {PREFIX}{inner}"), "leading space"),
            (PREFIX.to_owned(), "prefix only"),
        ] {
            assert!(!well_formed(&bad), "{why}: {bad}");
        }
    }
}
