//! Atlassian Connect's JWTs, as both onboarding (install callbacks, RS256) and ingress (webhooks,
//! HS256) receive them: the query string hash (`qsh`) that binds a token to one request, and
//! verification of signature, algorithm, expiry, issue time, audience and `qsh` together.

use jsonwebtoken::{Algorithm, DecodingKey, Validation, errors::ErrorKind};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use serde::Deserialize;
use sha2::{Digest, Sha256};

/// RFC 3986 unreserved characters pass; everything else is percent-encoded (space as `%20`).
const QSH_ENCODE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// The hex SHA-256 of Atlassian's canonical request: `METHOD&path&query`, the path relative to
/// the app's base path, the query sorted with the `jwt` parameter left out.
pub fn query_string_hash(
    method: &str,
    path: &str,
    raw_query: Option<&str>,
    base_path: &str,
) -> String {
    let canonical = format!(
        "{}&{}&{}",
        method.to_ascii_uppercase(),
        canonical_path(path, base_path),
        canonical_query(raw_query.unwrap_or(""))
    );
    hex::encode(Sha256::digest(canonical.as_bytes()))
}

fn canonical_path(path: &str, base_path: &str) -> String {
    let base = base_path.trim_end_matches('/');
    let relative = path.strip_prefix(base).unwrap_or(path);
    let trimmed = relative.trim_end_matches('/');
    let path = if trimmed.is_empty() { "/" } else { trimmed };
    let path = if path.starts_with('/') {
        path.to_owned()
    } else {
        format!("/{path}")
    };
    path.replace('&', "%26")
}

fn canonical_query(raw_query: &str) -> String {
    let mut params: std::collections::BTreeMap<String, Vec<String>> = Default::default();
    for (key, value) in url::form_urlencoded::parse(raw_query.as_bytes()) {
        if key == "jwt" {
            continue;
        }
        params
            .entry(utf8_percent_encode(&key, QSH_ENCODE).to_string())
            .or_default()
            .push(utf8_percent_encode(&value, QSH_ENCODE).to_string());
    }
    params
        .into_iter()
        .map(|(key, mut values)| {
            values.sort();
            format!("{key}={}", values.join(","))
        })
        .collect::<Vec<_>>()
        .join("&")
}

/// Why a Connect JWT was refused; each names one thing the caller can check.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConnectJwtError {
    #[error("no JWT was sent (expected `Authorization: JWT <token>`)")]
    Missing,
    #[error("the JWT is not well formed")]
    Malformed,
    #[error("the JWT is signed with {0}, which is not accepted here")]
    UnsupportedAlgorithm(String),
    #[error("the JWT header has no `kid`")]
    MissingKeyId,
    #[error("the JWT signature does not verify")]
    BadSignature,
    #[error("the JWT has expired")]
    Expired,
    #[error("the JWT was issued in the future")]
    IssuedInTheFuture,
    #[error("the JWT lacks the `{0}` claim")]
    MissingClaim(String),
    #[error("the JWT is for another audience")]
    WrongAudience,
    #[error("the JWT's qsh does not match this request")]
    QshMismatch,
}

impl ConnectJwtError {
    /// A stable code for API bodies, logs and metric labels.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Missing => "missing_token",
            Self::Malformed => "malformed_token",
            Self::UnsupportedAlgorithm(_) => "unsupported_algorithm",
            Self::MissingKeyId => "missing_kid",
            Self::BadSignature => "bad_signature",
            Self::Expired => "expired",
            Self::IssuedInTheFuture => "issued_in_the_future",
            Self::MissingClaim(_) => "missing_claim",
            Self::WrongAudience => "wrong_audience",
            Self::QshMismatch => "qsh_mismatch",
        }
    }
}

/// The claims we use; Atlassian adds others, which are ignored.
#[derive(Debug, Clone, Deserialize)]
pub struct ConnectClaims {
    pub iss: String,
    #[serde(default)]
    pub sub: Option<String>,
    pub qsh: String,
    pub iat: i64,
    pub exp: i64,
}

/// The token's header. An `alg` jsonwebtoken has no variant for (`none`, above all) is reported
/// as unsupported rather than malformed, so the refusal says what is wrong.
pub fn decode_header(token: &str) -> Result<jsonwebtoken::Header, ConnectJwtError> {
    jsonwebtoken::decode_header(token).map_err(|_| {
        use base64::Engine;
        let alg = token
            .split('.')
            .next()
            .and_then(|segment| {
                base64::engine::general_purpose::URL_SAFE_NO_PAD
                    .decode(segment.trim_end_matches('='))
                    .ok()
            })
            .and_then(|json| serde_json::from_slice::<serde_json::Value>(&json).ok())
            .and_then(|header| header.get("alg")?.as_str().map(str::to_owned));
        match alg {
            Some(alg) => ConnectJwtError::UnsupportedAlgorithm(alg),
            None => ConnectJwtError::Malformed,
        }
    })
}

/// The issuer and header of a token, read before its signature is checked: only to find which
/// key to check it with.
pub fn peek(token: &str) -> Result<(jsonwebtoken::Header, String), ConnectJwtError> {
    #[derive(Deserialize)]
    struct Issuer {
        iss: Option<String>,
    }
    let header = decode_header(token)?;
    let issuer: Issuer = jsonwebtoken::dangerous::insecure_decode_claims(token)
        .map_err(|_| ConnectJwtError::Malformed)?;
    let iss = issuer
        .iss
        .ok_or_else(|| ConnectJwtError::MissingClaim("iss".to_owned()))?;
    Ok((header, iss))
}

/// What a token must match besides its signature.
pub struct Expected<'a> {
    pub algorithm: Algorithm,
    /// The qsh of the request the token came with.
    pub qsh: &'a str,
    /// Checked when set (install callbacks carry our base URL); webhooks have none.
    pub audience: Option<&'a str>,
    /// Allowed clock difference for `exp` and `iat`, in seconds.
    pub leeway_secs: u64,
    /// Seconds since the epoch; injected so tests can move the clock.
    pub now: i64,
}

pub fn verify(
    token: &str,
    key: &DecodingKey,
    expected: &Expected<'_>,
) -> Result<ConnectClaims, ConnectJwtError> {
    let mut validation = Validation::new(expected.algorithm);
    // Expiry is checked below against the injected clock.
    validation.validate_exp = false;
    validation.required_spec_claims = ["iss".to_owned()].into();
    match expected.audience {
        Some(audience) => validation.set_audience(&[audience]),
        None => validation.validate_aud = false,
    }
    let claims = jsonwebtoken::decode::<ConnectClaims>(token, key, &validation)
        .map_err(|err| {
            // The header is read on its own only to say why a token was refused, so a good
            // token's header is parsed once (ingress verifies one per event). An algorithm
            // other than the expected one is refused by `decode` as well, never verified.
            let header = match decode_header(token) {
                Ok(header) => header,
                Err(unreadable) => return unreadable,
            };
            if header.alg != expected.algorithm {
                return ConnectJwtError::UnsupportedAlgorithm(format!("{:?}", header.alg));
            }
            match err.kind() {
                ErrorKind::InvalidSignature => ConnectJwtError::BadSignature,
                ErrorKind::InvalidAlgorithm => {
                    ConnectJwtError::UnsupportedAlgorithm(format!("{:?}", header.alg))
                }
                ErrorKind::InvalidAudience => ConnectJwtError::WrongAudience,
                ErrorKind::MissingRequiredClaim(claim) => {
                    ConnectJwtError::MissingClaim(claim.clone())
                }
                ErrorKind::Json(_) => ConnectJwtError::MissingClaim("qsh, iat or exp".to_owned()),
                _ => ConnectJwtError::Malformed,
            }
        })?
        .claims;
    let leeway = i64::try_from(expected.leeway_secs).unwrap_or(i64::MAX);
    if claims.exp.saturating_add(leeway) < expected.now {
        return Err(ConnectJwtError::Expired);
    }
    if claims.iat.saturating_sub(leeway) > expected.now {
        return Err(ConnectJwtError::IssuedInTheFuture);
    }
    if !constant_time_eq(claims.qsh.as_bytes(), expected.qsh.as_bytes()) {
        return Err(ConnectJwtError::QshMismatch);
    }
    Ok(claims)
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    use subtle::ConstantTimeEq;
    a.len() == b.len() && bool::from(a.ct_eq(b))
}

/// The token of an `Authorization: JWT <token>` header (or `Bearer`, which some proxies rewrite
/// to), or the `jwt` query parameter Atlassian uses for page loads.
pub fn token_from(authorization: Option<&str>, raw_query: Option<&str>) -> Option<String> {
    if let Some(value) = authorization {
        let value = value.trim();
        for scheme in ["JWT ", "Bearer "] {
            if let Some(token) = value.strip_prefix(scheme) {
                return Some(token.trim().to_owned());
            }
        }
    }
    url::form_urlencoded::parse(raw_query?.as_bytes())
        .find(|(key, _)| key == "jwt")
        .map(|(_, value)| value.into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    // Expected values computed independently: printf 'GET&/rest/api/2/project&' | sha256sum
    #[test]
    fn qsh_of_a_plain_get_matches_sha256_of_the_canonical_request() {
        assert_eq!(
            query_string_hash("get", "/rest/api/2/project", None, ""),
            hex::encode(Sha256::digest(b"GET&/rest/api/2/project&"))
        );
    }

    #[test]
    fn canonical_query_sorts_joins_repeats_encodes_and_drops_jwt() {
        assert_eq!(
            canonical_query("b=2&a=x+y&jwt=abc&a=1&c=%2A~"),
            "a=1,x%20y&b=2&c=%2A~"
        );
        assert_eq!(canonical_query(""), "");
    }

    #[test]
    fn canonical_path_is_relative_to_the_app_base_and_trimmed() {
        let cases = [
            ("/app/foo/", "/app", "/foo"),
            ("/app", "/app", "/"),
            ("/foo&bar", "", "/foo%26bar"),
            ("/", "", "/"),
        ];
        for (path, base, expected) in cases {
            assert_eq!(canonical_path(path, base), expected, "{path} under {base}");
        }
    }

    #[test]
    fn the_token_comes_from_the_header_or_the_query() {
        assert_eq!(token_from(Some("JWT abc"), None).as_deref(), Some("abc"));
        assert_eq!(
            token_from(None, Some("x=1&jwt=def")).as_deref(),
            Some("def")
        );
        assert_eq!(token_from(Some("Basic abc"), Some("x=1")), None);
    }

    #[test]
    fn alg_none_is_unsupported_and_garbage_is_malformed() {
        // {"alg":"none"} . {"iss":"x"} . (no signature)
        assert_eq!(
            decode_header("eyJhbGciOiJub25lIn0.eyJpc3MiOiJ4In0.").unwrap_err(),
            ConnectJwtError::UnsupportedAlgorithm("none".into())
        );
        assert_eq!(
            decode_header("garbage").unwrap_err(),
            ConnectJwtError::Malformed
        );
    }
}
