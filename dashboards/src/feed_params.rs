//! The feed's own part of a view's query string: one issue, one actor, and where the previous
//! page ended. Read from the same query string as the view's range and filters (`view_params`).

use serde::Deserialize;
use utoipa::IntoParams;
use warehouse::queries::{Cursor, FeedFilters};

use crate::{error::DashboardError, event_id};

/// The doc comments are the API's parameter descriptions in the OpenAPI document.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct FeedQuery {
    /// Only this issue's events (`ACME-42`).
    pub issue_key: Option<String>,
    /// Only what this Atlassian account id did.
    pub actor: Option<String>,
    /// Only the deliveries a weekly-rates or trends count counts under this kind: one of the
    /// weekly rates' kinds (`issue_created`, `issue_updated`, `issue_deleted`,
    /// `comment_created`, `issue_resolved`, `transition_new`, `transition_indeterminate`,
    /// `transition_done`) or the trends' (`resolved`, `reopened`, `field:<name>`). What the
    /// pages' cells link to.
    pub kind: Option<String>,
    /// Where the previous page ended: that page's `next`.
    pub after: Option<String>,
}

impl FeedQuery {
    /// Keys of the view's query (range, filters) are left to `ViewQuery`.
    pub(crate) fn parse(raw: Option<&str>) -> Result<Self, DashboardError> {
        let query: Self = serde_html_form::from_str(raw.unwrap_or(""))
            .map_err(|err| DashboardError::BadRequest(format!("unreadable query: {err}")))?;
        match query.kind.as_deref().map(str::trim) {
            Some(kind) if !kind.is_empty() && !warehouse::queries::is_feed_kind(kind) => {
                Err(DashboardError::BadRequest(format!(
                    "{kind:?} is not a kind the views count (issue_created, resolved, \
                     transition_done, field:status, …)"
                )))
            }
            _ => Ok(query),
        }
    }

    /// The warehouse's feed filters; a blank field (a filter form left empty) filters nothing.
    pub(crate) fn filters(&self) -> FeedFilters {
        FeedFilters {
            issue_key: self.issue_key.clone().filter(|v| !v.trim().is_empty()),
            actor_account_id: self.actor.clone().filter(|v| !v.trim().is_empty()),
            kind: self.kind.clone().filter(|v| !v.trim().is_empty()),
        }
    }

    /// Where this page starts, when it is not the first.
    pub(crate) fn cursor(&self) -> Result<Option<Cursor>, DashboardError> {
        self.after
            .as_deref()
            .filter(|after| !after.is_empty())
            .map(|after| {
                event_id::decode_cursor(after).ok_or_else(|| {
                    DashboardError::BadRequest("the paging cursor is not valid".to_owned())
                })
            })
            .transpose()
    }
}
