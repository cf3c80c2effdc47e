//! Inserting a batch into ClickHouse. An outage (no answer, or an error ClickHouse says is
//! passing) is retried with capped exponential backoff until the insert lands or the pipeline
//! stops; while it retries nothing new is consumed, so memory stays bounded and the broker keeps
//! what we have not stored. A data error (ClickHouse refuses what the rows hold) is never
//! retried as is: the batch is split, first by installation, then in halves, until the rows
//! ClickHouse refuses stand alone; those go to the dead-letter topic with ClickHouse's reason and
//! everything else is stored. One workspace's poison thus never stops another's events.

use std::{
    collections::{BTreeMap, BTreeSet, HashSet},
    time::{Duration, Instant},
};

use contracts::InstallationId;
use service_runtime::retry::RetryPolicy;
use tokio_util::sync::CancellationToken;
use warehouse::{EventRow, FieldChangeRow, SprintRow, WorklogRow};

use crate::{
    Abandoned,
    batch::Batch,
    dead_letters::{DeadLetter, DeadLetters},
    insert_error::InsertError,
    metrics::PipelineMetrics,
};

const INSERT_RETRY: RetryPolicy =
    RetryPolicy::new(Duration::from_millis(200), Duration::from_secs(10));

#[derive(Clone)]
pub(crate) struct WarehouseSink {
    pub(crate) client: clickhouse::Client,
    pub(crate) metrics: PipelineMetrics,
    pub(crate) dead_letters: DeadLetters,
}

impl WarehouseSink {
    /// Stores the batch: every row ClickHouse accepts, and every row it refuses on the
    /// dead-letter topic. A span per batch: its retries and failures are logged inside it.
    #[tracing::instrument(name = "batch", skip_all, fields(rows = batch.events.len(), field_changes = batch.field_changes.len()))]
    pub(crate) async fn insert(
        &self,
        batch: &Batch,
        stop: &CancellationToken,
    ) -> Result<(), Abandoned> {
        if batch.events.is_empty() {
            return Ok(());
        }
        let started = Instant::now();
        let all: Vec<usize> = (0..batch.events.len()).collect();
        // Parts still to insert. A part ClickHouse refuses for its data is split and its halves
        // pushed back; a single row it refuses is dead-lettered.
        let mut pending = vec![all];
        let mut refused = 0;
        while let Some(part) = pending.pop() {
            match self.insert_part(batch, &part, stop).await? {
                None => {}
                Some(reason) if part.len() == 1 => {
                    self.dead_letter(batch, part[0], &reason, stop).await?;
                    refused += 1;
                }
                Some(reason) => {
                    tracing::warn!(rows = part.len(), %reason, "ClickHouse refused the rows of a batch; splitting it");
                    pending.extend(split(batch, part));
                }
            }
        }
        if refused < batch.events.len() {
            self.record_insert(batch, refused, started.elapsed());
        }
        self.refresh_flow(batch, stop).await
    }

    /// Recomputes the flow facts of the issues the batch touched, before its offsets are
    /// stored: a crash in between redelivers the batch, whose refresh then runs again. An
    /// outage is retried like an insert.
    async fn refresh_flow(&self, batch: &Batch, stop: &CancellationToken) -> Result<(), Abandoned> {
        let issues: Vec<warehouse::flow::IssueKey> = batch
            .events
            .iter()
            .filter(|event| !event.issue_id.is_empty())
            .map(|event| (event.installation_id, event.issue_id.clone()))
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        if issues.is_empty() {
            return Ok(());
        }
        let started = Instant::now();
        INSERT_RETRY
            .until_ok(
                "refreshing the flow facts failed; consuming paused",
                stop,
                || async {
                    warehouse::flow::refresh(&self.client, &issues)
                        .await
                        .inspect_err(|_| self.metrics.flow_refresh_failures.inc())
                },
            )
            .await
            .ok_or(Abandoned)?;
        self.metrics
            .flow_refresh
            .observe(started.elapsed().as_secs_f64());
        Ok(())
    }

    /// Inserts the events at `part` (and their field changes), retrying an outage; the
    /// refusal's reason when ClickHouse refuses their data.
    async fn insert_part(
        &self,
        batch: &Batch,
        part: &[usize],
        stop: &CancellationToken,
    ) -> Result<Option<String>, Abandoned> {
        let events: Vec<&EventRow> = part.iter().map(|&index| &batch.events[index]).collect();
        // The whole batch (every insert but a split one's) needs no lookup.
        let whole = part.len() == batch.events.len();
        let field_changes = if whole {
            batch.field_changes.iter().collect()
        } else {
            field_changes_of(&batch.field_changes, &events)
        };
        let details = Details {
            sprints: rows_of(&batch.sprints, &events, whole, |row| {
                (row.installation_id, row.delivery_id.as_str())
            }),
            worklogs: rows_of(&batch.worklogs, &events, whole, |row| {
                (row.installation_id, row.delivery_id.as_str())
            }),
        };
        INSERT_RETRY
            .until_ok(
                "ClickHouse insert failed; consuming paused",
                stop,
                || async {
                    match self.try_insert(&events, &field_changes, &details).await {
                        Ok(()) => Ok(None),
                        Err(err) => {
                            self.metrics.insert_failures.inc();
                            match InsertError::classify(err) {
                                InsertError::Refused(reason) => Ok(Some(reason)),
                                outage @ InsertError::Outage(_) => Err(outage),
                            }
                        }
                    }
                },
            )
            .await
            .ok_or(Abandoned)
    }

    async fn dead_letter(
        &self,
        batch: &Batch,
        index: usize,
        reason: &str,
        stop: &CancellationToken,
    ) -> Result<(), Abandoned> {
        let letter = DeadLetter {
            original: &batch.originals[index],
            payload: batch.events[index].payload.as_bytes(),
            reason: "refused_by_clickhouse",
            detail: reason,
        };
        self.dead_letters.send(letter, stop).await
    }

    fn record_insert(&self, batch: &Batch, refused: usize, took: Duration) {
        let stored = batch.events.len() - refused;
        self.metrics.insert_duration.observe(took.as_secs_f64());
        self.metrics.batch_rows.observe(stored as f64);
        self.metrics
            .inserted_rows
            .with_label_values(&["events"])
            .inc_by(stored as u64);
        self.metrics
            .inserted_rows
            .with_label_values(&["field_changes"])
            .inc_by(batch.field_changes.len() as u64);
        self.metrics
            .inserted_rows
            .with_label_values(&["sprints"])
            .inc_by(batch.sprints.len() as u64);
        self.metrics
            .inserted_rows
            .with_label_values(&["worklogs"])
            .inc_by(batch.worklogs.len() as u64);
        let now_ms = chrono::Utc::now().timestamp_millis();
        for received in &batch.received_at_ms {
            self.metrics
                .end_to_end_delay
                .observe((now_ms - received).max(0) as f64 / 1000.0);
        }
    }

    /// Field changes first: if we crash between the two inserts, the redelivered batch inserts
    /// both again and the keys absorb the copies; events are never visible without their changes.
    async fn try_insert(
        &self,
        events: &[&EventRow],
        field_changes: &[&FieldChangeRow],
        details: &Details<'_>,
    ) -> Result<(), clickhouse::error::Error> {
        // Like field changes, before the events: a crash in between redelivers the batch.
        if !details.sprints.is_empty() {
            let mut insert = self.client.insert::<SprintRow>("sprints").await?;
            for row in &details.sprints {
                insert.write(*row).await?;
            }
            insert.end().await?;
        }
        if !details.worklogs.is_empty() {
            let mut insert = self.client.insert::<WorklogRow>("worklogs").await?;
            for row in &details.worklogs {
                insert.write(*row).await?;
            }
            insert.end().await?;
        }
        if !field_changes.is_empty() {
            let mut insert = self
                .client
                .insert::<FieldChangeRow>("field_changes")
                .await?;
            for row in field_changes {
                insert.write(*row).await?;
            }
            insert.end().await?;
        }
        let mut insert = self.client.insert::<EventRow>("events").await?;
        for row in events {
            insert.write(*row).await?;
        }
        insert.end().await
    }
}

/// The sprint and worklog rows of a part's events.
struct Details<'a> {
    sprints: Vec<&'a SprintRow>,
    worklogs: Vec<&'a WorklogRow>,
}

/// The rows of `all` that belong to `events` (all of them when `whole`), by (installation,
/// delivery).
fn rows_of<'a, T>(
    all: &'a [T],
    events: &[&EventRow],
    whole: bool,
    key: impl Fn(&T) -> (InstallationId, &str),
) -> Vec<&'a T> {
    if whole || all.is_empty() {
        return all.iter().collect();
    }
    let keys: HashSet<(InstallationId, &str)> = events
        .iter()
        .map(|event| (event.installation_id, event.delivery_id.as_str()))
        .collect();
    all.iter().filter(|row| keys.contains(&key(row))).collect()
}

/// The field changes of `events`: those of the same (installation, delivery).
fn field_changes_of<'a>(
    all: &'a [FieldChangeRow],
    events: &[&EventRow],
) -> Vec<&'a FieldChangeRow> {
    if all.is_empty() {
        return Vec::new();
    }
    let keys: HashSet<(InstallationId, &str)> = events
        .iter()
        .map(|event| (event.installation_id, event.delivery_id.as_str()))
        .collect();
    all.iter()
        .filter(|change| keys.contains(&(change.installation_id, change.delivery_id.as_str())))
        .collect()
}

/// A refused part split for another try: by installation when it holds several (a workspace's
/// poison is usually all its own), else in halves.
fn split(batch: &Batch, part: Vec<usize>) -> Vec<Vec<usize>> {
    let mut by_installation: BTreeMap<InstallationId, Vec<usize>> = BTreeMap::new();
    for &index in &part {
        by_installation
            .entry(batch.events[index].installation_id)
            .or_default()
            .push(index);
    }
    if by_installation.len() > 1 {
        return by_installation.into_values().collect();
    }
    let mut first = part;
    let second = first.split_off(first.len() / 2);
    vec![first, second]
}

#[cfg(test)]
mod tests {
    use rdkafka::message::OwnedHeaders;

    use super::*;
    use crate::dead_letters::Original;

    fn batch_of(installations: &[u128]) -> Batch {
        let mut batch = Batch::default();
        for (n, installation) in installations.iter().enumerate() {
            let event = EventRow {
                installation_id: InstallationId::from_uuid(uuid::Uuid::from_u128(*installation)),
                delivery_id: format!("delivery-{n}"),
                ..EventRow::default()
            };
            let original = Original {
                key: None,
                headers: OwnedHeaders::new(),
            };
            batch.push(event, Vec::new(), original);
        }
        batch
    }

    #[test]
    fn a_refused_part_splits_by_installation_first_then_in_halves() {
        let batch = batch_of(&[1, 2, 1, 2, 2]);
        let mut parts = split(&batch, vec![0, 1, 2, 3, 4]);
        parts.sort();
        assert_eq!(parts, vec![vec![0, 2], vec![1, 3, 4]]);
        assert_eq!(split(&batch, vec![1, 3, 4]), vec![vec![1], vec![3, 4]]);
        assert_eq!(split(&batch, vec![3, 4]), vec![vec![3], vec![4]]);
    }

    #[test]
    fn a_part_takes_only_the_sprint_and_worklog_rows_of_its_own_deliveries() {
        let batch = batch_of(&[1, 2, 1]);
        let keys: Vec<(InstallationId, String)> = batch
            .events
            .iter()
            .map(|event| (event.installation_id, event.delivery_id.clone()))
            .collect();
        fn key(row: &(InstallationId, String)) -> (InstallationId, &str) {
            (row.0, row.1.as_str())
        }
        let part = [&batch.events[1]];
        assert_eq!(rows_of(&keys, &part, false, key), vec![&keys[1]]);
        let all: Vec<&EventRow> = batch.events.iter().collect();
        assert_eq!(rows_of(&keys, &all, true, key).len(), 3);
    }

    #[test]
    fn a_part_takes_only_its_own_field_changes() {
        let batch = batch_of(&[1, 2]);
        let change = |event: &EventRow| FieldChangeRow {
            installation_id: event.installation_id,
            delivery_id: event.delivery_id.clone(),
            item_index: 0,
            occurred_at_ms: 0,
            project_key: String::new(),
            issue_id: String::new(),
            issue_key: String::new(),
            issue_type: String::new(),
            field: "status".into(),
            field_id: String::new(),
            from_value: String::new(),
            to_value: String::new(),
            from_string: String::new(),
            to_string: String::new(),
            status_category: String::new(),
            priority: String::new(),
            assignee_account_id: String::new(),
            labels: Vec::new(),
            components: Vec::new(),
        };
        let changes: Vec<FieldChangeRow> = batch.events.iter().map(change).collect();
        let second = [&batch.events[1]];
        let taken = field_changes_of(&changes, &second);
        assert_eq!(taken, vec![&changes[1]]);
    }
}
