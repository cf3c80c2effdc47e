//! Who is asking: the session cookie (a token whose hash is in `sessions`), and the pre-session
//! cookie every visitor gets, from which the CSRF token of every form is derived.

use axum::{
    extract::{FromRequestParts, Request},
    http::{HeaderValue, header, request::Parts},
    middleware::Next,
    response::Response,
};
use axum_extra::extract::cookie::{Cookie, CookieJar, SameSite};
use time::Duration as CookieDuration;

use super::error::PageError;
use accounts_store::{
    csrf::{self, VISITOR_COOKIE},
    sessions::{self, SESSION_COOKIE, SignedIn},
    tokens,
};

use crate::AppState;

/// Everyone gets a visitor cookie before any handler runs, so every page can render forms.
pub(crate) async fn ensure_visitor_cookie(mut request: Request, next: Next) -> Response {
    let jar = CookieJar::from_headers(request.headers());
    if jar.get(VISITOR_COOKIE).is_some() {
        return next.run(request).await;
    }
    let value = tokens::mint().text;
    let pair = format!("{VISITOR_COOKIE}={value}");
    // Let this request's extractors see it too.
    let cookie_header = match request
        .headers()
        .get(header::COOKIE)
        .and_then(|v| v.to_str().ok())
    {
        Some(existing) if !existing.trim().is_empty() => format!("{existing}; {pair}"),
        _ => pair,
    };
    if let Ok(value) = HeaderValue::from_str(&cookie_header) {
        request.headers_mut().insert(header::COOKIE, value);
    }
    let secure = request
        .extensions()
        .get::<CookieSecurity>()
        .is_some_and(|security| security.0);
    let mut response = next.run(request).await;
    let cookie = Cookie::build((VISITOR_COOKIE, value))
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(secure)
        .path("/")
        .build();
    if let Ok(value) = HeaderValue::from_str(&cookie.to_string()) {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
    response
}

/// Whether cookies carry `Secure`, put into each request's extensions by the router.
#[derive(Clone, Copy)]
pub(crate) struct CookieSecurity(pub(crate) bool);

/// The visitor of a page: maybe signed in, always with a CSRF token.
pub(crate) struct Visitor {
    pub(crate) user: Option<SignedIn>,
    pub(crate) csrf: String,
    session_token: Option<String>,
    /// The visitor cookie itself: a sign-in with a provider is bound to it.
    visitor_id: Option<String>,
}

impl FromRequestParts<AppState> for Visitor {
    type Rejection = PageError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, PageError> {
        let jar = CookieJar::from_headers(&parts.headers);
        let visitor_id = jar
            .get(VISITOR_COOKIE)
            .map(|cookie| cookie.value().to_owned());
        let csrf = visitor_id
            .as_deref()
            .map(csrf::token_for)
            .unwrap_or_default();
        let session_token = jar
            .get(SESSION_COOKIE)
            .map(|cookie| cookie.value().to_owned());
        let user = match &session_token {
            Some(token) if tokens::well_formed(token) => {
                let client = state.postgres.get().await?;
                sessions::authenticate(&client, token).await?
            }
            _ => None,
        };
        Ok(Self {
            user,
            csrf,
            session_token,
            visitor_id,
        })
    }
}

impl Visitor {
    /// The signed-in user, or a redirect to sign in that comes back to `here`.
    pub(crate) fn require_user(&self, here: &str) -> Result<&SignedIn, PageError> {
        self.user
            .as_ref()
            .ok_or_else(|| PageError::SignInFirst(here.to_owned()))
    }

    pub(crate) fn session_token(&self) -> Option<&str> {
        self.session_token.as_deref()
    }

    pub(crate) fn visitor_id(&self) -> Option<&str> {
        self.visitor_id.as_deref()
    }

    /// Refuses a form whose CSRF token is not the one this browser's pages carry.
    pub(crate) fn check_csrf(&self, submitted: &str) -> Result<(), PageError> {
        if csrf::matches(&self.csrf, submitted) {
            Ok(())
        } else {
            Err(PageError::Csrf)
        }
    }
}

/// The `Set-Cookie` that starts a session in this browser.
pub fn session_cookie(
    token: String,
    lifetime: std::time::Duration,
    secure: bool,
) -> Cookie<'static> {
    Cookie::build((SESSION_COOKIE, token))
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(secure)
        .path("/")
        .max_age(CookieDuration::seconds(lifetime.as_secs() as i64))
        .build()
}

/// The `Set-Cookie` that ends it.
pub fn cleared_session_cookie(secure: bool) -> Cookie<'static> {
    Cookie::build((SESSION_COOKIE, ""))
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(secure)
        .path("/")
        .max_age(CookieDuration::ZERO)
        .build()
}

/// A `next` parameter we will redirect to: only a path on this site, never another host
/// (`//evil.test`, `/\evil.test`) or a scheme.
pub fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(path)
            if path.starts_with('/')
                && !path.starts_with("//")
                && !path.contains('\\')
                && !path.chars().any(char::is_control) =>
        {
            path.to_owned()
        }
        _ => "/".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_stays_on_this_site() {
        assert_eq!(safe_next(Some("/setup/abc")), "/setup/abc");
        for hostile in [
            "//evil.test/x",
            "https://evil.test",
            "/\\evil.test",
            "javascript:alert(1)",
            "/a\nb",
        ] {
            assert_eq!(safe_next(Some(hostile)), "/", "{hostile}");
        }
        assert_eq!(safe_next(None), "/");
    }

    #[test]
    fn csrf_tokens_differ_per_visitor_and_are_stable() {
        assert_eq!(csrf::token_for("a"), csrf::token_for("a"));
        assert_ne!(csrf::token_for("a"), csrf::token_for("b"));
        let visitor = Visitor {
            user: None,
            csrf: csrf::token_for("a"),
            session_token: None,
            visitor_id: Some("a".to_owned()),
        };
        assert!(visitor.check_csrf(&csrf::token_for("a")).is_ok());
        assert!(visitor.check_csrf(&csrf::token_for("b")).is_err());
        assert!(visitor.check_csrf("").is_err());
    }
}
