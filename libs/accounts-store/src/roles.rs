//! What each role in an organization may do. Every handler asks these questions of the caller's
//! role, read fresh from Postgres on each request, so a change of role or a removal takes effect
//! at once.

use std::fmt;

/// Ordered from least to most powerful.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Role {
    /// All views; no payloads, no exports.
    Viewer,
    /// All views, payloads and exports.
    Analyst,
    /// Analyst, plus members below owner, invites, Jira connections and webhook secrets.
    Admin,
    /// Everything, including owners and deleting the organization.
    Owner,
}

impl Role {
    pub const ALL: [Role; 4] = [Role::Owner, Role::Admin, Role::Analyst, Role::Viewer];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Viewer => "viewer",
            Self::Analyst => "analyst",
            Self::Admin => "admin",
            Self::Owner => "owner",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|role| role.as_str() == text)
    }

    pub fn can_see_payloads(self) -> bool {
        self >= Self::Analyst
    }

    pub fn can_export(self) -> bool {
        self >= Self::Analyst
    }

    pub fn can_manage_members(self) -> bool {
        self >= Self::Admin
    }

    pub fn can_read_audit_log(self) -> bool {
        self >= Self::Admin
    }

    /// Whether a member with this role may give `role` to someone, or change or remove someone
    /// who holds it: admins act only below owner; owners act on everyone.
    pub fn can_manage(self, role: Role) -> bool {
        match self {
            Self::Owner => true,
            Self::Admin => role < Self::Owner,
            _ => false,
        }
    }

    pub fn can_delete_organization(self) -> bool {
        self == Self::Owner
    }

    /// Turning "members see only what their Jira account can see" on or off: it decides what
    /// every member, owners included, may see, so it is the owners' alone.
    pub fn can_set_jira_permissions(self) -> bool {
        self == Self::Owner
    }

    /// Saving a view for the whole organization; anyone may save one for themselves.
    pub fn can_share_views(self) -> bool {
        self >= Self::Analyst
    }

    /// Deleting a view another member shared (its author always may).
    pub fn can_delete_shared_views(self) -> bool {
        self >= Self::Admin
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_round_trip_and_unknown_names_are_refused() {
        for role in Role::ALL {
            assert_eq!(Role::parse(role.as_str()), Some(role));
        }
        assert_eq!(Role::parse("superuser"), None);
        assert_eq!(Role::parse("Owner"), None);
    }

    #[test]
    fn viewers_see_no_payloads_and_export_nothing() {
        assert!(!Role::Viewer.can_see_payloads());
        assert!(!Role::Viewer.can_export());
        assert!(Role::Analyst.can_export());
        assert!(!Role::Analyst.can_manage_members());
    }

    #[test]
    fn admins_manage_everyone_below_owner_and_only_owners_delete() {
        assert!(Role::Admin.can_manage(Role::Admin));
        assert!(Role::Admin.can_manage(Role::Viewer));
        assert!(!Role::Admin.can_manage(Role::Owner));
        assert!(Role::Owner.can_manage(Role::Owner));
        assert!(!Role::Analyst.can_manage(Role::Viewer));
        assert!(Role::Owner.can_delete_organization());
        assert!(!Role::Admin.can_delete_organization());
    }

    #[test]
    fn only_owners_set_jira_permissions() {
        for role in Role::ALL {
            assert_eq!(
                role.can_set_jira_permissions(),
                role == Role::Owner,
                "{role}"
            );
        }
    }

    #[test]
    fn analysts_share_views_and_admins_delete_anyones_shared_view() {
        assert!(!Role::Viewer.can_share_views());
        assert!(Role::Analyst.can_share_views());
        assert!(!Role::Analyst.can_delete_shared_views());
        assert!(Role::Admin.can_delete_shared_views());
        assert!(Role::Owner.can_delete_shared_views());
    }
}
