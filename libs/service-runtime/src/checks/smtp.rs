use futures::{FutureExt, future::BoxFuture};
use lettre::{AsyncSmtpTransport, Tokio1Executor};

use crate::DependencyCheck;

/// Opens an SMTP session (greeting and EHLO) and closes it, sending nothing.
pub struct SmtpCheck(pub AsyncSmtpTransport<Tokio1Executor>);

impl DependencyCheck for SmtpCheck {
    fn name(&self) -> &'static str {
        "smtp"
    }

    fn check(&self) -> BoxFuture<'_, Result<(), String>> {
        async move {
            match self.0.test_connection().await {
                Ok(true) => Ok(()),
                Ok(false) => Err("the server refused the session".to_owned()),
                Err(err) => Err(err.to_string()),
            }
        }
        .boxed()
    }
}
