//! Sign-in with Google and Microsoft: OpenID Connect's authorization code flow with PKCE, done by
//! the `openidconnect` crate (discovery, the provider's JWKS, the ID token's signature, `iss`,
//! `aud`, `exp` and `nonce`). Ours are the provider rules: who an identity is, and whether the
//! provider vouches for its email.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use openidconnect::{
    AdditionalClaims, AuthorizationCode, Client, ClientId, ClientSecret, CsrfToken,
    EmptyExtraTokenFields, EndpointMaybeSet, EndpointNotSet, EndpointSet, HttpRequest,
    HttpResponse, IdTokenFields, IssuerUrl, Nonce, PkceCodeChallenge, PkceCodeVerifier,
    RedirectUrl, Scope, StandardErrorResponse, StandardTokenResponse, TokenResponse,
    core::{
        CoreAuthDisplay, CoreAuthPrompt, CoreAuthenticationFlow, CoreErrorResponseType,
        CoreGenderClaim, CoreJsonWebKey, CoreJsonWebKeySet, CoreJweContentEncryptionAlgorithm,
        CoreJwsSigningAlgorithm, CoreProviderMetadata, CoreRevocableToken,
        CoreRevocationErrorResponse, CoreTokenIntrospectionResponse, CoreTokenType,
    },
};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use tokio::sync::Mutex;
use url::Url;

/// The providers we know how to trust; each has its own rules for identities and emails.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProviderKind {
    /// Google: the identity is (issuer, `sub`); the email counts when `email_verified` is true.
    Google,
    /// Microsoft Entra ID: the issuer names the tenant, which must be the token's `tid`; the
    /// identity is (tenant, `oid`); the `email` claim is whatever a tenant admin typed, so it
    /// never counts as verified.
    Microsoft,
}

impl ProviderKind {
    pub const ALL: [Self; 2] = [Self::Google, Self::Microsoft];

    /// The name in our URLs and tables.
    pub fn name(self) -> &'static str {
        match self {
            Self::Google => "google",
            Self::Microsoft => "microsoft",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Self::Google => "Google",
            Self::Microsoft => "Microsoft",
        }
    }

    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|kind| kind.name() == name)
    }
}

/// One configured provider.
#[derive(Debug, Clone)]
pub struct ProviderConfig {
    pub kind: ProviderKind,
    /// Discovered from `{issuer}/.well-known/openid-configuration`; must equal the `issuer` the
    /// document names and every ID token's `iss`.
    pub issuer: Url,
    pub client_id: String,
    pub client_secret: SecretString,
}

/// The two Microsoft claims that identify a user across its apps and tenants.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct TenantClaims {
    tid: Option<String>,
    oid: Option<String>,
}

impl AdditionalClaims for TenantClaims {}

type Fields = IdTokenFields<
    TenantClaims,
    EmptyExtraTokenFields,
    CoreGenderClaim,
    CoreJweContentEncryptionAlgorithm,
    CoreJwsSigningAlgorithm,
>;

type OidcClient = Client<
    TenantClaims,
    CoreAuthDisplay,
    CoreGenderClaim,
    CoreJweContentEncryptionAlgorithm,
    CoreJsonWebKey,
    CoreAuthPrompt,
    StandardErrorResponse<CoreErrorResponseType>,
    StandardTokenResponse<Fields, CoreTokenType>,
    CoreTokenIntrospectionResponse,
    CoreRevocableToken,
    CoreRevocationErrorResponse,
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointMaybeSet,
    EndpointMaybeSet,
>;

/// How long discovery (and with it the provider's signing keys) is reused.
const DISCOVERY_TTL: Duration = Duration::from_secs(600);

#[derive(Debug, thiserror::Error)]
pub enum OidcError {
    #[error("the provider could not be asked: {0}")]
    Unavailable(String),
    #[error("the provider's answer was refused: {0}")]
    Refused(String),
    #[error("the ID token's tenant is not its issuer's")]
    TenantMismatch,
    #[error("the ID token has no {0}")]
    MissingClaim(&'static str),
}

/// A redirect to the provider and what its callback must bring back.
pub struct Authorization {
    pub url: Url,
    pub state: String,
    pub nonce: String,
    pub pkce_verifier: String,
}

/// Who the provider says signed in, from an ID token the crate verified.
#[derive(Debug, Clone)]
pub struct VerifiedIdentity {
    pub kind: ProviderKind,
    /// With `subject`, the identity's key. For Microsoft the issuer names the tenant.
    pub issuer: String,
    pub subject: String,
    pub email: Option<String>,
    /// Whether the provider vouches that the user owns `email`.
    pub email_verified: bool,
}

pub struct Provider {
    config: ProviderConfig,
    redirect_url: RedirectUrl,
    http: reqwest::Client,
    discovered: Mutex<Option<(Instant, Arc<Discovered>)>>,
}

/// A provider's client, built from its discovery document.
struct Discovered {
    client: OidcClient,
    /// Microsoft's multi-tenant endpoints (`common`, `organizations`) name no issuer but a
    /// pattern, `https://login.microsoftonline.com/{tenantid}/v2.0`; each token's `iss` must be
    /// that pattern with the token's own `tid`.
    issuer_template: Option<String>,
}

/// The placeholder in a multi-tenant issuer.
const TENANT_PLACEHOLDER: &str = "{tenantid}";

impl Provider {
    pub fn new(config: ProviderConfig, public_base_url: &Url) -> anyhow::Result<Self> {
        let base = public_base_url.as_str().trim_end_matches('/');
        let redirect_url =
            RedirectUrl::new(format!("{base}/auth/oidc/{}/callback", config.kind.name()))?;
        // Never follow redirects: the crate's advice against SSRF through a provider's answers.
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(10))
            .build()?;
        Ok(Self {
            config,
            redirect_url,
            http,
            discovered: Mutex::new(None),
        })
    }

    pub fn kind(&self) -> ProviderKind {
        self.config.kind
    }

    pub fn issuer(&self) -> &str {
        self.config.issuer.as_str()
    }

    /// Whether the configured issuer is one of Microsoft's multi-tenant endpoints.
    fn multi_tenant(&self) -> bool {
        self.config.kind == ProviderKind::Microsoft
            && matches!(
                tenant_of_issuer(self.config.issuer.as_str()),
                Some("common" | "organizations" | "consumers")
            )
    }

    /// Whether `iss` (a callback's, RFC 9207) names this provider.
    pub async fn names_issuer(&self, iss: &str) -> bool {
        let iss = iss.trim_end_matches('/');
        match self.client().await {
            Ok(discovered) => match &discovered.issuer_template {
                Some(template) => {
                    template
                        .split_once(TENANT_PLACEHOLDER)
                        .is_some_and(|(before, after)| {
                            iss.starts_with(before)
                                && iss.ends_with(after.trim_end_matches('/'))
                                && iss.len() > before.len() + after.trim_end_matches('/').len()
                        })
                }
                None => iss == self.config.issuer.as_str().trim_end_matches('/'),
            },
            Err(_) => false,
        }
    }

    /// Microsoft's multi-tenant discovery: its `issuer` is a pattern, which the crate's
    /// discovery (rightly) refuses, so the document is read here and its keys fetched by the crate.
    async fn discover_multi_tenant(
        &self,
        issuer: &str,
    ) -> Result<(CoreProviderMetadata, String), OidcError> {
        let url = format!("{issuer}/.well-known/openid-configuration");
        let unavailable = |err: &dyn std::error::Error| {
            OidcError::Unavailable(format!("discovery: {}", error_chain(err)))
        };
        let response = self
            .http
            .get(&url)
            .send()
            .await
            .and_then(reqwest::Response::error_for_status)
            .map_err(|err| unavailable(&err))?;
        let body = response.bytes().await.map_err(|err| unavailable(&err))?;
        let metadata: CoreProviderMetadata =
            serde_json::from_slice(&body).map_err(|err| unavailable(&err))?;
        let template = metadata.issuer().as_str().to_owned();
        if !template.contains(TENANT_PLACEHOLDER) {
            return Err(OidcError::Unavailable(format!(
                "discovery: {url} names the issuer {template}, not a {TENANT_PLACEHOLDER} pattern"
            )));
        }
        let http = |request| send(self.http.clone(), request);
        let jwks = CoreJsonWebKeySet::fetch_async(metadata.jwks_uri(), &http)
            .await
            .map_err(|err| unavailable(&err))?;
        Ok((metadata.set_jwks(jwks), template))
    }

    async fn client(&self) -> Result<Arc<Discovered>, OidcError> {
        let mut discovered = self.discovered.lock().await;
        if let Some((at, client)) = discovered.as_ref()
            && at.elapsed() < DISCOVERY_TTL
        {
            return Ok(client.clone());
        }
        let issuer = self.config.issuer.as_str().trim_end_matches('/').to_owned();
        let (metadata, issuer_template) = if self.multi_tenant() {
            let (metadata, template) = self.discover_multi_tenant(&issuer).await?;
            (metadata, Some(template))
        } else {
            let issuer =
                IssuerUrl::new(issuer).map_err(|err| OidcError::Unavailable(err.to_string()))?;
            let http = |request| send(self.http.clone(), request);
            let metadata = CoreProviderMetadata::discover_async(issuer, &http)
                .await
                .map_err(|err| {
                    OidcError::Unavailable(format!("discovery: {}", error_chain(&err)))
                })?;
            (metadata, None)
        };
        let client = OidcClient::from_provider_metadata(
            metadata,
            ClientId::new(self.config.client_id.clone()),
            Some(ClientSecret::new(
                self.config.client_secret.expose_secret().to_owned(),
            )),
        )
        .set_redirect_uri(self.redirect_url.clone());
        let client = Arc::new(Discovered {
            client,
            issuer_template,
        });
        *discovered = Some((Instant::now(), client.clone()));
        Ok(client)
    }

    /// Where to send the browser: code flow, PKCE S256, a fresh `state` and `nonce`.
    pub async fn authorize(&self) -> Result<Authorization, OidcError> {
        let discovered = self.client().await?;
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let (url, state, nonce) = discovered
            .client
            .authorize_url(
                CoreAuthenticationFlow::AuthorizationCode,
                CsrfToken::new_random,
                Nonce::new_random,
            )
            .add_scope(Scope::new("email".to_owned()))
            .add_scope(Scope::new("profile".to_owned()))
            .set_pkce_challenge(challenge)
            .url();
        Ok(Authorization {
            url,
            state: state.secret().clone(),
            nonce: nonce.secret().clone(),
            pkce_verifier: verifier.secret().clone(),
        })
    }

    /// Trades the code for tokens (with the PKCE verifier) and verifies the ID token.
    pub async fn finish(
        &self,
        code: String,
        pkce_verifier: String,
        nonce: String,
    ) -> Result<VerifiedIdentity, OidcError> {
        let discovered = self.client().await?;
        let client = &discovered.client;
        let http = |request| send(self.http.clone(), request);
        let tokens = client
            .exchange_code(AuthorizationCode::new(code))
            .map_err(|err| OidcError::Unavailable(err.to_string()))?
            .set_pkce_verifier(PkceCodeVerifier::new(pkce_verifier))
            .request_async(&http)
            .await
            .map_err(|err| OidcError::Refused(format!("token exchange: {}", error_chain(&err))))?;
        let id_token = tokens
            .id_token()
            .ok_or(OidcError::MissingClaim("ID token"))?;
        // A multi-tenant issuer is a pattern: `iss` is checked against it below, with `tid`;
        // signature, audience, expiry and nonce are the crate's checks as always.
        let verifier = client
            .id_token_verifier()
            .require_issuer_match(discovered.issuer_template.is_none());
        let claims = id_token
            .claims(&verifier, &Nonce::new(nonce))
            .map_err(|err| OidcError::Refused(format!("ID token: {}", error_chain(&err))))?;
        let issuer = claims.issuer().as_str().to_owned();
        let email = claims.email().map(|email| email.as_str().to_owned());
        match self.config.kind {
            ProviderKind::Google => Ok(VerifiedIdentity {
                kind: self.config.kind,
                issuer,
                subject: claims.subject().as_str().to_owned(),
                email,
                email_verified: claims.email_verified() == Some(true),
            }),
            ProviderKind::Microsoft => {
                let extra = claims.additional_claims();
                let tid = extra.tid.as_deref().ok_or(OidcError::MissingClaim("tid"))?;
                let oid = extra.oid.as_deref().ok_or(OidcError::MissingClaim("oid"))?;
                let issuer_is_tenants = match &discovered.issuer_template {
                    Some(template) => issuer == template.replace(TENANT_PLACEHOLDER, tid),
                    None => tenant_of_issuer(&issuer) == Some(tid),
                };
                if !issuer_is_tenants {
                    return Err(OidcError::TenantMismatch);
                }
                Ok(VerifiedIdentity {
                    kind: self.config.kind,
                    issuer,
                    subject: oid.to_owned(),
                    email,
                    email_verified: false,
                })
            }
        }
    }
}

/// The tenant an Entra ID issuer names: the path segment before `v2.0`
/// (`https://login.microsoftonline.com/{tenant}/v2.0`).
fn tenant_of_issuer(issuer: &str) -> Option<&str> {
    let path = issuer.split_once("://")?.1.split_once('/')?.1;
    let mut segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    if segments.last() == Some(&"v2.0") {
        segments.pop();
    }
    segments.pop()
}

/// The crate's HTTP calls, through our reqwest.
async fn send(http: reqwest::Client, request: HttpRequest) -> Result<HttpResponse, HttpError> {
    let (parts, body) = request.into_parts();
    let response = http
        .request(parts.method, parts.uri.to_string())
        .headers(parts.headers)
        .body(body)
        .send()
        .await?;
    let mut builder = openidconnect::http::Response::builder().status(response.status());
    if let Some(headers) = builder.headers_mut() {
        *headers = response.headers().clone();
    }
    let body = response.bytes().await?.to_vec();
    Ok(builder.body(body)?)
}

#[derive(Debug, thiserror::Error)]
enum HttpError {
    #[error(transparent)]
    Reqwest(#[from] reqwest::Error),
    #[error(transparent)]
    Http(#[from] openidconnect::http::Error),
}

fn error_chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// The configured providers, in the order their buttons show.
#[derive(Clone, Default)]
pub struct Providers(Arc<Vec<Provider>>);

impl Providers {
    pub fn new(configs: Vec<ProviderConfig>, public_base_url: &Url) -> anyhow::Result<Self> {
        Ok(Self(Arc::new(
            configs
                .into_iter()
                .map(|config| Provider::new(config, public_base_url))
                .collect::<anyhow::Result<_>>()?,
        )))
    }

    pub fn get(&self, name: &str) -> Option<&Provider> {
        self.0
            .iter()
            .find(|provider| provider.kind().name() == name)
    }

    pub fn kinds(&self) -> Vec<ProviderKind> {
        self.0.iter().map(Provider::kind).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tenant_is_the_segment_before_the_version() {
        assert_eq!(
            tenant_of_issuer("https://login.microsoftonline.com/9188040d/v2.0"),
            Some("9188040d")
        );
        assert_eq!(
            tenant_of_issuer("http://127.0.0.1:8091/microsoft/abc/v2.0"),
            Some("abc")
        );
        assert_eq!(
            tenant_of_issuer("https://sts.windows.net/abc/"),
            Some("abc")
        );
        assert_eq!(tenant_of_issuer("https://example.test"), None);
    }
}
