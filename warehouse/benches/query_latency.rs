//! How long the dashboards wait: the weekly-rates, trends, flow and feed queries over 20 million events
//! across 1,000 installations (one large tenant holding half of them: a tenant of 10 million),
//! spread over 26 weeks, generated inside ClickHouse. It prints p50/p95 per view and asserts nothing.
//! `cargo bench -p warehouse --bench query_latency` needs the local stack's ClickHouse; it makes
//! its own database and drops it (kept with `QUERY_LATENCY_KEEP_DATABASE=1`, to look at a query
//! by hand), and takes about ten minutes, all of it on 127.0.0.1.

use std::time::{Duration, Instant};

use anyhow::Context;
use chrono::{TimeDelta, Utc};
use contracts::InstallationId;
use service_runtime::connections::ClickHouseConfig;
use test_kit::{
    Stack,
    synthetic::{self, LARGE_TENANT, SMALL_TENANT},
    unique,
};
use warehouse::queries::{self, FeedFilters, Filters, Scope};

const EVENTS: u64 = 20_000_000;
/// The large tenant takes one event in this many: 10 million of the 20.
const LARGE_EVERY: u64 = 2;
const WEEKS_OF_DATA: i64 = 26;
const WEEKS_VIEWED: i64 = 12;
const RUNS: usize = 30;
/// Each view runs this many times first, unmeasured (caches warm, as a dashboard's would be).
const WARM_UP: usize = 3;
/// The p95 each view must stay under (the weekly rates' and trends' from the performance issue,
/// the flow view's from the flow-analytics issue); the feed has none.
fn target_p95(view: &str) -> Option<Duration> {
    match view {
        "weekly_rates" | "trends" => Some(Duration::from_millis(100)),
        "flow" => Some(Duration::from_millis(150)),
        _ => None,
    }
}
const TIME_ZONE: &str = "Europe/Berlin";

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
        EVENTS / LARGE_EVERY
    );
    let database = bench_database(&Stack::from_env()).await?;
    let outcome = measure(&database).await;
    // To look at a slow query by hand afterwards: the generated data takes minutes to make.
    if std::env::var_os("QUERY_LATENCY_KEEP_DATABASE").is_some() {
        println!("  kept the database {}", database.database);
        return outcome;
    }
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

async fn measure(database: &ClickHouseConfig) -> anyhow::Result<()> {
    warehouse::migrate(database).await?;
    let client = &database.client();
    let now = Utc::now();
    let start = now - TimeDelta::weeks(WEEKS_OF_DATA);
    let started = Instant::now();
    let generated = synthetic::generate(
        client,
        EVENTS,
        LARGE_EVERY,
        start.timestamp_millis(),
        TimeDelta::weeks(WEEKS_OF_DATA).num_milliseconds(),
    )
    .await?;
    println!(
        "  generated and merged {} events and {} field changes in {:.1} s ({} active parts)",
        generated.events,
        generated.field_changes,
        started.elapsed().as_secs_f64(),
        generated.active_parts
    );

    // Whole days in the viewer's zone, as the dashboards ask (`weeks=12` ends at tomorrow's
    // midnight): then every hour inside the range comes from the rollups.
    let tz: chrono_tz::Tz = TIME_ZONE.parse().expect("a zone name");
    let midnight = |day: chrono::NaiveDate| {
        day.and_hms_opt(0, 0, 0)
            .and_then(|at| at.and_local_timezone(tz).earliest())
            .expect("midnight exists")
            .with_timezone(&Utc)
    };
    let tomorrow = now.with_timezone(&tz).date_naive() + TimeDelta::days(1);
    let (from, to) = (
        midnight(tomorrow - TimeDelta::weeks(WEEKS_VIEWED)),
        midnight(tomorrow),
    );
    let scope = |tenant: InstallationId| Scope {
        installations: vec![tenant],
        from,
        to,
        time_zone: TIME_ZONE.to_owned(),
        filters: Filters::default(),
        visibility: Default::default(),
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
            .bind(tenant.to_string())
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
        let samples = time(|| async { queries::flow(client, &scope).await.map(drop) }).await?;
        rows.push(("flow", tenant.clone(), samples));
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
        "  {:<16} {:<22} {:>5} {:>9} {:>9} {:>9}   target p95",
        "view", "tenant (in range)", "runs", "p50 ms", "p95 ms", "max ms",
    );
    for (view, tenant, mut samples) in rows {
        samples.sort();
        let p95 = percentile(&samples, 0.95);
        let verdict = match target_p95(view) {
            None => "(no target)".to_owned(),
            Some(target) if p95 < target => format!("< {} ms: met", target.as_millis()),
            Some(target) => format!("< {} ms: NOT met", target.as_millis()),
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
