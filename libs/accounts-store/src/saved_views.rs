//! Saved views: a dashboards page with its range and filters, named by a member for themselves
//! or shared with their organization. Every statement is scoped to the organization and the
//! caller: a personal view exists only for its author, a shared one for the organization's
//! members, and for anyone else (a non-member, another organization) neither exists at all.

use std::time::SystemTime;

use deadpool_postgres::GenericClient;
use uuid::Uuid;

use crate::roles::Role;

/// The longest name a view may have, in characters.
pub const NAME_MAX_CHARS: usize = 100;

/// The longest query string a view keeps: the dashboards write it back percent-encoded, so
/// characters are bytes.
pub const QUERY_MAX_CHARS: usize = 2000;

/// What a member called a view ("Sprint 14, bugs only"), trimmed, 1 to 100 characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ViewName(String);

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ViewNameError {
    #[error("a saved view needs a name")]
    Empty,
    #[error("a saved view's name has at most {NAME_MAX_CHARS} characters")]
    TooLong,
}

impl ViewName {
    pub fn parse(text: &str) -> Result<Self, ViewNameError> {
        let name = text.trim();
        if name.is_empty() {
            Err(ViewNameError::Empty)
        } else if name.chars().count() > NAME_MAX_CHARS {
            Err(ViewNameError::TooLong)
        } else {
            Ok(Self(name.to_owned()))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The dashboards pages a view can be of: those that read a range and filters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SavedPage {
    Weekly,
    Trends,
    Flow,
    Events,
}

impl SavedPage {
    pub const ALL: [SavedPage; 4] = [Self::Weekly, Self::Trends, Self::Flow, Self::Events];

    /// The page's name, which is also the last segment of its path (`/orgs/{id}/flow`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Weekly => "weekly",
            Self::Trends => "trends",
            Self::Flow => "flow",
            Self::Events => "events",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|page| page.as_str() == text)
    }
}

/// A view as a member who may see it sees it.
#[derive(Debug, Clone)]
pub struct SavedView {
    pub id: Uuid,
    pub name: String,
    pub page: SavedPage,
    /// The page's query string, without `?`; empty for the page's defaults.
    pub query: String,
    /// Listed for every member of the organization; else for its author only.
    pub shared: bool,
    pub owner_id: Uuid,
    /// The author's address, to tell shared views apart.
    pub owner_email: String,
    pub created_at: SystemTime,
}

impl SavedView {
    /// Whether `user`, with `role` in the view's organization, may delete it: its author
    /// always; a shared one also admins and owners.
    pub fn deletable_by(&self, user: Uuid, role: Role) -> bool {
        self.owner_id == user || (self.shared && role.can_delete_shared_views())
    }
}

/// A view to save. Who may share is the caller's to check (`Role::can_share_views`), as the
/// role is read in the transaction that saves it.
pub struct NewView<'a> {
    pub name: &'a ViewName,
    pub page: SavedPage,
    pub query: &'a str,
    pub shared: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Created {
    Created(Uuid),
    /// The author already has a view of that name, or (shared) the organization has one.
    DuplicateName,
    /// The author is not a member of the organization (any more).
    NotAMember,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Deleted {
    Deleted,
    /// No such view among those the caller sees: unknown, another's personal one, another
    /// organization's, or the caller is no member.
    NotFound,
    /// The caller sees it but may not delete it: someone else's shared view, for an analyst or
    /// a viewer.
    NotAllowed,
}

/// Saves a view for `owner` in `organization`. Names compare case-insensitively.
pub async fn create(
    client: &impl GenericClient,
    organization: Uuid,
    owner: Uuid,
    view: &NewView<'_>,
) -> Result<Created, tokio_postgres::Error> {
    let id = Uuid::new_v4();
    // Inserted only for a member; a taken name (either unique index) inserts nothing.
    let inserted = client
        .execute(
            "INSERT INTO saved_views (id, organization_id, owner_id, name, page, query, shared)
             SELECT $1, m.organization_id, m.user_id, $4, $5, $6, $7 FROM memberships m
             WHERE m.organization_id = $2 AND m.user_id = $3
             ON CONFLICT DO NOTHING",
            &[
                &id,
                &organization,
                &owner,
                &view.name.as_str(),
                &view.page.as_str(),
                &view.query,
                &view.shared,
            ],
        )
        .await?;
    if inserted == 1 {
        return Ok(Created::Created(id));
    }
    let member = client
        .query_opt(
            "SELECT 1 FROM memberships WHERE organization_id = $1 AND user_id = $2",
            &[&organization, &owner],
        )
        .await?
        .is_some();
    Ok(if member {
        Created::DuplicateName
    } else {
        Created::NotAMember
    })
}

/// The columns `row_to_view` reads, from `saved_views v` joined to the caller's membership `m`
/// and the author `u`: only views the caller sees.
const VISIBLE: &str =
    "SELECT v.id, v.name, v.page, v.query, v.shared, v.owner_id, u.email, v.created_at
     FROM saved_views v
     JOIN memberships m ON m.organization_id = v.organization_id AND m.user_id = $2
     JOIN users u ON u.id = v.owner_id
     WHERE v.organization_id = $1 AND (v.shared OR v.owner_id = $2)";

fn row_to_view(row: &tokio_postgres::Row) -> SavedView {
    let page: &str = row.get(2);
    SavedView {
        id: row.get(0),
        name: row.get(1),
        // The table's CHECK allows only the pages `SavedPage` names.
        page: SavedPage::parse(page).unwrap_or(SavedPage::Weekly),
        query: row.get(3),
        shared: row.get(4),
        owner_id: row.get(5),
        owner_email: row.get(6),
        created_at: row.get(7),
    }
}

/// The views `user` sees in `organization`: their own personal ones, then every shared one,
/// each by name. None for a non-member.
pub async fn visible(
    client: &impl GenericClient,
    organization: Uuid,
    user: Uuid,
) -> Result<Vec<SavedView>, tokio_postgres::Error> {
    let rows = client
        .query(
            &format!("{VISIBLE} ORDER BY v.shared, lower(v.name), v.id"),
            &[&organization, &user],
        )
        .await?;
    Ok(rows.iter().map(row_to_view).collect())
}

/// One view `user` sees in `organization`; `None` for any other id.
pub async fn get(
    client: &impl GenericClient,
    organization: Uuid,
    user: Uuid,
    id: Uuid,
) -> Result<Option<SavedView>, tokio_postgres::Error> {
    let row = client
        .query_opt(
            &format!("{VISIBLE} AND v.id = $3"),
            &[&organization, &user, &id],
        )
        .await?;
    Ok(row.as_ref().map(row_to_view))
}

/// Deletes a view `user` sees and may delete (`SavedView::deletable_by` with `role`). Run it in
/// the transaction that read `role`, holding the membership row, so a demotion racing it is
/// seen; the view's row is held from the check to the delete.
pub async fn delete(
    client: &impl GenericClient,
    organization: Uuid,
    user: Uuid,
    role: Role,
    id: Uuid,
) -> Result<Deleted, tokio_postgres::Error> {
    let row = client
        .query_opt(
            &format!("{VISIBLE} AND v.id = $3 FOR UPDATE OF v"),
            &[&organization, &user, &id],
        )
        .await?;
    let Some(view) = row.as_ref().map(row_to_view) else {
        return Ok(Deleted::NotFound);
    };
    if !view.deletable_by(user, role) {
        return Ok(Deleted::NotAllowed);
    }
    client
        .execute(
            "DELETE FROM saved_views WHERE id = $1 AND organization_id = $2",
            &[&id, &organization],
        )
        .await?;
    Ok(Deleted::Deleted)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_name_is_trimmed_and_between_one_and_a_hundred_characters() {
        assert_eq!(
            ViewName::parse("  Sprint 14 ").unwrap().as_str(),
            "Sprint 14"
        );
        assert_eq!(ViewName::parse(" \t "), Err(ViewNameError::Empty));
        assert!(ViewName::parse(&"é".repeat(NAME_MAX_CHARS)).is_ok());
        assert_eq!(
            ViewName::parse(&"é".repeat(NAME_MAX_CHARS + 1)),
            Err(ViewNameError::TooLong)
        );
    }

    #[test]
    fn pages_round_trip_and_others_are_refused() {
        for page in SavedPage::ALL {
            assert_eq!(SavedPage::parse(page.as_str()), Some(page));
        }
        for other in ["troubleshooting", "events/1", "", "Flow"] {
            assert_eq!(SavedPage::parse(other), None, "{other}");
        }
    }

    #[test]
    fn a_shared_view_is_deleted_by_its_author_admins_and_owners_a_personal_one_by_its_author() {
        let (author, other) = (Uuid::new_v4(), Uuid::new_v4());
        let view = |shared| SavedView {
            id: Uuid::new_v4(),
            name: "v".into(),
            page: SavedPage::Flow,
            query: String::new(),
            shared,
            owner_id: author,
            owner_email: "a@example.test".into(),
            created_at: SystemTime::now(),
        };
        for role in Role::ALL {
            assert!(view(true).deletable_by(author, role), "{role} author");
            assert!(view(false).deletable_by(author, role), "{role} author");
            assert!(!view(false).deletable_by(other, role), "{role}, personal");
            assert_eq!(
                view(true).deletable_by(other, role),
                role >= Role::Admin,
                "{role}, shared"
            );
        }
    }
}
