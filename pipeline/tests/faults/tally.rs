//! Judging a fault: every delivery the ingress answered 2xx is in ClickHouse exactly once, and
//! the weekly-rates view counts what the simulator sent, tallied here independently. The
//! figures are printed and kept in `target/tmp/fault-survival.txt`, which `compose/local test`
//! shows after the suite.

use std::{
    collections::{BTreeMap, HashMap, HashSet},
    io::Write,
    time::Duration,
};

use chrono::Utc;
use clickhouse::Row;
use serde::Deserialize;
use warehouse::queries::{Filters, Scope, weekly_rates};

use super::{path::FaultPath, stream::Sent};

#[derive(Debug)]
pub(crate) struct Tally {
    /// Answered 2xx by ingress (after retries).
    pub(crate) accepted: usize,
    /// Accepted deliveries found in ClickHouse.
    pub(crate) stored: usize,
    /// Rows beyond one per delivery once ClickHouse has merged (`FINAL`).
    pub(crate) duplicate: usize,
    /// Accepted deliveries not in ClickHouse.
    pub(crate) lost: usize,
    /// Sent, never answered 2xx (refused, or retries exhausted).
    pub(crate) not_accepted: usize,
    /// Of those, found in ClickHouse anyway (the broker took it, the answer was lost).
    pub(crate) stored_unacknowledged: usize,
    /// Rows in ClickHouse no one sent.
    pub(crate) unknown: usize,
    /// Physical rows written twice (a replay after a kill), collapsed by the merge.
    pub(crate) replayed_rows: usize,
    pub(crate) retries: u32,
}

#[derive(Row, Deserialize)]
struct StoredDelivery {
    delivery_id: String,
    rows: u64,
}

impl Tally {
    /// Waits (bounded) until every accepted delivery is stored, then counts.
    pub(crate) async fn of(path: &FaultPath, sent: &[Sent]) -> Self {
        let accepted: HashSet<&str> = sent
            .iter()
            .filter(|sent| sent.accepted)
            .map(|sent| sent.delivery_id.as_str())
            .collect();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(180);
        let (physical, merged) = loop {
            let physical = rows_per_delivery(path, "events").await;
            let all_in = accepted.iter().all(|id| physical.contains_key(*id));
            if all_in || tokio::time::Instant::now() >= deadline {
                break (physical, rows_per_delivery(path, "events FINAL").await);
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        };
        let sent_ids: HashSet<&str> = sent.iter().map(|sent| sent.delivery_id.as_str()).collect();
        let stored = accepted
            .iter()
            .filter(|id| physical.contains_key(**id))
            .count();
        Self {
            accepted: accepted.len(),
            stored,
            duplicate: merged.values().map(|rows| rows - 1).sum::<u64>() as usize,
            lost: accepted.len() - stored,
            not_accepted: sent.len() - accepted.len(),
            stored_unacknowledged: sent
                .iter()
                .filter(|sent| !sent.accepted && physical.contains_key(&sent.delivery_id))
                .count(),
            unknown: physical
                .keys()
                .filter(|id| !sent_ids.contains(id.as_str()))
                .count(),
            replayed_rows: physical.values().map(|rows| rows - 1).sum::<u64>() as usize,
            retries: sent.iter().map(|sent| sent.retries).sum(),
        }
    }

    /// Prints the figures and appends them to the suite's results file.
    pub(crate) fn report(&self, fault: &str) {
        let line = format!(
            "{fault:<34} accepted {:>5}  stored {:>5}  duplicate {}  lost {}  \
             (not accepted {}, of them stored {}; retries {}; replayed rows merged away {})",
            self.accepted,
            self.stored,
            self.duplicate,
            self.lost,
            self.not_accepted,
            self.stored_unacknowledged,
            self.retries,
            self.replayed_rows,
        );
        println!("{line}");
        let results = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("fault-survival.txt");
        if let Ok(mut file) = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(results)
        {
            let _ = writeln!(file, "{} {line}", Utc::now().format("%Y-%m-%dT%H:%M:%SZ"));
        }
    }

    /// Nothing lost, nothing counted twice, nothing made up.
    pub(crate) fn assert_exactly_once(&self, path: &FaultPath) {
        assert!(self.accepted > 0, "nothing was accepted: {self:?}");
        assert_eq!(
            (self.lost, self.duplicate, self.unknown),
            (0, 0, 0),
            "{self:?}; pipeline logs in {}",
            path.logs()
        );
    }
}

/// The weekly-rates view, summed over its weeks, equals the simulator's own count of what it
/// sent and ClickHouse holds, kind by kind.
pub(crate) async fn assert_views_match(path: &FaultPath, sent: &[Sent]) {
    let client = path.clickhouse.client();
    let installations: Vec<contracts::InstallationId> = client
        .query("SELECT DISTINCT installation_id FROM events")
        .fetch_all::<String>()
        .await
        .unwrap()
        .iter()
        .map(|id| id.parse().expect("the pipeline stores installation ids"))
        .collect();
    let stored: HashSet<String> = rows_per_delivery(path, "events")
        .await
        .into_keys()
        .collect();
    let mut expected: BTreeMap<String, u64> = BTreeMap::new();
    for sent in sent
        .iter()
        .filter(|sent| stored.contains(&sent.delivery_id))
    {
        *expected.entry(sent.kind.to_owned()).or_default() += 1;
    }
    let now = Utc::now();
    let rates = weekly_rates(
        &client,
        &Scope {
            installations,
            from: now - chrono::Duration::days(8),
            to: now + chrono::Duration::days(1),
            time_zone: "UTC".into(),
            filters: Filters::default(),
            visibility: Default::default(),
        },
    )
    .await
    .unwrap();
    let mut counted: BTreeMap<String, u64> = BTreeMap::new();
    for week in &rates.weeks {
        for (kind, events) in &week.counts {
            if *events > 0 {
                *counted.entry(kind.clone()).or_default() += events;
            }
        }
    }
    assert_eq!(
        counted, expected,
        "weekly rates against the simulator's tally"
    );
}

async fn rows_per_delivery(path: &FaultPath, from: &str) -> HashMap<String, u64> {
    path.clickhouse
        .client()
        .query(&format!(
            "SELECT delivery_id, toUInt64(count()) AS rows FROM {from} GROUP BY delivery_id"
        ))
        .fetch_all::<StoredDelivery>()
        .await
        .unwrap_or_default()
        .into_iter()
        .map(|row| (row.delivery_id, row.rows))
        .collect()
}
