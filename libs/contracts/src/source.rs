//! Which way a delivery reached us. One enum for every service; it has two spellings because
//! two stores already hold them: the envelope's `mf-source` header and the warehouse's `source`
//! column say `webhook-secret`, Postgres's `installations.source` says `webhook`.

use std::{fmt, str::FromStr};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Source {
    /// Atlassian Connect: HS256 JWT webhooks signed with the install's shared secret.
    Connect,
    /// Forge Remote: RS256 Forge Invocation Tokens.
    Forge,
    /// A webhook a Jira admin registered by hand (Data Center), signed with an HMAC secret.
    WebhookSecret,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not a source")]
pub struct UnknownSource(pub String);

impl Source {
    pub const ALL: [Self; 3] = [Self::Connect, Self::Forge, Self::WebhookSecret];

    /// The envelope's and the warehouse's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Connect => "connect",
            Self::Forge => "forge",
            Self::WebhookSecret => "webhook-secret",
        }
    }

    /// Postgres's spelling (`installations.source`).
    pub fn store_name(self) -> &'static str {
        match self {
            Self::Connect => "connect",
            Self::Forge => "forge",
            Self::WebhookSecret => "webhook",
        }
    }

    pub fn from_store_name(value: &str) -> Result<Self, UnknownSource> {
        Self::ALL
            .into_iter()
            .find(|source| source.store_name() == value)
            .ok_or_else(|| UnknownSource(value.to_owned()))
    }
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Source {
    type Err = UnknownSource;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|source| source.as_str() == value)
            .ok_or_else(|| UnknownSource(value.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_spelling_reads_back_its_own_source_only() {
        for source in Source::ALL {
            assert_eq!(source.as_str().parse(), Ok(source));
            assert_eq!(Source::from_store_name(source.store_name()), Ok(source));
        }
        assert!("webhook".parse::<Source>().is_err());
        assert!(Source::from_store_name("webhook-secret").is_err());
    }
}
