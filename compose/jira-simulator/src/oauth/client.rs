//! The one client registered with the simulated authorization server: MetaFrazo as the local
//! stack and the tests run it. Like a real authorization server, it sends the browser back only
//! to a redirect URI registered for the client; anything else is refused on a page of its own.

use url::Url;

const CLIENT_ID: &str = "metafrazo-local";
const CLIENT_SECRET: &str = "metafrazo-local-secret";

/// Where onboarding receives the answer, on whichever host it runs.
const CALLBACK_PATH: &str = "/auth/atlassian/callback";

/// Loopback hosts take any port, as RFC 8252 has it for native clients: each test starts
/// onboarding on a port of its own.
const LOOPBACK_HOSTS: [&str; 2] = ["127.0.0.1", "localhost"];

/// The onboarding tests' public URL; its port is the scheme's own.
const PUBLIC_HOST: &str = "metafrazo.test";

pub(crate) fn is_registered_client(client_id: &str) -> bool {
    client_id == CLIENT_ID
}

/// Whether `client_id` and `client_secret` are the registered pair. A plain comparison: the
/// secret is public (it is in the README) and the simulator only ever listens on a test machine.
pub(crate) fn client_secret_matches(client_id: &str, client_secret: &str) -> bool {
    is_registered_client(client_id) && client_secret == CLIENT_SECRET
}

/// `redirect_uri` parsed, if the registered client may be sent back there: the callback path
/// exactly, no query, fragment or credentials, on a loopback host over http (any port) or on the
/// public host over https.
pub(crate) fn allowed_redirect_uri(redirect_uri: &str) -> Option<Url> {
    let url = Url::parse(redirect_uri).ok()?;
    let host = url.host_str()?;
    let host_allowed = match url.scheme() {
        "http" => LOOPBACK_HOSTS.contains(&host),
        "https" => host == PUBLIC_HOST && url.port().is_none(),
        _ => false,
    };
    let exact = url.path() == CALLBACK_PATH
        && url.query().is_none()
        && url.fragment().is_none()
        && url.username().is_empty()
        && url.password().is_none();
    (host_allowed && exact).then_some(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redirect_uris_are_allowed_on_the_registered_hosts_with_the_callback_path() {
        for uri in [
            "http://127.0.0.1:5123/auth/atlassian/callback",
            "http://localhost:8081/auth/atlassian/callback",
            "http://127.0.0.1/auth/atlassian/callback",
            "https://metafrazo.test/auth/atlassian/callback",
        ] {
            assert!(allowed_redirect_uri(uri).is_some(), "{uri}");
        }
    }

    #[test]
    fn any_other_redirect_uri_is_refused() {
        for uri in [
            // Another port, scheme or host.
            "https://metafrazo.test:8443/auth/atlassian/callback",
            "http://metafrazo.test/auth/atlassian/callback",
            "https://127.0.0.1:5123/auth/atlassian/callback",
            "http://evil.example/auth/atlassian/callback",
            // Not exactly the callback.
            "http://127.0.0.1:5123/auth/atlassian/callback/",
            "http://127.0.0.1:5123/auth/oidc/google/callback",
            "http://127.0.0.1:5123/auth/atlassian/callback?next=/",
            "http://127.0.0.1:5123/auth/atlassian/callback#x",
            "http://me@127.0.0.1:5123/auth/atlassian/callback",
            // Not a URL.
            "/auth/atlassian/callback",
            "",
        ] {
            assert!(allowed_redirect_uri(uri).is_none(), "{uri:?}");
        }
    }

    #[test]
    fn only_the_registered_pair_authenticates() {
        assert!(client_secret_matches(CLIENT_ID, CLIENT_SECRET));
        assert!(!client_secret_matches(CLIENT_ID, "metafrazo-other-secret"));
        assert!(!client_secret_matches("metafrazo-other", CLIENT_SECRET));
        assert!(!client_secret_matches(CLIENT_ID, ""));
    }
}
