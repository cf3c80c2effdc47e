//! The pages people use: accounts and their API tokens, the setup flow, organizations and
//! invitations. Server rendered, usable without JavaScript; every form carries a CSRF token and
//! every POST from a foreign origin is refused.

mod account;
mod api_tokens;
mod atlassian_account;
mod client_address;
mod digest;
mod email_verification;
mod error;
mod invite;
mod jira_permissions;
mod oidc;
mod oidc_flow;
mod organization;
pub(crate) mod pages;
mod password_reset;
pub mod session;
mod setup;

pub(crate) use error::PageError;

use axum::{
    Extension, Router,
    body::Body,
    extract::{Request, State},
    http::{Method, StatusCode, header},
    middleware::{self, Next},
    response::{IntoResponse, Response},
    routing::{get, post},
};

use http_body_util::{BodyExt, LengthLimitError, Limited};

use crate::{AppState, BODY_LIMIT};
use pages::Message;
use session::CookieSecurity;

/// The list of the signed-in user's organizations, always: `/` sends a member of exactly one
/// straight to its dashboards. A path of its own, since on the one public address `/` is the
/// dashboards' (which send a member of several organizations here).
pub(crate) const ORGANIZATIONS_PATH: &str = "/orgs";

pub(crate) fn routes(state: AppState) -> Router {
    let secure = state.accounts.cookie_secure;
    Router::new()
        .route("/", get(account::home))
        .route(ORGANIZATIONS_PATH, get(account::organizations))
        .route(
            "/sign-in",
            get(account::sign_in_page).post(account::sign_in),
        )
        .route(
            "/sign-up",
            get(account::sign_up_page).post(account::sign_up),
        )
        .route("/sign-out", post(account::sign_out))
        .route(
            "/forgot-password",
            get(password_reset::request_page).post(password_reset::request),
        )
        .route(
            "/reset-password/{token}",
            get(password_reset::open).post(password_reset::complete),
        )
        .route("/auth/oidc/{provider}/start", get(oidc::start))
        .route("/auth/oidc/{provider}/callback", get(oidc::callback))
        .route(oidc::SETTINGS_PATH, get(oidc::settings))
        .route(
            email_verification::PATH,
            get(email_verification::pending_page).post(email_verification::resend),
        )
        .route(
            &format!("{}/{{token}}", email_verification::PATH),
            get(email_verification::open).post(email_verification::confirm),
        )
        .route(
            "/account/sign-in-methods/{provider}/link",
            post(oidc::link_start),
        )
        .route(
            "/account/sign-in-methods/{provider}/unlink",
            post(oidc::unlink),
        )
        .route(
            "/account/atlassian/{organization}/connect",
            post(atlassian_account::connect),
        )
        .route(
            "/account/atlassian/{organization}/disconnect",
            get(atlassian_account::disconnect_page).post(atlassian_account::disconnect),
        )
        .route(
            crate::accounts::atlassian_oauth::AtlassianOAuth::CALLBACK_PATH,
            get(atlassian_account::callback),
        )
        .route(
            api_tokens::PATH,
            get(api_tokens::page).post(api_tokens::create),
        )
        .route(
            &format!("{}/{{id}}/revoke", api_tokens::PATH),
            post(api_tokens::revoke),
        )
        .route("/setup/{token}", get(setup::open).post(setup::complete))
        .route("/invites/{token}", get(invite::open).post(invite::accept))
        .route("/orgs/{organization}", get(organization::moved_page))
        .route("/orgs/{organization}/members", get(organization::page))
        .route("/orgs/{organization}/invites", post(organization::invite))
        .route(
            "/orgs/{organization}/invites/{invite}/revoke",
            post(organization::revoke_invite),
        )
        .route(
            "/orgs/{organization}/members/{user}/role",
            post(organization::change_role),
        )
        .route(
            "/orgs/{organization}/members/{user}/remove",
            post(organization::remove),
        )
        .route("/orgs/{organization}/leave", post(organization::leave))
        .route(
            "/orgs/{organization}/sign-in-policy",
            post(organization::set_sign_in_policy),
        )
        .route(
            "/orgs/{organization}/jira-permissions",
            post(jira_permissions::save),
        )
        .route("/orgs/{organization}/audit", get(organization::audit_log))
        .route("/orgs/{organization}/delete", post(organization::delete))
        .route("/orgs/{organization}/digest", post(digest::save))
        .route(
            digest::UNSUBSCRIBE_PATH,
            get(digest::confirm_page).post(digest::unsubscribe),
        )
        .fallback(no_such_page)
        .method_not_allowed_fallback(wrong_method)
        .layer(middleware::from_fn_with_state(
            state.clone(),
            form_body_deadline,
        ))
        .layer(middleware::from_fn(session::ensure_visitor_cookie))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            same_origin_posts,
        ))
        .layer(middleware::from_fn(page_headers))
        .layer(Extension(CookieSecurity(secure)))
        .with_state(state)
}

/// Any path no route answers: the page another organization's ids get too.
async fn no_such_page() -> PageError {
    PageError::NotFound
}

/// A page asked for with a method it does not take: most often a form's target opened as a link.
async fn wrong_method() -> PageError {
    PageError::Explained(
        StatusCode::METHOD_NOT_ALLOWED,
        Message::new(
            "This page cannot be opened that way",
            &["It is where a form is sent. Go back to the page the form is on and send it from there."],
        )
        .with_link(ORGANIZATIONS_PATH, "Go to your organizations"),
    )
}

/// A form's whole body must arrive within `ONBOARDING_BODY_READ_TIMEOUT_MS`, as a lifecycle
/// callback's must, and within the body limit: a client trickling a form a byte at a time gets
/// 408 rather than holding its connection (and a task) for as long as it likes.
async fn form_body_deadline(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    if request.method() != Method::POST {
        return next.run(request).await;
    }
    let (parts, body) = request.into_parts();
    let timeout = state.atlassian.body_read_timeout;
    let read = Limited::new(body, BODY_LIMIT).collect();
    let explained = |status: StatusCode, title: &str, why: &str| {
        PageError::Explained(status, Message::new(title, &[why])).into_response()
    };
    match tokio::time::timeout(timeout, read).await {
        Ok(Ok(collected)) => {
            next.run(Request::from_parts(parts, Body::from(collected.to_bytes())))
                .await
        }
        Ok(Err(err)) if err.is::<LengthLimitError>() => explained(
            StatusCode::PAYLOAD_TOO_LARGE,
            "That form was too large",
            "Forms here hold a few fields. Go back and send it again.",
        ),
        Ok(Err(_)) => explained(
            StatusCode::BAD_REQUEST,
            "That form could not be read",
            "The connection broke while it was being sent. Go back and send it again.",
        ),
        Err(_) => explained(
            StatusCode::REQUEST_TIMEOUT,
            "That form took too long to arrive",
            "Check your connection, go back and send it again.",
        ),
    }
}

/// A form POSTed from another site's page carries that site's `Origin`: refuse it before any
/// handler runs. (Requests without `Origin`, from scripts and old browsers, still need the CSRF
/// token.)
async fn same_origin_posts(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    if request.method() == Method::POST
        && let Some(origin) = request.headers().get(header::ORIGIN)
    {
        let ours = state
            .atlassian
            .public_base_url
            .origin()
            .ascii_serialization();
        if origin.as_bytes() != ours.as_bytes() {
            return PageError::Csrf.into_response();
        }
    }
    next.run(request).await
}

/// Pages hold one-time links in their URLs and run no script: see `service_runtime::page_headers`.
async fn page_headers(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    service_runtime::page_headers::apply(
        response.headers_mut(),
        "default-src 'self'; style-src 'self' 'unsafe-inline'; frame-ancestors 'none'",
    );
    response
}
