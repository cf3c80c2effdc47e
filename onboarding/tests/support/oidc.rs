//! The local OpenID providers (`compose/oidc-provider`), driven as a person would: follow
//! onboarding's redirect, fill in the provider's login form, and carry its answer back.

use super::{Browser, PUBLIC_BASE_URL};

/// The Microsoft-shaped issuer's tenant (`compose/oidc-provider/server.mjs`).
pub const MICROSOFT_TENANT: &str = "7e1c4a2b-5d3f-4c8e-9a10-2b6d8f0e3c71";

/// Who signs in on the provider's form.
#[derive(Debug, Clone, Default)]
pub struct Login<'a> {
    pub subject: &'a str,
    pub email: Option<&'a str>,
    /// Google-shaped only: whether the ID token says the email is verified.
    pub email_verified: bool,
    /// Microsoft-shaped only: the `tid` claim (default: the issuer's own tenant).
    pub tenant: Option<&'a str>,
    /// Press Deny instead of signing in.
    pub deny: bool,
    /// Have the provider alter the ID token it then issues: `aud`, `exp` or `sig`.
    pub tamper: Option<&'a str>,
}

/// The provider's side of the browser: its own cookies.
pub struct ProviderBrowser(Browser);

impl Default for ProviderBrowser {
    fn default() -> Self {
        Self(Browser::new(""))
    }
}

/// A fresh subject, so tests never share a provider account.
pub fn subject(name: &str) -> String {
    format!("{name}-{}", uuid::Uuid::new_v4().simple())
}

fn resolve(base: &str, location: &str) -> String {
    url::Url::parse(base)
        .unwrap()
        .join(location)
        .unwrap()
        .to_string()
}

impl ProviderBrowser {
    /// Opens the provider's authorization URL and signs in there; answers the callback path on
    /// onboarding with the provider's answer, not yet followed.
    pub async fn authorize(&mut self, authorization_url: &str, login: &Login<'_>) -> String {
        let page = self.0.get(authorization_url).await;
        page.assert_redirect_to("");
        let interaction = resolve(authorization_url, page.location.as_deref().unwrap());
        self.0
            .get(&interaction)
            .await
            .assert_status(200)
            .assert_contains("local test provider");
        let mut fields = vec![("sub", login.subject.to_owned())];
        if let Some(email) = login.email {
            fields.push(("email", email.to_owned()));
        }
        if login.email_verified {
            fields.push(("email_verified", "true".to_owned()));
        }
        if let Some(tenant) = login.tenant {
            fields.push(("tid", tenant.to_owned()));
        }
        if let Some(tamper) = login.tamper {
            fields.push(("tamper", tamper.to_owned()));
        }
        if login.deny {
            fields.push(("deny", "1".to_owned()));
        }
        let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let done = self.0.post_raw(&interaction, &fields).await;
        done.assert_redirect_to("");
        let resume = resolve(&interaction, done.location.as_deref().unwrap());
        let back = self.0.get(&resume).await;
        back.assert_redirect_to(PUBLIC_BASE_URL);
        back.location.as_deref().unwrap()[PUBLIC_BASE_URL.len()..].to_owned()
    }
}

/// Clicks "Continue with …" (`/auth/oidc/{provider}/start?next=…`) in `app` and signs in on
/// the provider; answers the callback path, not yet followed.
pub async fn continue_with(
    app: &mut Browser,
    provider: &mut ProviderBrowser,
    name: &str,
    next: &str,
    login: &Login<'_>,
) -> String {
    let start = app
        .get(&format!(
            "/auth/oidc/{name}/start?next={}",
            url::form_urlencoded::byte_serialize(next.as_bytes()).collect::<String>()
        ))
        .await;
    start.assert_redirect_to("http://127.0.0.1:");
    provider
        .authorize(start.location.as_deref().unwrap(), login)
        .await
}

/// A query parameter's value in a URL or path.
pub fn query_param(url: &str, name: &str) -> Option<String> {
    let query = url.split_once('?')?.1;
    url::form_urlencoded::parse(query.as_bytes())
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.into_owned())
}

/// The same URL with one query parameter's value replaced.
pub fn with_param(url: &str, name: &str, value: &str) -> String {
    let (base, query) = url.split_once('?').unwrap();
    let pairs: Vec<(String, String)> = url::form_urlencoded::parse(query.as_bytes())
        .map(|(key, old)| {
            let new = if key == name {
                value.to_owned()
            } else {
                old.into_owned()
            };
            (key.into_owned(), new)
        })
        .collect();
    let query = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish();
    format!("{base}?{query}")
}

/// A fresh browser signed in through `provider` (landing on `/`).
pub async fn signed_in(harness: &super::Harness, provider: &str, login: &Login<'_>) -> Browser {
    let mut app = harness.browser();
    let mut idp = ProviderBrowser::default();
    let callback = continue_with(&mut app, &mut idp, provider, "/", login).await;
    app.get(&callback).await.assert_redirect_to("/");
    app
}

/// Google's answer for an address it verified.
pub fn google<'a>(subject: &'a str, email: &'a str) -> Login<'a> {
    Login {
        subject,
        email: Some(email),
        email_verified: true,
        ..Login::default()
    }
}
