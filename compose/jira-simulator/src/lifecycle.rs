//! Realistic issue lifecycles over the past weeks, seeded and deterministic: issues are created
//! in two projects by several people, commented on, assigned, moved through To Do → In Progress
//! → In Review → Done (sometimes paused back to To Do), resolved, and some reopened and resolved
//! again; a few are deleted. Each step is one [`LifecycleEvent`], timestamped when it happened,
//! which renders as the body Jira sends for it through Connect (and Data Center webhooks) or
//! Forge.
//!
//! The events carry what happened in plain fields (kind, changes, the issue after the change), so
//! a test can compute every number a view should show from them without reading a payload.

pub mod agile;

use rand::{Rng, SeedableRng, rngs::StdRng, seq::SliceRandom};
use serde_json::{Value, json};

/// What to generate.
#[derive(Debug, Clone)]
pub struct LifecycleSpec {
    /// The same seed gives the same events (given the same `end_ms`).
    pub seed: u64,
    /// How many issues are created.
    pub issues: u32,
    /// The span the events fall in, ending at `end_ms`.
    pub weeks: u32,
    /// No event happens at or after this time (milliseconds since the epoch): work still going on
    /// then is left in progress.
    pub end_ms: i64,
}

impl LifecycleSpec {
    /// `issues` issues over the `weeks` weeks before now.
    pub fn recent(seed: u64, issues: u32, weeks: u32) -> Self {
        Self {
            seed,
            issues,
            weeks,
            end_ms: crate::time::now_millis() as i64 - 60_000,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LifecycleKind {
    Created,
    Updated,
    Commented,
    Deleted,
}

/// One changelog item, as Jira writes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldChange {
    pub field: &'static str,
    pub from: Option<String>,
    pub from_string: Option<String>,
    pub to: Option<String>,
    pub to_string: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Person {
    pub account_id: &'static str,
    pub name: &'static str,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Status {
    pub id: &'static str,
    pub name: &'static str,
    /// Jira's status category key: `new`, `indeterminate` or `done`.
    pub category: &'static str,
}

/// An issue as it is after an event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssueSnapshot {
    pub id: String,
    pub key: String,
    pub project_key: &'static str,
    pub project_id: &'static str,
    pub project_name: &'static str,
    pub issue_type: &'static str,
    pub status: Status,
    pub priority: &'static str,
    pub assignee: Option<Person>,
    pub reporter: Person,
    pub resolution: Option<&'static str>,
    pub created_ms: i64,
    pub summary: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LifecycleEvent {
    /// Position in time order, unique within the stream.
    pub sequence: u64,
    pub at_ms: i64,
    pub kind: LifecycleKind,
    pub issue: IssueSnapshot,
    /// The changelog of an update; empty otherwise.
    pub changes: Vec<FieldChange>,
    pub actor: Person,
    /// Jira's webhook identifier for this event's delivery (Connect and Data Center send it).
    pub identifier: String,
    comment_id: Option<String>,
    changelog_id: Option<String>,
}

pub const TO_DO: Status = Status {
    id: "10000",
    name: "To Do",
    category: "new",
};
pub const IN_PROGRESS: Status = Status {
    id: "3",
    name: "In Progress",
    category: "indeterminate",
};
pub const IN_REVIEW: Status = Status {
    id: "10002",
    name: "In Review",
    category: "indeterminate",
};
pub const DONE: Status = Status {
    id: "10001",
    name: "Done",
    category: "done",
};

const PROJECTS: [(&str, &str, &str); 2] =
    [("PAY", "20001", "Payments"), ("MOB", "20002", "Mobile App")];
const PEOPLE: [Person; 5] = [
    Person {
        account_id: "712020:0a1b2c3d-1111-4a5b-8c9d-000000000001",
        name: "Alice Moreau",
    },
    Person {
        account_id: "712020:0a1b2c3d-2222-4a5b-8c9d-000000000002",
        name: "Bob Okafor",
    },
    Person {
        account_id: "712020:0a1b2c3d-3333-4a5b-8c9d-000000000003",
        name: "Chen Wei",
    },
    Person {
        account_id: "712020:0a1b2c3d-4444-4a5b-8c9d-000000000004",
        name: "Dana Levi",
    },
    Person {
        account_id: "712020:0a1b2c3d-5555-4a5b-8c9d-000000000005",
        name: "Emil Novak",
    },
];
const ISSUE_TYPES: [&str; 3] = ["Bug", "Story", "Task"];
const PRIORITIES: [&str; 4] = ["Highest", "High", "Medium", "Low"];
const HOUR_MS: i64 = 3_600_000;

/// The events of `spec`, in time order.
pub fn generate(spec: &LifecycleSpec) -> Vec<LifecycleEvent> {
    let mut rng = StdRng::seed_from_u64(spec.seed);
    let start_ms = spec.end_ms - i64::from(spec.weeks) * 7 * 24 * HOUR_MS;
    let mut events = Vec::new();
    let mut numbers = [0u32; PROJECTS.len()];
    for n in 0..spec.issues {
        let project = rng.gen_range(0..PROJECTS.len());
        numbers[project] += 1;
        let (project_key, project_id, project_name) = PROJECTS[project];
        let created_ms = rng.gen_range(start_ms..spec.end_ms);
        let reporter = *PEOPLE.choose(&mut rng).unwrap_or(&PEOPLE[0]);
        let issue = IssueSnapshot {
            id: (u64::from(n) + 30_000).to_string(),
            key: format!("{project_key}-{}", numbers[project]),
            project_key,
            project_id,
            project_name,
            issue_type: ISSUE_TYPES[rng.gen_range(0..ISSUE_TYPES.len())],
            status: TO_DO,
            priority: PRIORITIES[rng.gen_range(0..PRIORITIES.len())],
            assignee: None,
            reporter,
            resolution: None,
            created_ms,
            summary: format!("{project_name} issue {n}"),
        };
        let mut life = Life {
            rng: &mut rng,
            issue,
            at_ms: created_ms,
            end_ms: spec.end_ms,
            events: &mut events,
        };
        life.live();
    }
    events.sort_by_key(|event| (event.at_ms, event.issue.id.clone()));
    for (sequence, event) in events.iter_mut().enumerate() {
        event.sequence = sequence as u64;
        event.identifier = format!("lifecycle-{}-{sequence}", spec.seed);
        event.comment_id = (event.kind == LifecycleKind::Commented)
            .then(|| (500_000 + sequence as u64).to_string());
        event.changelog_id =
            (event.kind == LifecycleKind::Updated).then(|| (700_000 + sequence as u64).to_string());
    }
    events
}

/// One issue's life, step by step, until it is done for good or the span ends.
struct Life<'a> {
    rng: &'a mut StdRng,
    issue: IssueSnapshot,
    at_ms: i64,
    end_ms: i64,
    events: &'a mut Vec<LifecycleEvent>,
}

impl Life<'_> {
    fn live(&mut self) {
        let reporter = self.issue.reporter;
        self.emit(LifecycleKind::Created, reporter, Vec::new());
        let assignee = self.person();
        if !self.wait(1, 20) {
            return;
        }
        self.issue.assignee = Some(assignee);
        self.emit(
            LifecycleKind::Updated,
            reporter,
            vec![change(
                "assignee",
                None,
                Some((assignee.account_id, assignee.name)),
            )],
        );
        let mut rounds = 0;
        loop {
            rounds += 1;
            if !self.wait(2, 72) || !self.comment() {
                return;
            }
            if !self.wait(1, 48) || !self.move_to(IN_PROGRESS) {
                return;
            }
            // Paused: back to the backlog for a while, then picked up again.
            if self.rng.gen_bool(0.2) {
                if !self.wait(4, 48) || !self.move_to(TO_DO) {
                    return;
                }
                if !self.wait(12, 96) || !self.move_to(IN_PROGRESS) {
                    return;
                }
            }
            if self.rng.gen_bool(0.25) && (!self.wait(1, 24) || !self.reprioritize()) {
                return;
            }
            if !self.wait(6, 120) || !self.move_to(IN_REVIEW) {
                return;
            }
            if !self.wait(2, 48) || !self.resolve() {
                return;
            }
            if self.rng.gen_bool(0.1) {
                if self.wait(24, 96) {
                    let actor = self.person();
                    self.emit(LifecycleKind::Deleted, actor, Vec::new());
                }
                return;
            }
            // Reopened: found wanting after it was resolved, and worked on once more.
            if rounds > 1 || !self.rng.gen_bool(0.2) || !self.wait(12, 120) || !self.reopen() {
                return;
            }
        }
    }

    /// Moves time on by a random number of hours; false when that passes the end of the span.
    fn wait(&mut self, min_hours: i64, max_hours: i64) -> bool {
        self.at_ms += self.rng.gen_range(min_hours * HOUR_MS..max_hours * HOUR_MS);
        self.at_ms < self.end_ms
    }

    fn person(&mut self) -> Person {
        PEOPLE[self.rng.gen_range(0..PEOPLE.len())]
    }

    fn actor(&mut self) -> Person {
        self.issue.assignee.unwrap_or(self.issue.reporter)
    }

    fn comment(&mut self) -> bool {
        let actor = self.person();
        self.emit(LifecycleKind::Commented, actor, Vec::new());
        true
    }

    fn move_to(&mut self, status: Status) -> bool {
        let changes = vec![status_change(self.issue.status, status)];
        self.issue.status = status;
        let actor = self.actor();
        self.emit(LifecycleKind::Updated, actor, changes);
        true
    }

    fn reprioritize(&mut self) -> bool {
        let from = self.issue.priority;
        let to = PRIORITIES[self.rng.gen_range(0..PRIORITIES.len())];
        if to == from {
            return true;
        }
        self.issue.priority = to;
        let actor = self.actor();
        self.emit(
            LifecycleKind::Updated,
            actor,
            vec![change("priority", Some((from, from)), Some((to, to)))],
        );
        true
    }

    fn resolve(&mut self) -> bool {
        let changes = vec![
            change("resolution", None, Some(("10000", "Done"))),
            status_change(self.issue.status, DONE),
        ];
        self.issue.status = DONE;
        self.issue.resolution = Some("Done");
        let actor = self.actor();
        self.emit(LifecycleKind::Updated, actor, changes);
        true
    }

    fn reopen(&mut self) -> bool {
        let changes = vec![
            change("resolution", Some(("10000", "Done")), None),
            status_change(self.issue.status, TO_DO),
        ];
        self.issue.status = TO_DO;
        self.issue.resolution = None;
        let actor = self.issue.reporter;
        self.emit(LifecycleKind::Updated, actor, changes);
        true
    }

    fn emit(&mut self, kind: LifecycleKind, actor: Person, changes: Vec<FieldChange>) {
        self.events.push(LifecycleEvent {
            sequence: 0,
            at_ms: self.at_ms,
            kind,
            issue: self.issue.clone(),
            changes,
            actor,
            identifier: String::new(),
            comment_id: None,
            changelog_id: None,
        });
    }
}

fn change(
    field: &'static str,
    from: Option<(&str, &str)>,
    to: Option<(&str, &str)>,
) -> FieldChange {
    FieldChange {
        field,
        from: from.map(|(id, _)| id.to_owned()),
        from_string: from.map(|(_, text)| text.to_owned()),
        to: to.map(|(id, _)| id.to_owned()),
        to_string: to.map(|(_, text)| text.to_owned()),
    }
}

fn status_change(from: Status, to: Status) -> FieldChange {
    change("status", Some((from.id, from.name)), Some((to.id, to.name)))
}

impl LifecycleEvent {
    /// The body Jira Cloud sends a Connect app's webhook for this event; a Data Center
    /// admin webhook sends the same shape.
    pub fn connect_body(&self, site_url: &str) -> Value {
        let mut body = json!({
            "timestamp": self.at_ms,
            "issue": self.issue_json(site_url),
        });
        let object = body.as_object_mut().expect("a JSON object");
        match self.kind {
            LifecycleKind::Commented => {
                object.insert("webhookEvent".into(), json!("comment_created"));
                object.insert("comment".into(), self.comment_json(site_url));
            }
            kind => {
                let (event, type_name) = match kind {
                    LifecycleKind::Created => ("jira:issue_created", "issue_created"),
                    LifecycleKind::Deleted => ("jira:issue_deleted", "issue_deleted"),
                    _ if self.issue.resolution.is_some()
                        && self.changes.iter().any(|c| c.field == "resolution") =>
                    {
                        ("jira:issue_updated", "issue_resolved")
                    }
                    _ => ("jira:issue_updated", "issue_generic"),
                };
                object.insert("webhookEvent".into(), json!(event));
                object.insert("issue_event_type_name".into(), json!(type_name));
                object.insert("user".into(), person_json(self.actor, site_url));
                if kind == LifecycleKind::Updated {
                    object.insert("changelog".into(), self.changelog_json());
                }
            }
        }
        body
    }

    /// The body a Forge app's `avi:jira:*` trigger receives for this event.
    pub fn forge_body(&self, site_url: &str) -> Value {
        let event_type = match self.kind {
            LifecycleKind::Created => "avi:jira:created:issue",
            LifecycleKind::Updated => "avi:jira:updated:issue",
            LifecycleKind::Commented => "avi:jira:commented:issue",
            LifecycleKind::Deleted => "avi:jira:deleted:issue",
        };
        let mut body = json!({
            "eventType": event_type,
            "selfGenerated": false,
            // Forge sends its timestamp as a string of epoch milliseconds.
            "timestamp": self.at_ms.to_string(),
            "issue": self.issue_json(site_url),
            "atlassianId": self.actor.account_id,
            "associatedUsers": [{"accountId": self.actor.account_id}],
        });
        let object = body.as_object_mut().expect("a JSON object");
        match self.kind {
            LifecycleKind::Updated => {
                object.insert("changelog".into(), self.changelog_json());
            }
            LifecycleKind::Commented => {
                object.insert("comment".into(), self.comment_json(site_url));
            }
            LifecycleKind::Created | LifecycleKind::Deleted => {}
        }
        body
    }

    fn issue_json(&self, site_url: &str) -> Value {
        let issue = &self.issue;
        let status = issue.status;
        json!({
            "id": issue.id,
            "self": format!("{site_url}/rest/api/2/issue/{}", issue.id),
            "key": issue.key,
            "fields": {
                "issuetype": {"name": issue.issue_type, "subtask": false},
                "project": {
                    "self": format!("{site_url}/rest/api/2/project/{}", issue.project_id),
                    "id": issue.project_id,
                    "key": issue.project_key,
                    "name": issue.project_name,
                    "projectTypeKey": "software",
                },
                "resolution": issue.resolution.map(|name| json!({"id": "10000", "name": name})),
                "created": millis_text(issue.created_ms),
                "updated": millis_text(self.at_ms),
                "priority": {"name": issue.priority},
                "assignee": issue.assignee.map(|person| person_json(person, site_url)),
                "reporter": person_json(issue.reporter, site_url),
                "status": {
                    "id": status.id,
                    "name": status.name,
                    "statusCategory": {"key": status.category},
                },
                "summary": issue.summary,
                "labels": [],
            },
        })
    }

    fn changelog_json(&self) -> Value {
        let items: Vec<Value> = self
            .changes
            .iter()
            .map(|change| {
                json!({
                    "field": change.field,
                    "fieldtype": "jira",
                    "fieldId": change.field,
                    "from": change.from,
                    "fromString": change.from_string,
                    "to": change.to,
                    "toString": change.to_string,
                })
            })
            .collect();
        json!({"id": self.changelog_id, "items": items})
    }

    fn comment_json(&self, site_url: &str) -> Value {
        let id = self.comment_id.clone().unwrap_or_default();
        json!({
            "self": format!("{site_url}/rest/api/2/issue/{}/comment/{id}", self.issue.id),
            "id": id,
            "author": person_json(self.actor, site_url),
            "body": format!("Comment {} on {}", self.sequence, self.issue.key),
            "created": millis_text(self.at_ms),
            "updated": millis_text(self.at_ms),
        })
    }
}

fn person_json(person: Person, site_url: &str) -> Value {
    json!({
        "self": format!("{site_url}/rest/api/2/user?accountId={}", person.account_id),
        "accountId": person.account_id,
        "displayName": person.name,
        "active": true,
        "accountType": "atlassian",
    })
}

/// Jira's own timestamp format, in UTC: `2026-11-16T09:12:44.120+0000`.
fn millis_text(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .unwrap_or_default()
        .format("%Y-%m-%dT%H:%M:%S%.3f+0000")
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> LifecycleSpec {
        LifecycleSpec {
            seed: 7,
            issues: 80,
            weeks: 6,
            end_ms: 1_796_000_000_000,
        }
    }

    #[test]
    fn the_same_seed_gives_the_same_stream_and_another_seed_another() {
        assert_eq!(generate(&spec()), generate(&spec()));
        assert_ne!(
            generate(&spec()),
            generate(&LifecycleSpec { seed: 8, ..spec() })
        );
    }

    #[test]
    fn events_stay_inside_the_span_in_time_order() {
        let spec = spec();
        let events = generate(&spec);
        let start = spec.end_ms - 6 * 7 * 24 * HOUR_MS;
        assert!(events.windows(2).all(|w| w[0].at_ms <= w[1].at_ms));
        assert!(
            events
                .iter()
                .all(|e| e.at_ms >= start && e.at_ms < spec.end_ms)
        );
        let ids: std::collections::HashSet<_> = events.iter().map(|e| &e.identifier).collect();
        assert_eq!(ids.len(), events.len(), "one identifier per delivery");
    }

    #[test]
    fn the_stream_has_every_step_of_a_lifecycle() {
        let events = generate(&spec());
        let has = |wanted: &dyn Fn(&LifecycleEvent) -> bool| events.iter().any(wanted);
        let change_of = |event: &LifecycleEvent, field: &str| {
            event.changes.iter().find(|c| c.field == field).cloned()
        };
        assert_eq!(
            events
                .iter()
                .filter(|e| e.kind == LifecycleKind::Created)
                .count(),
            80
        );
        assert!(has(&|e| e.kind == LifecycleKind::Commented));
        assert!(has(
            &|e| change_of(e, "resolution").is_some_and(|c| c.to.is_some())
        ));
        assert!(
            has(&|e| change_of(e, "resolution").is_some_and(|c| c.to.is_none())),
            "some issues are reopened"
        );
        assert!(
            has(&|e| change_of(e, "status")
                .is_some_and(|c| c.from.as_deref() == Some(IN_PROGRESS.id)
                    && c.to.as_deref() == Some(TO_DO.id))),
            "some work is paused"
        );
        assert!(has(&|e| e.kind == LifecycleKind::Deleted));
        let projects: std::collections::HashSet<_> =
            events.iter().map(|e| e.issue.project_key).collect();
        assert_eq!(projects.len(), 2);
        let actors: std::collections::HashSet<_> = events.iter().map(|e| e.actor).collect();
        assert!(actors.len() >= 4, "several people");
    }

    #[test]
    fn bodies_have_the_shapes_jira_sends() {
        let events = generate(&spec());
        let resolved = events
            .iter()
            .find(|e| e.issue.resolution.is_some() && !e.changes.is_empty())
            .expect("a resolution");
        let connect = resolved.connect_body("https://x.atlassian.net");
        assert_eq!(connect["webhookEvent"], "jira:issue_updated");
        assert_eq!(connect["issue_event_type_name"], "issue_resolved");
        assert_eq!(connect["timestamp"], resolved.at_ms);
        assert_eq!(
            connect["issue"]["fields"]["status"]["statusCategory"]["key"],
            "done"
        );
        assert_eq!(connect["changelog"]["items"][0]["field"], "resolution");
        let forge = resolved.forge_body("https://x.atlassian.net");
        assert_eq!(forge["eventType"], "avi:jira:updated:issue");
        assert_eq!(forge["timestamp"], resolved.at_ms.to_string());
        assert_eq!(forge["atlassianId"], resolved.actor.account_id);
        let comment = events
            .iter()
            .find(|e| e.kind == LifecycleKind::Commented)
            .expect("a comment");
        assert_eq!(comment.connect_body("s")["webhookEvent"], "comment_created");
        assert_eq!(
            comment.forge_body("s")["eventType"],
            "avi:jira:commented:issue"
        );
    }
}
