//! Keeping the flow facts of issues current: after the pipeline stores deliveries, it refreshes
//! the issues they touched. A refresh reads each issue's whole history, and writes its facts
//! again only when that history holds deliveries the stored facts were not computed from, so a
//! redelivered batch writes nothing.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use clickhouse::{Client, Row};
use contracts::InstallationId;
use serde::{Deserialize, Serialize};

use super::{
    facts::{CompletionRow, SegmentRow, facts},
    history::{self, TimelineRow},
};

/// Issues per round trip: the IN lists stay small, and a refresh of a tenant's whole history
/// (a backfill) keeps bounded memory.
const CHUNK: usize = 1_000;

/// An issue, as the warehouse keys it.
pub type IssueKey = (InstallationId, String);

/// What a refresh did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Refreshed {
    /// Issues whose facts were written again.
    pub issues: u64,
    /// Issues whose stored facts were already of their whole history.
    pub unchanged: u64,
}

/// Recomputes the facts of `issues` from their histories.
pub async fn refresh(
    client: &Client,
    issues: &[IssueKey],
) -> Result<Refreshed, clickhouse::error::Error> {
    let unique: BTreeSet<&IssueKey> = issues.iter().collect();
    let unique: Vec<&IssueKey> = unique.into_iter().collect();
    let mut total = Refreshed::default();
    for chunk in unique.chunks(CHUNK) {
        let done = refresh_chunk(client, chunk).await?;
        total.issues += done.issues;
        total.unchanged += done.unchanged;
    }
    Ok(total)
}

/// Rows of one installation's timeline read at a time by [`refresh_all`]: a tenant's issues
/// are split into about this many rows' worth by a hash of their id.
const BACKFILL_ROWS: u64 = 500_000;

/// Writes the facts of every issue the warehouse has a history of: the backfill of migration 7
/// (and of a benchmark's generated data). One installation at a time, its issues in hash
/// buckets of about [`BACKFILL_ROWS`] rows, each read once and grouped by issue here (no
/// ORDER BY over a whole tenant). It writes without reading stored facts first; what it
/// writes has the version a refresh would give, so a refresh racing it agrees.
pub async fn refresh_all(client: &Client) -> Result<Refreshed, clickhouse::error::Error> {
    let sizes: Vec<(String, u64)> = client
        .query(
            "SELECT installation_id, toUInt64(count()) FROM issue_timeline
             GROUP BY installation_id ORDER BY installation_id",
        )
        .fetch_all()
        .await?;
    let mut total = Refreshed::default();
    for (installation, rows) in sizes {
        let Ok(installation_id) = installation.parse::<InstallationId>() else {
            continue;
        };
        let categories: HashMap<String, String> = client
            .query(
                "SELECT status, any(status_category) AS category FROM status_categories
                 WHERE installation_id = ? GROUP BY status",
            )
            .bind(&installation)
            .fetch_all::<(String, String)>()
            .await?
            .into_iter()
            .collect();
        let buckets = rows / BACKFILL_ROWS + 1;
        for bucket in 0..buckets {
            let rows = client
                .query(
                    "SELECT installation_id, issue_id, occurred_at_ms, delivery_id, kind,
                            event_type, project_key, issue_key, issue_type, priority, status,
                            status_category, from_status, assignee_account_id, assignee_name,
                            labels, components
                     FROM issue_timeline
                     WHERE installation_id = ? AND cityHash64(issue_id) % ? = ?",
                )
                .bind(&installation)
                .bind(buckets)
                .bind(bucket)
                .fetch_all::<TimelineRow>()
                .await?;
            let mut timelines: HashMap<&str, Vec<TimelineRow>> = HashMap::new();
            for row in &rows {
                timelines
                    .entry(row.issue_id.as_str())
                    .or_default()
                    .push(row.clone());
            }
            let mut segment_rows = Vec::new();
            let mut completion_rows = Vec::new();
            for (issue_id, rows) in &timelines {
                let Some((segments, completions)) =
                    issue_facts(installation_id, issue_id, rows, &categories)
                else {
                    continue;
                };
                segment_rows.extend(segments);
                completion_rows.extend(completions);
                total.issues += 1;
            }
            let stamps: Vec<RefreshStamp> = timelines
                .keys()
                .map(|issue_id| RefreshStamp::of(&installation, issue_id))
                .collect();
            write(client, &segment_rows, &completion_rows, &stamps).await?;
        }
    }
    Ok(total)
}

/// The version of an issue's facts: its history's distinct deliveries, a count that only grows
/// (a copy of a row is the same delivery).
fn version(rows: &[TimelineRow]) -> u64 {
    rows.iter()
        .map(|row| (&row.delivery_id, row.kind))
        .collect::<BTreeSet<_>>()
        .len() as u64
}

/// An issue's facts from its rows, with the installation's status categories filling in what
/// its own rows do not say.
fn issue_facts(
    installation_id: InstallationId,
    issue_id: &str,
    rows: &[TimelineRow],
    installation_categories: &HashMap<String, String>,
) -> Option<(Vec<SegmentRow>, Vec<CompletionRow>)> {
    let mut categories = history::categories(rows);
    for (status, category) in installation_categories {
        categories
            .entry(status.clone())
            .or_insert_with(|| category.clone());
    }
    let history = history::history(rows, &categories, super::facts::OPEN)?;
    Some(facts(installation_id, issue_id, &history, version(rows)))
}

/// Writes facts of `issues`, stamping the issues before and after them (see
/// [`stamp_refreshed`]); with no facts to write, only after.
async fn write(
    client: &Client,
    segments: &[SegmentRow],
    completions: &[CompletionRow],
    issues: &[RefreshStamp],
) -> Result<(), clickhouse::error::Error> {
    if !segments.is_empty() || !completions.is_empty() {
        stamp_refreshed(client, issues).await?;
    }
    if !segments.is_empty() {
        let mut insert = client.insert::<SegmentRow>("flow_segments").await?;
        for row in segments {
            insert.write(row).await?;
        }
        insert.end().await?;
    }
    if !completions.is_empty() {
        let mut insert = client.insert::<CompletionRow>("flow_completions").await?;
        for row in completions {
            insert.write(row).await?;
        }
        insert.end().await?;
    }
    stamp_refreshed(client, issues).await
}

#[derive(Row, Serialize)]
struct RefreshStamp {
    installation_id: String,
    issue_id: String,
}

impl RefreshStamp {
    fn of(installation_id: &str, issue_id: &str) -> Self {
        Self {
            installation_id: installation_id.to_owned(),
            issue_id: issue_id.to_owned(),
        }
    }
}

/// Records that `issues`' facts were refreshed, stamped by ClickHouse's own clock (the column's
/// default), the clock a compaction's start is read from (`super::compaction`). Before the
/// facts: a view that sees the new facts also sees the stamp, and reads the issue with FINAL.
/// After them: facts that landed after a compaction began are stamped at or after its start.
async fn stamp_refreshed(
    client: &Client,
    issues: &[RefreshStamp],
) -> Result<(), clickhouse::error::Error> {
    if issues.is_empty() {
        return Ok(());
    }
    let mut insert = client.insert::<RefreshStamp>("flow_refreshes").await?;
    for stamp in issues {
        insert.write(stamp).await?;
    }
    insert.end().await
}

#[derive(Row, Deserialize)]
struct StoredSegment {
    installation_id: String,
    issue_id: String,
    ordinal: u32,
    version: u64,
    live: u8,
}

#[derive(Row, Deserialize)]
struct StoredCompletion {
    installation_id: String,
    issue_id: String,
    done_ms: i64,
    live: u8,
}

#[derive(Row, Deserialize)]
struct StatusCategory {
    installation_id: String,
    status: String,
    status_category: String,
}

/// The facts an issue has now: their version and live keys.
#[derive(Default)]
struct Stored {
    version: u64,
    ordinals: Vec<u32>,
    done: Vec<i64>,
}

async fn refresh_chunk(
    client: &Client,
    issues: &[&IssueKey],
) -> Result<Refreshed, clickhouse::error::Error> {
    let installations: Vec<String> = issues
        .iter()
        .map(|(installation, _)| installation.to_string())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let ids: Vec<&str> = issues
        .iter()
        .map(|(_, issue)| issue.as_str())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let wanted: BTreeSet<(String, &str)> = issues
        .iter()
        .map(|(installation, issue)| (installation.to_string(), issue.as_str()))
        .collect();
    // The IN lists on both key columns let the primary key find each issue's rows; pairs of an
    // installation and another's issue id are dropped below.
    const ISSUES: &str = "installation_id IN (SELECT arrayJoin(CAST(? AS Array(String))))
                          AND issue_id IN (SELECT arrayJoin(CAST(? AS Array(String))))";
    let (rows, categories, segments, completions) = tokio::try_join!(
        client
            .query(&format!(
                "SELECT installation_id, issue_id, occurred_at_ms, delivery_id, kind, event_type,
                        project_key, issue_key, issue_type, priority, status, status_category,
                        from_status, assignee_account_id, assignee_name, labels, components
                 FROM issue_timeline WHERE {ISSUES}"
            ))
            .bind(&installations)
            .bind(&ids)
            .fetch_all::<TimelineRow>(),
        client
            .query(
                "SELECT installation_id, status, any(status_category) AS status_category
                 FROM status_categories
                 WHERE installation_id IN (SELECT arrayJoin(CAST(? AS Array(String))))
                 GROUP BY installation_id, status",
            )
            .bind(&installations)
            .fetch_all::<StatusCategory>(),
        client
            .query(&format!(
                "SELECT installation_id, issue_id, ordinal, version, live
                 FROM flow_segments FINAL WHERE {ISSUES}"
            ))
            .bind(&installations)
            .bind(&ids)
            .fetch_all::<StoredSegment>(),
        client
            .query(&format!(
                "SELECT installation_id, issue_id, done_ms, live
                 FROM flow_completions FINAL WHERE {ISSUES}"
            ))
            .bind(&installations)
            .bind(&ids)
            .fetch_all::<StoredCompletion>(),
    )?;

    let mut status_categories: HashMap<String, HashMap<String, String>> = HashMap::new();
    for row in categories {
        status_categories
            .entry(row.installation_id)
            .or_default()
            .insert(row.status, row.status_category);
    }
    let mut stored: BTreeMap<(String, String), Stored> = BTreeMap::new();
    for row in segments {
        let entry = stored
            .entry((row.installation_id, row.issue_id))
            .or_default();
        entry.version = entry.version.max(row.version);
        if row.live == 1 {
            entry.ordinals.push(row.ordinal);
        }
    }
    for row in completions.into_iter().filter(|row| row.live == 1) {
        let entry = stored
            .entry((row.installation_id, row.issue_id))
            .or_default();
        entry.done.push(row.done_ms);
    }
    let mut timelines: BTreeMap<(String, String), Vec<TimelineRow>> = BTreeMap::new();
    for row in rows {
        if wanted.contains(&(row.installation_id.clone(), row.issue_id.as_str())) {
            timelines
                .entry((row.installation_id.clone(), row.issue_id.clone()))
                .or_default()
                .push(row);
        }
    }

    let mut segment_rows: Vec<SegmentRow> = Vec::new();
    let mut completion_rows: Vec<CompletionRow> = Vec::new();
    let mut done = Refreshed::default();
    let no_categories = HashMap::new();
    for ((installation, issue_id), rows) in &timelines {
        let Ok(installation_id) = installation.parse::<InstallationId>() else {
            continue;
        };
        let version = version(rows);
        let before = stored.remove(&(installation.clone(), issue_id.clone()));
        if before
            .as_ref()
            .is_some_and(|before| before.version >= version)
        {
            done.unchanged += 1;
            continue;
        }
        let Some((segments, completions)) = issue_facts(
            installation_id,
            issue_id,
            rows,
            status_categories
                .get(installation)
                .unwrap_or(&no_categories),
        ) else {
            continue;
        };
        // What the new history no longer has is written once more, as gone.
        if let Some(before) = before {
            let kept: BTreeSet<u32> = segments.iter().map(|s| s.ordinal).collect();
            for ordinal in before.ordinals.into_iter().filter(|o| !kept.contains(o)) {
                segment_rows.push(SegmentRow {
                    ordinal,
                    live: 0,
                    ..segments[0].clone()
                });
            }
            let kept: BTreeSet<i64> = completions.iter().map(|c| c.done_ms).collect();
            for done_ms in before.done.into_iter().filter(|d| !kept.contains(d)) {
                completion_rows.push(CompletionRow {
                    installation_id,
                    issue_id: issue_id.clone(),
                    done_ms,
                    version,
                    live: 0,
                    issue_key: segments[0].issue_key.clone(),
                    project_key: segments[0].project_key.clone(),
                    issue_type: segments[0].issue_type.clone(),
                    priority: String::new(),
                    cycle_ms: super::facts::NO_CYCLE,
                    lead_ms: super::facts::UNSEEN,
                    assignee_account_id: String::new(),
                    assignee_name: String::new(),
                    labels: Vec::new(),
                    components: Vec::new(),
                });
            }
        }
        segment_rows.extend(segments);
        completion_rows.extend(completions);
        done.issues += 1;
    }
    // Every issue of the chunk, written or found current: a crash between the facts and the
    // stamp after them redelivers the batch, whose refresh finds the facts current and stamps
    // them then.
    let stamps: Vec<RefreshStamp> = wanted
        .iter()
        .map(|(installation, issue)| RefreshStamp::of(installation, issue))
        .collect();
    write(client, &segment_rows, &completion_rows, &stamps).await?;
    Ok(done)
}
