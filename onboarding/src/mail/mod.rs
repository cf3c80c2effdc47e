//! Email: what we send (setup links, invites) and the outbox sender that delivers it over SMTP.

pub mod messages;
mod outbox_sender;

pub use outbox_sender::{OutboxSender, OutboxWaker};

use prometheus::{IntCounterVec, IntGauge, Opts, Registry};

#[derive(Clone)]
pub struct MailMetrics {
    pub sent: IntCounterVec,
    pub failures: IntCounterVec,
    pub backlog: IntGauge,
}

impl MailMetrics {
    pub fn register(registry: &Registry) -> prometheus::Result<Self> {
        let sent = IntCounterVec::new(
            Opts::new(
                "emails_sent_total",
                "Emails handed to the mail server, by kind.",
            ),
            &["kind"],
        )?;
        let failures = IntCounterVec::new(
            Opts::new(
                "email_send_failures_total",
                "Failed send attempts (each is retried), by kind and reason.",
            ),
            &["kind", "reason"],
        )?;
        let backlog = IntGauge::new(
            "email_outbox_backlog",
            "Emails queued and not yet sent (including those waiting for a retry).",
        )?;
        registry.register(Box::new(sent.clone()))?;
        registry.register(Box::new(failures.clone()))?;
        registry.register(Box::new(backlog.clone()))?;
        Ok(Self {
            sent,
            failures,
            backlog,
        })
    }
}
