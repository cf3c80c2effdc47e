//! The whole path under a rising load, ours and a bare one taking turns on the same machine:
//! signed Jira events POSTed to the release `ingress` binary, produced to a private
//! memory-storage tansu, drained by the release `pipeline` binary into a fresh ClickHouse
//! database; and the same events through the bare path (`bare.rs`: a handler that only
//! produces, a consumer that only normalizes and inserts) into another database with the same
//! tables. At each offered rate the bare path goes first, then ours, from the same load
//! generator. For each step it prints what ingress accepted, what reached ClickHouse, the delay
//! from the 202 to the row being queryable, and each process's CPU (the generator's too); then
//! each path's sustained rate, ours as a share of the bare one's, peak RSS and what held each
//! back. It asserts nothing, and appends a line to `compose/bench/results.md`.
//!
//! `compose/local bench` runs it (it builds the release ingress first; `INGRESS_BIN` names another
//! binary). It needs the local stack's Postgres and ClickHouse and the tansu binary; about five
//! minutes, all on 127.0.0.1.

mod bare;
mod load;
mod report;

use std::{path::PathBuf, process::Stdio, time::Duration};

use anyhow::Context;
use contracts::InstallationId;
use jira_simulator::{
    ConnectInstallation, DeliveryOptions, FORGE_EVENTS_PATH, ForgeInstallation, Simulator,
    SimulatorConfig,
    in_process::{self, PUBLIC_BASE_URL},
};
use secrecy::ExposeSecret;
use service_runtime::{connections::ClickHouseConfig, kafka_topics::TopicsConfig};
use test_kit::{Stack, TestBroker, eventually, free_port, fresh_topics, procfs, unique};
use tokio::process::Child;

use crate::{
    load::{DelayTracker, ForgeRequests, Requests, Webhook},
    report::{CpuMeter, PathSummary, StepResult},
};

/// What a fresh stack's raw topic gets: the default `KAFKA_RAW_PARTITIONS`.
const PARTITIONS: i32 = service_runtime::kafka_topics::DEFAULT_RAW_PARTITIONS;
/// Offered events per second, one step after the other.
const STEPS: [u32; 8] = [1_000, 2_000, 4_000, 6_000, 8_000, 10_000, 12_000, 16_000];
const STEP: Duration = Duration::from_secs(10);
/// How long a step's backlog may take to reach ClickHouse before the next step starts.
const DRAIN_LIMIT: Duration = Duration::from_secs(30);
/// A step is sustained when ingress accepted this share of what was offered, the backlog at
/// the step's end was no more than `BACKLOG_SUSTAINED` of the offered rate (the consumer's
/// one-second batch window, `BATCH_MAX_WAIT_MS`, and an insert), and it all reached ClickHouse
/// within `DRAIN_SUSTAINED` of the step's end. A backlog that grew through the step is a rate
/// not kept up with, however quickly it drains once the load stops.
const SUSTAINED_SHARE: f64 = 0.98;
const BACKLOG_SUSTAINED: Duration = Duration::from_millis(1_500);
const DRAIN_SUSTAINED: Duration = Duration::from_secs(5);

fn main() -> anyhow::Result<()> {
    if let Ok(role) = std::env::var(bare::ROLE) {
        return bare::run(&role);
    }
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(run())
}

async fn run() -> anyhow::Result<()> {
    println!(
        "end_to_end: load -> ingress -> private memory tansu ({PARTITIONS} partitions) -> \
         consumer -> ClickHouse, ours and the bare path in turn, offered {STEPS:?} events/s, \
         {STEP:?} each"
    );
    let stack = Stack::from_env();
    let broker = TestBroker::start_in_memory().await;
    let (ours_db, bare_db) = (
        stack.fresh_clickhouse().await,
        stack.fresh_clickhouse().await,
    );
    // Jira for the whole run: it signs each Forge delivery's token and serves the keys.
    let sim = Simulator::start(SimulatorConfig::default()).await?;
    let (ours, installations) = Lane::start_ours(&stack, &broker, &ours_db, &sim).await?;
    let bare = Lane::start_bare(&broker, &bare_db, &installations.connect).await?;
    let outcome = measure([bare, ours], &broker, &sim, &installations).await;
    sim.shutdown().await;
    for database in [&ours_db, &bare_db] {
        let _ = database
            .client()
            .with_database("default")
            .query(&format!("DROP DATABASE IF EXISTS {}", database.database))
            .execute()
            .await;
    }
    outcome
}

/// One path under test: its two processes, where the load goes, and where its rows land.
struct Lane {
    name: &'static str,
    ingress: Child,
    consumer: Child,
    /// Connect's webhook route on this path's ingress.
    url: String,
    /// Forge's event route on this path's ingress.
    forge_url: String,
    store: clickhouse::Client,
    /// Accepted so far, in every step and before them.
    accepted: u64,
    /// It could not sustain a step: it is offered no more.
    done: bool,
}

impl Lane {
    /// Onboarding (in this process, stopped again once the installation exists) migrates a fresh
    /// Postgres database and takes the simulator's signed install; ingress follows that database.
    async fn start_ours(
        stack: &Stack,
        broker: &TestBroker,
        clickhouse: &ClickHouseConfig,
        sim: &Simulator,
    ) -> anyhow::Result<(Self, Installations)> {
        let TopicsConfig {
            raw,
            dead_letter: dead,
            ..
        } = fresh_topics(&broker.brokers, PARTITIONS).await;
        let postgres = stack.fresh_postgres().await;
        let jwks = sim
            .jwks_url()
            .context("the simulator serves no Forge keys")?;
        let onboarding = in_process::start_onboarding(sim, postgres.clone(), |config| {
            config.atlassian.forge.jwks_url = jwks.clone();
        })
        .await?;

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
            .env("FORGE_JWKS_URL", jwks.as_str())
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("start {}", ingress_binary().display()))?;
        wait_for_ok(&format!("http://{ingress_admin}/readyz")).await;

        let target = jira_simulator::Target::new(onboarding.address.parse()?, ingress_url.parse()?);
        let installation = in_process::install_workspace(sim, &target)
            .await?
            .installation;
        let forge = install_forge(sim, &target).await?;
        onboarding.stop().await?;

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
        let lane = Self {
            name: "ours",
            ingress,
            consumer: pipeline,
            url: Webhook::of(&installation).url(&ingress_url),
            forge_url: format!("{ingress_url}{FORGE_EVENTS_PATH}"),
            store: clickhouse.client(),
            // The probes that told us ingress knows each installation.
            accepted: 2,
            done: false,
        };
        let installations = Installations {
            connect: installation,
            forge,
        };
        Ok((lane, installations))
    }

    /// The bare path's two halves: this benchmark binary again, under `BARE_ROLE`.
    async fn start_bare(
        broker: &TestBroker,
        clickhouse: &ClickHouseConfig,
        installation: &ConnectInstallation,
    ) -> anyhow::Result<Self> {
        warehouse::migrate(clickhouse).await?;
        let raw = fresh_topics(&broker.brokers, PARTITIONS).await.raw;
        let addr = format!("127.0.0.1:{}", free_port());
        let half = |role: &str| {
            let mut command = tokio::process::Command::new(std::env::current_exe()?);
            command
                .env(bare::ROLE, role)
                .env("KAFKA_BROKERS", &broker.brokers)
                .env("KAFKA_RAW_TOPIC", &raw)
                .stdout(Stdio::null())
                .stderr(Stdio::inherit())
                .kill_on_drop(true);
            anyhow::Ok(command)
        };
        let ingress = half(bare::INGRESS)?
            .env("BARE_ADDR", &addr)
            .env(
                "BARE_INSTALLATION_ID",
                InstallationId::new_random().to_string(),
            )
            .spawn()
            .context("start the bare ingress")?;
        let consumer = half(bare::CONSUMER)?
            .env("KAFKA_CONSUMER_GROUP", unique("bare"))
            .env("CLICKHOUSE_URL", &clickhouse.url)
            .env("CLICKHOUSE_DATABASE", &clickhouse.database)
            .env("CLICKHOUSE_USER", &clickhouse.user)
            .env("CLICKHOUSE_PASSWORD", clickhouse.password.expose_secret())
            .spawn()
            .context("start the bare consumer")?;
        let base = format!("http://{addr}");
        let url = Webhook::of(installation).url(&base);
        eventually(
            Duration::from_secs(30),
            "the bare ingress to listen",
            || async {
                tokio::net::TcpStream::connect(&addr)
                    .await
                    .map(drop)
                    .map_err(|err| err.to_string())
            },
        )
        .await;
        Ok(Self {
            name: "bare",
            ingress,
            consumer,
            url,
            forge_url: format!("{base}{FORGE_EVENTS_PATH}"),
            store: clickhouse.client(),
            accepted: 0,
            done: false,
        })
    }

    fn meter(&self, broker: &TestBroker, clickhouse_pid: Option<u32>) -> CpuMeter {
        CpuMeter {
            pids: [
                self.ingress.id(),
                self.consumer.id(),
                broker.pid(),
                clickhouse_pid,
            ],
        }
    }

    /// Offers one step of load, then waits (bounded) for the backlog to reach ClickHouse.
    async fn step(
        &mut self,
        offered: u32,
        http: &reqwest::Client,
        authorization: &str,
        bodies: &Bodies,
        fits: Vec<String>,
        meter: &CpuMeter,
    ) -> anyhow::Result<StepResult> {
        let connect = Requests {
            url: &self.url,
            authorization: authorization.to_owned(),
            bodies: &bodies.connect,
        };
        let mut forge = ForgeRequests {
            requests: Requests {
                url: &self.forge_url,
                authorization: String::new(),
                bodies: &bodies.forge,
            },
            tokens: fits.into_iter(),
        };
        let stored_before = stored(&self.store).await?;
        let before = meter.sample();
        let tracker = DelayTracker::start(self.store.clone());
        let load = load::offer(http, &connect, &mut forge, offered, &tracker).await?;
        let cpu = meter.since(&before);
        let stored_at_end = stored(&self.store).await?;
        self.accepted += load.accepted;
        let drain_started = std::time::Instant::now();
        let mut drained_after = None;
        while drain_started.elapsed() < DRAIN_LIMIT {
            if stored(&self.store).await? >= self.accepted {
                drained_after = Some(drain_started.elapsed());
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Ok(StepResult {
            path: self.name,
            offered,
            accepted: load.accepted,
            refused: load.refused,
            no_room: load.no_room,
            stored_in_step: stored_at_end - stored_before,
            backlog_at_end: self.accepted.saturating_sub(stored_at_end),
            drained_after,
            delays: tracker.finish().await,
            cpu,
        })
    }

    async fn stop(mut self) {
        let _ = self.ingress.kill().await;
        let _ = self.consumer.kill().await;
    }
}

/// The installations the load comes from: one Connect, one Forge.
struct Installations {
    connect: ConnectInstallation,
    forge: ForgeInstallation,
}

/// The pools the load draws its bodies from.
struct Bodies {
    connect: Vec<load::PoolBody>,
    forge: Vec<load::PoolBody>,
}

/// Installs a Forge app through onboarding's lifecycle endpoint, as Forge does, then sends
/// probes until ingress accepts one (it learns of installations in the background).
async fn install_forge(
    sim: &Simulator,
    target: &jira_simulator::Target,
) -> anyhow::Result<ForgeInstallation> {
    let installation = sim.new_forge_installation();
    sim.install_forge(target, &installation, "admin@bench.test")
        .await?;
    let once = DeliveryOptions {
        max_retries: 0,
        ..DeliveryOptions::default()
    };
    eventually(
        Duration::from_secs(30),
        "ingress to accept the Forge installation's events",
        || async {
            let probe = serde_json::json!({"eventType": "metafrazo:probe", "timestamp": "0"});
            match sim
                .send_forge_event(target, &installation, &probe, once.clone())
                .await
            {
                Ok(delivery) if delivery.is_accepted() => Ok(()),
                Ok(delivery) => Err(format!("{:?}", delivery.statuses())),
                Err(err) => Err(err.to_string()),
            }
        },
    )
    .await;
    Ok(installation)
}

/// At most this many Forge tokens a step: RS256 takes the simulator about 2 ms a token, and the
/// first must still be good (25 s) when the step's last Forge delivery goes. Past it, Connect
/// deliveries take the Forge turns, so Forge's share falls at the highest rates.
const MAX_FITS_PER_STEP: u64 = 4_000;

/// One FIT for each Forge delivery of a step, minted before it (`fresh`), or one repeated.
fn mint_fits(
    sim: &Simulator,
    installation: &ForgeInstallation,
    offered: u32,
    fresh: bool,
) -> anyhow::Result<Vec<String>> {
    let count = (u64::from(offered) * STEP.as_secs() / load::FORGE_EVERY).min(MAX_FITS_PER_STEP);
    let mint = || -> anyhow::Result<String> {
        Ok(format!(
            "Bearer {}",
            sim.mint_fit(installation, &serde_json::json!({}))?
        ))
    };
    if !fresh {
        return Ok(vec![mint()?; count as usize]);
    }
    let started = std::time::Instant::now();
    let fits = (0..count)
        .map(|_| mint())
        .collect::<anyhow::Result<Vec<_>>>()?;
    println!(
        "  ({count} Forge tokens minted in {:.1} s, before the step)",
        started.elapsed().as_secs_f64()
    );
    Ok(fits)
}

/// Each rate is offered to the bare path, then to ours, until neither sustains it.
async fn measure(
    mut lanes: [Lane; 2],
    broker: &TestBroker,
    sim: &Simulator,
    installations: &Installations,
) -> anyhow::Result<()> {
    let installation = &installations.connect;
    let clickhouse_pid = clickhouse_server_pid();
    let bodies = Bodies {
        connect: load::event_bodies(false)?,
        forge: load::event_bodies(true)?,
    };
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(load::MAX_IN_FLIGHT)
        .timeout(Duration::from_secs(10))
        .build()?;
    let webhook = Webhook::of(installation);
    for lane in &lanes {
        let expected = lane.accepted;
        eventually(
            Duration::from_secs(60),
            &format!("the {} path to be ready to store", lane.name),
            || async {
                match stored(&lane.store).await {
                    Ok(count) if count == expected => Ok(()),
                    Ok(count) => Err(format!("{count} events stored")),
                    Err(err) => Err(format!("{err:#}")),
                }
            },
        )
        .await;
    }
    let mut results: Vec<StepResult> = Vec::new();
    for offered in STEPS {
        let authorization = webhook.token()?;
        let mut pair = Vec::new();
        for lane in lanes.iter_mut().filter(|lane| !lane.done) {
            let meter = lane.meter(broker, clickhouse_pid);
            // The bare path checks no token: one, repeated, costs the generator the same.
            let fresh = lane.name == "ours";
            let fits = tokio::task::block_in_place(|| {
                mint_fits(sim, &installations.forge, offered, fresh)
            })?;
            let result = lane
                .step(offered, &http, &authorization, &bodies, fits, &meter)
                .await?;
            report::print_step(&result);
            lane.done = !result.sustained();
            pair.push(result);
        }
        if let [bare, ours] = pair.as_slice() {
            report::print_pair(ours, bare);
        }
        results.extend(pair);
        if lanes.iter().all(|lane| lane.done) {
            break;
        }
    }
    let top = STEPS[STEPS.len() - 1];
    let ours = PathSummary::of(&results, "ours", top);
    let bare = PathSummary::of(&results, "bare", top);
    let [bare_lane, ours_lane] = lanes;
    let rss = |child: &Child| child.id().and_then(procfs::peak_rss_kib);
    let peaks = [
        ("ingress", rss(&ours_lane.ingress)),
        ("pipeline", rss(&ours_lane.consumer)),
        ("bare ingress", rss(&bare_lane.ingress)),
        ("bare consumer", rss(&bare_lane.consumer)),
        (
            "broker (tansu)",
            broker.pid().and_then(procfs::peak_rss_kib),
        ),
        (
            "ClickHouse (since it started)",
            clickhouse_pid.and_then(procfs::peak_rss_kib),
        ),
    ];
    report::print_summary(&ours, &bare, &peaks);
    report::record(&ours, &bare, peaks[0].1, peaks[1].1)?;
    ours_lane.stop().await;
    bare_lane.stop().await;
    Ok(())
}

async fn stored(store: &clickhouse::Client) -> anyhow::Result<u64> {
    Ok(store
        .query("SELECT toUInt64(count()) FROM events")
        .fetch_one::<u64>()
        .await?)
}

/// `INGRESS_BIN`, else the `ingress` beside this benchmark's `pipeline` (both release builds;
/// `compose/local bench` builds it).
fn ingress_binary() -> PathBuf {
    std::env::var_os("INGRESS_BIN").map_or_else(
        || PathBuf::from(env!("CARGO_BIN_EXE_pipeline")).with_file_name("ingress"),
        PathBuf::from,
    )
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
