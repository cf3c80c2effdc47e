//! The whole path under a rising load: signed Jira events POSTed to the release `ingress`
//! binary, produced to a private memory-storage tansu, drained by the release `pipeline` binary
//! into a fresh ClickHouse database. For each step of offered rate it prints what ingress
//! accepted, what reached ClickHouse, the delay from ingress's 202 to the row being queryable,
//! and where the CPU went; then the sustained end-to-end rate, each process's peak RSS and the
//! bottleneck. It asserts nothing, and appends a line to `compose/bench/results.md`.
//!
//! `compose/local bench` runs it (it builds the release ingress first; `INGRESS_BIN` names another
//! binary). It needs the local stack's Postgres and ClickHouse and the tansu binary; about two
//! minutes, all on 127.0.0.1.

use std::{
    collections::HashMap,
    path::PathBuf,
    process::Stdio,
    sync::{
        Arc, Mutex,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use anyhow::Context;
use jira_simulator::{
    ConnectInstallation, EventFixtures, Simulator, SimulatorConfig, connect_qsh,
    in_process::{self, PUBLIC_BASE_URL},
    sign_connect_token,
};
use rand::{SeedableRng, rngs::StdRng};
use secrecy::ExposeSecret;
use service_runtime::{
    connections::ClickHouseConfig,
    kafka_topics::{self, TopicSpec},
};
use sha2::{Digest, Sha256};
use test_kit::{Stack, TestBroker, eventually, free_port, procfs, unique};
use tokio::{process::Child, sync::Semaphore, task::JoinSet};

/// What a fresh stack's raw topic gets: the default `KAFKA_RAW_PARTITIONS`.
const PARTITIONS: i32 = service_runtime::kafka_topics::DEFAULT_RAW_PARTITIONS;
/// Offered events per second, one step after the other.
const STEPS: [u32; 6] = [250, 500, 1_000, 2_000, 4_000, 8_000];
const STEP: Duration = Duration::from_secs(10);
/// How long a step's backlog may take to reach ClickHouse before the next step starts.
const DRAIN_LIMIT: Duration = Duration::from_secs(30);
/// One delivery in this many is followed from its 202 until it is queryable.
const SAMPLE_EVERY: u64 = 20;
/// Requests under way at once; a request that finds no room counts as not sent.
const MAX_IN_FLIGHT: usize = 512;
const EVENT_POOL: usize = 2_000;
/// A step is sustained when ingress accepted this share of what was offered, and what it
/// accepted reached ClickHouse within `DRAIN_SUSTAINED` of the step's end: the backlog stayed
/// bounded (the pipeline's batch window, `BATCH_MAX_WAIT_MS`, is always still on its way).
const SUSTAINED_SHARE: f64 = 0.98;
const DRAIN_SUSTAINED: Duration = Duration::from_secs(5);

fn main() -> anyhow::Result<()> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(run())
}

async fn run() -> anyhow::Result<()> {
    println!(
        "end_to_end: simulator -> release ingress -> private memory tansu ({PARTITIONS} \
         partitions) -> release pipeline -> ClickHouse, offered {STEPS:?} events/s, {STEP:?} each"
    );
    let stack = Stack::from_env();
    let broker = TestBroker::start_in_memory().await;
    let clickhouse = stack.fresh_clickhouse().await;
    let path = PathUnderTest::start(&stack, &broker, &clickhouse).await?;
    let outcome = measure(&path, &broker, &clickhouse).await;
    path.stop().await;
    let _ = clickhouse
        .client()
        .with_database("default")
        .query(&format!("DROP DATABASE IF EXISTS {}", clickhouse.database))
        .execute()
        .await;
    outcome
}

/// The processes under test and the installation the events come from.
struct PathUnderTest {
    ingress: Child,
    ingress_url: String,
    pipeline: Child,
    installation: ConnectInstallation,
}

impl PathUnderTest {
    /// Onboarding (in this process, stopped again once the installation exists) migrates a fresh
    /// Postgres database and takes the simulator's signed install; ingress follows that database.
    async fn start(
        stack: &Stack,
        broker: &TestBroker,
        clickhouse: &ClickHouseConfig,
    ) -> anyhow::Result<Self> {
        let (raw, dead) = (unique("raw"), unique("dead"));
        kafka_topics::ensure(
            &broker.brokers,
            &[
                TopicSpec {
                    name: &raw,
                    partitions: PARTITIONS,
                },
                TopicSpec {
                    name: &dead,
                    partitions: 1,
                },
            ],
        )
        .await?;
        let postgres = stack.fresh_postgres().await;
        let sim = Simulator::start(SimulatorConfig::default()).await?;
        let onboarding = in_process::start_onboarding(&sim, postgres.clone(), |_| {}).await?;

        let port = free_port();
        let ingress_url = format!("http://127.0.0.1:{port}");
        let ingress_admin = format!("127.0.0.1:{}", free_port());
        let ingress = tokio::process::Command::new(ingress_binary())
            .env("INGRESS_ADDR", format!("127.0.0.1:{port}"))
            .env("INGRESS_ADMIN_ADDR", &ingress_admin)
            // The simulator's plain-http keys and the committed SECRETS_KEY.
            .env("DEPLOYMENT", "local")
            .env("KAFKA_BROKERS", &broker.brokers)
            .env("KAFKA_RAW_TOPIC", &raw)
            .env("KAFKA_RAW_PARTITIONS", PARTITIONS.to_string())
            .env("KAFKA_DEAD_LETTER_TOPIC", &dead)
            .env("DATABASE_URL", postgres.url.expose_secret())
            .env("PUBLIC_BASE_URL", PUBLIC_BASE_URL)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("start {}", ingress_binary().display()))?;
        wait_for_ok(&format!("http://{ingress_admin}/readyz")).await;

        let target = jira_simulator::Target::new(onboarding.address.parse()?, ingress_url.parse()?);
        let installation = in_process::install_workspace(&sim, &target)
            .await?
            .installation;
        onboarding.stop().await?;
        sim.shutdown().await;

        let port = free_port();
        let pipeline = tokio::process::Command::new(env!("CARGO_BIN_EXE_pipeline"))
            .env("PIPELINE_ADMIN_ADDR", format!("127.0.0.1:{port}"))
            .env("KAFKA_BROKERS", &broker.brokers)
            .env("KAFKA_RAW_TOPIC", &raw)
            .env("KAFKA_DEAD_LETTER_TOPIC", &dead)
            .env("KAFKA_CONSUMER_GROUP", unique("group"))
            .env("CLICKHOUSE_DATABASE", &clickhouse.database)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .context("start the pipeline binary")?;
        wait_for_ok(&format!("http://127.0.0.1:{port}/readyz")).await;
        Ok(Self {
            ingress,
            ingress_url,
            pipeline,
            installation,
        })
    }

    async fn stop(mut self) {
        let _ = self.ingress.kill().await;
        let _ = self.pipeline.kill().await;
    }
}

/// `INGRESS_BIN`, else the `ingress` beside this benchmark's `pipeline` (both release builds;
/// `compose/local bench` builds it).
fn ingress_binary() -> PathBuf {
    std::env::var_os("INGRESS_BIN").map_or_else(
        || PathBuf::from(env!("CARGO_BIN_EXE_pipeline")).with_file_name("ingress"),
        PathBuf::from,
    )
}

/// What one step of offered load came to.
struct StepResult {
    offered: u32,
    sent: u64,
    accepted: u64,
    refused: HashMap<u16, u64>,
    /// Not sent: every slot was taken (the load generator's limit, or ingress too slow).
    no_room: u64,
    /// Reached ClickHouse between the step's start and end.
    stored_in_step: u64,
    /// Accepted but not yet in ClickHouse when the step ended.
    backlog_at_end: u64,
    drained_after: Option<Duration>,
    delays: Vec<Duration>,
    cpu: CpuShares,
}

impl StepResult {
    fn sustained(&self) -> bool {
        let offered = f64::from(self.offered) * STEP.as_secs_f64();
        self.accepted as f64 >= SUSTAINED_SHARE * offered
            && self
                .drained_after
                .is_some_and(|after| after <= DRAIN_SUSTAINED)
    }
}

/// CPU seconds per wall second during a step (1.0 is one core), by process.
#[derive(Default, Clone, Copy)]
struct CpuShares {
    ingress: f64,
    pipeline: f64,
    broker: f64,
    clickhouse: f64,
    bench: f64,
    machine: f64,
}

struct CpuMeter {
    pids: [Option<u32>; 4],
}

impl CpuMeter {
    fn sample(&self) -> (Instant, [f64; 6]) {
        let of = |pid: Option<u32>| pid.and_then(procfs::cpu_seconds).unwrap_or(0.0);
        (
            Instant::now(),
            [
                of(self.pids[0]),
                of(self.pids[1]),
                of(self.pids[2]),
                of(self.pids[3]),
                procfs::cpu_seconds(std::process::id()).unwrap_or(0.0),
                procfs::machine_busy_seconds().unwrap_or(0.0),
            ],
        )
    }

    fn since(&self, before: &(Instant, [f64; 6])) -> CpuShares {
        let after = self.sample();
        let wall = after.0.duration_since(before.0).as_secs_f64().max(1e-9);
        let share = |index: usize| (after.1[index] - before.1[index]) / wall;
        CpuShares {
            ingress: share(0),
            pipeline: share(1),
            broker: share(2),
            clickhouse: share(3),
            bench: share(4),
            machine: share(5),
        }
    }
}

async fn measure(
    path: &PathUnderTest,
    broker: &TestBroker,
    clickhouse: &ClickHouseConfig,
) -> anyhow::Result<()> {
    let clickhouse_pid = clickhouse_server_pid();
    let meter = CpuMeter {
        pids: [
            path.ingress.id(),
            path.pipeline.id(),
            broker.pid(),
            clickhouse_pid,
        ],
    };
    let bodies = event_bodies()?;
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(MAX_IN_FLIGHT)
        .timeout(Duration::from_secs(10))
        .build()?;
    let store = clickhouse.client();
    let webhook = Webhook::of(&path.installation, &path.ingress_url);
    let mut results = Vec::new();
    // The one probe event that told us ingress knows the installation, once it is stored.
    let mut accepted_total = 1;
    eventually(
        Duration::from_secs(60),
        "the pipeline to store the probe event",
        || async {
            match stored(&store).await {
                Ok(count) if count == accepted_total => Ok(()),
                Ok(count) => Err(format!("{count} events stored")),
                Err(err) => Err(format!("{err:#}")),
            }
        },
    )
    .await;
    for offered in STEPS {
        let stored_before = stored(&store).await?;
        let before = meter.sample();
        let tracker = DelayTracker::start(store.clone());
        let load = offer(&http, &webhook, &bodies, offered, &tracker).await?;
        let cpu = meter.since(&before);
        let stored_at_end = stored(&store).await?;
        accepted_total += load.accepted;
        let backlog_at_end = accepted_total.saturating_sub(stored_at_end);
        let drain_started = Instant::now();
        let mut drained_after = None;
        while drain_started.elapsed() < DRAIN_LIMIT {
            if stored(&store).await? >= accepted_total {
                drained_after = Some(drain_started.elapsed());
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let delays = tracker.finish().await;
        let result = StepResult {
            offered,
            sent: load.sent,
            accepted: load.accepted,
            refused: load.refused,
            no_room: load.no_room,
            stored_in_step: stored_at_end - stored_before,
            backlog_at_end,
            drained_after,
            delays,
            cpu,
        };
        print_step(&result);
        let keep_going = result.sustained();
        results.push(result);
        if !keep_going {
            break;
        }
    }
    let peaks = [
        ("ingress", path.ingress.id()),
        ("pipeline", path.pipeline.id()),
        ("broker (tansu)", broker.pid()),
        ("ClickHouse (since it started)", clickhouse_pid),
    ]
    .map(|(name, pid)| (name, pid.and_then(procfs::peak_rss_kib)));
    summarize(&results, &peaks)
}

/// The Connect webhook the installation posts to, signed as Jira signs it.
struct Webhook {
    url: String,
    path: String,
    query: String,
    installation: ConnectInstallation,
}

impl Webhook {
    fn of(installation: &ConnectInstallation, ingress_url: &str) -> Self {
        let (path, query) = installation
            .webhook_path
            .split_once('?')
            .unwrap_or((&installation.webhook_path, ""));
        Self {
            url: format!("{ingress_url}{}", installation.webhook_path),
            path: path.to_owned(),
            query: query.to_owned(),
            installation: installation.clone(),
        }
    }

    /// A Connect JWT for the route, good for Jira's three minutes: one per step is enough.
    fn token(&self) -> anyhow::Result<String> {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)?
            .as_secs();
        let claims = serde_json::json!({
            "iss": self.installation.client_key,
            "qsh": connect_qsh("POST", &self.path, &self.query, ""),
            "iat": now,
            "exp": now + 180,
        });
        Ok(format!(
            "JWT {}",
            sign_connect_token(&self.installation, &claims)?
        ))
    }
}

#[derive(Default)]
struct Load {
    sent: u64,
    accepted: u64,
    refused: HashMap<u16, u64>,
    no_room: u64,
}

/// Offers `per_sec` events a second for one step, open loop: requests start on schedule whether
/// or not earlier ones have been answered, up to `MAX_IN_FLIGHT` at once.
async fn offer(
    http: &reqwest::Client,
    webhook: &Webhook,
    bodies: &[axum::body::Bytes],
    per_sec: u32,
    tracker: &DelayTracker,
) -> anyhow::Result<Load> {
    let authorization = webhook.token()?;
    let slots = Arc::new(Semaphore::new(MAX_IN_FLIGHT));
    let sequence = AtomicU64::new(0);
    let mut in_flight = JoinSet::new();
    let mut load = Load::default();
    // Requests go out in bursts every 10 ms, as a timer cannot tick 8,000 times a second.
    let bursts = STEP.as_millis() as u64 / 10;
    let mut tick = tokio::time::interval(Duration::from_millis(10));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let mut due = 0.0;
    for _ in 0..bursts {
        tick.tick().await;
        due += f64::from(per_sec) / 100.0;
        while due >= 1.0 {
            due -= 1.0;
            let Ok(slot) = Arc::clone(&slots).try_acquire_owned() else {
                load.no_room += 1;
                continue;
            };
            let n = sequence.fetch_add(1, Ordering::Relaxed);
            let body = unique_body(&bodies[n as usize % bodies.len()]);
            // Ingress knows a Connect delivery by its body's SHA-256, never by a header.
            let identifier = hex::encode(Sha256::digest(&body));
            let request = http
                .post(&webhook.url)
                .header("Authorization", &authorization)
                .header("Content-Type", "application/json")
                .body(body);
            let sampled = n.is_multiple_of(SAMPLE_EVERY).then(|| tracker.clone());
            load.sent += 1;
            in_flight.spawn(async move {
                let status = request
                    .send()
                    .await
                    .map(|response| response.status().as_u16());
                drop(slot);
                if let (Ok(202), Some(tracker)) = (&status, sampled) {
                    tracker.accepted(identifier, Instant::now());
                }
                status.unwrap_or(0)
            });
        }
    }
    while let Some(status) = in_flight.join_next().await {
        match status? {
            200..=299 => load.accepted += 1,
            other => *load.refused.entry(other).or_default() += 1,
        }
    }
    Ok(load)
}

/// Follows sampled deliveries from ingress's 202 until ClickHouse returns them.
#[derive(Clone)]
struct DelayTracker {
    pending: Arc<Mutex<HashMap<String, Instant>>>,
    delays: Arc<Mutex<Vec<Duration>>>,
    stop: tokio_util::sync::CancellationToken,
    poller: Arc<Mutex<Option<tokio::task::JoinHandle<()>>>>,
}

impl DelayTracker {
    fn start(store: clickhouse::Client) -> Self {
        let tracker = Self {
            pending: Arc::default(),
            delays: Arc::default(),
            stop: tokio_util::sync::CancellationToken::new(),
            poller: Arc::default(),
        };
        let polling = tracker.clone();
        let handle = tokio::spawn(async move { polling.poll(store).await });
        *tracker.poller.lock().expect("poller") = Some(handle);
        tracker
    }

    fn accepted(&self, identifier: String, at: Instant) {
        self.pending.lock().expect("pending").insert(identifier, at);
    }

    /// Every 50 ms, asks ClickHouse which pending deliveries it now returns; the delay is
    /// measured to the answer, so it includes up to one polling interval.
    async fn poll(&self, store: clickhouse::Client) {
        loop {
            let ids: Vec<String> = self
                .pending
                .lock()
                .expect("pending")
                .keys()
                .take(2_000)
                .cloned()
                .collect();
            if !ids.is_empty()
                && let Ok(found) = store
                    .query("SELECT delivery_id FROM events WHERE has(?, delivery_id)")
                    .bind(&ids)
                    .fetch_all::<String>()
                    .await
            {
                let now = Instant::now();
                let mut pending = self.pending.lock().expect("pending");
                let mut delays = self.delays.lock().expect("delays");
                for id in found {
                    if let Some(accepted_at) = pending.remove(&id) {
                        delays.push(now.duration_since(accepted_at));
                    }
                }
            }
            if self.stop.is_cancelled() && self.pending.lock().expect("pending").is_empty() {
                return;
            }
            tokio::select! {
                () = tokio::time::sleep(Duration::from_millis(50)) => {}
                () = self.stop.cancelled(), if !self.stop.is_cancelled() => {}
            }
        }
    }

    /// Waits (bounded by the drain) for the sampled deliveries still pending.
    async fn finish(self) -> Vec<Duration> {
        self.stop.cancel();
        let handle = self.poller.lock().expect("poller").take();
        if let Some(handle) = handle {
            let _ = tokio::time::timeout(Duration::from_secs(5), handle).await;
        }
        let mut delays = std::mem::take(&mut *self.delays.lock().expect("delays"));
        delays.sort();
        delays
    }
}

async fn stored(store: &clickhouse::Client) -> anyhow::Result<u64> {
    Ok(store
        .query("SELECT toUInt64(count()) FROM events")
        .fetch_one::<u64>()
        .await?)
}

fn event_bodies() -> anyhow::Result<Vec<axum::body::Bytes>> {
    let fixtures = EventFixtures::load(&EventFixtures::default_dir())?;
    let mut rng = StdRng::seed_from_u64(42);
    (0..EVENT_POOL)
        .map(|_| Ok(serde_json::to_vec(&fixtures.generate(&mut rng))?.into()))
        .collect()
}

/// A pool body made a delivery of its own: ingress stores one copy of each distinct body, so
/// every request carries a fresh field (the normalizer keeps unknown fields in the payload).
fn unique_body(pooled: &[u8]) -> axum::body::Bytes {
    let end = pooled
        .iter()
        .rposition(|byte| *byte == b'}')
        .expect("a pool body is a JSON object");
    let mut body = Vec::with_capacity(pooled.len() + 64);
    body.extend_from_slice(&pooled[..end]);
    body.extend_from_slice(format!(",\"benchDelivery\":\"{}\"}}", uuid::Uuid::new_v4()).as_bytes());
    body.into()
}

fn percentile(sorted: &[Duration], share: f64) -> Option<Duration> {
    if sorted.is_empty() {
        return None;
    }
    let index = ((sorted.len() as f64 * share).ceil() as usize).clamp(1, sorted.len()) - 1;
    Some(sorted[index])
}

fn millis(delay: Option<Duration>) -> String {
    delay.map_or("-".to_owned(), |delay| format!("{}", delay.as_millis()))
}

fn print_step(step: &StepResult) {
    let secs = STEP.as_secs_f64();
    let refused: Vec<String> = step
        .refused
        .iter()
        .map(|(status, count)| {
            if *status == 0 {
                format!("{count} unanswered")
            } else {
                format!("{count}x{status}")
            }
        })
        .collect();
    println!(
        "  offered {:>5}/s: sent {:>6}, accepted {:>7.0}/s{}{}, stored in step {:>7.0}/s, \
         backlog at end {:>6}, drained {:>6}; 202->queryable p50 {} ms p99 {} ms ({} samples); \
         CPU cores: ingress {:.2} pipeline {:.2} broker {:.2} ClickHouse {:.2} load {:.2} \
         machine {:.2}",
        step.offered,
        step.sent,
        step.accepted as f64 / secs,
        if refused.is_empty() {
            String::new()
        } else {
            format!(" (refused: {})", refused.join(", "))
        },
        if step.no_room > 0 {
            format!(" ({} not sent: {MAX_IN_FLIGHT} under way)", step.no_room)
        } else {
            String::new()
        },
        step.stored_in_step as f64 / secs,
        step.backlog_at_end,
        step.drained_after.map_or("no".to_owned(), |after| format!(
            "{:.1}s",
            after.as_secs_f64()
        )),
        millis(percentile(&step.delays, 0.5)),
        millis(percentile(&step.delays, 0.99)),
        step.delays.len(),
        step.cpu.ingress,
        step.cpu.pipeline,
        step.cpu.broker,
        step.cpu.clickhouse,
        step.cpu.bench,
        step.cpu.machine,
    );
}

/// Where the first step that was not sustained got stuck, judged by who fell behind and who was
/// busiest: ingress and the broker take the request, the pipeline and ClickHouse the backlog.
fn bottleneck(step: &StepResult) -> String {
    let cpu = step.cpu;
    let offered = f64::from(step.offered) * STEP.as_secs_f64();
    if (step.accepted as f64) < SUSTAINED_SHARE * offered {
        if step.refused.contains_key(&503) {
            return "the broker (ingress answered 503: produce timed out)".to_owned();
        }
        let ours = cpu.ingress + cpu.pipeline + cpu.broker + cpu.clickhouse + cpu.bench;
        if cpu.machine > 1.8 && ours < 0.6 * cpu.machine {
            return format!(
                "the machine: its cores were busy ({:.2}), mostly with other work (the path and \
                 the load generator used {ours:.2})",
                cpu.machine
            );
        }
        if cpu.machine > 1.8 && cpu.bench > cpu.ingress {
            return format!(
                "the machine: its cores were busy ({:.2}), the load generator using more than \
                 ingress",
                cpu.machine
            );
        }
        return if cpu.ingress >= cpu.broker {
            format!("ingress (answers fell behind; {:.2} cores)", cpu.ingress)
        } else {
            format!(
                "the broker behind ingress ({:.2} cores against ingress's {:.2})",
                cpu.broker, cpu.ingress
            )
        };
    }
    if cpu.pipeline >= cpu.clickhouse {
        format!(
            "the pipeline (the backlog grew; {:.2} cores against ClickHouse's {:.2})",
            cpu.pipeline, cpu.clickhouse
        )
    } else {
        format!(
            "ClickHouse (the backlog grew; {:.2} cores against the pipeline's {:.2})",
            cpu.clickhouse, cpu.pipeline
        )
    }
}

fn summarize(results: &[StepResult], peaks: &[(&str, Option<u64>); 4]) -> anyhow::Result<()> {
    let sustained = results.iter().rev().find(|step| step.sustained());
    let first_unsustained = results.iter().find(|step| !step.sustained());
    let rate = sustained.map_or(0.0, |step| step.accepted as f64 / STEP.as_secs_f64());
    let (p50, p99) = sustained.map_or((None, None), |step| {
        (
            percentile(&step.delays, 0.5),
            percentile(&step.delays, 0.99),
        )
    });
    let bottleneck = first_unsustained.map_or_else(
        || {
            format!(
                "none reached: {} events/s offered was sustained",
                STEPS[STEPS.len() - 1]
            )
        },
        bottleneck,
    );
    println!(
        "sustained end to end: {rate:.0} events/s; 202->queryable there p50 {} ms, p99 {} ms",
        millis(p50),
        millis(p99)
    );
    for (name, kib) in peaks {
        println!(
            "peak RSS {name}: {}",
            kib.map_or("?".to_owned(), |kib| format!(
                "{:.0} MiB",
                kib as f64 / 1024.0
            ))
        );
    }
    println!("bottleneck: {bottleneck}");
    record(rate, p50, p99, peaks, &bottleneck)
}

/// Appends the run to `compose/bench/results.md`, so progress shows over time.
fn record(
    rate: f64,
    p50: Option<Duration>,
    p99: Option<Duration>,
    peaks: &[(&str, Option<u64>); 4],
    bottleneck: &str,
) -> anyhow::Result<()> {
    let file = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../compose/bench/results.md");
    let commit = std::process::Command::new("git")
        .args(["rev-parse", "--short", "HEAD"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .ok()
        .and_then(|output| String::from_utf8(output.stdout).ok())
        .map_or("?".to_owned(), |commit| commit.trim().to_owned());
    let mib = |kib: Option<u64>| kib.map_or("?".to_owned(), |kib| format!("{}", kib / 1024));
    let line = format!(
        "| {} | {commit} | {rate:.0} | {} | {} | {} | {} | {} | {bottleneck} |\n",
        chrono::Utc::now().format("%Y-%m-%d %H:%M"),
        millis(p50),
        millis(p99),
        mib(peaks[0].1),
        mib(peaks[1].1),
        mib(peaks[2].1),
    );
    use std::io::Write as _;
    let mut results = std::fs::OpenOptions::new()
        .append(true)
        .open(&file)
        .with_context(|| format!("append to {}", file.display()))?;
    results.write_all(line.as_bytes())?;
    println!("recorded in {}", file.display());
    Ok(())
}

/// The stack's ClickHouse server, from the pid file `compose/local` keeps.
fn clickhouse_server_pid() -> Option<u32> {
    let stack_dir = std::env::var_os("METAFRAZO_STACK_DIR").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../.stack"),
        PathBuf::from,
    );
    std::fs::read_to_string(stack_dir.join("run/clickhouse.pid"))
        .ok()?
        .trim()
        .parse()
        .ok()
}

async fn wait_for_ok(url: &str) {
    eventually(
        Duration::from_secs(60),
        &format!("{url} to answer 200"),
        || async {
            match reqwest::get(url).await {
                Ok(response) if response.status().is_success() => Ok(()),
                Ok(response) => Err(response.status().to_string()),
                Err(err) => Err(err.to_string()),
            }
        },
    )
    .await;
}
