//! What SREs see of the permission checks: how each member's visibility was settled, per
//! service (`dashboards_…`, `onboarding_…` for the digest). A rise of `jira_unavailable` means
//! members are being shown nothing because Jira does not answer the app.

use prometheus::{IntCounterVec, Opts, Registry};

/// How one request's visibility was settled.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Settled {
    /// The organization does not follow Jira's permissions.
    Everything,
    /// Jira's kept answer for the member.
    Kept,
    /// Jira was asked and answered.
    Asked,
    /// The member has linked no Jira account: nothing shown.
    NotLinked,
    /// Jira could not be asked and nothing young enough was kept: nothing shown.
    JiraUnavailable,
}

impl Settled {
    fn as_str(self) -> &'static str {
        match self {
            Self::Everything => "everything",
            Self::Kept => "kept",
            Self::Asked => "asked",
            Self::NotLinked => "not_linked",
            Self::JiraUnavailable => "jira_unavailable",
        }
    }
}

#[derive(Clone)]
pub struct VisibilityMetrics {
    settled: IntCounterVec,
}

impl VisibilityMetrics {
    /// Registers `{service}_member_visibility_total{outcome}`.
    pub fn register(registry: &Registry, service: &str) -> prometheus::Result<Self> {
        let settled = IntCounterVec::new(
            Opts::new(
                format!("{service}_member_visibility_total"),
                "How each request's view of a member was limited: everything (the organization \
                 does not follow Jira's permissions), kept (Jira's kept answer), asked (Jira \
                 answered now), not_linked or jira_unavailable (nothing shown).",
            ),
            &["outcome"],
        )?;
        registry.register(Box::new(settled.clone()))?;
        Ok(Self { settled })
    }

    /// Counted nowhere: for tests and tools that run a resolver without a registry.
    pub fn unregistered() -> Self {
        Self::register(&Registry::new(), "unregistered").expect("a fresh registry takes it")
    }

    pub(crate) fn record(&self, settled: Settled) {
        self.settled.with_label_values(&[settled.as_str()]).inc();
    }
}
