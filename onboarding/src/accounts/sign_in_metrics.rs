//! `sign_ins_total{method, outcome}`: every attempt to sign in, with a password or through an
//! identity provider's callback, by how it ended. A climb in `refused` for `password` is someone
//! guessing; `unavailable` for a provider is that provider (or our Postgres) failing.

use axum::{http::StatusCode, response::Response};
use prometheus::{IntCounterVec, Opts, Registry};

use crate::web::PageError;

#[derive(Clone)]
pub struct SignInMetrics {
    attempts: IntCounterVec,
}

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

    /// How a sign-in page's answer ended.
    pub(crate) fn of(answer: &Result<Response, PageError>) -> Self {
        match answer {
            Ok(_) => Self::Succeeded,
            Err(PageError::TooManyAttempts { .. }) => Self::RateLimited,
            Err(err) if err.is_unavailable() => Self::Unavailable,
            Err(PageError::Explained(status, _)) if *status == StatusCode::SERVICE_UNAVAILABLE => {
                Self::Unavailable
            }
            Err(_) => Self::Refused,
        }
    }
}

impl SignInMetrics {
    pub fn register(registry: &Registry) -> prometheus::Result<Self> {
        let attempts = IntCounterVec::new(
            Opts::new(
                "sign_ins_total",
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
