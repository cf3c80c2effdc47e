//! The weekly digest on the pages: a member subscribes themselves (never anyone else) on the
//! organization's members page, in their time zone; and the unsubscribe link of every digest,
//! which works without a session. Its GET only shows a button (mail scanners follow links); a
//! POST, the button's or a mail provider's one-click one (RFC 8058), unsubscribes.

use axum::{
    Form,
    extract::{Path, Query, State},
    http::StatusCode,
    response::Response,
};
use axum_extra::extract::cookie::CookieJar;
use chrono_tz::{TZ_VARIANTS, Tz};
use serde::Deserialize;
use uuid::Uuid;

use super::{
    error::PageError,
    organization::{back_to, member_submitting, members_path},
    pages::{self, DigestSettings, Message, render},
    session::Visitor,
};
use crate::AppState;
use accounts_store::digests;

/// Where the unsubscribe link of every digest points (`List-Unsubscribe`).
pub(crate) const UNSUBSCRIBE_PATH: &str = "/digest/unsubscribe";

/// The dashboards' pages keep the browser's zone in this cookie (`encodeURIComponent`).
const TIME_ZONE_COOKIE: &str = "mf_tz";

/// The digest card of the members page: the member's subscription, and the zone to offer (the
/// one they chose before, else the browser's as the dashboards stored it, else UTC).
pub(crate) async fn settings(
    client: &impl deadpool_postgres::GenericClient,
    organization: Uuid,
    user: Uuid,
    cookies: &CookieJar,
) -> Result<DigestSettings, PageError> {
    let subscription = digests::of_member(client, organization, user).await?;
    let browser_zone = cookies
        .get(TIME_ZONE_COOKIE)
        .and_then(|cookie| {
            percent_encoding::percent_decode_str(cookie.value())
                .decode_utf8()
                .ok()
                .and_then(|zone| zone.parse::<Tz>().ok())
        })
        .map(|zone| zone.name().to_owned());
    let subscribed = subscription.as_ref().is_some_and(|s| s.active);
    let time_zone = match subscription {
        Some(subscription) => subscription.time_zone,
        None => browser_zone.unwrap_or_else(|| "UTC".to_owned()),
    };
    let zones = TZ_VARIANTS
        .iter()
        .map(|zone| (zone.name(), zone.name() == time_zone))
        .collect();
    Ok(DigestSettings {
        subscribed,
        time_zone,
        zones,
    })
}

#[derive(Deserialize)]
pub(crate) struct DigestForm {
    csrf: String,
    /// `subscribe` (also to change the zone) or `unsubscribe`.
    action: String,
    #[serde(default)]
    time_zone: String,
}

/// `POST /orgs/{id}/digest`: the caller subscribes or unsubscribes themselves; the user is the
/// session's, never the form's.
pub(crate) async fn save(
    State(state): State<AppState>,
    Path(organization): Path<String>,
    visitor: Visitor,
    Form(form): Form<DigestForm>,
) -> Result<Response, PageError> {
    let caller = member_submitting(&state, &visitor, &organization, &form.csrf).await?;
    let id = caller.organization.id;
    let subscribe = match form.action.as_str() {
        "subscribe" => true,
        "unsubscribe" => false,
        _ => return Err(PageError::NotFound),
    };
    let zone = if subscribe {
        Some(form.time_zone.trim().parse::<Tz>().map_err(|_| {
            PageError::Explained(
                StatusCode::UNPROCESSABLE_ENTITY,
                Message::new(
                    "That is not a time zone",
                    &["Pick your time zone from the list, like Europe/Berlin. Nothing was changed."],
                )
                .with_link(&members_path(id), "Back"),
            )
        })?)
    } else {
        None
    };
    let mut client = state.postgres.get().await?;
    let transaction = client.transaction().await?;
    // Still a member now, their membership row held until this commits.
    caller.role_within(&transaction).await?;
    let user = caller.user.user_id;
    let done = match zone {
        Some(zone) => {
            digests::subscribe(&transaction, id, user, zone.name()).await?;
            "digest_on"
        }
        None => {
            digests::unsubscribe(&transaction, id, user).await?;
            "digest_off"
        }
    };
    transaction.commit().await?;
    Ok(back_to(id, done))
}

#[derive(Deserialize)]
pub(crate) struct TokenQuery {
    #[serde(default)]
    token: String,
}

fn unknown_link() -> PageError {
    PageError::Explained(
        StatusCode::NOT_FOUND,
        Message::new(
            "This unsubscribe link does not work",
            &[
                "It may have been cut short or altered: open it again from the email. If you left the organization, or it was deleted, no digest is sent for it any more.",
            ],
        ),
    )
}

/// `GET /digest/unsubscribe?token=…`: who would be unsubscribed, and the button that does it.
pub(crate) async fn confirm_page(
    State(state): State<AppState>,
    Query(query): Query<TokenQuery>,
) -> Result<Response, PageError> {
    let client = state.postgres.get().await?;
    let target = digests::link_target(&client, &query.token)
        .await?
        .ok_or_else(unknown_link)?;
    if !target.active {
        return Ok(unsubscribed(&target));
    }
    let action = format!(
        "{UNSUBSCRIBE_PATH}?token={}",
        url::form_urlencoded::byte_serialize(query.token.as_bytes()).collect::<String>()
    );
    Ok(render(&pages::DigestUnsubscribe {
        action: &action,
        organization: &target.organization_name,
        email: &target.email,
    }))
}

/// `POST /digest/unsubscribe?token=…`: unsubscribes at once, with no session, form or CSRF
/// token (the link's token is the proof): RFC 8058's one-click POST, which a mail provider sends
/// with `List-Unsubscribe=One-Click` as its body, and the button of the page above. It answers
/// a page, never a redirect (RFC 8058, 3.2).
pub(crate) async fn unsubscribe(
    State(state): State<AppState>,
    Query(query): Query<TokenQuery>,
) -> Result<Response, PageError> {
    let client = state.postgres.get().await?;
    let target = digests::unsubscribe_by_token(&client, &query.token)
        .await?
        .ok_or_else(unknown_link)?;
    tracing::info!("weekly digest unsubscribed through an email's link");
    Ok(unsubscribed(&target))
}

fn unsubscribed(target: &digests::LinkTarget) -> Response {
    render(&Message::new(
        "You are unsubscribed",
        &[&format!(
            "{} gets no more weekly digests of {}. To get them again, subscribe on the organization's members page.",
            target.email, target.organization_name
        )],
    ))
}
