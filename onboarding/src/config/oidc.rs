//! Sign-in with Google and Microsoft (OpenID Connect). The defaults name the local providers of
//! `compose/local`; an issuer of `off` hides a provider's button and routes.

use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use service_runtime::{
    ConfigError,
    config::{check, parse},
};
use url::Url;

use super::{LOCAL_CLIENT_ID, LOCAL_CLIENT_SECRET};

use crate::accounts::oidc::{ProviderConfig, ProviderKind};

#[derive(Debug, Clone, clap::Args)]
pub struct OidcConfig {
    /// Google's issuer (`https://accounts.google.com`), or `off`.
    #[arg(
        long = "oidc-google-issuer",
        env = "OIDC_GOOGLE_ISSUER",
        default_value = "http://127.0.0.1:8091/google",
        value_parser = issuer
    )]
    google_issuer: std::option::Option<Url>,
    #[arg(
        long = "oidc-google-client-id",
        env = "OIDC_GOOGLE_CLIENT_ID",
        default_value = LOCAL_CLIENT_ID
    )]
    google_client_id: String,
    #[arg(
        long = "oidc-google-client-secret",
        env = "OIDC_GOOGLE_CLIENT_SECRET",
        default_value = LOCAL_CLIENT_SECRET,
        value_parser = parse::secret,
        hide_env_values = true
    )]
    google_client_secret: SecretString,
    /// A Microsoft tenant's issuer (`https://login.microsoftonline.com/{tenant}/v2.0`), the
    /// multi-tenant `…/organizations/v2.0`, or `off`.
    #[arg(
        long = "oidc-microsoft-issuer",
        env = "OIDC_MICROSOFT_ISSUER",
        default_value = "http://127.0.0.1:8091/microsoft/7e1c4a2b-5d3f-4c8e-9a10-2b6d8f0e3c71/v2.0",
        value_parser = issuer
    )]
    microsoft_issuer: std::option::Option<Url>,
    #[arg(
        long = "oidc-microsoft-client-id",
        env = "OIDC_MICROSOFT_CLIENT_ID",
        default_value = LOCAL_CLIENT_ID
    )]
    microsoft_client_id: String,
    #[arg(
        long = "oidc-microsoft-client-secret",
        env = "OIDC_MICROSOFT_CLIENT_SECRET",
        default_value = LOCAL_CLIENT_SECRET,
        value_parser = parse::secret,
        hide_env_values = true
    )]
    microsoft_client_secret: SecretString,
    /// The providers not switched `off`, worked out from the variables above.
    #[arg(skip)]
    pub providers: Vec<ProviderConfig>,
    /// Seconds a redirect to a provider may take to come back.
    #[arg(
        long = "oidc-flow-ttl-secs",
        env = "OIDC_FLOW_TTL_SECS",
        default_value = "600",
        value_parser = parse::secs
    )]
    pub flow_ttl: Duration,
}

/// `off`, or the issuer's URL.
fn issuer(value: &str) -> Result<Option<Url>, url::ParseError> {
    match value {
        "off" => Ok(None),
        url => Url::parse(url).map(Some),
    }
}

impl OidcConfig {
    pub(super) fn resolve(&mut self) {
        let google = self.google_issuer.clone().map(|issuer| ProviderConfig {
            kind: ProviderKind::Google,
            issuer,
            client_id: self.google_client_id.clone(),
            client_secret: self.google_client_secret.clone(),
        });
        let microsoft = self.microsoft_issuer.clone().map(|issuer| ProviderConfig {
            kind: ProviderKind::Microsoft,
            issuer,
            client_id: self.microsoft_client_id.clone(),
            client_secret: self.microsoft_client_secret.clone(),
        });
        self.providers = google.into_iter().chain(microsoft).collect();
    }

    /// The local client's id and secret are only for the local providers: a real provider
    /// with either would fail every sign-in at its token endpoint.
    pub fn validate(&self) -> Result<(), ConfigError> {
        check::not_zero("OIDC_FLOW_TTL_SECS", self.flow_ttl)?;
        for provider in &self.providers {
            let prefix = format!("OIDC_{}", provider.kind.name().to_uppercase());
            check::http_url(&format!("{prefix}_ISSUER"), &provider.issuer)?;
            let local = matches!(provider.issuer.host_str(), Some("127.0.0.1" | "localhost"));
            if local {
                continue;
            }
            if provider.client_id == LOCAL_CLIENT_ID {
                return Err(ConfigError::invalid(
                    &format!("{prefix}_CLIENT_ID"),
                    &provider.client_id,
                    format!(
                        "set it (and {prefix}_CLIENT_SECRET) to the client registered at {}",
                        provider.issuer
                    ),
                ));
            }
            if provider.client_secret.expose_secret() == LOCAL_CLIENT_SECRET {
                return Err(ConfigError::invalid(
                    &format!("{prefix}_CLIENT_SECRET"),
                    "<hidden>",
                    format!(
                        "set it to the secret of client {} at {}",
                        provider.client_id, provider.issuer
                    ),
                ));
            }
        }
        Ok(())
    }
}
