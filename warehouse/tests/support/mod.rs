//! A deterministic generated stream of events and field changes, and inserting it.

#![allow(dead_code, unreachable_pub)]

use chrono::{DateTime, Utc};
use contracts::InstallationId;
use warehouse::{EventRow, FieldChangeRow};

/// The installation a test calls `name`: the same id for the same name, a different one for
/// another, so tests read as names while the rows carry ids shaped as the pipeline writes them.
pub fn id(name: &str) -> InstallationId {
    use std::hash::{Hash, Hasher};
    let half = |salt: u8| {
        let mut hasher = std::hash::DefaultHasher::new();
        (salt, name).hash(&mut hasher);
        hasher.finish()
    };
    InstallationId::from_uuid(uuid::Uuid::from_u64_pair(half(1), half(2)))
}

pub struct Generated {
    pub events: Vec<EventRow>,
    pub changes: Vec<FieldChangeRow>,
}

/// A small deterministic generator, so a failure can be replayed.
pub struct Lcg(pub u64);

impl Lcg {
    pub fn next(&mut self, below: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) % below
    }
}

pub fn event(
    installation: &str,
    delivery: String,
    kind: &str,
    at_ms: i64,
    project: &str,
    category: &str,
) -> EventRow {
    EventRow {
        installation_id: id(installation),
        delivery_id: delivery,
        source: "connect".into(),
        family: if kind.starts_with("comment") {
            "comment"
        } else {
            "issue"
        }
        .into(),
        event_type: kind.into(),
        occurred_at_ms: at_ms,
        received_at_ms: at_ms + 100,
        project_id: "1".into(),
        project_key: project.into(),
        issue_id: "10".into(),
        issue_key: format!("{project}-1"),
        issue_type: "Bug".into(),
        status: String::new(),
        status_category: category.into(),
        priority: "High".into(),
        assignee_account_id: String::new(),
        assignee_name: String::new(),
        labels: Vec::new(),
        components: Vec::new(),
        security_level: String::new(),
        actor_account_id: "u".into(),
        occurred_at_note: String::new(),
        payload: "{}".into(),
    }
}

pub fn change(event: &EventRow, index: u16, field: &str, from: &str, to: &str) -> FieldChangeRow {
    FieldChangeRow {
        installation_id: event.installation_id,
        delivery_id: event.delivery_id.clone(),
        item_index: index,
        occurred_at_ms: event.occurred_at_ms,
        project_key: event.project_key.clone(),
        issue_id: event.issue_id.clone(),
        issue_key: event.issue_key.clone(),
        issue_type: event.issue_type.clone(),
        field: field.into(),
        field_id: field.into(),
        from_value: from.into(),
        to_value: to.into(),
        from_string: from.into(),
        to_string: to.into(),
        status_category: event.status_category.clone(),
        priority: event.priority.clone(),
        assignee_account_id: event.assignee_account_id.clone(),
        labels: event.labels.clone(),
        components: event.components.clone(),
    }
}

pub fn generate(start: DateTime<Utc>, installations: &[&str]) -> Generated {
    let mut rng = Lcg(42);
    let mut events = Vec::new();
    let mut changes = Vec::new();
    for n in 0..600 {
        let installation = installations[rng.next(installations.len() as u64) as usize];
        let at = start.timestamp_millis() + rng.next(35 * 24 * 3600 * 1000) as i64;
        let project = ["SEC", "OPS"][rng.next(2) as usize];
        let kind = [
            "issue_created",
            "issue_updated",
            "issue_updated",
            "issue_deleted",
            "comment_created",
        ][rng.next(5) as usize];
        let category = if kind == "issue_updated" {
            ["new", "indeterminate", "done"][rng.next(3) as usize]
        } else {
            ""
        };
        let row = event(installation, format!("d{n}"), kind, at, project, category);
        if kind == "issue_updated" {
            match rng.next(3) {
                0 => changes.push(change(&row, 0, "status", "1", "2")),
                1 => {
                    changes.push(change(&row, 0, "status", "1", "3"));
                    changes.push(change(&row, 1, "resolution", "", "10000"));
                }
                _ => changes.push(change(&row, 0, "priority", "3", "1")),
            }
        }
        events.push(row);
    }
    Generated { events, changes }
}

pub async fn insert(client: &clickhouse::Client, generated: &Generated) {
    let mut insert = client.insert::<EventRow>("events").await.unwrap();
    for row in &generated.events {
        insert.write(row).await.unwrap();
    }
    insert.end().await.unwrap();
    let mut insert = client
        .insert::<FieldChangeRow>("field_changes")
        .await
        .unwrap();
    for row in &generated.changes {
        insert.write(row).await.unwrap();
    }
    insert.end().await.unwrap();
}

/// Runs `statement` once for each of `tables`, its `{table}` replaced by the name the table's
/// rows are stored under (on a cluster, the replicated table the client's replica holds, which
/// its `Distributed` table reads first).
pub async fn on_each_table(client: &clickhouse::Client, statement: &str, tables: &[&str]) {
    let topology = warehouse::Topology::of(client).await.unwrap();
    for table in tables {
        client
            .query(&statement.replace("{table}", &topology.local_name(table)))
            .execute()
            .await
            .unwrap();
    }
}
