//! `GET /api/v1/orgs/{organization}/views`: the saved views the caller sees, as the list page
//! shows them. Saving and deleting are the pages' forms; the API only reads.

use axum::{Json, extract::State};

use crate::{
    AppState,
    error::{ApiError, ErrorBody},
    view_request::{ApiCaller, OrganizationPath},
    views::saved_views::SavedViews,
};

#[utoipa::path(
    get,
    tag = "analytics",
    path = "/api/v1/orgs/{organization}/views",
    summary = "The saved views the caller sees: their own, then those shared with the organization",
    params(OrganizationPath),
    responses(
        (status = 200, description = "The views, each with the page and query it opens", body = SavedViews),
        (status = 401, description = "No session cookie or API token", body = ErrorBody),
        (status = 403, description = "The organization's sign-in policy refuses the caller", body = ErrorBody),
        (status = 404, description = "Not a member of this organization, or no such organization", body = ErrorBody),
        (status = 503, description = "Postgres is briefly unavailable; retry", body = ErrorBody),
    )
)]
pub(crate) async fn saved_views(
    State(state): State<AppState>,
    caller: ApiCaller,
) -> Result<Json<SavedViews>, ApiError> {
    let member = caller.member;
    let client = state.postgres.get().await?;
    let views =
        accounts_store::saved_views::visible(&client, member.organization_id, member.user.user_id)
            .await?;
    Ok(Json(SavedViews::new(
        member.organization_id,
        member.user.user_id,
        views,
    )))
}
