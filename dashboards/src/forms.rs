//! What the dashboards' forms need, as onboarding's have it: the visitor cookie every browser
//! gets, the CSRF token derived from it (`accounts_store::csrf`, the same derivation) that every
//! form carries and its handler checks, the refusal of a POST whose `Origin` is another site's,
//! and a form's body read whole, small and in time, before any handler runs.

use std::time::Duration;

use accounts_store::{csrf, tokens};
use axum::{
    body::Body,
    extract::{FromRequestParts, Request, State},
    http::{HeaderValue, Method, header, request::Parts},
    middleware::Next,
    response::{IntoResponse, Response},
};
use axum_extra::extract::cookie::{Cookie, CookieJar, SameSite};
use http_body_util::{BodyExt, LengthLimitError, Limited};

use crate::{
    AppState,
    error::{DashboardError, FormProblem},
};

/// Forms here hold a name, a page and its query string.
const FORM_MAX_BYTES: usize = 16 * 1024;
/// A form's whole body arrives within this, or the request ends with 408: a client trickling a
/// form a byte at a time does not hold a connection (and a task) for as long as it likes.
const FORM_READ_TIMEOUT: Duration = Duration::from_secs(10);

/// The CSRF token of the requesting browser's forms; empty without a visitor cookie, and then
/// nothing matches it.
pub(crate) struct FormToken(String);

impl FormToken {
    pub(crate) fn as_str(&self) -> &str {
        &self.0
    }

    /// Refuses a form whose token is not the one this browser's pages carry.
    pub(crate) fn check(&self, submitted: &str) -> Result<(), DashboardError> {
        if csrf::matches(&self.0, submitted) {
            Ok(())
        } else {
            Err(DashboardError::Csrf)
        }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for FormToken {
    type Rejection = DashboardError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, DashboardError> {
        let token = CookieJar::from_headers(&parts.headers)
            .get(csrf::VISITOR_COOKIE)
            .map(|cookie| csrf::token_for(cookie.value()))
            .unwrap_or_default();
        Ok(Self(token))
    }
}

/// A browser without a visitor cookie (onboarding sets it at sign-in; it may have been cleared)
/// gets one before its page renders, so every form on it carries a token. The API, read by
/// programs, sets none.
pub(crate) async fn ensure_visitor_cookie(
    State(state): State<AppState>,
    mut request: Request,
    next: Next,
) -> Response {
    let has_one = CookieJar::from_headers(request.headers())
        .get(csrf::VISITOR_COOKIE)
        .is_some();
    if has_one || request.uri().path().starts_with("/api/") {
        return next.run(request).await;
    }
    let value = tokens::mint().text;
    let pair = format!("{}={value}", csrf::VISITOR_COOKIE);
    // This request's extractors see it too.
    let cookies = match request
        .headers()
        .get(header::COOKIE)
        .and_then(|v| v.to_str().ok())
    {
        Some(existing) if !existing.trim().is_empty() => format!("{existing}; {pair}"),
        _ => pair,
    };
    if let Ok(cookies) = HeaderValue::from_str(&cookies) {
        request.headers_mut().insert(header::COOKIE, cookies);
    }
    let mut response = next.run(request).await;
    let cookie = Cookie::build((csrf::VISITOR_COOKIE, value))
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(state.cookie_secure)
        .path("/")
        .build();
    if let Ok(cookie) = HeaderValue::from_str(&cookie.to_string()) {
        response.headers_mut().append(header::SET_COOKIE, cookie);
    }
    response
}

/// A form posted from another site's page carries that site's `Origin`: refused before any
/// handler runs. (A request without `Origin`, from a script or an old browser, still needs the
/// CSRF token.) Then the body is read whole within `FORM_MAX_BYTES` and `FORM_READ_TIMEOUT`.
/// The pages' forms only: the API takes none.
pub(crate) async fn same_origin_posts(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    // The API takes no forms: its POSTs are answered 405 as JSON by the router.
    if request.method() != Method::POST || request.uri().path().starts_with("/api/") {
        return next.run(request).await;
    }
    if let Some(origin) = request.headers().get(header::ORIGIN)
        && origin.as_bytes() != state.origin.as_bytes()
    {
        return DashboardError::Csrf.into_response();
    }
    let (parts, body) = request.into_parts();
    let read = Limited::new(body, FORM_MAX_BYTES).collect();
    match tokio::time::timeout(FORM_READ_TIMEOUT, read).await {
        Ok(Ok(collected)) => {
            next.run(Request::from_parts(parts, Body::from(collected.to_bytes())))
                .await
        }
        Ok(Err(err)) if err.is::<LengthLimitError>() => {
            DashboardError::FormUnreadable(FormProblem::TooLarge).into_response()
        }
        Ok(Err(_)) => DashboardError::FormUnreadable(FormProblem::BrokenOff).into_response(),
        Err(_) => DashboardError::FormUnreadable(FormProblem::TooSlow).into_response(),
    }
}

/// A form's fields from its body (`application/x-www-form-urlencoded`). Fields a form lacks
/// are the handler's to default, so a form without its token is refused as such.
pub(crate) fn read<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, DashboardError> {
    serde_html_form::from_bytes(body).map_err(|_| {
        DashboardError::InvalidForm(
            "That form could not be read. Go back to its page and send it again.".to_owned(),
        )
    })
}
