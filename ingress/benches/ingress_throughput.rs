//! What ingress costs over a bare producer: the real `ingress` binary and a bare axum → Kafka
//! handler on one private broker, under the same load, side by side. It prints figures and
//! asserts none. `cargo bench -p ingress --bench ingress_throughput` needs the local stack's
//! Postgres and the tansu binary; it takes about 80 seconds, all of its traffic on 127.0.0.1.

mod support;

use std::time::Duration;

use anyhow::Context;
use axum::body::Bytes;
use jira_simulator::{
    ConnectInstallation, Simulator, SimulatorConfig,
    in_process::{self, PUBLIC_BASE_URL},
};
use secrecy::ExposeSecret;
use test_kit::{Stack, TestBroker, procfs, unique};

use support::{
    baseline::Baseline,
    load::{self, Endpoint, Measured},
    processes::{CpuMeter, CpuSpent, Ingress, IngressEnv},
    report::{self, Memory, Phase, Row, Target},
};

/// Partitions of both raw topics: ingress's default `KAFKA_RAW_PARTITIONS`.
const PARTITIONS: i32 = 8;
const EVENT_POOL: usize = 2_000;
const WORKERS: usize = 256;
/// Each target first gets this much load, unmeasured: connections opened, caches warm.
const WARM_UP: Duration = Duration::from_secs(3);
/// Each phase gives each target `ROUNDS` slices of `SLICE`, the targets taking turns, so that
/// whatever else the machine does at some moment falls on both rather than on one.
const ROUNDS: u32 = 3;
const SLICE: Duration = Duration::from_secs(5);
const PHASES: [Phase; 2] = [
    Phase::MaxThroughput { workers: WORKERS },
    Phase::FixedRate { per_sec: 10_000 },
];
const TARGETS: [Target; 2] = [Target::Ingress, Target::Baseline];

fn main() -> anyhow::Result<()> {
    // One worker per core: the cores the servers and the broker use as well.
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(run())
}

async fn run() -> anyhow::Result<()> {
    println!("ingress_throughput: ingress vs a bare axum -> Kafka handler on one private broker");
    let mut broker = TestBroker::start_in_memory().await;
    let (ingress, installation) = start_ingress(&broker).await?;
    let producer = ingress::Config::from_env()?.producer;
    let baseline =
        Baseline::start(&broker.brokers, &unique("baseline"), PARTITIONS, &producer).await?;
    let bodies = load::event_bodies(EVENT_POOL)?;
    describe(&bodies, &producer);

    let client = load::client()?;
    let ingress_pid = ingress.pid().context("ingress exited")?;
    let meter = CpuMeter::new(ingress_pid, broker.pid().context("the broker exited")?);
    // Signed afresh for each slice: Jira's tokens live three minutes.
    let endpoint = |target| match target {
        Target::Ingress => Endpoint::connect(&ingress.url, &bodies, &installation),
        Target::Baseline => Ok(Endpoint::bare(&baseline.url, &bodies)),
    };
    for target in TARGETS {
        load::closed_loop(&client, &endpoint(target)?, WORKERS, WARM_UP).await;
    }
    let mut rows = Vec::new();
    for phase in PHASES {
        println!(
            "  {}: {ROUNDS} x {SLICE:?} per target, taking turns",
            phase.label()
        );
        let mut totals = TARGETS.map(|_| (Measured::default(), CpuSpent::default()));
        for _ in 0..ROUNDS {
            for (target, (measured, cpu)) in TARGETS.into_iter().zip(&mut totals) {
                let endpoint = endpoint(target)?;
                let before = meter.sample();
                measured.merge(match phase {
                    Phase::MaxThroughput { workers } => {
                        load::closed_loop(&client, &endpoint, workers, SLICE).await
                    }
                    Phase::FixedRate { per_sec } => {
                        load::open_loop(&client, &endpoint, per_sec, SLICE).await
                    }
                });
                cpu.add(&meter.since(&before));
            }
        }
        for (target, (measured, cpu)) in TARGETS.into_iter().zip(totals) {
            rows.push(Row {
                phase,
                target,
                measured,
                cpu,
            });
        }
    }
    let memory = Memory {
        ingress_peak_kib: procfs::peak_rss_kib(ingress_pid),
        broker_peak_kib: broker.pid().and_then(procfs::peak_rss_kib),
    };
    report::print_table(&rows);
    report::print_targets(&rows, &memory);
    report_ingress_log(&ingress);

    drop(baseline);
    ingress.stop().await;
    broker.stop().await;
    Ok(())
}

/// A fresh database with onboarding's schema, the ingress binary following it, and one Connect
/// installation made as Jira makes one (the simulator installs the app through onboarding),
/// once ingress accepts its events. Onboarding and the simulator then stop: ingress holds the
/// installation in memory, and they would only take CPU from the run.
async fn start_ingress(broker: &TestBroker) -> anyhow::Result<(Ingress, ConnectInstallation)> {
    let postgres = Stack::from_env().fresh_postgres().await;
    let sim = Simulator::start(SimulatorConfig::default()).await?;
    // Starting onboarding migrates the database ingress reads installations from.
    let onboarding = in_process::start_onboarding(&sim, postgres.clone(), |_| {}).await?;
    let ingress = Ingress::start(&IngressEnv {
        brokers: &broker.brokers,
        database_url: postgres.url.expose_secret(),
        raw_topic: &unique("raw"),
        dead_letter_topic: &unique("dead"),
        public_base_url: PUBLIC_BASE_URL,
    })
    .await?;
    let target = jira_simulator::Target::new(onboarding.address.parse()?, ingress.url.parse()?);
    let installed = in_process::install_workspace(&sim, &target).await?;
    onboarding.stop().await?;
    sim.shutdown().await;
    Ok((ingress, installed.installation))
}

fn describe(bodies: &[Bytes], producer: &ingress::ProducerConfig) {
    let sizes = bodies.iter().map(|body| body.len() as f64 / 1000.0);
    let smallest = sizes.clone().fold(f64::INFINITY, f64::min);
    let largest = sizes.clone().fold(0.0, f64::max);
    let mean = sizes.sum::<f64>() / bodies.len().max(1) as f64;
    println!(
        "events: {} Jira event bodies, {smallest:.1}-{largest:.1} KB (mean {mean:.1} KB), sent \
         round-robin; ingress's signed in advance with Connect JWTs, the baseline's bare",
        bodies.len()
    );
    println!(
        "producers: acks=all, linger.ms={}, idempotence {}; broker: a private tansu, memory \
         storage; topics of {PARTITIONS} partitions, one key per target as ingress keys by \
         installation",
        producer.linger_ms, producer.idempotence
    );
    println!(
        "machine: {} cores shared by the load generator, the server under test and the broker; \
         the figures are for this box as a whole, not for ingress alone",
        report::cores()
    );
}

/// Ingress logs warnings and errors only: a quiet log is removed, any other is pointed at.
fn report_ingress_log(ingress: &Ingress) {
    let lines = std::fs::read_to_string(&ingress.log).map_or(0, |log| log.lines().count());
    if lines == 0 {
        let _ = std::fs::remove_file(&ingress.log);
    } else {
        println!(
            "ingress logged {lines} warning or error lines: {}",
            ingress.log.display()
        );
    }
}
