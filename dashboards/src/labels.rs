//! The words the pages use for the warehouse's kinds of events.

pub(crate) fn kind_label(kind: &str) -> &str {
    match kind {
        "issue_created" => "Created",
        "issue_updated" => "Updated",
        "issue_resolved" => "Resolved",
        "issue_deleted" => "Deleted",
        "comment_created" => "Commented",
        "transition_new" => "To do",
        "transition_indeterminate" => "In progress",
        "transition_done" => "Done",
        other => other,
    }
}
