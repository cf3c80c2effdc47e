//! Ending every way into an account at once: when a password is reset, and when the owner of an
//! address takes back an account someone else opened on it before them.

use deadpool_postgres::GenericClient;
use uuid::Uuid;

use crate::{email_verifications, sessions};

/// What was ended, for the audit log.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Ended {
    pub sessions: u64,
    pub api_tokens: u64,
    /// Open one-time links: password resets and address confirmations.
    pub links: u64,
    pub identities: u64,
}

impl std::fmt::Display for Ended {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} sessions, {} API tokens, {} open links ended",
            self.sessions, self.api_tokens, self.links
        )?;
        if self.identities > 0 {
            write!(f, ", {} linked sign-ins removed", self.identities)?;
        }
        Ok(())
    }
}

/// Ends the account's sessions, API tokens and open one-time links (and, with
/// `unlink_identities`, its linked provider sign-ins): whoever held any of them is out. Run it in
/// the transaction that changes the account, so nobody slips in between.
pub async fn end_all(
    client: &impl GenericClient,
    user_id: Uuid,
    email: &str,
    unlink_identities: bool,
) -> Result<Ended, tokio_postgres::Error> {
    let sessions = sessions::revoke_all_of(client, user_id).await?;
    let api_tokens = client
        .execute(
            "UPDATE api_tokens SET revoked_at = now() WHERE user_id = $1 AND revoked_at IS NULL",
            &[&user_id],
        )
        .await?;
    let resets = client
        .execute(
            "UPDATE password_resets SET revoked_at = now()
             WHERE user_id = $1 AND used_at IS NULL AND revoked_at IS NULL",
            &[&user_id],
        )
        .await?;
    let confirmations = email_verifications::revoke_open(client, user_id, email).await?;
    // A "link Google to my account" begun before needs no row of its own ended: it finishes only
    // in a live session of the account (onboarding's `oidc::link`), and every session ends here.
    let identities = if unlink_identities {
        client
            .execute("DELETE FROM identities WHERE user_id = $1", &[&user_id])
            .await?
    } else {
        0
    };
    Ok(Ended {
        sessions,
        api_tokens,
        links: resets + confirmations,
        identities,
    })
}

/// The owner of the address takes the account back from whoever opened it unconfirmed: the old
/// password and every way in end, and the address counts as confirmed from now on. The caller
/// then gives the owner their own way in (a provider identity, a new password).
pub async fn claim(
    client: &impl GenericClient,
    user_id: Uuid,
    email: &str,
) -> Result<Ended, tokio_postgres::Error> {
    let ended = end_all(client, user_id, email, true).await?;
    client
        .execute(
            "UPDATE users SET password_hash = NULL, email_confirmed_at = now() WHERE id = $1",
            &[&user_id],
        )
        .await?;
    Ok(ended)
}
