//! A synthetic workload for benchmarks (the `synthetic` feature): `events` events across 1,000
//! installations spread evenly over a time span, generated inside ClickHouse (seconds, not
//! minutes, for 10 million), then merged so background merges do not fall on what is measured.
//! Installation [`LARGE_TENANT`] holds one event in `large_every` (a tenth, or half for a
//! tenant of 10 million out of 20); the others share the rest. The
//! warehouse's and the dashboards' benchmarks use the same data, so it lives here rather than in
//! either, and out of the warehouse library the services ship.

use anyhow::Context;
use clickhouse::Client;
use contracts::InstallationId;
use uuid::Uuid;

use warehouse::retention::PARTITIONED_TABLES;

/// The installation holding one event in `large_every`. Tenant `t`'s id ends in `t` written as twelve
/// decimal digits (the SQL below), so these hex literals spell tenants 0 and 500.
pub const LARGE_TENANT: InstallationId =
    InstallationId::from_uuid(Uuid::from_u128(0x00000000_0000_4000_8000_000000000000));
/// About one 999th of the rest, like most of the others.
pub const SMALL_TENANT: InstallationId =
    InstallationId::from_uuid(Uuid::from_u128(0x00000000_0000_4000_8000_000000000500));

/// The fields of every generated event, derived from its number `n`: one in `{large_every}` is the
/// large tenant's; `local` numbers a tenant's events in time order, ten per issue (created
/// first, then updates and comments; a status change, an assignee change and a resolution on
/// the 2nd, 3rd and 5th, so 30 % carry a field change; one resolution in ten is a reopen).
/// SQL for ClickHouse 18.16 as well as a current LTS: no JSON functions, no toStartOfWeek, no
/// leftPad; aliases are reused inside the SELECT that defines them, which both accept.
const NUMBERED: &str = "
    SELECT
        number AS n,
        n % {large_every} = 0 AS big,
        if(big, 0, 1 + n % 999) AS tenant,
        if(big, intDiv(n, {large_every}), intDiv(n, 999)) AS local,
        local % 10 AS step,
        intDiv(local, 10) AS issue,
        multiIf(step = 1, 'status', step = 2, 'assignee', 'resolution') AS field,
        local % 100 = 94 AS reopen,
        {start_ms} + intDiv(n * {span_ms}, {total}) AS at_ms
    FROM numbers({total})";

const GENERATE_EVENTS: &str = "
INSERT INTO events (installation_id, delivery_id, source, family, event_type, occurred_at_ms,
    received_at_ms, project_id, project_key, issue_id, issue_key, issue_type, status,
    status_category, priority, actor_account_id, payload)
SELECT
    concat('00000000-0000-4000-8000-', substring(toString(1000000000000 + tenant), 2)),
    concat('delivery-', toString(n)),
    'connect',
    if(step IN (6, 7, 8), 'comment', 'issue'),
    multiIf(step = 0, 'issue_created',
            step IN (6, 7, 8), 'comment_created',
            step = 9 AND local % 50 = 49, 'issue_deleted',
            'issue_updated'),
    at_ms,
    at_ms + 300,
    toString(10000 + local % 4),
    concat('P', toString(local % 4)),
    toString(issue),
    concat('P', toString(local % 4), '-', toString(issue)),
    if(issue % 5 = 0, 'Bug', 'Task'),
    multiIf(step < 1, 'To Do', step < 4, 'In Progress', 'Done'),
    multiIf(step < 1, 'new', step < 4, 'indeterminate', 'done'),
    if(issue % 7 = 0, 'High', 'Medium'),
    concat('account-', toString(local % 25)),
    '{}'
FROM ({numbered})";

const GENERATE_FIELD_CHANGES: &str = "
INSERT INTO field_changes (installation_id, delivery_id, item_index, occurred_at_ms, project_key,
    issue_id, issue_key, issue_type, field, field_id, from_value, to_value, from_string, to_string,
    status_category)
SELECT
    concat('00000000-0000-4000-8000-', substring(toString(1000000000000 + tenant), 2)),
    concat('delivery-', toString(n)),
    toUInt16(0),
    at_ms,
    concat('P', toString(local % 4)),
    toString(issue),
    concat('P', toString(local % 4), '-', toString(issue)),
    if(issue % 5 = 0, 'Bug', 'Task'),
    field,
    field,
    multiIf(field = 'status', '10000', field = 'assignee', '', reopen, '10000', ''),
    multiIf(field = 'status', '10001', field = 'assignee', concat('account-', toString(local % 25)),
            reopen, '', '10000'),
    multiIf(field = 'status', 'To Do', field = 'assignee', '', reopen, 'Done', ''),
    multiIf(field = 'status', 'In Progress', field = 'assignee', 'Someone', reopen, '', 'Done'),
    multiIf(step < 1, 'new', step < 4, 'indeterminate', 'done')
FROM ({numbered} WHERE step IN (1, 2, 4))";

/// What was generated, for the benchmark's report.
pub struct Generated {
    pub events: u64,
    pub field_changes: u64,
    pub active_parts: u64,
}

/// Fills the (migrated, empty) database of `client` with `total` events from `start_ms` over
/// `span_ms`, one in `large_every` the large tenant's, with their field changes and their
/// issues' flow facts, and merges every table.
pub async fn generate(
    client: &Client,
    total: u64,
    large_every: u64,
    start_ms: i64,
    span_ms: i64,
) -> anyhow::Result<Generated> {
    anyhow::ensure!(
        large_every >= 1,
        "the large tenant takes one event in at least one"
    );
    let numbered = NUMBERED
        .replace("{large_every}", &large_every.to_string())
        .replace("{start_ms}", &start_ms.to_string())
        .replace("{span_ms}", &span_ms.to_string())
        .replace("{total}", &total.to_string());
    for (table, sql) in [
        ("events", GENERATE_EVENTS),
        ("field_changes", GENERATE_FIELD_CHANGES),
    ] {
        client
            .query(&sql.replace("{numbered}", &numbered))
            .execute()
            .await
            .with_context(|| format!("generate {table}"))?;
    }
    // The flow facts, which the pipeline would have written as it stored each batch.
    warehouse::flow::refresh_all(client)
        .await
        .context("backfill the flow facts")?;
    // The rollups were filled by their materialized views, one part per block: merge them all.
    for table in
        PARTITIONED_TABLES
            .iter()
            .chain(&["flow_segments", "flow_completions", "status_categories"])
    {
        merge(client, table)
            .await
            .with_context(|| format!("merge {table}"))?;
    }
    let (events, field_changes, active_parts) = client
        .query(
            "SELECT toUInt64((SELECT count() FROM events)), toUInt64((SELECT count() FROM field_changes)),
                    toUInt64((SELECT count() FROM system.parts WHERE database = currentDatabase() AND active))",
        )
        .fetch_one::<(u64, u64, u64)>()
        .await?;
    Ok(Generated {
        events,
        field_changes,
        active_parts,
    })
}

/// Merges `table` wholly (`OPTIMIZE … FINAL`; on a cluster its replicated table, which replicates
/// the merge). An empty table is left alone: 18.16 fails to optimize an empty replicated table
/// ("Unknown log entry type: 0").
pub async fn merge(client: &Client, table: &str) -> Result<(), clickhouse::error::Error> {
    let rows: u64 = client
        .query(&format!("SELECT toUInt64(count()) FROM {table}"))
        .fetch_one()
        .await?;
    if rows == 0 {
        return Ok(());
    }
    let topology = warehouse::Topology::of(client).await?;
    client
        .query(&format!("OPTIMIZE TABLE {} FINAL", topology.storage(table)))
        .execute()
        .await
}
