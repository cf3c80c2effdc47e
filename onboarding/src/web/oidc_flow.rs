//! A sign-in at a provider under way, or a member's consent at Atlassian, kept in the browser
//! that started it rather than in Postgres: sealed (AES-256-GCM under `SECRETS_KEY`) into a
//! cookie (`mf_oidc_flow`, `mf_atlassian_flow`). An anonymous `GET /auth/oidc/{provider}/start`
//! thus stores nothing of ours; when each one wrote a row, anyone could grow the table without
//! end.
//!
//! The callback's answer is single-use in this browser: once taken, the cookie is replaced by
//! the same flow marked used. A replay from elsewhere that carried the original cookie along
//! also needs the authorization code again, which the provider redeems once (RFC 6749 §4.1.2),
//! and PKCE and the nonce bind the code and the ID token to this flow.

use std::{
    fmt,
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use axum_extra::extract::cookie::{Cookie, CookieJar, SameSite};
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use serde::{Deserialize, Serialize};
use service_runtime::secret_cipher::SecretCipher;
use subtle::ConstantTimeEq;
use uuid::Uuid;

/// Which flows a cookie carries.
pub(crate) struct FlowKind {
    cookie: &'static str,
    /// Only the callback's routes read it.
    path: &'static str,
    /// Names what the sealed bytes are, so nothing else sealed under the same key (another
    /// kind's flow among them) passes for a flow of this kind.
    purpose: &'static str,
}

/// Signing in (or linking a sign-in method) with Google or Microsoft.
pub(crate) const SIGN_IN: FlowKind = FlowKind {
    cookie: "mf_oidc_flow",
    path: "/auth/oidc",
    purpose: "oidc_flow/1",
};

/// A member linking their Atlassian account in an organization.
pub(crate) const ATLASSIAN_LINK: FlowKind = FlowKind {
    cookie: "mf_atlassian_flow",
    path: "/auth/atlassian",
    purpose: "atlassian_flow/1",
};

/// What the browser must bring back from the provider, kept while it is away.
pub(crate) struct NewFlow<'a> {
    pub(crate) state: &'a str,
    pub(crate) visitor: &'a str,
    pub(crate) provider: &'a str,
    pub(crate) nonce: &'a str,
    pub(crate) pkce_verifier: &'a str,
    pub(crate) link_user_id: Option<Uuid>,
    /// The organization an Atlassian account is linked in.
    pub(crate) organization_id: Option<Uuid>,
    pub(crate) next: &'a str,
    pub(crate) lifetime: Duration,
}

/// A sign-in under way, taken back by its callback.
#[derive(Debug, Clone)]
pub(crate) struct Flow {
    pub(crate) nonce: String,
    pub(crate) pkce_verifier: String,
    pub(crate) link_user_id: Option<Uuid>,
    pub(crate) organization_id: Option<Uuid>,
    pub(crate) next: String,
}

#[derive(Debug)]
pub(crate) enum FlowCheck {
    Valid(Flow),
    /// This browser started no flow with this state: altered, or from somewhere else.
    Unknown,
    /// Its callback already came once (a replay, or the back button).
    Used,
    Expired,
    /// Started in another browser than the one that came back.
    OtherBrowser,
    /// Started for another provider than the callback's.
    OtherProvider,
}

impl fmt::Display for FlowCheck {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Valid(_) => "valid",
            Self::Unknown => "unknown_state",
            Self::Used => "replayed_state",
            Self::Expired => "expired_state",
            Self::OtherBrowser => "other_browser",
            Self::OtherProvider => "other_provider",
        })
    }
}

#[derive(Serialize, Deserialize)]
struct Sealed {
    purpose: String,
    state: String,
    visitor: String,
    provider: String,
    nonce: String,
    pkce_verifier: String,
    /// A `Uuid` as text: the uuid crate is built without serde here.
    link_user_id: Option<String>,
    /// A `Uuid` as text; absent from the sign-in flows sealed before it existed.
    #[serde(default)]
    organization_id: Option<String>,
    next: String,
    /// Seconds since the Unix epoch.
    expires_at: u64,
    used: bool,
}

/// Seals and opens flows, with the service's `SECRETS_KEY`.
pub(crate) struct FlowCookies<'a> {
    pub(crate) cipher: &'a SecretCipher,
    pub(crate) secure: bool,
    pub(crate) kind: &'static FlowKind,
}

impl FlowCookies<'_> {
    /// The `Set-Cookie` that keeps `flow` in the browser until its callback.
    pub(crate) fn started(&self, flow: &NewFlow<'_>) -> Cookie<'static> {
        let sealed = Sealed {
            purpose: self.kind.purpose.to_owned(),
            state: flow.state.to_owned(),
            visitor: flow.visitor.to_owned(),
            provider: flow.provider.to_owned(),
            nonce: flow.nonce.to_owned(),
            pkce_verifier: flow.pkce_verifier.to_owned(),
            link_user_id: flow.link_user_id.map(|id| id.to_string()),
            organization_id: flow.organization_id.map(|id| id.to_string()),
            next: flow.next.to_owned(),
            expires_at: unix_now().saturating_add(flow.lifetime.as_secs()),
            used: false,
        };
        self.cookie(&sealed, flow.lifetime)
    }

    /// Checks the callback's `state` against the flow this browser carries. Unless the state is
    /// unknown (an altered answer must not burn the genuine one), the flow is used up whatever
    /// comes of it: the second value is the `Set-Cookie` that marks it so.
    pub(crate) fn take(
        &self,
        jar: &CookieJar,
        state: &str,
        visitor: &str,
        provider: &str,
    ) -> (FlowCheck, Option<Cookie<'static>>) {
        let Some((mut sealed, link_user_id, organization_id)) =
            jar.get(self.kind.cookie).and_then(|c| self.open(c.value()))
        else {
            return (FlowCheck::Unknown, None);
        };
        if !bool::from(sealed.state.as_bytes().ct_eq(state.as_bytes())) {
            return (FlowCheck::Unknown, None);
        }
        let check = if sealed.used {
            FlowCheck::Used
        } else if sealed.expires_at <= unix_now() {
            FlowCheck::Expired
        } else if !bool::from(sealed.visitor.as_bytes().ct_eq(visitor.as_bytes())) {
            FlowCheck::OtherBrowser
        } else if sealed.provider != provider {
            FlowCheck::OtherProvider
        } else {
            FlowCheck::Valid(Flow {
                nonce: sealed.nonce.clone(),
                pkce_verifier: sealed.pkce_verifier.clone(),
                link_user_id,
                organization_id,
                next: sealed.next.clone(),
            })
        };
        let remaining = Duration::from_secs(sealed.expires_at.saturating_sub(unix_now()));
        sealed.used = true;
        (check, Some(self.cookie(&sealed, remaining)))
    }

    fn cookie(&self, sealed: &Sealed, lifetime: Duration) -> Cookie<'static> {
        let json = serde_json::to_vec(sealed).expect("a flow always serializes");
        Cookie::build((
            self.kind.cookie,
            URL_SAFE_NO_PAD.encode(self.cipher.encrypt(&json)),
        ))
        .http_only(true)
        // Lax: the provider sends the browser back with a top-level GET from its site.
        .same_site(SameSite::Lax)
        .secure(self.secure)
        .path(self.kind.path)
        .max_age(time::Duration::seconds(
            i64::try_from(lifetime.as_secs()).unwrap_or(i64::MAX),
        ))
        .build()
    }

    /// The flow sealed in `value`, the user it links and the organization it links in, if it
    /// is a flow of this kind that we sealed.
    fn open(&self, value: &str) -> Option<(Sealed, Option<Uuid>, Option<Uuid>)> {
        use secrecy::ExposeSecret as _;
        let bytes = URL_SAFE_NO_PAD.decode(value).ok()?;
        let json = self.cipher.decrypt(&bytes).ok()?;
        let sealed: Sealed = serde_json::from_slice(json.expose_secret()).ok()?;
        let uuid = |id: &Option<String>| match id {
            Some(id) => Uuid::parse_str(id).ok().map(Some),
            None => Some(None),
        };
        let link_user_id = uuid(&sealed.link_user_id)?;
        let organization_id = uuid(&sealed.organization_id)?;
        (sealed.purpose == self.kind.purpose).then_some((sealed, link_user_id, organization_id))
    }
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_secs())
}

#[cfg(test)]
mod tests {
    use super::*;
    use service_runtime::secret_cipher::DEVELOPMENT_KEY;

    fn cookies(cipher: &SecretCipher) -> FlowCookies<'_> {
        FlowCookies {
            cipher,
            secure: true,
            kind: &SIGN_IN,
        }
    }

    fn new_flow(lifetime: Duration) -> NewFlow<'static> {
        NewFlow {
            state: "state-1",
            visitor: "visitor-1",
            provider: "google",
            nonce: "nonce-1",
            pkce_verifier: "verifier-1",
            link_user_id: None,
            organization_id: None,
            next: "/after",
            lifetime,
        }
    }

    fn jar_with(cookie: Cookie<'static>) -> CookieJar {
        CookieJar::new().add(cookie)
    }

    #[test]
    fn a_flow_comes_back_once_then_reads_as_used() {
        let cipher = SecretCipher::parse_key(DEVELOPMENT_KEY).unwrap();
        let flows = cookies(&cipher);
        let started = flows.started(&new_flow(Duration::from_secs(600)));
        assert!(started.http_only().unwrap_or(false) && started.secure().unwrap_or(false));
        let (check, used) = flows.take(&jar_with(started), "state-1", "visitor-1", "google");
        let FlowCheck::Valid(flow) = check else {
            panic!("expected a valid flow, got {check}");
        };
        assert_eq!(
            (flow.nonce.as_str(), flow.next.as_str()),
            ("nonce-1", "/after")
        );
        let (again, _) = flows.take(&jar_with(used.unwrap()), "state-1", "visitor-1", "google");
        assert!(matches!(again, FlowCheck::Used), "{again}");
    }

    #[test]
    fn an_altered_state_leaves_the_flow_untouched_and_others_use_it_up() {
        let cipher = SecretCipher::parse_key(DEVELOPMENT_KEY).unwrap();
        let flows = cookies(&cipher);
        let jar = jar_with(flows.started(&new_flow(Duration::from_secs(600))));
        let (check, set) = flows.take(&jar, "state-2", "visitor-1", "google");
        assert!(matches!(check, FlowCheck::Unknown) && set.is_none());
        let (check, set) = flows.take(&jar, "state-1", "visitor-2", "google");
        assert!(matches!(check, FlowCheck::OtherBrowser) && set.is_some());
        let (check, _) = flows.take(&jar, "state-1", "visitor-1", "microsoft");
        assert!(matches!(check, FlowCheck::OtherProvider), "{check}");
    }

    #[test]
    fn an_expired_flow_a_forged_cookie_and_another_keys_cookie_are_refused() {
        let cipher = SecretCipher::parse_key(DEVELOPMENT_KEY).unwrap();
        let flows = cookies(&cipher);
        let expired = jar_with(flows.started(&new_flow(Duration::ZERO)));
        let (check, _) = flows.take(&expired, "state-1", "visitor-1", "google");
        assert!(matches!(check, FlowCheck::Expired), "{check}");

        let forged = jar_with(Cookie::new(SIGN_IN.cookie, URL_SAFE_NO_PAD.encode(b"{}")));
        let (check, _) = flows.take(&forged, "state-1", "visitor-1", "google");
        assert!(matches!(check, FlowCheck::Unknown), "{check}");

        let other_key =
            SecretCipher::parse_key(&base64::engine::general_purpose::STANDARD.encode([7u8; 32]))
                .unwrap();
        let foreign = jar_with(cookies(&other_key).started(&new_flow(Duration::from_secs(600))));
        let (check, _) = flows.take(&foreign, "state-1", "visitor-1", "google");
        assert!(matches!(check, FlowCheck::Unknown), "{check}");
    }

    #[test]
    fn a_flow_of_one_kind_does_not_open_as_the_other() {
        let cipher = SecretCipher::parse_key(DEVELOPMENT_KEY).unwrap();
        let sign_in = cookies(&cipher);
        let link = FlowCookies {
            kind: &ATLASSIAN_LINK,
            ..cookies(&cipher)
        };
        let organization = Uuid::new_v4();
        let started = link.started(&NewFlow {
            organization_id: Some(organization),
            ..new_flow(Duration::from_secs(600))
        });
        assert_eq!(started.name(), "mf_atlassian_flow");
        assert_eq!(started.path(), Some("/auth/atlassian"));
        // The same sealed value, carried under the sign-in cookie's name.
        let carried = jar_with(Cookie::new(SIGN_IN.cookie, started.value().to_owned()));
        let (check, _) = sign_in.take(&carried, "state-1", "visitor-1", "google");
        assert!(matches!(check, FlowCheck::Unknown), "{check}");
        let (check, _) = link.take(&jar_with(started), "state-1", "visitor-1", "google");
        let FlowCheck::Valid(flow) = check else {
            panic!("expected a valid flow, got {check}");
        };
        assert_eq!(flow.organization_id, Some(organization));
    }
}
