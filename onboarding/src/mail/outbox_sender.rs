//! Sends what the outbox holds: woken at once when a row is added here, and polling besides for
//! rows added by other instances or due for a retry. A failure leaves the row for a later
//! attempt with capped exponential backoff, so a mail server that is down delays an email and
//! loses none.

use std::{sync::Arc, time::Duration};

use deadpool_postgres::{GenericClient, Pool};
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use secrecy::ExposeSecret;
use service_runtime::secret_cipher::SecretCipher;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use url::Url;
use uuid::Uuid;

use crate::{
    atlassian::jira_users::{JiraUsers, JiraUsersError},
    config::{AccountsConfig, MailConfig},
    digest::view_link,
    mail::messages::{
        self, DigestEmail, EmailVerificationEmail, InviteEmail, MessageError, PasswordResetEmail,
        SetupEmail,
    },
    metrics::MailMetrics,
};
use accounts_store::{
    digests,
    email_verifications::{self, Confirms},
    installations, invites,
    outbox::{self, Due, Email},
    password_resets, setup_links,
};

/// Emails claimed per transaction.
const BATCH: i64 = 20;

/// Wakes the sender after a transaction that queued an email has committed.
#[derive(Clone, Default)]
pub struct OutboxWaker(Arc<Notify>);

impl OutboxWaker {
    pub fn wake(&self) {
        self.0.notify_one();
    }
}

#[derive(Debug, thiserror::Error)]
enum SendError {
    #[error("cannot look up the installer's email: {0}")]
    Lookup(#[from] JiraUsersError),
    #[error(transparent)]
    Message(#[from] MessageError),
    #[error("the mail server refused or is unreachable: {0}")]
    Smtp(#[from] lettre::transport::smtp::Error),
    #[error(
        "the installation's secret cannot be decrypted; is SECRETS_KEY the one it was stored with?"
    )]
    Secret,
    #[error("Postgres: {0}")]
    Store(#[from] tokio_postgres::Error),
}

impl SendError {
    /// Whether trying again can never help: Jira does not know the user, the address cannot be
    /// written to, or the mail server refuses it for good (a 5xx). Everything else (Jira or the
    /// mail server unreachable, credentials not yet granted, Postgres) may pass.
    fn is_permanent(&self) -> bool {
        match self {
            Self::Lookup(JiraUsersError::UnknownUser) => true,
            Self::Message(MessageError::BadRecipient(_)) => true,
            Self::Smtp(err) => err.is_permanent(),
            Self::Lookup(_) | Self::Message(_) | Self::Secret | Self::Store(_) => false,
        }
    }

    fn reason(&self) -> &'static str {
        match self {
            Self::Lookup(_) => "jira_lookup",
            Self::Message(_) => "message",
            Self::Smtp(_) => "smtp",
            Self::Secret => "secret",
            Self::Store(_) => "store",
        }
    }
}

enum Outcome {
    Sent,
    /// Nothing to send any more, with why.
    Cancelled(&'static str),
}

pub struct OutboxSender {
    pub pool: Pool,
    pub transport: AsyncSmtpTransport<Tokio1Executor>,
    pub mail: MailConfig,
    pub accounts: AccountsConfig,
    pub public_base_url: Url,
    pub jira: JiraUsers,
    pub cipher: SecretCipher,
    pub waker: OutboxWaker,
    pub metrics: MailMetrics,
}

impl OutboxSender {
    pub async fn run(self, stop: CancellationToken) {
        loop {
            let more = match self.send_due().await {
                Ok(handled) => handled as i64 == BATCH,
                Err(err) => {
                    tracing::warn!(error = %err, "cannot read the outbox; retrying");
                    false
                }
            };
            self.update_backlog().await;
            if more {
                continue;
            }
            tokio::select! {
                () = stop.cancelled() => return,
                () = self.waker.0.notified() => {}
                () = tokio::time::sleep(self.mail.poll_interval) => {}
            }
        }
    }

    async fn update_backlog(&self) {
        if let Ok(client) = self.pool.get().await
            && let Ok(backlog) = outbox::backlog(&client).await
        {
            self.metrics.backlog.set(backlog);
        }
    }

    /// Claims the due emails and tries each once; answers how many were handled.
    async fn send_due(&self) -> Result<usize, tokio_postgres::Error> {
        let client = match self.pool.get().await {
            Ok(client) => client,
            Err(err) => {
                tracing::warn!(error = %err, "Postgres unavailable; the outbox waits");
                return Ok(0);
            }
        };
        // Each step commits on its own: a link is in Postgres before its email leaves, so a
        // recipient who clicks at once finds it, and a later failure cannot revoke it.
        let due = outbox::claim_due(&client, BATCH).await?;
        for item in &due {
            let kind = item.email.kind();
            match self.send_one(&client, item).await {
                Ok(Outcome::Sent) => {
                    outbox::mark_sent(&client, item.id).await?;
                    self.metrics.sent.with_label_values(&[kind]).inc();
                    tracing::info!(outbox_id = item.id, kind, "email sent");
                }
                Ok(Outcome::Cancelled(reason)) => {
                    outbox::cancel(&client, item.id, reason).await?;
                    tracing::info!(outbox_id = item.id, kind, reason, "email no longer needed");
                }
                Err(err) if err.is_permanent() => {
                    outbox::fail(&client, item.id, &err.to_string()).await?;
                    self.metrics
                        .failures
                        .with_label_values(&[kind, err.reason()])
                        .inc();
                    self.metrics.given_up.with_label_values(&[kind]).inc();
                    tracing::warn!(
                        outbox_id = item.id,
                        kind,
                        error = %err,
                        "email cannot be delivered; given up"
                    );
                }
                Err(err) => {
                    let delay = self.backoff(item.attempts);
                    outbox::retry_later(&client, item.id, delay, &err.to_string()).await?;
                    self.metrics
                        .failures
                        .with_label_values(&[kind, err.reason()])
                        .inc();
                    tracing::warn!(
                        outbox_id = item.id,
                        kind,
                        attempt = item.attempts + 1,
                        retry_in_ms = delay.as_millis() as u64,
                        error = %err,
                        "email not sent; will retry"
                    );
                }
            }
        }
        Ok(due.len())
    }

    fn backoff(&self, attempts: i32) -> Duration {
        self.mail
            .retry
            .delay_after(u32::try_from(attempts).unwrap_or(0))
    }

    async fn send_one(
        &self,
        client: &impl GenericClient,
        item: &Due,
    ) -> Result<Outcome, SendError> {
        match item.email {
            Email::Setup { installation } => self.send_setup(client, installation).await,
            Email::Invite { invite } => self.send_invite(client, invite).await,
            Email::PasswordReset { reset } => self.send_password_reset(client, reset).await,
            Email::EmailVerification { verification } => {
                self.send_email_verification(client, verification).await
            }
            Email::Digest { digest } => self.send_digest(client, digest).await,
        }
    }

    async fn send_digest(
        &self,
        client: &impl GenericClient,
        digest: Uuid,
    ) -> Result<Outcome, SendError> {
        // As for invites, the next attempt replaces the token a failed attempt minted; the
        // token of each digest sent stays good, so an older email's link still unsubscribes.
        let Some((token, mailing)) = digests::mint_token(client, digest).await? else {
            return Ok(Outcome::Cancelled("unsubscribed since it was queued"));
        };
        let view = |name: &str| {
            view_link(
                &self.accounts.dashboards_url,
                mailing.organization,
                name,
                mailing.week_start,
                &mailing.time_zone,
            )
        };
        let (weekly, trends, flow) = (view("weekly"), view("trends"), view("flow"));
        let unsubscribe = self.link(&format!("digest/unsubscribe?token={}", token.text));
        let message = messages::digest(
            &self.mail.from,
            &DigestEmail {
                to: &mailing.to,
                organization: &mailing.organization_name,
                week_start: mailing.week_start,
                time_zone: &mailing.time_zone,
                numbers: &mailing.numbers,
                weekly_link: &weekly,
                trends_link: &trends,
                flow_link: &flow,
                unsubscribe_link: &unsubscribe,
            },
        )?;
        self.transport.send(message).await?;
        Ok(Outcome::Sent)
    }

    async fn send_setup(
        &self,
        client: &impl GenericClient,
        installation: Uuid,
    ) -> Result<Outcome, SendError> {
        let Some(mailing) = installations::setup_mailing(client, installation).await? else {
            return Ok(Outcome::Cancelled("installation gone"));
        };
        if !mailing.installed {
            return Ok(Outcome::Cancelled("uninstalled"));
        }
        let site = mailing.base_url;
        let workspace = mailing.display_name;
        let Some(installer) = mailing.installer_account_id else {
            return Ok(Outcome::Cancelled("no installing user to mail"));
        };
        let previous_organization = mailing.previous_organization_name;
        // Connect signs with the shared secret; Forge (no secret) uses the app system token at
        // the API base. A 401/403 is an error, so the outbox retries it with backoff: Atlassian
        // warns a Forge app's permissions may lag its install by minutes.
        let to = match (
            mailing.encrypted_secret,
            mailing.api_base_url,
            mailing.encrypted_system_token,
        ) {
            (Some(secret), _, _) => {
                let secret = self
                    .cipher
                    .decrypt(&secret)
                    .map_err(|_| SendError::Secret)?;
                self.jira
                    .email_of(&site, secret.expose_secret(), &installer)
                    .await?
            }
            (None, Some(api_base_url), Some(system_token)) => {
                let system_token = self
                    .cipher
                    .decrypt(&system_token)
                    .map_err(|_| SendError::Secret)?;
                self.jira
                    .email_of_forge(&api_base_url, system_token.expose_secret(), &installer)
                    .await?
            }
            _ => {
                return Ok(Outcome::Cancelled(
                    "no credentials to look the installer up",
                ));
            }
        };
        // The address goes with the link, so its page can offer to sign in (or up) as it.
        let (token, expires_at) = setup_links::mint(
            client,
            installation,
            self.accounts.setup_link_ttl,
            Some(&to),
        )
        .await?;
        let link = self.link(&format!("setup/{}", token.text));
        let email = SetupEmail {
            to: &to,
            workspace: &workspace,
            site: &site,
            previous_organization: previous_organization.as_deref(),
            link: &link,
            expires_at,
            valid_for: self.accounts.setup_link_ttl,
        };
        let sent = async {
            let message = messages::setup(&self.mail.from, &email)?;
            self.transport.send(message).await?;
            Ok::<_, SendError>(())
        }
        .await;
        if let Err(err) = sent {
            setup_links::discard(client, &token).await?;
            return Err(err);
        }
        setup_links::supersede_older(client, &token).await?;
        Ok(Outcome::Sent)
    }

    async fn send_invite(
        &self,
        client: &impl GenericClient,
        invite: Uuid,
    ) -> Result<Outcome, SendError> {
        // An invite holds one token: the next attempt replaces the one a failed attempt minted.
        let Some((token, invite)) = invites::mint_token(client, invite).await? else {
            return Ok(Outcome::Cancelled("invite no longer open"));
        };
        let link = self.link(&format!("invites/{}", token.text));
        let message = messages::invite(
            &self.mail.from,
            &InviteEmail {
                to: &invite.email,
                inviter: invite.invited_by.as_deref().unwrap_or("A teammate"),
                organization: &invite.organization_name,
                role: invite.role.as_str(),
                link: &link,
                expires_at: invite.expires_at,
            },
        )?;
        self.transport.send(message).await?;
        Ok(Outcome::Sent)
    }

    async fn send_password_reset(
        &self,
        client: &impl GenericClient,
        reset: Uuid,
    ) -> Result<Outcome, SendError> {
        // As for invites, the next attempt replaces the token a failed attempt minted.
        let Some((token, reset)) = password_resets::mint_token(client, reset).await? else {
            return Ok(Outcome::Cancelled("password reset no longer open"));
        };
        let link = self.link(&format!("reset-password/{}", token.text));
        let message = messages::password_reset(
            &self.mail.from,
            &PasswordResetEmail {
                to: &reset.email,
                link: &link,
                expires_at: reset.expires_at,
            },
        )?;
        self.transport.send(message).await?;
        Ok(Outcome::Sent)
    }

    async fn send_email_verification(
        &self,
        client: &impl GenericClient,
        verification: Uuid,
    ) -> Result<Outcome, SendError> {
        // As for invites, the next attempt replaces the token a failed attempt minted.
        let Some((token, verification)) =
            email_verifications::mint_token(client, verification).await?
        else {
            return Ok(Outcome::Cancelled("address confirmation no longer open"));
        };
        let link = self.link(&format!("account/confirm-email/{}", token.text));
        let provider = match &verification.confirms {
            Confirms::Account(_) => None,
            Confirms::Identity(identity) => Some(
                crate::accounts::oidc::ProviderKind::from_name(&identity.provider)
                    .map_or(identity.provider.as_str(), |kind| kind.label()),
            ),
        };
        let message = messages::email_verification(
            &self.mail.from,
            &EmailVerificationEmail {
                to: &verification.email,
                provider,
                link: &link,
                expires_at: verification.expires_at,
            },
        )?;
        self.transport.send(message).await?;
        Ok(Outcome::Sent)
    }

    fn link(&self, path: &str) -> String {
        format!(
            "{}/{path}",
            self.public_base_url.as_str().trim_end_matches('/')
        )
    }
}
