//! How long the dashboards wait: the weekly-rates, trends and feed queries over 10 million events
//! across 1,000 installations (one large tenant holding a tenth of them), spread over 26 weeks,
//! generated inside ClickHouse. It prints p50/p95 per view and asserts nothing.
//! `cargo bench -p warehouse --bench query_latency` needs the local stack's ClickHouse; it makes
//! its own database and drops it, and takes a minute or two, all of it on 127.0.0.1.

use std::time::{Duration, Instant};

use anyhow::Context;
use chrono::{TimeDelta, Utc};
use clickhouse::Client;
use service_kit::{
    connections::ClickHouseConfig,
    testing::{Stack, unique},
};
use warehouse::{
    queries::{self, FeedFilters, Filters, Scope},
    retention::PARTITIONED_TABLES,
};

const EVENTS: u64 = 10_000_000;
/// Installation 0 gets every tenth event; the other 999 share the rest.
const LARGE_TENANT: &str = "inst-0";
/// About 9,000 events, like most of the others.
const SMALL_TENANT: &str = "inst-500";
const WEEKS_OF_DATA: i64 = 26;
const WEEKS_VIEWED: i64 = 12;
const RUNS: usize = 30;
/// Each view runs this many times first, unmeasured (caches warm, as a dashboard's would be).
const WARM_UP: usize = 3;
const TARGET_P95: Duration = Duration::from_millis(100);
const TIME_ZONE: &str = "Europe/Berlin";

/// The fields of every generated event, derived from its number `n`: every tenth event is the
/// large tenant's; `local` numbers a tenant's events in time order, ten per issue (created
/// first, then updates and comments; a status change, an assignee change and a resolution on
/// the 2nd, 3rd and 5th, so 30 % carry a field change; one resolution in ten is a reopen).
/// SQL for ClickHouse 18.16 as well as a current LTS: no JSON functions, no toStartOfWeek, no
/// leftPad; aliases are reused inside the SELECT that defines them, which both accept.
const NUMBERED: &str = "
    SELECT
        number AS n,
        n % 10 = 0 AS big,
        if(big, 0, 1 + n % 999) AS tenant,
        if(big, intDiv(n, 10), intDiv(n, 999)) AS local,
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
    concat('inst-', toString(tenant)),
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
    concat('inst-', toString(tenant)),
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

fn main() -> anyhow::Result<()> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(run())
}

async fn run() -> anyhow::Result<()> {
    println!(
        "query_latency: {EVENTS} events across 1,000 installations over {WEEKS_OF_DATA} weeks \
         ({LARGE_TENANT} holds {}), {WEEKS_VIEWED} weeks viewed in {TIME_ZONE}",
        EVENTS / 10
    );
    let database = bench_database(&Stack::from_env()).await?;
    let outcome = measure(&database.client()).await;
    let dropped = database
        .client()
        .with_database("default")
        .query(&format!("DROP DATABASE IF EXISTS {}", database.database))
        .execute()
        .await
        .context("drop the benchmark's database");
    outcome.and(dropped)
}

/// A new, empty database of its own. Not `Stack::fresh_clickhouse`: its `test_` databases are
/// dropped by the next `compose/local test`, which would pull this one away mid-run.
async fn bench_database(stack: &Stack) -> anyhow::Result<ClickHouseConfig> {
    let mut config = stack.clickhouse.clone();
    config.database = unique("bench");
    config
        .client()
        .with_database("default")
        .query(&format!("CREATE DATABASE {}", config.database))
        .execute()
        .await
        .context("create the benchmark's database")?;
    Ok(config)
}

async fn measure(client: &Client) -> anyhow::Result<()> {
    warehouse::migrate(client).await?;
    let now = Utc::now();
    let start = now - TimeDelta::weeks(WEEKS_OF_DATA);
    let numbered = NUMBERED
        .replace("{start_ms}", &start.timestamp_millis().to_string())
        .replace(
            "{span_ms}",
            &TimeDelta::weeks(WEEKS_OF_DATA)
                .num_milliseconds()
                .to_string(),
        )
        .replace("{total}", &EVENTS.to_string());
    let started = Instant::now();
    for (table, sql) in [
        ("events", GENERATE_EVENTS),
        ("field_changes", GENERATE_FIELD_CHANGES),
    ] {
        let sql = sql.replace("{numbered}", &numbered);
        client
            .query(&sql)
            .execute()
            .await
            .with_context(|| format!("generate {table}"))?;
    }
    let generated = started.elapsed();
    // Let the background merges settle, so that they do not fall on the measured queries. The
    // rollups were filled by their materialized views while generating, one part per block.
    let started = Instant::now();
    for table in PARTITIONED_TABLES {
        client
            .query(&format!("OPTIMIZE TABLE {table} FINAL"))
            .execute()
            .await
            .with_context(|| format!("merge {table}"))?;
    }
    let merged = started.elapsed();
    let counts: (u64, u64, u64) = client
        .query(
            "SELECT toUInt64((SELECT count() FROM events)), toUInt64((SELECT count() FROM field_changes)),
                    toUInt64((SELECT count() FROM system.parts WHERE database = currentDatabase() AND active))",
        )
        .fetch_one()
        .await?;
    println!(
        "  generated {} events and {} field changes in {:.1} s, merged in {:.1} s ({} active parts)",
        counts.0,
        counts.1,
        generated.as_secs_f64(),
        merged.as_secs_f64(),
        counts.2
    );

    let scope = |tenant: &str| Scope {
        installations: vec![tenant.to_owned()],
        from: now - TimeDelta::weeks(WEEKS_VIEWED),
        to: now,
        time_zone: TIME_ZONE.to_owned(),
        filters: Filters::default(),
    };
    let fields = vec!["assignee".to_owned(), "priority".to_owned()];
    let mut rows = Vec::new();
    for (tenant, label) in [(LARGE_TENANT, "large"), (SMALL_TENANT, "small")] {
        let scope = scope(tenant);
        let in_scope: u64 = client
            .query(
                "SELECT toUInt64(count()) FROM events
                 WHERE installation_id = ? AND occurred_at_ms >= ? AND occurred_at_ms < ?",
            )
            .bind(tenant)
            .bind(scope.from.timestamp_millis())
            .bind(scope.to.timestamp_millis())
            .fetch_one()
            .await?;
        let tenant = format!("{label} ({in_scope} ev)");
        let samples =
            time(|| async { queries::weekly_rates(client, &scope).await.map(drop) }).await?;
        rows.push(("weekly_rates", tenant.clone(), samples));
        let samples =
            time(|| async { queries::trends(client, &scope, &fields).await.map(drop) }).await?;
        rows.push(("trends", tenant.clone(), samples));
        let samples = time(|| async {
            queries::feed(client, &scope, &FeedFilters::default(), None, 50)
                .await
                .map(drop)
        })
        .await?;
        rows.push(("feed (first 50)", tenant, samples));
    }

    println!();
    println!(
        "  {:<16} {:<22} {:>5} {:>9} {:>9} {:>9}   target p95 < {} ms",
        "view",
        "tenant (in range)",
        "runs",
        "p50 ms",
        "p95 ms",
        "max ms",
        TARGET_P95.as_millis()
    );
    for (view, tenant, mut samples) in rows {
        samples.sort();
        let p95 = percentile(&samples, 0.95);
        let verdict = if view.starts_with("feed") {
            "(no target)"
        } else if p95 < TARGET_P95 {
            "met"
        } else {
            "NOT met"
        };
        println!(
            "  {view:<16} {tenant:<22} {:>5} {:>9.1} {:>9.1} {:>9.1}   {verdict}",
            samples.len(),
            ms(percentile(&samples, 0.5)),
            ms(p95),
            ms(*samples.last().unwrap_or(&Duration::ZERO)),
        );
    }
    Ok(())
}

/// `RUNS` timings of one view, one query at a time, after `WARM_UP` unmeasured runs.
async fn time<F, Fut>(view: F) -> anyhow::Result<Vec<Duration>>
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Result<(), queries::QueryError>>,
{
    for _ in 0..WARM_UP {
        view().await?;
    }
    let mut samples = Vec::with_capacity(RUNS);
    for _ in 0..RUNS {
        let started = Instant::now();
        view().await?;
        samples.push(started.elapsed());
    }
    Ok(samples)
}

/// Nearest-rank percentile of sorted samples.
fn percentile(sorted: &[Duration], quantile: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((quantile * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}
