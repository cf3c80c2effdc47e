//! Rows waiting to be inserted, with the offsets they came from. Offsets are stored only after
//! the batch is in ClickHouse, and a batch holds everything read since the last insert, so the
//! stored offset of a partition never passes a message that is not yet stored (what went wrong
//! in Vector's Kafka source: a later batch's offset committed past a failed earlier one).

use std::collections::{BTreeMap, HashSet};

use contracts::InstallationId;
use warehouse::{EventRow, FieldChangeRow, SprintRow, WorklogRow};

use crate::dead_letters::Original;

#[derive(Default)]
pub(crate) struct Batch {
    pub(crate) events: Vec<EventRow>,
    /// The message each event came from, by the event's index: kept so that a row ClickHouse
    /// refuses can go to the dead-letter topic as it arrived.
    pub(crate) originals: Vec<Original>,
    pub(crate) field_changes: Vec<FieldChangeRow>,
    /// The sprint and worklog rows of the batch's sprint and worklog events.
    pub(crate) sprints: Vec<SprintRow>,
    pub(crate) worklogs: Vec<WorklogRow>,
    /// Milliseconds of each event's receipt by ingress, for the end-to-end delay.
    pub(crate) received_at_ms: Vec<i64>,
    /// Per (topic, partition), the highest offset read: rows, dead letters and duplicates alike.
    pub(crate) offsets: BTreeMap<(String, i32), i64>,
    /// (installation, delivery) already in this batch: a duplicate inside one batch is dropped
    /// here; across batches the warehouse's keys and distinct counts absorb it.
    seen: HashSet<(InstallationId, String)>,
    pub(crate) bytes: usize,
}

impl Batch {
    /// Notes that a message was handled, whatever became of it.
    pub(crate) fn handled(&mut self, topic: &str, partition: i32, offset: i64) {
        let entry = self
            .offsets
            .entry((topic.to_owned(), partition))
            .or_insert(offset);
        *entry = (*entry).max(offset);
    }

    /// Adds a delivery's rows; false when the same delivery is already in the batch.
    pub(crate) fn push(
        &mut self,
        event: EventRow,
        field_changes: Vec<FieldChangeRow>,
        original: Original,
    ) -> bool {
        let key = (event.installation_id, event.delivery_id.clone());
        if !self.seen.insert(key) {
            return false;
        }
        self.bytes += event.payload.len();
        self.received_at_ms.push(event.received_at_ms);
        self.events.push(event);
        self.originals.push(original);
        self.field_changes.extend(field_changes);
        true
    }

    /// Adds the sprint and worklog rows of a delivery that [`Batch::push`] took.
    pub(crate) fn push_details(&mut self, sprint: Option<SprintRow>, worklog: Option<WorklogRow>) {
        self.sprints.extend(sprint);
        self.worklogs.extend(worklog);
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.offsets.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(delivery: &str) -> EventRow {
        EventRow {
            delivery_id: delivery.into(),
            source: "connect".into(),
            family: "issue".into(),
            event_type: "issue_created".into(),
            occurred_at_ms: 1,
            received_at_ms: 2,
            payload: "{}".into(),
            ..EventRow::default()
        }
    }

    fn original() -> Original {
        Original {
            key: None,
            headers: rdkafka::message::OwnedHeaders::new(),
        }
    }

    #[test]
    fn a_delivery_seen_twice_in_a_batch_is_kept_once_and_offsets_keep_the_highest() {
        let mut batch = Batch::default();
        assert!(batch.push(event("a"), vec![], original()));
        assert!(!batch.push(event("a"), vec![], original()));
        assert!(batch.push(event("b"), vec![], original()));
        assert_eq!(batch.events.len(), 2);
        assert_eq!(batch.originals.len(), 2);
        batch.handled("raw", 0, 7);
        batch.handled("raw", 0, 5);
        batch.handled("raw", 1, 3);
        assert_eq!(batch.offsets[&("raw".to_owned(), 0)], 7);
        assert_eq!(batch.offsets[&("raw".to_owned(), 1)], 3);
    }
}
