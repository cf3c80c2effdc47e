//! The Forge app subscribes to exactly the Forge events the normalizer maps: an event we subscribe
//! to but do not normalize would land as family `unknown`, and one we normalize but do not
//! subscribe to would never arrive. Needs no stack.

use std::collections::BTreeSet;
use std::path::Path;

/// Lifecycle events go to onboarding, not to the normalizer.
const LIFECYCLE_PREFIX: &str = "avi:forge:";

/// Every `avi:` event name in a manifest, outside comments. Forge event names are the only `avi:`
/// strings a manifest holds, so scanning for them needs no YAML parser and reads plain lists,
/// flow lists and `eventType:` entries alike.
fn subscribed_events(manifest: &str) -> BTreeSet<&str> {
    manifest
        .lines()
        .map(strip_comment)
        .flat_map(|line| line.split(|c: char| !(c.is_ascii_alphanumeric() || c == ':' || c == '-')))
        .filter(|token| token.starts_with("avi:"))
        .collect()
}

/// The line before its YAML comment: a `#` at the start or after whitespace.
fn strip_comment(line: &str) -> &str {
    let cut = line
        .char_indices()
        .find(|&(at, c)| c == '#' && (at == 0 || line[..at].ends_with(char::is_whitespace)))
        .map_or(line.len(), |(at, _)| at);
    &line[..cut]
}

#[test]
fn the_forge_manifest_subscribes_to_exactly_the_events_the_normalizer_maps() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../forge/manifest.yml");
    let manifest = std::fs::read_to_string(&path).expect("forge/manifest.yml");
    let subscribed: BTreeSet<&str> = subscribed_events(&manifest)
        .into_iter()
        .filter(|name| !name.starts_with(LIFECYCLE_PREFIX))
        .collect();
    let normalized: BTreeSet<&str> = pipeline::normalize::forge_event_names().collect();

    let not_normalized: Vec<_> = subscribed.difference(&normalized).collect();
    let not_subscribed: Vec<_> = normalized.difference(&subscribed).collect();
    assert!(
        not_normalized.is_empty() && not_subscribed.is_empty(),
        "{}: subscribed but not normalized: {not_normalized:?}; normalized but not subscribed: {not_subscribed:?}",
        path.display()
    );
}

#[test]
fn event_names_are_read_from_lists_and_entries_but_not_comments() {
    let manifest = "\
# avi:jira:commented-out:issue
trigger:
  - events:
      - avi:jira:created:issue # avi:jira:also-a-comment:issue
      - 'avi:jira:updated:issue'
    other: [avi:jira-software:started:sprint, \"avi:forge:installed:app\"]
  - events:
      - eventType: avi:jira:deleted:issue
        filter: {ignoreSelf: true}
    note: issue#7 is not a comment
";
    assert_eq!(
        subscribed_events(manifest),
        BTreeSet::from([
            "avi:forge:installed:app",
            "avi:jira-software:started:sprint",
            "avi:jira:created:issue",
            "avi:jira:deleted:issue",
            "avi:jira:updated:issue",
        ])
    );
}
