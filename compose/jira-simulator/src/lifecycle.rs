//! Realistic issue lifecycles over the past weeks, seeded and deterministic: issues are created
//! in two projects by several people, commented on, assigned, moved through To Do → In Progress
//! → In Review → Done (sometimes paused back to To Do), resolved, and some reopened and resolved
//! again; a few are deleted. Each step is one [`LifecycleEvent`], timestamped when it happened,
//! which renders as the body Jira sends for it through Connect (and Data Center webhooks) or
//! Forge.
//!
//! Issues also carry labels and components, which change while they are worked on (alone, or
//! in the same update as a status change), and are sometimes handed to someone else for a while
//! (handed back with the next status change) or reassigned after their last step. That is drawn
//! from a second generator, so a seed's lifecycle steps (times, kinds, statuses, priorities,
//! assignees and actors of every step above) are the same as they were before labels existed:
//! the extra updates come between them.
//!
//! The events carry what happened in plain fields (kind, changes, the issue after the change), so
//! a test can compute every number a view should show from them without reading a payload.
//!
//! [`generate_secured`] puts every nth issue under an issue security level besides: the same
//! events, whose bodies carry `fields.security` for those issues, as Jira's do.

pub mod agile;

use rand::{Rng, SeedableRng, rngs::StdRng, seq::SliceRandom};
use serde_json::{Value, json};

pub use crate::issue_security::SecuredIssues;
use crate::issue_security::security_field;

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
    /// Jira's field name (`status`, `assignee`, `labels`, `Component`, …).
    pub field: &'static str,
    /// Jira's field id (`components` for the field named `Component`; else the name).
    pub field_id: &'static str,
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
    /// Sorted.
    pub labels: Vec<&'static str>,
    /// Component names (of the issue's project), sorted.
    pub components: Vec<&'static str>,
    /// The id of the issue security level the issue is under (only with [`generate_secured`]):
    /// only the level's members see it. `None`: whoever browses its project does.
    pub security_level: Option<String>,
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
    /// The name of `issue.security_level`, for the bodies.
    security_level_name: Option<String>,
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
/// The labels issues are given, sorted.
pub const LABELS: [&str; 4] = ["backend", "customer", "frontend", "tech-debt"];
/// Each project's components: (project key, component id, name), sorted by name per project.
pub const COMPONENTS: [(&str, &str, &str); 5] = [
    ("PAY", "40001", "api"),
    ("PAY", "40003", "checkout"),
    ("PAY", "40002", "ledger"),
    ("MOB", "40012", "android"),
    ("MOB", "40011", "ios"),
];
/// Seeds the generator of labels, components and handovers from the stream's seed.
const EXTRA_SEED: u64 = 0x6c61_6265_6c73_2121;
const PRIORITIES: [&str; 4] = ["Highest", "High", "Medium", "Low"];
const HOUR_MS: i64 = 3_600_000;

/// The events of `spec`, in time order.
pub fn generate(spec: &LifecycleSpec) -> Vec<LifecycleEvent> {
    generate_with(spec, None)
}

/// The events of `spec` with every nth issue created (see [`SecuredIssues::covers`]; the
/// first created is the first) under the level of `secured`: the same events as [`generate`]
/// gives, but for those issues' `security_level` and the `fields.security` of their bodies.
///
/// An argument rather than a field of [`LifecycleSpec`], which other crates build field by
/// field: a new field would break every one of them.
pub fn generate_secured(spec: &LifecycleSpec, secured: &SecuredIssues) -> Vec<LifecycleEvent> {
    generate_with(spec, Some(secured))
}

fn generate_with(spec: &LifecycleSpec, secured: Option<&SecuredIssues>) -> Vec<LifecycleEvent> {
    let mut rng = StdRng::seed_from_u64(spec.seed);
    let mut extra = StdRng::seed_from_u64(spec.seed ^ EXTRA_SEED);
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
            labels: Vec::new(),
            components: Vec::new(),
            // Drawn from neither generator, so securing issues changes nothing else.
            security_level: secured
                .filter(|secured| secured.covers(u64::from(n) + 1))
                .map(|secured| secured.level_id.clone()),
        };
        let mut life = Life {
            rng: &mut rng,
            extra: &mut extra,
            shown: issue.clone(),
            issue,
            at_ms: created_ms,
            end_ms: spec.end_ms,
            events: &mut events,
            emitted: 0,
            last_ms: created_ms,
            covering: None,
            deleted: false,
        };
        life.issue.labels = life.some_labels();
        life.issue.components = life.some_components();
        life.live();
        life.afterwards();
    }
    events.sort_by_key(|event| (event.at_ms, event.issue.id.clone()));
    for (sequence, event) in events.iter_mut().enumerate() {
        event.sequence = sequence as u64;
        event.identifier = format!("lifecycle-{}-{sequence}", spec.seed);
        event.comment_id = (event.kind == LifecycleKind::Commented)
            .then(|| (500_000 + sequence as u64).to_string());
        event.changelog_id =
            (event.kind == LifecycleKind::Updated).then(|| (700_000 + sequence as u64).to_string());
        event.security_level_name = secured
            .filter(|_| event.issue.security_level.is_some())
            .map(|secured| secured.level_name.clone());
    }
    events
}

/// One issue's life, step by step, until it is done for good or the span ends.
struct Life<'a> {
    rng: &'a mut StdRng,
    /// Labels, components and handovers: never drawn from `rng`, so its steps stay the same.
    extra: &'a mut StdRng,
    issue: IssueSnapshot,
    at_ms: i64,
    end_ms: i64,
    events: &'a mut Vec<LifecycleEvent>,
    /// Steps emitted so far (the extra updates not counted).
    emitted: usize,
    /// When the issue's last event (a step or an extra update) happened.
    last_ms: i64,
    /// The issue as the last event (a step or an extra update) left it.
    shown: IssueSnapshot,
    /// Who has the issue for a while, until the next status change hands it back.
    covering: Option<Person>,
    deleted: bool,
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

    /// One step of the life, at `at_ms`: after the issue was assigned, extra updates may come
    /// first (between the previous event and this one), and a status change may change labels
    /// or components too and hands the issue back from whoever was covering it.
    fn emit(&mut self, kind: LifecycleKind, actor: Person, mut changes: Vec<FieldChange>) {
        let status_change = changes.iter().any(|change| change.field == "status");
        if self.emitted >= 2 {
            self.interlude(status_change);
        }
        if status_change {
            if let Some(cover) = self.covering.take() {
                changes.push(assignee_change(Some(cover), self.issue.assignee));
            }
            if self.extra.gen_bool(0.2) {
                changes.extend(self.relabel());
            }
            if self.extra.gen_bool(0.12) {
                changes.extend(self.recomponent());
            }
        }
        let issue = self.issue.clone();
        self.push(kind, issue, actor, changes);
        self.emitted += 1;
        self.deleted |= kind == LifecycleKind::Deleted;
    }

    /// Extra updates strictly between the last event and the step at `at_ms`: a change of
    /// labels or of components alone, and, before a status change, a handover to someone who
    /// covers the issue until that status change.
    fn interlude(&mut self, before_status_change: bool) {
        let mut times = Vec::new();
        for _ in 0..3 {
            let from = times.last().copied().unwrap_or(self.last_ms) + 1;
            if self.at_ms - from < 2 {
                break;
            }
            times.push(self.extra.gen_range(from..self.at_ms));
        }
        let [first, second, third] = times[..] else {
            return;
        };
        if self.extra.gen_bool(0.2) {
            self.at(first, |life| life.relabel());
        }
        if self.extra.gen_bool(0.12) {
            self.at(second, |life| life.recomponent());
        }
        let Some(assignee) = self.issue.assignee else {
            return;
        };
        if before_status_change && self.extra.gen_bool(0.25) {
            let cover = self.other_than(assignee);
            let also_labels = self.extra.gen_bool(0.3);
            self.at(third, |life| {
                life.covering = Some(cover);
                let mut changes = vec![assignee_change(Some(assignee), Some(cover))];
                if also_labels {
                    changes.extend(life.relabel());
                }
                changes
            });
        }
    }

    /// After the last step (unless deleted): sometimes reassigned for good, or relabelled.
    fn afterwards(&mut self) {
        if self.deleted || self.emitted < 2 || !self.extra.gen_bool(0.35) {
            return;
        }
        let at_ms = self.last_ms + self.extra.gen_range(HOUR_MS..96 * HOUR_MS);
        let reassign = self.extra.gen_bool(0.6);
        if at_ms >= self.end_ms {
            return;
        }
        self.at(at_ms, |life| match life.issue.assignee {
            Some(assignee) if reassign => {
                let next = life.other_than(assignee);
                life.issue.assignee = Some(next);
                vec![assignee_change(Some(assignee), Some(next))]
            }
            _ => life.relabel(),
        });
    }

    /// An extra update at `at_ms`, with the changes `change` makes to the issue.
    fn at(&mut self, at_ms: i64, change: impl FnOnce(&mut Self) -> Vec<FieldChange>) {
        // Whoever has the issue makes the change (hands it over, or on to someone else).
        let actor = self.actor();
        let changes = change(self);
        // The issue as the last event left it (the step about to happen has changed
        // `self.issue` already), with what this update changes.
        let mut issue = self.shown.clone();
        issue.labels = self.issue.labels.clone();
        issue.components = self.issue.components.clone();
        issue.assignee = self.covering.or(self.issue.assignee);
        let now = std::mem::replace(&mut self.at_ms, at_ms);
        self.push(LifecycleKind::Updated, issue, actor, changes);
        self.at_ms = now;
    }

    fn push(
        &mut self,
        kind: LifecycleKind,
        issue: IssueSnapshot,
        actor: Person,
        changes: Vec<FieldChange>,
    ) {
        self.last_ms = self.at_ms;
        self.shown = issue.clone();
        self.events.push(LifecycleEvent {
            sequence: 0,
            at_ms: self.at_ms,
            kind,
            issue,
            changes,
            actor,
            identifier: String::new(),
            comment_id: None,
            changelog_id: None,
            security_level_name: None,
        });
    }

    fn other_than(&mut self, person: Person) -> Person {
        let others: Vec<Person> = PEOPLE.into_iter().filter(|p| *p != person).collect();
        others[self.extra.gen_range(0..others.len())]
    }

    /// Up to two labels, sorted.
    fn some_labels(&mut self) -> Vec<&'static str> {
        let count = self.extra.gen_range(0..=2);
        let mut labels: Vec<&'static str> = LABELS
            .choose_multiple(&mut *self.extra, count)
            .copied()
            .collect();
        labels.sort_unstable();
        labels
    }

    /// Up to two of the project's components, sorted.
    fn some_components(&mut self) -> Vec<&'static str> {
        let names = component_names(self.issue.project_key);
        let count = self.extra.gen_range(0..=2);
        let mut components: Vec<&'static str> = names
            .choose_multiple(&mut *self.extra, count)
            .copied()
            .collect();
        components.sort_unstable();
        components
    }

    /// Other labels (never the same set); the one changelog item Jira writes for it.
    fn relabel(&mut self) -> Vec<FieldChange> {
        let from = self.issue.labels.clone();
        let to = loop {
            let labels = self.some_labels();
            if labels != from {
                break labels;
            }
        };
        self.issue.labels = to.clone();
        vec![FieldChange {
            field: "labels",
            field_id: "labels",
            from: None,
            from_string: Some(from.join(" ")),
            to: None,
            to_string: Some(to.join(" ")),
        }]
    }

    /// Other components (never the same set); one changelog item per component removed or
    /// added, as Jira writes them.
    fn recomponent(&mut self) -> Vec<FieldChange> {
        let from = self.issue.components.clone();
        let to = loop {
            let components = self.some_components();
            if components != from {
                break components;
            }
        };
        let project = self.issue.project_key;
        let mut changes = Vec::new();
        for name in from.iter().filter(|name| !to.contains(name)) {
            let id = component_id(project, name);
            changes.push(component_change(Some((id, name)), None));
        }
        for name in to.iter().filter(|name| !from.contains(name)) {
            let id = component_id(project, name);
            changes.push(component_change(None, Some((id, name))));
        }
        self.issue.components = to;
        changes
    }
}

/// The names of `project`'s components, sorted.
pub fn component_names(project: &str) -> Vec<&'static str> {
    COMPONENTS
        .iter()
        .filter(|(key, _, _)| *key == project)
        .map(|(_, _, name)| *name)
        .collect()
}

/// The id of `project`'s component `name`.
pub fn component_id(project: &str, name: &str) -> &'static str {
    COMPONENTS
        .iter()
        .find(|(key, _, component)| *key == project && *component == name)
        .map(|(_, id, _)| *id)
        .expect("a component of the project")
}

fn assignee_change(from: Option<Person>, to: Option<Person>) -> FieldChange {
    change(
        "assignee",
        from.map(|person| (person.account_id, person.name)),
        to.map(|person| (person.account_id, person.name)),
    )
}

fn component_change(from: Option<(&str, &str)>, to: Option<(&str, &str)>) -> FieldChange {
    FieldChange {
        field_id: "components",
        ..change("Component", from, to)
    }
}

fn change(
    field: &'static str,
    from: Option<(&str, &str)>,
    to: Option<(&str, &str)>,
) -> FieldChange {
    FieldChange {
        field,
        field_id: field,
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
        let mut json = json!({
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
                "labels": issue.labels,
                "components": issue
                    .components
                    .iter()
                    .map(|name| {
                        let id = component_id(issue.project_key, name);
                        json!({
                            "self": format!("{site_url}/rest/api/2/component/{id}"),
                            "id": id,
                            "name": name,
                        })
                    })
                    .collect::<Vec<_>>(),
            },
        });
        // Jira sends `security` only for an issue under a level; never as null.
        if let (Some(id), Some(fields)) = (
            &issue.security_level,
            json.pointer_mut("/fields").and_then(Value::as_object_mut),
        ) {
            let name = self.security_level_name.as_deref().unwrap_or_default();
            fields.insert("security".into(), security_field(site_url, id, name));
        }
        json
    }

    fn changelog_json(&self) -> Value {
        let items: Vec<Value> = self
            .changes
            .iter()
            .map(|change| {
                json!({
                    "field": change.field,
                    "fieldtype": "jira",
                    "fieldId": change.field_id,
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

    /// A change labels, components or a handover made: none of the lifecycle's own steps.
    fn is_extra(change: &FieldChange) -> bool {
        matches!(change.field, "labels" | "Component")
            || change.field == "assignee" && change.from.is_some()
    }

    /// The lifecycle's own steps, with only their own changes, as one text's FNV-1a hash.
    fn steps_fingerprint(events: &[LifecycleEvent]) -> (usize, u64) {
        let mut text = String::new();
        let mut steps = 0;
        for e in events {
            let own: Vec<String> = e
                .changes
                .iter()
                .filter(|c| !is_extra(c))
                .map(|c| format!("{}:{:?}:{:?}", c.field, c.from, c.to))
                .collect();
            if e.kind == LifecycleKind::Updated && own.is_empty() {
                continue;
            }
            steps += 1;
            text.push_str(&format!(
                "{}|{}|{:?}|{}|{}|{:?}|{}|{}\n",
                e.at_ms,
                e.issue.id,
                e.kind,
                e.issue.status.id,
                e.issue.priority,
                e.issue.assignee.map(|p| p.account_id),
                e.actor.account_id,
                own.join(",")
            ));
        }
        let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
        for byte in text.bytes() {
            hash ^= u64::from(byte);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
        (steps, hash)
    }

    #[test]
    fn labels_and_components_leave_every_step_as_it_was() {
        // Taken from the generator before labels and components existed (same spec, these
        // seeds: the unit tests' and the golden path's).
        for (seed, steps, hash) in [
            (7, 555, 0x8394_403e_c3c7_182d_u64),
            (101, 534, 0xae12_8708_3052_f41e),
            (202, 510, 0x1b44_c851_8269_3169),
            (303, 533, 0x44d0_aa4c_03d1_2de9),
        ] {
            let events = generate(&LifecycleSpec { seed, ..spec() });
            assert_eq!(
                steps_fingerprint(&events),
                (steps, hash),
                "seed {seed}: the lifecycle's own steps changed"
            );
            assert!(events.len() > steps, "seed {seed}: extra updates");
        }
    }

    #[test]
    fn labels_components_and_assignees_change_while_issues_are_worked_on() {
        let events = generate(&spec());
        let sorted = |names: &[&str]| names.windows(2).all(|w| w[0] < w[1]);
        for event in &events {
            let issue = &event.issue;
            assert!(
                issue.labels.len() <= 2 && sorted(&issue.labels),
                "{issue:?}"
            );
            assert!(issue.labels.iter().all(|label| LABELS.contains(label)));
            assert!(issue.components.len() <= 2 && sorted(&issue.components));
            let own = component_names(issue.project_key);
            assert!(
                issue.components.iter().all(|c| own.contains(c)),
                "{issue:?}"
            );
        }
        let created = |with: &dyn Fn(&IssueSnapshot) -> bool| {
            events
                .iter()
                .filter(|e| e.kind == LifecycleKind::Created && with(&e.issue))
                .count()
        };
        assert!(created(&|i| i.labels.is_empty()) > 0);
        assert!(created(&|i| i.labels.len() == 2) > 0);
        assert!(created(&|i| i.components.is_empty()) > 0);
        assert!(created(&|i| i.components.len() == 2) > 0);

        // Each update's items say what changed, from the issue before to the issue after.
        let mut before: std::collections::HashMap<&str, &IssueSnapshot> = Default::default();
        let (mut alone, mut with_status, mut handovers, mut handbacks) = (0, 0, 0, 0);
        for event in &events {
            let issue = &event.issue;
            let fields: Vec<&str> = event.changes.iter().map(|c| c.field).collect();
            if let Some(was) = before.insert(issue.id.as_str(), issue) {
                // What no item changed is as it was.
                if !fields.contains(&"status") {
                    assert_eq!(issue.status, was.status, "{event:?}");
                }
                if !fields.contains(&"resolution") {
                    assert_eq!(issue.resolution, was.resolution, "{event:?}");
                }
                if !fields.contains(&"priority") {
                    assert_eq!(issue.priority, was.priority, "{event:?}");
                }
                if !fields.contains(&"assignee") {
                    assert_eq!(issue.assignee, was.assignee, "{event:?}");
                }
                let labels = event.changes.iter().find(|c| c.field == "labels");
                if issue.labels != was.labels {
                    let item = labels.expect("a labels item for new labels");
                    assert_eq!(item.field_id, "labels");
                    assert_eq!((item.from.as_deref(), item.to.as_deref()), (None, None));
                    assert_eq!(item.from_string, Some(was.labels.join(" ")));
                    assert_eq!(item.to_string, Some(issue.labels.join(" ")));
                } else {
                    assert!(labels.is_none(), "{event:?}");
                }
                let mut components = was.components.clone();
                for item in event.changes.iter().filter(|c| c.field == "Component") {
                    assert_eq!(item.field_id, "components");
                    let (id, name) = match (&item.from, &item.to) {
                        (Some(id), None) => {
                            components.retain(|c| Some(*c) != item.from_string.as_deref());
                            (id, item.from_string.as_deref())
                        }
                        (None, Some(id)) => {
                            components.extend(item.to_string.as_deref().and_then(|name| {
                                component_names(issue.project_key)
                                    .into_iter()
                                    .find(|c| *c == name)
                            }));
                            (id, item.to_string.as_deref())
                        }
                        other => panic!("a component item adds or removes one: {other:?}"),
                    };
                    assert_eq!(
                        Some(component_id(issue.project_key, name.expect("a name"))),
                        Some(id.as_str())
                    );
                }
                components.sort_unstable();
                assert_eq!(components, issue.components, "{event:?}");
                if issue.assignee != was.assignee {
                    let item = event
                        .changes
                        .iter()
                        .find(|c| c.field == "assignee")
                        .expect("an assignee item for a new assignee");
                    assert_eq!(item.from.as_deref(), was.assignee.map(|p| p.account_id));
                    assert_eq!(item.to.as_deref(), issue.assignee.map(|p| p.account_id));
                    if was.assignee.is_some() {
                        if fields.contains(&"status") {
                            handbacks += 1;
                        } else {
                            handovers += 1;
                        }
                    }
                }
            }
            let dimension = fields.iter().any(|f| matches!(*f, "labels" | "Component"));
            if dimension && fields.contains(&"status") {
                with_status += 1;
            } else if dimension && fields.len() == 1 || fields.iter().all(|f| *f == "Component") {
                alone += usize::from(dimension);
            }
        }
        assert!(alone > 5, "labels or components change alone: {alone}");
        assert!(with_status > 5, "and with a status change: {with_status}");
        assert!(
            handbacks > 3,
            "handed back with a status change: {handbacks}"
        );
        assert!(
            handovers > handbacks,
            "handed over, and some reassigned for good"
        );
        // Some issue is worked on (in progress) under two assignees, and some completion's
        // labels differ from the issue's creation's.
        let mut assignees_in_progress: std::collections::HashMap<
            &str,
            std::collections::HashSet<_>,
        > = Default::default();
        for event in events
            .iter()
            .filter(|e| e.issue.status.category == "indeterminate")
        {
            assignees_in_progress
                .entry(event.issue.id.as_str())
                .or_default()
                .insert(event.issue.assignee);
        }
        assert!(assignees_in_progress.values().any(|set| set.len() > 1));
    }

    #[test]
    fn bodies_carry_labels_and_components() {
        let events = generate(&spec());
        let event = events
            .iter()
            .find(|e| e.issue.labels.len() == 2 && !e.issue.components.is_empty())
            .expect("an issue with labels and components");
        let site = "https://x.atlassian.net";
        for body in [event.connect_body(site), event.forge_body(site)] {
            let fields = &body["issue"]["fields"];
            assert_eq!(fields["labels"], json!(event.issue.labels));
            let components = fields["components"].as_array().expect("components");
            assert_eq!(components.len(), event.issue.components.len());
            for (got, name) in components.iter().zip(&event.issue.components) {
                assert_eq!(got["name"], *name);
                assert_eq!(got["id"], component_id(event.issue.project_key, name));
            }
        }
        assert_eq!(
            event.connect_body(site)["issue"],
            event.forge_body(site)["issue"]
        );
        let relabelled = events
            .iter()
            .find(|e| {
                e.changes.iter().any(|c| c.field == "Component")
                    && e.changes.iter().any(|c| c.field == "status")
            })
            .expect("a status change that changed components");
        for body in [relabelled.connect_body(site), relabelled.forge_body(site)] {
            let items = body["changelog"]["items"].as_array().expect("items");
            let item = items
                .iter()
                .find(|item| item["field"] == "Component")
                .expect("a Component item");
            assert_eq!(item["fieldId"], "components");
            assert!(item["from"].is_string() != item["to"].is_string());
        }
        let labelled = events
            .iter()
            .find(|e| e.changes.iter().any(|c| c.field == "labels"))
            .expect("a labels change");
        let body = labelled.connect_body(site);
        let item = body["changelog"]["items"]
            .as_array()
            .expect("items")
            .iter()
            .find(|item| item["field"] == "labels")
            .cloned()
            .expect("a labels item");
        assert_eq!(item["fieldId"], "labels");
        assert!(item["from"].is_null() && item["to"].is_null());
        assert_eq!(item["toString"], labelled.issue.labels.join(" "));
        // An unlabelled issue sends empty arrays.
        let bare = events
            .iter()
            .find(|e| e.issue.labels.is_empty() && e.issue.components.is_empty())
            .expect("a bare issue");
        let fields = &bare.forge_body(site)["issue"]["fields"];
        assert_eq!(
            (fields["labels"].clone(), fields["components"].clone()),
            (json!([]), json!([]))
        );
    }

    #[test]
    fn bodies_have_the_shapes_jira_sends() {
        let events = generate(&spec());
        let resolved = events
            .iter()
            .find(|e| {
                e.changes
                    .iter()
                    .any(|c| c.field == "resolution" && c.to.is_some())
            })
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
    #[test]
    fn securing_issues_changes_only_their_security_level() {
        let secured = SecuredIssues {
            level_id: "10100".into(),
            level_name: "Staff only".into(),
            every_nth: std::num::NonZeroU32::new(4).expect("non-zero"),
        };
        let plain = generate(&spec());
        let with_level = generate_secured(&spec(), &secured);
        assert_eq!(plain.len(), with_level.len());
        let mut secured_ids = std::collections::BTreeSet::new();
        for (plain, event) in plain.iter().zip(&with_level) {
            let ordinal = event.issue.id.parse::<u64>().expect("numeric id") - 30_000 + 1;
            let expected = ordinal.is_multiple_of(4).then(|| "10100".to_owned());
            assert_eq!(event.issue.security_level, expected, "{event:?}");
            let mut unsecured = event.clone();
            unsecured.issue.security_level = None;
            unsecured.security_level_name = None;
            assert_eq!(&unsecured, plain, "nothing else changed");
            if expected.is_some() {
                secured_ids.insert(event.issue.id.clone());
            }
        }
        assert_eq!(secured_ids.len(), 20, "every fourth of 80 issues");
    }
}
