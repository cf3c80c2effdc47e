//! The extractors every organization route takes, so no handler resolves a request by hand:
//! `Caller` is a member of the path's `{organization}` (session cookie or API token) and the
//! zone they read times in; `View` adds the query string read into a range, filters and the
//! warehouse `Scope`. Pages and the API differ in two ways, named by their `Audience`.

use std::marker::PhantomData;

use axum::{
    extract::{FromRequestParts, Path},
    http::{HeaderMap, request::Parts},
    response::IntoResponse,
};
use chrono_tz::Tz;
use serde::Deserialize;
use utoipa::IntoParams;
use warehouse::queries::Scope;

use crate::{
    AppState,
    access::{self, Member},
    error::{ApiError, DashboardError},
    feed_params::FeedQuery,
    view_params::ViewQuery,
};

/// Who a route answers, and so how it refuses and which zone it defaults to.
pub(crate) trait Audience: Send + Sync + 'static {
    /// An error page for a person, JSON for a program.
    type Rejection: From<DashboardError> + IntoResponse;

    /// The zone cookie the pages' script sets, when this audience reads it.
    fn zone_cookie(headers: &HeaderMap) -> Option<String>;
}

/// Pages fall back on the browser's zone (the `mf_tz` cookie), then UTC.
pub(crate) struct Pages;

/// The API answers in UTC unless `tz` is given, whatever cookie a browser sends.
pub(crate) struct Api;

impl Audience for Pages {
    type Rejection = DashboardError;

    fn zone_cookie(headers: &HeaderMap) -> Option<String> {
        access::time_zone_cookie(headers)
    }
}

impl Audience for Api {
    type Rejection = ApiError;

    fn zone_cookie(_: &HeaderMap) -> Option<String> {
        None
    }
}

/// A member of the path's organization, and the zone they read times in.
pub(crate) struct Caller<A> {
    pub member: Member,
    pub tz: Tz,
    audience: PhantomData<A>,
}

/// One view request, resolved: who asks, what for, in which zone, over which scope.
pub(crate) struct View<A> {
    pub member: Member,
    pub query: ViewQuery,
    /// The feed's parameters (issue key, actor, paging); other views ignore them.
    pub feed: FeedQuery,
    pub tz: Tz,
    pub scope: Scope,
    audience: PhantomData<A>,
}

pub(crate) type PageCaller = Caller<Pages>;
pub(crate) type ApiCaller = Caller<Api>;
pub(crate) type PageView = View<Pages>;
pub(crate) type ApiView = View<Api>;

/// The route's `{organization}`; routes with more parameters (`{id}`) read theirs apart.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub(crate) struct OrganizationPath {
    /// The organization's id, as `GET /api/v1/orgs` lists it.
    #[param(format = Uuid)]
    organization: String,
}

/// Membership first, so nothing about the request is answered to a stranger.
async fn member(parts: &mut Parts, state: &AppState) -> Result<Member, DashboardError> {
    let Path(OrganizationPath { organization }) =
        Path::<OrganizationPath>::from_request_parts(parts, state)
            .await
            .map_err(|_| DashboardError::NotFound)?;
    access::member(
        &state.postgres,
        &state.permissions,
        &parts.headers,
        &organization,
        &state.sign_in_url,
        state.onboarding_url.as_str(),
    )
    .await
}

impl<A: Audience> FromRequestParts<AppState> for Caller<A> {
    type Rejection = A::Rejection;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let member = member(parts, state).await?;
        let tz = ViewQuery::default().time_zone(A::zone_cookie(&parts.headers).as_deref())?;
        Ok(Self {
            member,
            tz,
            audience: PhantomData,
        })
    }
}

impl<A: Audience> FromRequestParts<AppState> for View<A> {
    type Rejection = A::Rejection;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let member = member(parts, state).await?;
        let raw = parts.uri.query();
        let query = ViewQuery::parse(raw)?;
        let feed = FeedQuery::parse(raw)?;
        let tz = query.time_zone(A::zone_cookie(&parts.headers).as_deref())?;
        let scope = query.scope(&member, tz)?;
        Ok(Self {
            member,
            query,
            feed,
            tz,
            scope,
            audience: PhantomData,
        })
    }
}
