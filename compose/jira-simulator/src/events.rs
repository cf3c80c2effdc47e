//! Realistic Jira events from the shared fixtures: a weighted mix of event types, a fresh
//! timestamp, an issue from a small per-project pool, and a body padded to a size drawn per event.
//!
//! Works on both fixture folders (`jira/` for Connect, `forge/` for Forge): the shapes differ, but
//! the fields varied here sit at the same places.
//!
//! With [`EventFixtures::with_secured`], every nth issue of each project's pool is under an issue
//! security level, and its events carry `fields.security` as Jira's do; no other issue's do.

use std::{
    fs, io,
    path::{Path, PathBuf},
};

use rand::{Rng, seq::SliceRandom};
use serde_json::{Value, json};

use crate::{
    issue_security::{SecuredIssues, security_field},
    time::now_millis,
};

/// Padded bodies land in this range, the size of real Jira issue events with a description.
pub const MIN_BODY_BYTES: usize = 2 * 1024;
pub const MAX_BODY_BYTES: usize = 8 * 1024;

/// Relative weights of the event types, by fixture file name: mostly updates, then creations,
/// comments, resolutions, worklogs, and a few of the rest. A fixture not listed here gets weight 1.
const MIX: &[(&str, u32)] = &[
    ("issue_updated_status", 30),
    ("issue_updated_assignee_priority", 22),
    ("issue_created", 15),
    ("comment_created", 12),
    ("issue_resolved", 8),
    ("worklog_created", 6),
    ("issue_deleted", 2),
    ("sprint_started", 2),
    ("project_created", 1),
    ("version_released", 1),
    // No free-text field to pad, so they could not be sized like the rest; send them by name.
    ("issuelink_created", 0),
    ("user_created", 0),
];

/// Files in a fixture folder that are not events.
fn is_event_fixture(stem: &str) -> bool {
    !stem.starts_with("lifecycle_") && stem != "fit_claims"
}

/// Where the padding goes, first match wins: the text a real event of that type grows with.
const PADDED_FIELDS: &[&str] = &[
    "/comment/body",
    "/worklog/comment",
    "/issue/fields/description",
    "/sprint/goal",
    "/version/description",
    "/project/description",
];

/// The issue pool: a few projects, a few dozen issues each, with ids fixed by key so every event
/// about one issue agrees on its id.
const PROJECTS: &[(&str, u64, &str)] = &[
    ("SEC", 10001, "Platform Security"),
    ("OPS", 10002, "Operations"),
    ("WEB", 10003, "Web Storefront"),
];
const ISSUES_PER_PROJECT: u64 = 40;

const LOREM: &str = "Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor \
incididunt ut labore et dolore magna aliqua. Ut enim ad minim veniam, quis nostrud exercitation \
ullamco laboris nisi ut aliquip ex ea commodo consequat. Duis aute irure dolor in reprehenderit in \
voluptate velit esse cillum dolore eu fugiat nulla pariatur. Excepteur sint occaecat cupidatat non \
proident, sunt in culpa qui officia deserunt mollit anim id est laborum. ";

#[derive(Debug, thiserror::Error)]
pub enum FixtureError {
    #[error("could not read the fixtures in {path}")]
    Read {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("the fixture {path} is not valid JSON")]
    Parse {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
    #[error("no event fixtures in {0}")]
    Empty(PathBuf),
}

#[derive(Debug, Clone)]
struct Template {
    name: String,
    weight: u32,
    body: Value,
}

/// The event fixtures of one folder, ready to produce variants.
#[derive(Debug, Clone)]
pub struct EventFixtures {
    templates: Vec<Template>,
    /// Which issues of the pool are under a security level; none unless a test asks.
    secured: Option<SecuredIssues>,
}

impl EventFixtures {
    /// The shared Connect (Jira webhook) fixtures of this checkout.
    pub fn default_dir() -> PathBuf {
        PathBuf::from(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../../shared/fixtures/jira"
        ))
    }

    /// The shared Forge fixtures of this checkout.
    pub fn default_forge_dir() -> PathBuf {
        PathBuf::from(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../../shared/fixtures/forge"
        ))
    }

    /// Every `*.json` event fixture in `dir` (lifecycle and FIT fixtures skipped).
    pub fn load(dir: &Path) -> Result<Self, FixtureError> {
        let read_err = |source| FixtureError::Read {
            path: dir.to_owned(),
            source,
        };
        let mut paths: Vec<PathBuf> = fs::read_dir(dir)
            .map_err(read_err)?
            .map(|entry| entry.map(|entry| entry.path()))
            .collect::<Result<_, _>>()
            .map_err(read_err)?;
        paths.sort();
        let mut templates = Vec::new();
        for path in paths {
            let Some(stem) = path.file_stem().and_then(|stem| stem.to_str()) else {
                continue;
            };
            if path.extension().is_none_or(|ext| ext != "json") || !is_event_fixture(stem) {
                continue;
            }
            let text = fs::read_to_string(&path).map_err(|source| FixtureError::Read {
                path: path.clone(),
                source,
            })?;
            let body = serde_json::from_str(&text).map_err(|source| FixtureError::Parse {
                path: path.clone(),
                source,
            })?;
            let weight = MIX
                .iter()
                .find(|(name, _)| *name == stem)
                .map_or(1, |(_, weight)| *weight);
            templates.push(Template {
                name: stem.to_owned(),
                weight,
                body,
            });
        }
        if templates.iter().all(|template| template.weight == 0) {
            return Err(FixtureError::Empty(dir.to_owned()));
        }
        Ok(Self {
            templates,
            secured: None,
        })
    }

    /// From now on, the issue numbered n of each project (`SEC-n`, `OPS-n`, `WEB-n`) is under
    /// the level of `secured` when `secured.covers(n)`: its events carry `fields.security`.
    /// Nothing is drawn for it, so the same seed gives the same events otherwise.
    pub fn with_secured(mut self, secured: SecuredIssues) -> Self {
        self.secured = Some(secured);
        self
    }

    /// The fixture names, in file order.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.templates.iter().map(|template| template.name.as_str())
    }

    /// A fresh event drawn from the mix.
    pub fn generate<R: Rng + ?Sized>(&self, rng: &mut R) -> Value {
        // `load` guarantees one positive weight, so the choice cannot fail; the fallback keeps
        // this infallible anyway.
        let template = self
            .templates
            .choose_weighted(rng, |template| template.weight)
            .unwrap_or(&self.templates[0]);
        vary(&template.body, self.secured.as_ref(), rng)
    }

    /// A fresh variant of the fixture `name` (its file stem), whatever its weight in the mix.
    pub fn generate_named<R: Rng + ?Sized>(&self, name: &str, rng: &mut R) -> Option<Value> {
        let template = self
            .templates
            .iter()
            .find(|template| template.name == name)?;
        Some(vary(&template.body, self.secured.as_ref(), rng))
    }
}

fn vary<R: Rng + ?Sized>(template: &Value, secured: Option<&SecuredIssues>, rng: &mut R) -> Value {
    let mut event = template.clone();
    refresh_timestamp(&mut event);
    pick_issue(&mut event, secured, rng);
    fresh_ids(&mut event, rng);
    relink_children(&mut event);
    let target = rng.gen_range(MIN_BODY_BYTES..=MAX_BODY_BYTES);
    pad_to(&mut event, target);
    event
}

/// Connect sends epoch millis as a number, Forge as a string; keep whichever the fixture has.
fn refresh_timestamp(event: &mut Value) {
    let now = now_millis();
    if let Some(timestamp) = event.get_mut("timestamp") {
        *timestamp = if timestamp.is_string() {
            json!(now.to_string())
        } else {
            json!(now)
        };
    }
}

fn pick_issue<R: Rng + ?Sized>(event: &mut Value, secured: Option<&SecuredIssues>, rng: &mut R) {
    let (project_key, project_id, project_name) = PROJECTS[rng.gen_range(0..PROJECTS.len())];
    let number = rng.gen_range(1..=ISSUES_PER_PROJECT);
    let issue_id = (project_id - 10000) * 10000 + 10000 + number;
    let issue_key = format!("{project_key}-{number}");
    let site = site_of(event);
    if let Some(issue) = event.get_mut("issue").and_then(Value::as_object_mut) {
        issue.insert("id".into(), json!(issue_id.to_string()));
        issue.insert("key".into(), json!(issue_key));
        issue.insert(
            "self".into(),
            json!(format!("{site}/rest/api/2/issue/{issue_id}")),
        );
        if let Some(project) = issue
            .get_mut("fields")
            .and_then(|fields| fields.get_mut("project"))
        {
            set(project, "id", json!(project_id.to_string()));
            set(project, "key", json!(project_key));
            set(project, "name", json!(project_name));
            if project.get("self").is_some() {
                set(
                    project,
                    "self",
                    json!(format!("{site}/rest/api/2/project/{project_id}")),
                );
            }
        }
        // The picked issue's level, whatever the fixture's issue had: Jira omits the field for
        // an issue under none.
        if let Some(fields) = issue.get_mut("fields").and_then(Value::as_object_mut) {
            match secured.filter(|secured| secured.covers(number)) {
                Some(level) => {
                    let security = security_field(&site, &level.level_id, &level.level_name);
                    fields.insert("security".into(), security);
                }
                None => {
                    fields.remove("security");
                }
            }
        }
    }
    if let Some(worklog) = event.get_mut("worklog") {
        set(worklog, "issueId", json!(issue_id.to_string()));
    }
}

/// Comments, worklogs and changelogs get ids of their own, as each real change does.
fn fresh_ids<R: Rng + ?Sized>(event: &mut Value, rng: &mut R) {
    for field in ["comment", "worklog", "changelog"] {
        if let Some(object) = event
            .get_mut(field)
            .filter(|object| object.get("id").is_some())
        {
            set(
                object,
                "id",
                json!(rng.gen_range(100_000..10_000_000u64).to_string()),
            );
        }
    }
}

/// A comment's or worklog's `self` names its issue and its own id; both may have changed.
fn relink_children(event: &mut Value) {
    let site = site_of(event);
    let issue_id = event
        .pointer("/issue/id")
        .or_else(|| event.pointer("/worklog/issueId"))
        .and_then(Value::as_str)
        .map(str::to_owned);
    let Some(issue_id) = issue_id else { return };
    for (field, kind) in [("comment", "comment"), ("worklog", "worklog")] {
        let Some(child) = event.get_mut(field) else {
            continue;
        };
        let Some(id) = child.get("id").and_then(Value::as_str).map(str::to_owned) else {
            continue;
        };
        if child.get("self").is_some() {
            set(
                child,
                "self",
                json!(format!("{site}/rest/api/2/issue/{issue_id}/{kind}/{id}")),
            );
        }
    }
}

fn site_of(event: &Value) -> String {
    let own = ["/issue/self", "/comment/self", "/worklog/self"]
        .iter()
        .find_map(|pointer| event.pointer(pointer).and_then(Value::as_str))
        .unwrap_or_default();
    match own.find("/rest/") {
        Some(end) => own[..end].to_owned(),
        None => "https://acme-eng.atlassian.net".to_owned(),
    }
}

fn set(object: &mut Value, key: &str, value: Value) {
    if let Some(object) = object.as_object_mut() {
        object.insert(key.to_owned(), value);
    }
}

/// Grows the first paddable text field until the compact JSON is `target` bytes long. Lorem text
/// is plain ASCII that JSON does not escape, so one added character is one added byte.
fn pad_to(event: &mut Value, target: usize) {
    let Some((parent, key)) = PADDED_FIELDS.iter().find_map(|pointer| {
        let (parent, key) = pointer.rsplit_once('/')?;
        event.pointer(parent)?.is_object().then_some((parent, key))
    }) else {
        return;
    };
    let Some(field) = event
        .pointer_mut(parent)
        .and_then(Value::as_object_mut)
        .map(|parent| parent.entry(key).or_insert(Value::Null))
    else {
        return;
    };
    if !field.is_string() {
        *field = Value::String(String::new());
    }
    let size = serde_json::to_vec(event).map_or(usize::MAX, |bytes| bytes.len());
    let Some(missing) = target.checked_sub(size) else {
        return;
    };
    if let Some(Value::String(text)) = event.pointer_mut(&format!("{parent}/{key}")) {
        let separator = if text.is_empty() { "" } else { " " };
        text.extend(separator.chars().chain(LOREM.chars().cycle()).take(missing));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{SeedableRng, rngs::StdRng};

    fn jira() -> EventFixtures {
        EventFixtures::load(&EventFixtures::default_dir()).expect("the shared Jira fixtures load")
    }

    #[test]
    fn generated_events_are_2_to_8_kb_of_json_with_a_fresh_timestamp() {
        let fixtures = jira();
        let mut rng = StdRng::seed_from_u64(7);
        let before = now_millis();
        for _ in 0..300 {
            let event = fixtures.generate(&mut rng);
            let bytes = serde_json::to_vec(&event).expect("serializes");
            assert!(
                (MIN_BODY_BYTES..=MAX_BODY_BYTES).contains(&bytes.len()),
                "{} bytes: {event}",
                bytes.len()
            );
            let reparsed: Value = serde_json::from_slice(&bytes).expect("valid JSON");
            assert!(reparsed["webhookEvent"].is_string(), "{reparsed}");
            let timestamp = reparsed["timestamp"].as_u64().expect("numeric timestamp");
            assert!(
                timestamp >= before && timestamp <= now_millis(),
                "fresh timestamp"
            );
        }
    }

    #[test]
    fn the_mix_is_mostly_issue_updates_and_never_the_lifecycle() {
        let fixtures = jira();
        assert!(fixtures.names().all(|name| !name.starts_with("lifecycle_")));
        let mut rng = StdRng::seed_from_u64(11);
        let events: Vec<Value> = (0..1000).map(|_| fixtures.generate(&mut rng)).collect();
        let count = |kind: &str| {
            events
                .iter()
                .filter(|event| event["webhookEvent"] == kind)
                .count()
        };
        let updates = count("jira:issue_updated");
        assert!(updates > 450, "{updates} updates of 1000");
        assert!(count("jira:issue_created") > 80);
        assert!(count("comment_created") > 60);
        assert!(count("worklog_created") > 20);
    }

    #[test]
    fn an_issue_key_always_comes_with_the_same_id_and_project() {
        let fixtures = jira();
        let mut rng = StdRng::seed_from_u64(3);
        let mut seen = std::collections::HashMap::new();
        for _ in 0..500 {
            let event = fixtures.generate(&mut rng);
            let (Some(key), Some(id)) = (event.pointer("/issue/key"), event.pointer("/issue/id"))
            else {
                continue;
            };
            let key = key.as_str().expect("key").to_owned();
            let project = event
                .pointer("/issue/fields/project/key")
                .and_then(Value::as_str)
                .expect("project");
            assert!(
                key.starts_with(&format!("{project}-")),
                "{key} in {project}"
            );
            let previous = seen.insert(key.clone(), id.clone());
            assert!(
                previous.is_none_or(|previous| previous == *id),
                "{key} changed id"
            );
        }
        assert!(seen.len() > 20, "a pool, not one issue");
    }

    #[test]
    fn comments_and_worklogs_point_at_their_issue_and_their_own_id() {
        let fixtures = jira();
        let mut rng = StdRng::seed_from_u64(9);
        let comment = fixtures
            .generate_named("comment_created", &mut rng)
            .expect("comment_created");
        let expected = format!(
            "https://acme-eng.atlassian.net/rest/api/2/issue/{}/comment/{}",
            comment["issue"]["id"].as_str().expect("issue id"),
            comment["comment"]["id"].as_str().expect("comment id")
        );
        assert_eq!(comment["comment"]["self"], expected.as_str());
        let worklog = fixtures
            .generate_named("worklog_created", &mut rng)
            .expect("worklog_created");
        let issue_id = worklog["worklog"]["issueId"].as_str().expect("issue id");
        assert_ne!(issue_id, "10482", "picked from the pool");
        let link = worklog["worklog"]["self"].as_str().expect("self");
        assert!(
            link.contains(&format!("/issue/{issue_id}/worklog/")),
            "{link}"
        );
    }

    #[test]
    fn forge_fixtures_keep_their_string_timestamp() {
        let fixtures =
            EventFixtures::load(&EventFixtures::default_forge_dir()).expect("forge fixtures");
        assert!(fixtures.names().all(|name| name != "fit_claims"));
        let mut rng = StdRng::seed_from_u64(5);
        let event = fixtures
            .generate_named("issue_created", &mut rng)
            .expect("issue_created exists");
        let timestamp: u64 = event["timestamp"]
            .as_str()
            .expect("string")
            .parse()
            .expect("millis");
        assert!(timestamp + 60_000 > now_millis());
        assert_eq!(event["eventType"], "avi:jira:created:issue");
    }

    #[test]
    fn an_empty_folder_is_an_error() {
        let dir =
            std::env::temp_dir().join(format!("jira-simulator-empty-{}", uuid::Uuid::new_v4()));
        fs::create_dir_all(&dir).expect("mkdir");
        assert!(matches!(
            EventFixtures::load(&dir),
            Err(FixtureError::Empty(_))
        ));
        fs::remove_dir_all(dir).expect("clean up");
    }
}
