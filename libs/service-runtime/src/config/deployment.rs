//! `DEPLOYMENT`: whether the development fallbacks (the committed `SECRETS_KEY`, the local Jira
//! simulator's plain-http URLs) are allowed. Production is the default, so a deployment that
//! forgets a variable refuses to start instead of quietly running on a key everyone has.

use url::Url;

use super::ConfigError;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Deployment {
    /// The local stack, CI and Docker Compose: development fallbacks allowed.
    Local,
    /// Anything else: each development fallback is refused, naming its variable.
    Production,
}

impl Deployment {
    pub fn is_local(self) -> bool {
        self == Self::Local
    }

    /// Refuses `what` (a development fallback `name` fell back to) outside local mode.
    pub fn allow_fallback(self, name: &str, what: impl ToString) -> Result<(), ConfigError> {
        if self.is_local() {
            return Ok(());
        }
        Err(ConfigError::DevelopmentFallback {
            name: name.to_owned(),
            what: what.to_string(),
        })
    }

    /// Outside local mode, a URL we fetch keys from or call Jira at must be https: over plain
    /// http anyone on the path could serve their own keys and have their tokens accepted.
    pub fn require_https(self, name: &str, url: &Url) -> Result<(), ConfigError> {
        if url.scheme() == "https" {
            return Ok(());
        }
        self.allow_fallback(
            name,
            format!(
                "is {}, not https (the local simulator's kind of URL)",
                super::redact_url(url.as_str())
            ),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn production_refuses_plain_http_naming_the_variable_and_local_allows_it() {
        let url: Url = "http://127.0.0.1:8090/forge/jwks.json".parse().unwrap();
        let err = Deployment::Production
            .require_https("FORGE_JWKS_URL", &url)
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            "environment variable FORGE_JWKS_URL is http://127.0.0.1:8090/forge/jwks.json, \
             not https (the local simulator's kind of URL), a development fallback only \
             DEPLOYMENT=local allows"
        );
        Deployment::Local
            .require_https("FORGE_JWKS_URL", &url)
            .unwrap();
        Deployment::Production
            .require_https(
                "FORGE_JWKS_URL",
                &"https://forge.example/jwks".parse().unwrap(),
            )
            .unwrap();
    }
}
