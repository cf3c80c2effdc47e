//! The saved views view: the views a member sees in an organization (their own, then the
//! organization's shared ones), each with the page and query it opens. The API serves it as it
//! is; the list page draws its rows from the same entries.

use accounts_store::saved_views::{SavedPage, SavedView};
use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

/// The saved views the caller sees in the organization: their personal ones, then every view
/// shared with the organization, each list by name.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct SavedViews {
    pub views: Vec<SavedViewEntry>,
}

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct SavedViewEntry {
    /// Its id: `GET /orgs/{organization}/views/{id}` (its link to share) redirects to `opens`.
    #[schema(format = Uuid)]
    pub id: String,
    pub name: String,
    pub page: PageName,
    /// The page's query string as saved (range, time zone, filters), without `?`; empty for
    /// the page's defaults (the last 12 weeks, the viewer's time zone, no filters).
    pub query: String,
    /// The path of the page with its query: what the view opens.
    pub opens: String,
    /// Shared with every member of the organization; else listed for its author only.
    pub shared: bool,
    /// Whether the caller saved it.
    pub mine: bool,
    /// The email address of the member who saved it.
    pub author: String,
    /// When it was saved (RFC 3339, UTC).
    #[schema(format = DateTime)]
    pub created_at: String,
}

/// The page a view opens.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub(crate) enum PageName {
    Weekly,
    Trends,
    Flow,
    Events,
}

impl From<SavedPage> for PageName {
    fn from(page: SavedPage) -> Self {
        match page {
            SavedPage::Weekly => Self::Weekly,
            SavedPage::Trends => Self::Trends,
            SavedPage::Flow => Self::Flow,
            SavedPage::Events => Self::Events,
        }
    }
}

/// Where a view leads: the page, with its query when it has one. Built from the page's name and
/// the query the dashboards wrote back, never from text as a member sent it.
pub(crate) fn opens(organization: Uuid, page: SavedPage, query: &str) -> String {
    let path = format!("/orgs/{organization}/{}", page.as_str());
    if query.is_empty() {
        path
    } else {
        format!("{path}?{query}")
    }
}

/// The path of a saved view itself, the link that is shared.
pub(crate) fn link(organization: Uuid, view: Uuid) -> String {
    format!("/orgs/{organization}/views/{view}")
}

impl SavedViews {
    pub(crate) fn new(organization: Uuid, caller: Uuid, views: Vec<SavedView>) -> Self {
        Self {
            views: views
                .into_iter()
                .map(|view| SavedViewEntry {
                    id: view.id.to_string(),
                    opens: opens(organization, view.page, &view.query),
                    page: view.page.into(),
                    mine: view.owner_id == caller,
                    name: view.name,
                    query: view.query,
                    shared: view.shared,
                    author: view.owner_email,
                    created_at: DateTime::<Utc>::from(view.created_at).to_rfc3339(),
                })
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_view_opens_its_page_with_its_query_and_a_page_name_is_its_path() {
        let organization = Uuid::nil();
        assert_eq!(
            opens(organization, SavedPage::Flow, "weeks=8&project=PAY"),
            format!("/orgs/{organization}/flow?weeks=8&project=PAY")
        );
        assert_eq!(
            opens(organization, SavedPage::Events, ""),
            format!("/orgs/{organization}/events")
        );
        for page in SavedPage::ALL {
            assert_eq!(
                serde_json::to_value(PageName::from(page)).unwrap(),
                page.as_str()
            );
        }
    }
}
