//! Headers on every answer (`service_runtime::page_headers`): pages and downloads hold an
//! organization's data, so no other site may frame them, no shared cache may keep them, and a
//! page runs no script but its own.

use axum::{extract::Request, middleware::Next, response::Response};

/// The layout's one inline script (it tells the server the browser's time zone) is allowed by
/// its hash; `tests/views.rs` recomputes it from a served page, so editing the script without
/// updating this fails there.
pub(crate) const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; \
     script-src 'sha256-Q7ZJnAlQrBwXlWmlOjKlisu8Gs6DVbQJO3RaUqlNwx8='; \
     style-src 'self' 'unsafe-inline'; img-src 'self' data:; frame-ancestors 'none'";

pub(crate) async fn page_headers(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    service_runtime::page_headers::apply(response.headers_mut(), CONTENT_SECURITY_POLICY);
    response
}
