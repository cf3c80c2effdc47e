//! `POST /rest/api/3/permissions/check`: Jira Cloud's "Get bulk permissions", which MetaFrazo asks
//! which of a site's projects and issues a member's Jira account may browse. It answers from the
//! calling app's site's [`SitePermissions`](crate::permissions::SitePermissions); of Jira's
//! permissions only `BROWSE_PROJECTS` is modelled, and asking for another is a 400 rather than a
//! guess a test would trust.

use std::collections::BTreeSet;

use axum::{
    Json,
    body::Bytes,
    extract::State,
    http::{HeaderMap, Method, StatusCode, Uri},
    response::{IntoResponse, Response},
};
use serde::Deserialize;
use serde_json::json;

use super::{
    ServerState,
    app_auth::{AppAuthError, calling_app},
};

pub(super) const PATH: &str = "/rest/api/3/permissions/check";
/// A thousand issue ids and a thousand project ids fit in well under 50 KB; anything near this
/// is not a permission check.
pub(super) const MAX_BODY: usize = 1024 * 1024;
/// Ids of each kind per request. Jira bounds the work of one check too; holding callers to this
/// keeps them chunking, so a member of a large site does not pass here and fail against Jira.
const MAX_IDS: usize = 1000;
const BROWSE_PROJECTS: &str = "BROWSE_PROJECTS";

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct BulkRequest {
    #[serde(default)]
    account_id: Option<String>,
    #[serde(default)]
    project_permissions: Vec<ProjectPermissions>,
    #[serde(default)]
    global_permissions: Vec<String>,
}

#[derive(Deserialize)]
struct ProjectPermissions {
    permissions: Vec<String>,
    #[serde(default)]
    projects: Vec<u64>,
    #[serde(default)]
    issues: Vec<u64>,
}

#[derive(Debug, thiserror::Error)]
pub(super) enum BulkPermissionsError {
    #[error("Jira is unavailable; try again later")]
    Unavailable,
    #[error(transparent)]
    Unauthorized(#[from] AppAuthError),
    #[error("the request body is not a bulk permissions request")]
    Malformed,
    #[error("accountId is required")]
    MissingAccountId,
    #[error("at most {MAX_IDS} issue ids and {MAX_IDS} project ids may be checked at once")]
    TooManyIds,
    #[error(
        "the permission {0} is not modelled here: only the project permission BROWSE_PROJECTS is"
    )]
    UnmodelledPermission(String),
    #[error("the user with accountId {0} was not found")]
    UnknownAccount(String),
}

impl IntoResponse for BulkPermissionsError {
    fn into_response(self) -> Response {
        let status = match self {
            Self::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            Self::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            // Jira answers an account it does not know with 400, not 404.
            Self::Malformed
            | Self::MissingAccountId
            | Self::TooManyIds
            | Self::UnmodelledPermission(_)
            | Self::UnknownAccount(_) => StatusCode::BAD_REQUEST,
        };
        // Jira's error body shape.
        (
            status,
            Json(json!({ "errorMessages": [self.to_string()], "errors": {} })),
        )
            .into_response()
    }
}

pub(super) async fn check(
    State(state): State<ServerState>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, BulkPermissionsError> {
    if state.permissions.check_fails() {
        return Err(BulkPermissionsError::Unavailable);
    }
    let app = calling_app(&state, &method, &uri, &headers).await?;
    let request: BulkRequest =
        serde_json::from_slice(&body).map_err(|_| BulkPermissionsError::Malformed)?;
    let account_id = request
        .account_id
        .filter(|account_id| !account_id.is_empty())
        .ok_or(BulkPermissionsError::MissingAccountId)?;
    let count = |ids: fn(&ProjectPermissions) -> usize| {
        request.project_permissions.iter().map(ids).sum::<usize>()
    };
    if count(|asked| asked.issues.len()) > MAX_IDS || count(|asked| asked.projects.len()) > MAX_IDS
    {
        return Err(BulkPermissionsError::TooManyIds);
    }
    // No global permission is modelled at all.
    let unmodelled = request
        .project_permissions
        .iter()
        .flat_map(|asked| &asked.permissions)
        .find(|permission| *permission != BROWSE_PROJECTS)
        .or_else(|| request.global_permissions.first());
    if let Some(permission) = unmodelled {
        return Err(BulkPermissionsError::UnmodelledPermission(
            permission.clone(),
        ));
    }
    if state.registry.user_deleted(&account_id) {
        return Err(BulkPermissionsError::UnknownAccount(account_id));
    }

    let site = state.permissions.of(&app.site_base_url);
    let (mut projects, mut issues) = (BTreeSet::<u64>::new(), BTreeSet::<u64>::new());
    let mut asked_browse = false;
    for asked in request
        .project_permissions
        .iter()
        .filter(|asked| asked.permissions.iter().any(|p| p == BROWSE_PROJECTS))
    {
        asked_browse = true;
        projects.extend(
            asked
                .projects
                .iter()
                .filter(|id| site.may_browse(&account_id, &id.to_string())),
        );
        issues.extend(
            asked
                .issues
                .iter()
                .filter(|id| site.may_see_issue(&account_id, &id.to_string())),
        );
    }
    // One grant per permission asked for, the ids of every entry that asked for it merged.
    let grants: Vec<_> = asked_browse
        .then(|| json!({ "permission": BROWSE_PROJECTS, "projects": projects, "issues": issues }))
        .into_iter()
        .collect();
    tracing::debug!(installation = %app.installation, account = %account_id, "bulk permissions");
    Ok(Json(json!({ "projectPermissions": grants, "globalPermissions": [] })).into_response())
}
