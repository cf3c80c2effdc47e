//! Sprints and worklogs over a lifecycle stream, opt-in (the lifecycle alone is what the golden
//! path counts): consecutive sprints on two boards, each created, started and closed; issues
//! planned into a sprint before its start, added and removed during it, and carried over to the
//! next one at its close (Jira keeps closed sprints in the `Sprint` field, so a carried-over
//! issue's value grows: `101` → `101, 102`); and worklogs created, updated and deleted on the
//! lifecycle's issues.
//!
//! Sprint moves are issue updates ([`LifecycleEvent`]s with a `Sprint` changelog item) carrying
//! the issue as the lifecycle left it then, so statuses stay consistent with the stream.

use std::collections::{BTreeMap, BTreeSet};

use rand::{Rng, SeedableRng, rngs::StdRng};
use serde_json::{Value, json};

use super::{
    FieldChange, HOUR_MS, LifecycleEvent, LifecycleKind, PEOPLE, Person, millis_text, person_json,
};

/// What to generate on top of a lifecycle stream.
#[derive(Debug, Clone)]
pub struct AgileSpec {
    pub seed: u64,
    /// Days from a sprint's start to its close; the next starts two hours after.
    pub sprint_days: i64,
    /// Issues planned into each sprint before its start (beside those carried over).
    pub planned: usize,
    /// Worklogs created over the span.
    pub worklogs: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SprintStep {
    Created,
    Started,
    Closed,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SprintEvent {
    pub sprint_id: u32,
    pub board_id: u32,
    pub name: String,
    pub step: SprintStep,
    pub start_ms: i64,
    pub end_ms: i64,
    /// Set once closed.
    pub complete_ms: Option<i64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WorklogStep {
    Created,
    Updated,
    Deleted,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorklogEvent {
    pub worklog_id: String,
    pub issue_id: String,
    pub issue_key: String,
    pub project_key: &'static str,
    /// Whose time it is.
    pub author: Person,
    pub started_ms: i64,
    pub seconds: i64,
    pub step: WorklogStep,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AgileKind {
    Sprint(SprintEvent),
    /// An issue update whose changelog is one `Sprint` item.
    Move(Box<LifecycleEvent>),
    Worklog(WorklogEvent),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgileEvent {
    pub at_ms: i64,
    /// Jira's webhook identifier for this event's delivery.
    pub identifier: String,
    pub kind: AgileKind,
}

/// A sprint move before it is applied, when its issue is chosen among those it can move.
struct Intent {
    at_ms: i64,
    sprint: u32,
    what: What,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum What {
    /// An open issue not in the sprint joins it.
    Join,
    /// A member leaves it.
    Leave,
    /// The previous sprint's unfinished members join it.
    Carry,
}

/// The sprint and worklog events over `lifecycle` (which must be in time order), in time order,
/// all before `end_ms`.
pub fn generate(spec: &AgileSpec, lifecycle: &[LifecycleEvent], end_ms: i64) -> Vec<AgileEvent> {
    let mut rng = StdRng::seed_from_u64(spec.seed);
    let Some(first) = lifecycle.first() else {
        return Vec::new();
    };
    let deleted: BTreeSet<&str> = lifecycle
        .iter()
        .filter(|event| event.kind == LifecycleKind::Deleted)
        .map(|event| event.issue.id.as_str())
        .collect();
    // Each kept issue's events, in time order.
    let mut histories: BTreeMap<&str, Vec<&LifecycleEvent>> = BTreeMap::new();
    for event in lifecycle {
        if !deleted.contains(event.issue.id.as_str()) {
            histories.entry(&event.issue.id).or_default().push(event);
        }
    }
    let as_of = |issue: &str, at_ms: i64| -> Option<&LifecycleEvent> {
        histories
            .get(issue)?
            .iter()
            .rev()
            .find(|event| event.at_ms <= at_ms)
            .copied()
    };
    let open_at = |issue: &str, at_ms: i64| {
        as_of(issue, at_ms).is_some_and(|event| event.issue.status.category != "done")
    };
    let ids: Vec<&str> = histories.keys().copied().collect();

    let mut out = Vec::new();
    let mut intents = Vec::new();
    let sprint_ms = spec.sprint_days * 24 * HOUR_MS;
    let mut start = first.at_ms + 5 * 24 * HOUR_MS;
    let mut number = 0u32;
    while start < end_ms {
        let sprint_id = 101 + number;
        let board_id = 1 + number % 2;
        let name = format!("Board {board_id} Sprint {}", number + 1);
        let created = start - 3 * 24 * HOUR_MS;
        let close = start + sprint_ms;
        let sprint = |step, complete_ms| {
            AgileKind::Sprint(SprintEvent {
                sprint_id,
                board_id,
                name: name.clone(),
                step,
                start_ms: start,
                end_ms: close,
                complete_ms,
            })
        };
        out.push((created, sprint(SprintStep::Created, None)));
        out.push((start, sprint(SprintStep::Started, None)));
        if close < end_ms {
            out.push((close, sprint(SprintStep::Closed, Some(close))));
        }
        // Planned: joins between the creation and the start.
        for _ in 0..spec.planned {
            intents.push(Intent {
                at_ms: rng.gen_range(created..start - 60_000),
                sprint: sprint_id,
                what: What::Join,
            });
        }
        // Added and removed while it runs.
        let runs_until = close.min(end_ms);
        if runs_until - start > 4 * HOUR_MS {
            for what in [What::Join, What::Join, What::Join, What::Leave, What::Leave] {
                intents.push(Intent {
                    at_ms: rng.gen_range(start + 60_000..runs_until - 60_000),
                    sprint: sprint_id,
                    what,
                });
            }
        }
        number += 1;
        start = close + 2 * HOUR_MS;
    }
    let closes: BTreeMap<u32, i64> = out
        .iter()
        .filter_map(|(at, kind)| match kind {
            AgileKind::Sprint(s) if s.step == SprintStep::Closed => Some((s.sprint_id, *at)),
            _ => None,
        })
        .collect();
    // Carry-over: a minute after each close, its unfinished issues join the next sprint.
    for (sprint, close) in &closes {
        intents.push(Intent {
            at_ms: close + 60_000,
            sprint: sprint + 1,
            what: What::Carry,
        });
    }
    intents.sort_by_key(|intent| intent.at_ms);

    // Applied in time order: each issue's sprint list, as its `Sprint` field says.
    let mut lists: BTreeMap<String, Vec<u32>> = BTreeMap::new();
    let mut members: BTreeMap<u32, BTreeSet<String>> = BTreeMap::new();
    let mut moves: Vec<(i64, String, Vec<u32>, Vec<u32>)> = Vec::new();
    for intent in intents {
        let member_of = |members: &BTreeMap<u32, BTreeSet<String>>, sprint: u32| {
            members
                .get(&sprint)
                .map(|set| set.iter().cloned().collect::<Vec<_>>())
                .unwrap_or_default()
        };
        let chosen: Vec<String> = match intent.what {
            What::Join => {
                let open: Vec<&str> = ids
                    .iter()
                    .copied()
                    .filter(|issue| open_at(issue, intent.at_ms))
                    .filter(|issue| {
                        !members
                            .get(&intent.sprint)
                            .is_some_and(|set| set.contains(*issue))
                    })
                    .collect();
                if open.is_empty() {
                    continue;
                }
                vec![open[rng.gen_range(0..open.len())].to_owned()]
            }
            What::Leave => {
                let set = member_of(&members, intent.sprint);
                if set.is_empty() {
                    continue;
                }
                vec![set[rng.gen_range(0..set.len())].clone()]
            }
            What::Carry => {
                if !names_known(&out, intent.sprint) {
                    continue;
                }
                member_of(&members, intent.sprint - 1)
                    .into_iter()
                    .filter(|issue| open_at(issue, intent.at_ms))
                    .collect()
            }
        };
        let join = intent.what != What::Leave;
        for issue in chosen {
            // Only issues that exist then, and are not done when they join.
            if as_of(&issue, intent.at_ms).is_none() || (join && !open_at(&issue, intent.at_ms)) {
                continue;
            }
            let list = lists.entry(issue.clone()).or_default();
            let before = list.clone();
            if join {
                if list.contains(&intent.sprint) {
                    continue;
                }
                // An issue sits in one open sprint: joining leaves the open one it was in
                // (closed ones stay listed, as Jira keeps them).
                let open: Vec<u32> = list
                    .iter()
                    .copied()
                    .filter(|s| closes.get(s).is_none_or(|close| *close > intent.at_ms))
                    .collect();
                list.retain(|s| !open.contains(s));
                for s in open {
                    if let Some(set) = members.get_mut(&s) {
                        set.remove(&issue);
                    }
                }
                list.push(intent.sprint);
                members
                    .entry(intent.sprint)
                    .or_default()
                    .insert(issue.clone());
            } else {
                if !list.contains(&intent.sprint) {
                    continue;
                }
                list.retain(|s| *s != intent.sprint);
                if let Some(set) = members.get_mut(&intent.sprint) {
                    set.remove(&issue);
                }
            }
            moves.push((intent.at_ms, issue, before, list.clone()));
        }
    }
    let names: BTreeMap<u32, String> = out
        .iter()
        .filter_map(|(_, kind)| match kind {
            AgileKind::Sprint(s) => Some((s.sprint_id, s.name.clone())),
            _ => None,
        })
        .collect();
    for (n, (at_ms, issue, before, after)) in moves.into_iter().enumerate() {
        let Some(state) = as_of(&issue, at_ms) else {
            continue;
        };
        let join = |list: &[u32], pick: &dyn Fn(&u32) -> String| {
            (!list.is_empty()).then(|| list.iter().map(pick).collect::<Vec<_>>().join(", "))
        };
        let id = |s: &u32| s.to_string();
        let named = |s: &u32| names.get(s).cloned().unwrap_or_default();
        let event = LifecycleEvent {
            sequence: 1_000_000 + n as u64,
            at_ms,
            kind: LifecycleKind::Updated,
            issue: state.issue.clone(),
            changes: vec![FieldChange {
                field: "Sprint",
                // Jira Cloud's sprint field (a custom field on every site).
                field_id: "customfield_10020",
                from: join(&before, &id),
                from_string: join(&before, &named),
                to: join(&after, &id),
                to_string: join(&after, &named),
            }],
            actor: state.issue.assignee.unwrap_or(state.issue.reporter),
            identifier: String::new(),
            comment_id: None,
            changelog_id: Some((900_000 + n as u64).to_string()),
            // The issue's level, as its own events carry it.
            security_level_name: state.security_level_name.clone(),
        };
        out.push((at_ms, AgileKind::Move(Box::new(event))));
    }

    // Worklogs: created some hours after work started, some edited or deleted later.
    for n in 0..spec.worklogs {
        let issue = ids[rng.gen_range(0..ids.len())];
        let Some(created) = histories.get(issue).and_then(|h| h.first()) else {
            continue;
        };
        let at_ms = rng.gen_range(created.at_ms + HOUR_MS..end_ms.max(created.at_ms + 2 * HOUR_MS));
        if at_ms >= end_ms {
            continue;
        }
        let mut worklog = WorklogEvent {
            worklog_id: (40_000 + n).to_string(),
            issue_id: issue.to_owned(),
            issue_key: created.issue.key.clone(),
            project_key: created.issue.project_key,
            author: PEOPLE[rng.gen_range(0..PEOPLE.len())],
            // Up to a day before it was logged: some cross a midnight in one zone, not another.
            started_ms: at_ms - rng.gen_range(0..24 * HOUR_MS),
            seconds: 60 * rng.gen_range(5..480),
            step: WorklogStep::Created,
        };
        out.push((at_ms, AgileKind::Worklog(worklog.clone())));
        let later = at_ms + rng.gen_range(HOUR_MS..72 * HOUR_MS);
        if later < end_ms {
            match rng.gen_range(0..10) {
                0..=2 => {
                    worklog.step = WorklogStep::Updated;
                    worklog.seconds = 60 * rng.gen_range(5..480);
                    worklog.started_ms -= rng.gen_range(0..12 * HOUR_MS);
                    out.push((later, AgileKind::Worklog(worklog)));
                }
                3 => {
                    worklog.step = WorklogStep::Deleted;
                    out.push((later, AgileKind::Worklog(worklog)));
                }
                _ => {}
            }
        }
    }

    out.sort_by_key(|(at_ms, _)| *at_ms);
    out.into_iter()
        .enumerate()
        .map(|(n, (at_ms, kind))| AgileEvent {
            at_ms,
            identifier: format!("agile-{}-{n}", spec.seed),
            kind,
        })
        .collect()
}

/// Whether `sprint` is among the generated ones.
fn names_known(out: &[(i64, AgileKind)], sprint: u32) -> bool {
    out.iter()
        .any(|(_, kind)| matches!(kind, AgileKind::Sprint(s) if s.sprint_id == sprint))
}

/// Jira's sprint dates: `2026-11-17T08:00:00.000Z`.
fn sprint_date(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .unwrap_or_default()
        .format("%Y-%m-%dT%H:%M:%S%.3fZ")
        .to_string()
}

impl SprintEvent {
    fn json(&self, site_url: &str) -> Value {
        let state = match (self.step, self.complete_ms) {
            (_, Some(_)) => "closed",
            (SprintStep::Created, None) => "future",
            _ => "active",
        };
        let mut sprint = json!({
            "id": self.sprint_id,
            "self": format!("{site_url}/rest/agile/1.0/sprint/{}", self.sprint_id),
            "state": state,
            "name": self.name,
            "originBoardId": self.board_id,
            "goal": "",
        });
        let object = sprint.as_object_mut().expect("a JSON object");
        if self.step != SprintStep::Created {
            object.insert("startDate".into(), json!(sprint_date(self.start_ms)));
            object.insert("endDate".into(), json!(sprint_date(self.end_ms)));
        }
        if let Some(complete) = self.complete_ms {
            object.insert("completeDate".into(), json!(sprint_date(complete)));
        }
        sprint
    }

    fn names(&self) -> (&'static str, &'static str) {
        match self.step {
            SprintStep::Created => ("sprint_created", "avi:jira-software:created:sprint"),
            SprintStep::Started => ("sprint_started", "avi:jira-software:started:sprint"),
            SprintStep::Closed => ("sprint_closed", "avi:jira-software:closed:sprint"),
        }
    }
}

impl WorklogEvent {
    fn json(&self, site_url: &str, at_ms: i64) -> Value {
        json!({
            "self": format!("{site_url}/rest/api/2/issue/{}/worklog/{}", self.issue_id, self.worklog_id),
            "author": person_json(self.author, site_url),
            "updateAuthor": person_json(self.author, site_url),
            "comment": "",
            "created": millis_text(at_ms),
            "updated": millis_text(at_ms),
            "started": millis_text(self.started_ms),
            "timeSpentSeconds": self.seconds,
            "id": self.worklog_id,
            "issueId": self.issue_id,
        })
    }

    fn names(&self) -> (&'static str, &'static str) {
        match self.step {
            WorklogStep::Created => ("worklog_created", "avi:jira:created:worklog"),
            WorklogStep::Updated => ("worklog_updated", "avi:jira:updated:worklog"),
            WorklogStep::Deleted => ("worklog_deleted", "avi:jira:deleted:worklog"),
        }
    }
}

impl AgileEvent {
    /// The body Jira Cloud sends a Connect app's webhook for this event.
    pub fn connect_body(&self, site_url: &str) -> Value {
        match &self.kind {
            AgileKind::Move(event) => event.connect_body(site_url),
            AgileKind::Sprint(sprint) => json!({
                "timestamp": self.at_ms,
                "webhookEvent": sprint.names().0,
                "sprint": sprint.json(site_url),
            }),
            AgileKind::Worklog(worklog) => json!({
                "timestamp": self.at_ms,
                "webhookEvent": worklog.names().0,
                "worklog": worklog.json(site_url, self.at_ms),
            }),
        }
    }

    /// The body a Forge app's trigger receives for this event.
    pub fn forge_body(&self, site_url: &str) -> Value {
        match &self.kind {
            AgileKind::Move(event) => event.forge_body(site_url),
            AgileKind::Sprint(sprint) => json!({
                "eventType": sprint.names().1,
                "selfGenerated": false,
                "timestamp": self.at_ms.to_string(),
                "sprint": sprint.json(site_url),
                "atlassianId": PEOPLE[0].account_id,
            }),
            AgileKind::Worklog(worklog) => json!({
                "eventType": worklog.names().1,
                "selfGenerated": false,
                "timestamp": self.at_ms.to_string(),
                "worklog": worklog.json(site_url, self.at_ms),
                "atlassianId": worklog.author.account_id,
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lifecycle::{LifecycleSpec, generate as lifecycle};

    fn streams() -> (Vec<LifecycleEvent>, Vec<AgileEvent>) {
        let spec = LifecycleSpec {
            seed: 7,
            issues: 60,
            weeks: 6,
            end_ms: 1_796_000_000_000,
        };
        let events = lifecycle(&spec);
        let agile = AgileSpec {
            seed: 7,
            sprint_days: 10,
            planned: 6,
            worklogs: 40,
        };
        let extra = generate(&agile, &events, spec.end_ms);
        (events, extra)
    }

    #[test]
    fn the_same_seed_gives_the_same_sprints_and_worklogs() {
        assert_eq!(streams(), streams());
    }

    #[test]
    fn sprints_are_created_started_and_closed_with_moves_and_worklogs_between() {
        let (_, extra) = streams();
        assert!(extra.windows(2).all(|w| w[0].at_ms <= w[1].at_ms));
        let count = |wanted: &dyn Fn(&AgileKind) -> bool| {
            extra.iter().filter(|event| wanted(&event.kind)).count()
        };
        assert!(count(&|k| matches!(k, AgileKind::Sprint(s) if s.step == SprintStep::Closed)) >= 2);
        assert!(count(&|k| matches!(k, AgileKind::Move(_))) >= 20);
        assert!(
            count(&|k| matches!(k, AgileKind::Worklog(w) if w.step == WorklogStep::Deleted)) >= 1
        );
        assert!(
            count(&|k| matches!(k, AgileKind::Worklog(w) if w.step == WorklogStep::Updated)) >= 1
        );
        let carried = extra.iter().any(|event| match &event.kind {
            AgileKind::Move(m) => m.changes[0]
                .to
                .as_deref()
                .is_some_and(|to| to.contains(", ")),
            _ => false,
        });
        assert!(carried, "some issues are carried over to the next sprint");
        let body = extra[0].connect_body("https://x.atlassian.net");
        assert_eq!(body["webhookEvent"], "sprint_created");
    }
}
