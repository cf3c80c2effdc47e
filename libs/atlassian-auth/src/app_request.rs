//! Calling Jira as our app: the `Authorization` header of one request, for a Connect
//! installation (a JWT whose `iss` is our app key, signed with the installation's shared secret
//! and bound to the request by its qsh) or a Forge installation (the app system token as a
//! bearer token). Onboarding asks Jira about users this way; the dashboards and the digest ask
//! what a member's Jira account may browse.

use std::time::{SystemTime, UNIX_EPOCH};

use jsonwebtoken::{EncodingKey, Header};
use serde_json::json;
use url::Url;

use crate::connect_jwt;

/// Long enough for one request; Atlassian accepts up to an hour.
const TOKEN_LIFETIME_SECS: u64 = 60;

#[derive(Debug, thiserror::Error)]
#[error("cannot sign the request to Jira: {0}")]
pub struct SigningError(#[from] jsonwebtoken::errors::Error);

/// `Authorization: JWT …` for `method url` as the Connect app `app_key`. `base` is the
/// installation's base URL (or the address that stands in for it): the qsh's path is relative
/// to its path.
pub fn connect_authorization(
    app_key: &str,
    shared_secret: &[u8],
    method: &str,
    url: &Url,
    base: &Url,
) -> Result<String, SigningError> {
    let qsh = connect_jwt::query_string_hash(
        method,
        url.path(),
        url.query(),
        base.path().trim_end_matches('/'),
    );
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs());
    let claims = json!({
        "iss": app_key,
        "iat": now,
        "exp": now + TOKEN_LIFETIME_SECS,
        "qsh": qsh,
    });
    let token = jsonwebtoken::encode(
        &Header::default(),
        &claims,
        &EncodingKey::from_secret(shared_secret),
    )?;
    Ok(format!("JWT {token}"))
}

/// `path` (with at most the given query) under `base`, keeping the base's own path prefix.
pub fn url_under(base: &Url, path: &str, query: Option<&str>) -> Url {
    let mut url = base.clone();
    let path = format!("{}{path}", base.path().trim_end_matches('/'));
    url.set_path(&path);
    url.set_query(query);
    url
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_token_binds_method_path_and_query_relative_to_the_base() {
        let base = Url::parse("https://acme.atlassian.net/jira").unwrap();
        let url = url_under(&base, "/rest/api/3/permissions/check", Some("b=2&a=1"));
        assert_eq!(
            url.as_str(),
            "https://acme.atlassian.net/jira/rest/api/3/permissions/check?b=2&a=1"
        );
        let header = connect_authorization("app", b"secret", "POST", &url, &base).unwrap();
        let token = header.strip_prefix("JWT ").expect("a JWT header");
        let claims: serde_json::Value = jsonwebtoken::decode(
            token,
            &jsonwebtoken::DecodingKey::from_secret(b"secret"),
            &jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::HS256),
        )
        .map(|data| data.claims)
        .unwrap_or_else(|err| panic!("the token verifies: {err}"));
        assert_eq!(claims["iss"], "app");
        assert_eq!(
            claims["qsh"],
            connect_jwt::query_string_hash(
                "POST",
                "/rest/api/3/permissions/check",
                Some("a=1&b=2"),
                ""
            )
        );
        assert_ne!(
            claims["qsh"],
            connect_jwt::query_string_hash(
                "GET",
                "/rest/api/3/permissions/check",
                Some("a=1&b=2"),
                ""
            )
        );
    }
}
