//! Jira's event names, Connect's and admin webhooks' (`webhookEvent`) and Forge's (`eventType`),
//! mapped to our event family and normalized event type, so that an event and its twin from the
//! other path land as the same row. Forge names are those of Atlassian's Forge events reference
//! (developer.atlassian.com/platform/forge/events-reference/jira/ and …/jira-software/).

use serde_json::Value;

use super::fields::Object;

use EventType::{CommentCreatedOrUpdated, Fixed};
use Family::{Board, Comment, Issue, IssueLink, Project, Sprint, User, Version, Worklog};

/// The family an event belongs to: which entity it is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Family {
    Issue,
    Comment,
    Worklog,
    IssueLink,
    Sprint,
    Board,
    Project,
    Version,
    User,
    /// An event we do not normalize: kept as a raw event, never dropped.
    Unknown,
}

impl Family {
    /// The value of the `family` column.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Issue => "issue",
            Self::Comment => "comment",
            Self::Worklog => "worklog",
            Self::IssueLink => "issue_link",
            Self::Sprint => "sprint",
            Self::Board => "board",
            Self::Project => "project",
            Self::Version => "version",
            Self::User => "user",
            Self::Unknown => "unknown",
        }
    }
}

/// The normalized event type a name stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum EventType {
    /// Always this type, e.g. `issue_created`.
    Fixed(&'static str),
    /// Forge's `avi:jira:commented:issue` is sent for a new comment and for an edited one alike
    /// (Forge has no comment-updated event), so the comment's own dates decide.
    CommentCreatedOrUpdated,
}

/// What a known event name tells us.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Known {
    pub(super) family: Family,
    pub(super) event_type: EventType,
}

type Entry = (&'static str, Family, EventType);

/// Connect apps and admin webhooks (`webhookEvent`).
const CONNECT: &[Entry] = &[
    ("jira:issue_created", Issue, Fixed("issue_created")),
    ("jira:issue_updated", Issue, Fixed("issue_updated")),
    ("jira:issue_deleted", Issue, Fixed("issue_deleted")),
    ("comment_created", Comment, Fixed("comment_created")),
    ("comment_updated", Comment, Fixed("comment_updated")),
    ("comment_deleted", Comment, Fixed("comment_deleted")),
    ("worklog_created", Worklog, Fixed("worklog_created")),
    ("worklog_updated", Worklog, Fixed("worklog_updated")),
    ("worklog_deleted", Worklog, Fixed("worklog_deleted")),
    ("issuelink_created", IssueLink, Fixed("issuelink_created")),
    ("issuelink_deleted", IssueLink, Fixed("issuelink_deleted")),
    ("sprint_created", Sprint, Fixed("sprint_created")),
    ("sprint_updated", Sprint, Fixed("sprint_updated")),
    ("sprint_deleted", Sprint, Fixed("sprint_deleted")),
    ("sprint_started", Sprint, Fixed("sprint_started")),
    ("sprint_closed", Sprint, Fixed("sprint_closed")),
    ("board_created", Board, Fixed("board_created")),
    ("board_updated", Board, Fixed("board_updated")),
    ("board_deleted", Board, Fixed("board_deleted")),
    (
        "board_configuration_changed",
        Board,
        Fixed("board_configuration_changed"),
    ),
    ("project_created", Project, Fixed("project_created")),
    ("project_updated", Project, Fixed("project_updated")),
    ("project_deleted", Project, Fixed("project_deleted")),
    (
        "project_soft_deleted",
        Project,
        Fixed("project_soft_deleted"),
    ),
    (
        "project_restored_deleted",
        Project,
        Fixed("project_restored"),
    ),
    ("project_archived", Project, Fixed("project_archived")),
    (
        "project_restored_archived",
        Project,
        Fixed("project_unarchived"),
    ),
    ("jira:version_created", Version, Fixed("version_created")),
    ("jira:version_updated", Version, Fixed("version_updated")),
    ("jira:version_deleted", Version, Fixed("version_deleted")),
    ("jira:version_released", Version, Fixed("version_released")),
    (
        "jira:version_unreleased",
        Version,
        Fixed("version_unreleased"),
    ),
    ("jira:version_moved", Version, Fixed("version_moved")),
    ("jira:version_merged", Version, Fixed("version_merged")),
    ("user_created", User, Fixed("user_created")),
    ("user_updated", User, Fixed("user_updated")),
    ("user_deleted", User, Fixed("user_deleted")),
];

/// Forge product events (`eventType`). Left out on purpose: `avi:jira:assigned:issue` (Jira also
/// sends `avi:jira:updated:issue` for the same change, which would count it twice), the
/// `viewed`/`mentioned` events (not changes), and `avi:jira:updated:comment` (not in Atlassian's
/// reference: an edited comment arrives as another `avi:jira:commented:issue`).
const FORGE: &[Entry] = &[
    ("avi:jira:created:issue", Issue, Fixed("issue_created")),
    ("avi:jira:updated:issue", Issue, Fixed("issue_updated")),
    ("avi:jira:deleted:issue", Issue, Fixed("issue_deleted")),
    ("avi:jira:commented:issue", Comment, CommentCreatedOrUpdated),
    (
        "avi:jira:deleted:comment",
        Comment,
        Fixed("comment_deleted"),
    ),
    (
        "avi:jira:created:worklog",
        Worklog,
        Fixed("worklog_created"),
    ),
    (
        "avi:jira:updated:worklog",
        Worklog,
        Fixed("worklog_updated"),
    ),
    (
        "avi:jira:deleted:worklog",
        Worklog,
        Fixed("worklog_deleted"),
    ),
    (
        "avi:jira:created:issuelink",
        IssueLink,
        Fixed("issuelink_created"),
    ),
    (
        "avi:jira:deleted:issuelink",
        IssueLink,
        Fixed("issuelink_deleted"),
    ),
    (
        "avi:jira-software:created:sprint",
        Sprint,
        Fixed("sprint_created"),
    ),
    (
        "avi:jira-software:updated:sprint",
        Sprint,
        Fixed("sprint_updated"),
    ),
    (
        "avi:jira-software:deleted:sprint",
        Sprint,
        Fixed("sprint_deleted"),
    ),
    (
        "avi:jira-software:started:sprint",
        Sprint,
        Fixed("sprint_started"),
    ),
    (
        "avi:jira-software:closed:sprint",
        Sprint,
        Fixed("sprint_closed"),
    ),
    (
        "avi:jira-software:created:board",
        Board,
        Fixed("board_created"),
    ),
    (
        "avi:jira-software:updated:board",
        Board,
        Fixed("board_updated"),
    ),
    (
        "avi:jira-software:deleted:board",
        Board,
        Fixed("board_deleted"),
    ),
    (
        "avi:jira-software:configuration-changed:board",
        Board,
        Fixed("board_configuration_changed"),
    ),
    (
        "avi:jira:created:project",
        Project,
        Fixed("project_created"),
    ),
    (
        "avi:jira:updated:project",
        Project,
        Fixed("project_updated"),
    ),
    (
        "avi:jira:deleted:project",
        Project,
        Fixed("project_deleted"),
    ),
    (
        "avi:jira:softdeleted:project",
        Project,
        Fixed("project_soft_deleted"),
    ),
    (
        "avi:jira:restored:project",
        Project,
        Fixed("project_restored"),
    ),
    (
        "avi:jira:archived:project",
        Project,
        Fixed("project_archived"),
    ),
    (
        "avi:jira:unarchived:project",
        Project,
        Fixed("project_unarchived"),
    ),
    (
        "avi:jira:created:version",
        Version,
        Fixed("version_created"),
    ),
    (
        "avi:jira:updated:version",
        Version,
        Fixed("version_updated"),
    ),
    (
        "avi:jira:deleted:version",
        Version,
        Fixed("version_deleted"),
    ),
    (
        "avi:jira:released:version",
        Version,
        Fixed("version_released"),
    ),
    (
        "avi:jira:unreleased:version",
        Version,
        Fixed("version_unreleased"),
    ),
    ("avi:jira:moved:version", Version, Fixed("version_moved")),
    ("avi:jira:merged:version", Version, Fixed("version_merged")),
    // Forge only: Connect has no version-archived webhook.
    (
        "avi:jira:archived:version",
        Version,
        Fixed("version_archived"),
    ),
    (
        "avi:jira:unarchived:version",
        Version,
        Fixed("version_unarchived"),
    ),
    ("avi:jira:created:user", User, Fixed("user_created")),
    ("avi:jira:updated:user", User, Fixed("user_updated")),
    ("avi:jira:deleted:user", User, Fixed("user_deleted")),
];

/// The Forge events we normalize: what the Forge manifest should subscribe to.
pub fn forge_event_names() -> impl Iterator<Item = &'static str> {
    FORGE.iter().map(|(name, _, _)| *name)
}

/// The Connect and admin-webhook events we normalize.
pub fn connect_event_names() -> impl Iterator<Item = &'static str> {
    CONNECT.iter().map(|(name, _, _)| *name)
}

/// What `name` stands for, if we know it.
pub(super) fn classify(name: &str) -> Option<Known> {
    CONNECT
        .iter()
        .chain(FORGE)
        .find(|(known, _, _)| *known == name)
        .map(|&(_, family, event_type)| Known { family, event_type })
}

/// The event's name as sent and, when we know it, what it stands for. Connect names it in
/// `webhookEvent`, Forge in `eventType`; a known name wins over an unknown one, and a body that
/// names nothing is `None`.
pub(super) fn read(body: &Object) -> (Option<&str>, Option<Known>) {
    let names = ["webhookEvent", "eventType"]
        .into_iter()
        .filter_map(|key| body.get(key).and_then(Value::as_str))
        .filter(|name| !name.is_empty());
    let mut first = None;
    for name in names {
        if let Some(known) = classify(name) {
            return (Some(name), Some(known));
        }
        first.get_or_insert(name);
    }
    (first, None)
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    /// The (family, event type) pairs a table can produce; the comment heuristic can give both
    /// `comment_created` and `comment_updated`.
    fn outcomes(table: &[Entry]) -> HashSet<(Family, &'static str)> {
        table
            .iter()
            .flat_map(|&(_, family, event_type)| match event_type {
                Fixed(name) => vec![(family, name)],
                CommentCreatedOrUpdated => {
                    vec![(family, "comment_created"), (family, "comment_updated")]
                }
            })
            .collect()
    }

    #[test]
    fn every_connect_event_type_has_a_forge_twin() {
        let forge = outcomes(FORGE);
        for outcome in outcomes(CONNECT) {
            assert!(forge.contains(&outcome), "no Forge event gives {outcome:?}");
        }
    }

    #[test]
    fn every_forge_event_type_has_a_connect_twin_but_version_archiving() {
        let connect = outcomes(CONNECT);
        let forge_only = [
            (Version, "version_archived"),
            (Version, "version_unarchived"),
        ];
        for outcome in outcomes(FORGE) {
            assert_eq!(
                connect.contains(&outcome),
                !forge_only.contains(&outcome),
                "Connect twin of {outcome:?}"
            );
        }
    }

    #[test]
    fn event_types_are_prefixed_by_their_family() {
        for &(name, family, event_type) in CONNECT.iter().chain(FORGE) {
            let Fixed(event_type) = event_type else {
                continue;
            };
            let prefix = match family {
                IssueLink => "issuelink".to_owned(),
                other => other.as_str().to_owned(),
            };
            assert!(
                event_type.starts_with(&format!("{prefix}_")),
                "{name} gives {event_type} in family {}",
                family.as_str()
            );
        }
    }

    #[test]
    fn names_are_unique() {
        let mut seen = HashSet::new();
        for name in connect_event_names().chain(forge_event_names()) {
            assert!(seen.insert(name), "{name} is listed twice");
        }
    }

    #[test]
    fn forge_names_are_documented_avis() {
        for name in forge_event_names() {
            assert!(
                name.starts_with("avi:jira:") || name.starts_with("avi:jira-software:"),
                "{name}"
            );
        }
        assert!(!forge_event_names().any(|name| name == "avi:jira:updated:comment"));
        assert!(!forge_event_names().any(|name| name == "avi:jira:assigned:issue"));
    }
}
