//! The organizations view: the caller's organizations and their role in each, to find the ids
//! every other call takes.

use accounts_store::{organizations::Organization, roles::Role};
use serde::Serialize;
use utoipa::ToSchema;

/// The organizations the caller is a member of.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Organizations {
    pub organizations: Vec<OrganizationEntry>,
}

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct OrganizationEntry {
    /// The id the other calls take as `{organization}`.
    #[schema(format = Uuid)]
    pub id: String,
    pub name: String,
    pub role: RoleName,
}

/// The caller's role: viewers see views; analysts also payloads and exports (`format=csv`);
/// admins and owners manage the organization in onboarding.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub(crate) enum RoleName {
    Owner,
    Admin,
    Analyst,
    Viewer,
}

impl From<Role> for RoleName {
    fn from(role: Role) -> Self {
        match role {
            Role::Owner => Self::Owner,
            Role::Admin => Self::Admin,
            Role::Analyst => Self::Analyst,
            Role::Viewer => Self::Viewer,
        }
    }
}

impl Organizations {
    pub(crate) fn new(memberships: Vec<(Organization, Role)>) -> Self {
        Self {
            organizations: memberships
                .into_iter()
                .map(|(organization, role)| OrganizationEntry {
                    id: organization.id.to_string(),
                    name: organization.name,
                    role: role.into(),
                })
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_role_is_named_as_onboarding_names_it() {
        for role in Role::ALL {
            assert_eq!(
                serde_json::to_value(RoleName::from(role)).unwrap(),
                role.as_str()
            );
        }
    }
}
