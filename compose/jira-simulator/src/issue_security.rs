//! Issue security levels as Jira's events show them: which generated issues a test put under a
//! level, and the `fields.security` object Jira sends for such an issue (and omits otherwise).

use std::num::NonZeroU32;

use serde_json::{Value, json};

/// A deterministic subset of generated issues under one issue security level: every nth issue
/// (the nth, the 2nth, …, counting from 1). Nothing is drawn from a random generator for it, so
/// a stream with it differs from the same stream without it only by the `security` fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecuredIssues {
    /// The level's id, as `fields.security.id` and the permission model's `issue_levels` name it.
    pub level_id: String,
    pub level_name: String,
    pub every_nth: NonZeroU32,
}

impl SecuredIssues {
    /// Whether the issue numbered `ordinal` (from 1) is under the level.
    pub fn covers(&self, ordinal: u64) -> bool {
        ordinal != 0 && ordinal.is_multiple_of(u64::from(self.every_nth.get()))
    }
}

/// `issue.fields.security` as Jira Cloud sends it for an issue under level `id`.
pub(crate) fn security_field(site_url: &str, id: &str, name: &str) -> Value {
    json!({
        "self": format!("{site_url}/rest/api/2/securitylevel/{id}"),
        "id": id,
        "name": name,
        "description": "",
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_nth_issue_counting_from_one_is_covered() {
        let secured = SecuredIssues {
            level_id: "10100".into(),
            level_name: "Staff".into(),
            every_nth: NonZeroU32::new(3).expect("non-zero"),
        };
        let covered: Vec<u64> = (0..10).filter(|n| secured.covers(*n)).collect();
        assert_eq!(covered, [3, 6, 9]);
    }
}
