//! Every metric onboarding exports, by name, in one place; each name starts `onboarding_`, as
//! ingress's start `ingress_` and the pipeline's `pipeline_`. The HTTP and readiness series come
//! from the service runtime.

use prometheus::{IntCounter, IntCounterVec, IntGauge, Opts, Registry};

/// `{method, outcome}`: every attempt to sign in, with a password or through an identity
/// provider's callback, by how it ended. A climb in `refused` for `password` is someone
/// guessing; `unavailable` for a provider is that provider (or our Postgres) failing.
pub const SIGN_INS_TOTAL: &str = "onboarding_sign_ins_total";
/// `{kind}`: emails the mail server accepted.
pub const EMAILS_SENT_TOTAL: &str = "onboarding_emails_sent_total";
/// `{kind, reason}`: failed send attempts, retried unless the failure is permanent.
pub const EMAIL_SEND_FAILURES_TOTAL: &str = "onboarding_email_send_failures_total";
/// `{kind}`: emails given up on because they can never be delivered (Jira does not know the
/// user, the mail server refuses the recipient for good); the admin page shows the setup ones.
pub const EMAILS_GIVEN_UP_TOTAL: &str = "onboarding_emails_given_up_total";
/// Emails queued and not yet sent, including those waiting for a retry.
pub const EMAIL_OUTBOX_BACKLOG: &str = "onboarding_email_outbox_backlog";
/// Weekly digests queued in the outbox (one per member and week); their sending is counted
/// with the other emails (`kind="digest"`).
pub const DIGESTS_ENQUEUED_TOTAL: &str = "onboarding_digests_enqueued_total";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignInOutcome {
    Succeeded,
    /// A wrong password, or a provider's answer we did not accept (denied, expired, replayed,
    /// unverifiable, or against the organization's policy).
    Refused,
    RateLimited,
    /// The provider or our store could not answer.
    Unavailable,
}

impl SignInOutcome {
    fn as_str(self) -> &'static str {
        match self {
            Self::Succeeded => "succeeded",
            Self::Refused => "refused",
            Self::RateLimited => "rate_limited",
            Self::Unavailable => "unavailable",
        }
    }
}

#[derive(Clone)]
pub struct SignInMetrics {
    attempts: IntCounterVec,
}

impl SignInMetrics {
    pub fn register(registry: &Registry) -> prometheus::Result<Self> {
        let attempts = IntCounterVec::new(
            Opts::new(
                SIGN_INS_TOTAL,
                "Sign-in attempts, by method (password or the provider's name) and outcome.",
            ),
            &["method", "outcome"],
        )?;
        registry.register(Box::new(attempts.clone()))?;
        Ok(Self { attempts })
    }

    /// `method` is `password` or a configured provider's name: a fixed, small set.
    pub fn record(&self, method: &str, outcome: SignInOutcome) {
        self.attempts
            .with_label_values(&[method, outcome.as_str()])
            .inc();
    }
}

#[derive(Clone)]
pub struct MailMetrics {
    pub sent: IntCounterVec,
    pub failures: IntCounterVec,
    pub given_up: IntCounterVec,
    pub backlog: IntGauge,
}

impl MailMetrics {
    pub fn register(registry: &Registry) -> prometheus::Result<Self> {
        let sent = IntCounterVec::new(
            Opts::new(
                EMAILS_SENT_TOTAL,
                "Emails handed to the mail server, by kind.",
            ),
            &["kind"],
        )?;
        let failures = IntCounterVec::new(
            Opts::new(
                EMAIL_SEND_FAILURES_TOTAL,
                "Failed send attempts (retried unless permanent), by kind and reason.",
            ),
            &["kind", "reason"],
        )?;
        let given_up = IntCounterVec::new(
            Opts::new(
                EMAILS_GIVEN_UP_TOTAL,
                "Emails given up on because they can never be delivered, by kind.",
            ),
            &["kind"],
        )?;
        let backlog = IntGauge::new(
            EMAIL_OUTBOX_BACKLOG,
            "Emails queued and not yet sent (including those waiting for a retry).",
        )?;
        registry.register(Box::new(sent.clone()))?;
        registry.register(Box::new(failures.clone()))?;
        registry.register(Box::new(given_up.clone()))?;
        registry.register(Box::new(backlog.clone()))?;
        Ok(Self {
            sent,
            failures,
            given_up,
            backlog,
        })
    }
}

#[derive(Clone)]
pub struct DigestMetrics {
    pub enqueued: IntCounter,
}

impl DigestMetrics {
    pub fn register(registry: &Registry) -> prometheus::Result<Self> {
        let enqueued = IntCounter::new(
            DIGESTS_ENQUEUED_TOTAL,
            "Weekly digests queued in the email outbox.",
        )?;
        registry.register(Box::new(enqueued.clone()))?;
        Ok(Self { enqueued })
    }
}
