//! Faults survived: with the simulator sending a steady stream, each test breaks one part of
//! the path (a pipeline killed, the broker stopped, ClickHouse or Postgres away, one of two
//! pipelines killed), lets it recover, and checks that every delivery ingress answered 2xx is
//! in ClickHouse exactly once and that the weekly-rates view equals the simulator's own count.
//! Each prints its accepted, stored, duplicate and lost counts.
//!
//! `FAULT_OUTAGE_SECS` (default 30) sets how long ClickHouse and Postgres stay away.

mod path;
mod stream;
mod tally;

use std::time::Duration;

use path::{Broker, FaultPath, Membership, outage};
use stream::{Sent, SteadyStream};
use tally::{Tally, assert_views_match};
use test_kit::eventually;

/// Events a second: enough that every fault lands mid-stream, little enough for 2 cores
/// running the rest of the suite beside it.
const RATE: u32 = 40;

/// How long the stream runs in one phase of a fault (before it, during it, after it): the
/// scenario under test, so that the fault lands on traffic and recovery meets traffic. Not a
/// wait for something to happen; what must happen is awaited with `eventually`.
async fn pause(secs: u64) {
    tokio::time::sleep(Duration::from_secs(secs)).await;
}

/// Installs a workspace, waits until ingress takes its events, and starts the stream.
async fn installed_stream(path: &FaultPath) -> (Vec<Sent>, SteadyStream) {
    let installed = path.install().await;
    let stream = SteadyStream::start(
        std::sync::Arc::clone(&path.sim),
        path.target.clone(),
        installed.installation,
        RATE,
    );
    (stream::probes_sent(installed.probes), stream)
}

async fn judge(path: &FaultPath, fault: &str, mut sent: Vec<Sent>, stream: SteadyStream) {
    sent.extend(stream.finish().await);
    let tally = Tally::of(path, &sent).await;
    tally.report(fault);
    tally.assert_exactly_once(path);
    assert_views_match(path, &sent).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pipeline_killed_with_sigkill_and_restarted_loses_nothing() {
    let mut path = FaultPath::start("pipeline-kill-9", Broker::Memory).await;
    let pipeline = path.start_pipeline(Membership::Static);
    let (sent, stream) = installed_stream(&path).await;
    path.wait_until_consuming(pipeline).await;
    pause(2).await;
    path.kill_pipeline(pipeline).await;
    pause(2).await;
    path.restart_pipeline(pipeline);
    pause(4).await;
    judge(&path, "pipeline kill -9 and restart", sent, stream).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_broker_stopped_and_started_again_loses_nothing() {
    let mut path = FaultPath::start("broker-restart", Broker::Durable).await;
    path.start_pipeline(Membership::Static);
    let (sent, stream) = installed_stream(&path).await;
    pause(3).await;
    path.stop_broker().await;
    // Ingress answers 503 meanwhile; the simulator retries, as Jira does.
    pause(10).await;
    path.start_broker().await;
    pause(5).await;
    judge(&path, "broker stopped 10 s and started", sent, stream).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clickhouse_away_for_a_while_loses_nothing() {
    let mut path = FaultPath::start("clickhouse-down", Broker::Memory).await;
    path.start_pipeline(Membership::Static);
    let (sent, stream) = installed_stream(&path).await;
    pause(3).await;
    path.clickhouse_gate.close().await;
    // The outage's length is the fault under test.
    tokio::time::sleep(outage()).await;
    path.clickhouse_gate.open();
    pause(4).await;
    judge(
        &path,
        &format!("ClickHouse down {} s", outage().as_secs()),
        sent,
        stream,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_away_for_a_while_keeps_ingress_accepting_and_onboarding_recovers() {
    let mut path = FaultPath::start("postgres-down", Broker::Memory).await;
    path.start_pipeline(Membership::Static);
    let (sent, stream) = installed_stream(&path).await;
    pause(3).await;
    path.postgres_gate.close().await;
    let away_until = tokio::time::Instant::now() + outage();
    assert_eventually_status(&path, 503, "while Postgres is away").await;
    // The outage's length is the fault under test.
    tokio::time::sleep_until(away_until).await;
    path.postgres_gate.open();
    assert_eventually_status(&path, 200, "once Postgres is back").await;
    pause(3).await;
    let streamed = stream.finish().await;
    // Ingress knows the installation from memory: nothing sent during the outage was refused.
    let not_accepted = streamed.iter().filter(|sent| !sent.accepted).count();
    assert_eq!(
        not_accepted, 0,
        "deliveries refused while Postgres was away"
    );
    let sent: Vec<Sent> = sent.into_iter().chain(streamed).collect();
    let tally = Tally::of(&path, &sent).await;
    tally.report(&format!("Postgres down {} s", outage().as_secs()));
    tally.assert_exactly_once(&path);
    assert_views_match(&path, &sent).await;
    // A new install works again once Postgres is back.
    path.install().await;
}

/// One workspace's rows are refused by ClickHouse (on current releases, say, events spread over
/// more monthly partitions than one insert takes; here a check column that throws for it):
/// every other workspace's events still arrive exactly once, and every refused delivery is on
/// the dead-letter topic with ClickHouse's reason. Before the sink told a refusal from an
/// outage, it retried the mixed batch forever and stopped every tenant.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_workspace_sending_poison_stops_no_other_and_loses_nothing() {
    let mut path = FaultPath::start("poison-tenant", Broker::Memory).await;
    let pipeline = path.start_pipeline(Membership::Static);
    let (healthy_sent, healthy) = installed_stream(&path).await;
    path.wait_until_consuming(pipeline).await;
    let poisoned = path.install().await;
    let poisoned_id = path.installation_of(&poisoned.probes).await;
    path.refuse_rows_of(&poisoned_id).await;
    let poison = SteadyStream::start(
        std::sync::Arc::clone(&path.sim),
        path.target.clone(),
        poisoned.installation,
        RATE / 2,
    );
    pause(10).await;
    let poison_sent = poison.finish().await;

    // The healthy workspace, and the poisoned one's probes (stored before the refusal began).
    let mut judged: Vec<Sent> = stream::probes_sent(poisoned.probes);
    judged.extend(healthy_sent);
    judged.extend(healthy.finish().await);
    let tally = Tally::of(&path, &judged).await;
    tally.report("one workspace sending poison");
    tally.assert_exactly_once(&path);

    let refused: Vec<&str> = poison_sent
        .iter()
        .filter(|sent| sent.accepted)
        .map(|sent| sent.delivery_id.as_str())
        .collect();
    assert!(!refused.is_empty(), "the poisoned workspace sent nothing");
    let dead_lettered = path
        .dead_lettered("refused_by_clickhouse", refused.len())
        .await;
    let missing: Vec<&&str> = refused
        .iter()
        .filter(|id| !dead_lettered.contains(**id))
        .collect();
    assert!(
        missing.is_empty(),
        "{} of {} refused deliveries are not on the dead-letter topic: {missing:?}; logs in {}",
        missing.len(),
        refused.len(),
        path.logs()
    );
}

/// Ignored on the local stack: tansu 0.6 keeps a killed member in the group, so the rebalance
/// after the kill hands the survivor only its own partitions and the dead member's wait (seen
/// here: the survivor's log shows `[0,1]` revoked and assigned again, `[2,3]` nobody's, for
/// minutes). Run it against Apache Kafka (the docker compose path) with `--ignored`.
#[ignore = "tansu 0.6 does not expire a killed group member; needs Apache Kafka"]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_of_two_pipelines_killed_leaves_the_other_to_take_its_partitions() {
    let mut path = FaultPath::start("two-pipelines", Broker::Memory).await;
    let survivor = path.start_pipeline(Membership::Dynamic);
    let doomed = path.start_pipeline(Membership::Dynamic);
    let (sent, stream) = installed_stream(&path).await;
    // Both at work first, so the kill lands on a settled group.
    path.wait_until_consuming(survivor).await;
    path.wait_until_consuming(doomed).await;
    pause(2).await;
    path.kill_pipeline(doomed).await;
    // The survivor gets the dead member's partitions once its session times out (10 s).
    pause(15).await;
    judge(&path, "two pipelines, one killed", sent, stream).await;
}

/// Onboarding's readiness follows Postgres: 503 while it is away, 200 once it is back.
async fn assert_eventually_status(path: &FaultPath, status: u16, when: &str) {
    eventually(
        Duration::from_secs(15),
        &format!("onboarding's /readyz answering {status} {when}"),
        || async {
            match path.onboarding.admin_get("/readyz").await.status().as_u16() {
                got if got == status => Ok(()),
                got => Err(got),
            }
        },
    )
    .await;
}
