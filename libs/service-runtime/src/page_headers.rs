//! The headers every page a browser opens carries, in onboarding and the dashboards alike.
//! Pages hold an organization's data and one-time links: no other site may frame them
//! (`frame-ancestors`, `X-Frame-Options`), no shared cache may keep them (`no-store`), no
//! Referer may carry their URLs off-site (`same-origin` still gives our own forms an `Origin`),
//! no browser may guess a type we did not send (`nosniff`), and once a browser has reached us
//! over HTTPS it never falls back to plain HTTP (`Strict-Transport-Security`, ignored on plain
//! HTTP, so harmless on the local stack). Each service passes its own Content-Security-Policy.

use axum::http::{HeaderMap, HeaderValue, header};

/// A year, the least Atlassian's security requirements for cloud apps ask of HSTS.
pub const STRICT_TRANSPORT_SECURITY: &str = "max-age=31536000; includeSubDomains";

pub fn apply(headers: &mut HeaderMap, content_security_policy: &'static str) {
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(content_security_policy),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        header::STRICT_TRANSPORT_SECURITY,
        HeaderValue::from_static(STRICT_TRANSPORT_SECURITY),
    );
}
