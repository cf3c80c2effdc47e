//! The weekly digest email: how often the job looks for members whose Monday has come, and at
//! what hour of their Monday the digest goes out.

use std::time::Duration;

use service_runtime::{
    ConfigError,
    config::{check, parse},
};

#[derive(Debug, Clone, clap::Args)]
pub struct DigestConfig {
    /// How often the digest job looks for subscriptions that are due, in seconds: a digest goes
    /// out within this of its member's Monday hour.
    #[arg(
        long = "digest-interval-seconds",
        env = "DIGEST_INTERVAL_SECONDS",
        default_value = "60",
        value_parser = parse::secs
    )]
    pub interval: Duration,
    /// The hour (0-23) of Monday, in each member's time zone, from which last week's digest is
    /// sent.
    #[arg(long = "digest-hour", env = "DIGEST_HOUR", default_value_t = 7)]
    pub hour: u32,
    /// How long Jira's answer about what a member may see is used for their digests, in
    /// organizations that show members only that (the dashboards read the same variable).
    #[arg(
        long = "jira-permissions-ttl-secs",
        env = "JIRA_PERMISSIONS_TTL_SECS",
        default_value = "300",
        value_parser = parse::secs
    )]
    pub permissions_ttl: Duration,
}

impl DigestConfig {
    pub fn validate(&self) -> Result<(), ConfigError> {
        check::not_zero("DIGEST_INTERVAL_SECONDS", self.interval)?;
        check::not_zero("JIRA_PERMISSIONS_TTL_SECS", self.permissions_ttl)?;
        if self.hour > 23 {
            return Err(ConfigError::invalid(
                "DIGEST_HOUR",
                self.hour,
                "must be an hour of the day, 0 to 23",
            ));
        }
        Ok(())
    }
}
