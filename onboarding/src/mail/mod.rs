//! Email: what we send (setup links, invites) and the outbox sender that delivers it over SMTP.

pub mod messages;
mod outbox_sender;

pub use outbox_sender::{OutboxSender, OutboxWaker};
