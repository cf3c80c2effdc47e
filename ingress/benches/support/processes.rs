//! The processes the benchmark starts besides itself (a private tansu broker that keeps
//! everything in memory, and the real ingress binary), and what /proc says about their CPU time
//! and memory.

use std::{
    path::{Path, PathBuf},
    process::Stdio,
    time::{Duration, Instant},
};

use anyhow::Context;
use test_kit::{eventually, free_port, procfs, unique};
use tokio::process::{Child, Command};

/// How long a started process may take to listen (or to report ready).
const START_LIMIT: Duration = Duration::from_secs(30);

/// What the ingress child is pointed at.
pub(crate) struct IngressEnv<'a> {
    pub(crate) brokers: &'a str,
    pub(crate) database_url: &'a str,
    pub(crate) raw_topic: &'a str,
    pub(crate) dead_letter_topic: &'a str,
    pub(crate) public_base_url: &'a str,
}

/// The release `ingress` binary, configured as in production: by environment variables (in
/// local mode, for the simulator's keys).
pub(crate) struct Ingress {
    /// `http://127.0.0.1:<port>`
    pub(crate) url: String,
    /// Its stderr (warnings and errors only), kept for a look after the run.
    pub(crate) log: PathBuf,
    child: Child,
}

impl Ingress {
    pub(crate) async fn start(env: &IngressEnv<'_>) -> anyhow::Result<Self> {
        let port = free_port();
        let admin = format!("127.0.0.1:{}", free_port());
        let log = std::env::temp_dir().join(format!("{}.log", unique("bench-ingress")));
        let stderr = std::fs::File::create(&log).context("create the ingress log")?;
        let child = Command::new(env!("CARGO_BIN_EXE_ingress"))
            .env("INGRESS_ADDR", format!("127.0.0.1:{port}"))
            .env("INGRESS_ADMIN_ADDR", &admin)
            // The simulator's plain-http keys and the committed SECRETS_KEY.
            .env("DEPLOYMENT", "local")
            .env("KAFKA_BROKERS", env.brokers)
            .env("KAFKA_RAW_TOPIC", env.raw_topic)
            .env("KAFKA_DEAD_LETTER_TOPIC", env.dead_letter_topic)
            .env("DATABASE_URL", env.database_url)
            .env("PUBLIC_BASE_URL", env.public_base_url)
            .env("RUST_LOG", "warn")
            // As many connections as the open loop may hold, as the baseline serves: at the
            // default cap (512) the rest waited in the kernel's queue, and at a fixed 10k/s
            // ingress took 6.3k/s where with this it takes all of them.
            .env("MAX_CONNECTIONS", super::load::MAX_IN_FLIGHT.to_string())
            .stdout(Stdio::null())
            .stderr(stderr)
            .kill_on_drop(true)
            .spawn()
            .context("start the ingress binary")?;
        let url = format!("http://127.0.0.1:{port}");
        let readyz = format!("http://{admin}/readyz");
        eventually(
            START_LIMIT,
            &format!("ingress to report ready (its log: {})", log.display()),
            || async {
                match reqwest::get(&readyz).await {
                    Ok(response) if response.status().is_success() => Ok(()),
                    Ok(response) => Err(response.status().to_string()),
                    Err(err) => Err(err.to_string()),
                }
            },
        )
        .await;
        Ok(Self { url, log, child })
    }

    pub(crate) fn pid(&self) -> Option<u32> {
        self.child.id()
    }

    pub(crate) async fn stop(mut self) {
        let _ = self.child.kill().await;
    }
}

/// Where the CPU went: the ingress child, the broker, this process split into the baseline
/// server (its runtime's threads and librdkafka's, named `baseline` and `rdk:`) and the rest,
/// the load generator; and whatever else ran on the machine meanwhile.
pub(crate) struct CpuMeter {
    ingress: u32,
    broker: u32,
}

#[derive(Clone, Copy)]
pub(crate) struct CpuSample {
    at: Instant,
    ingress: f64,
    broker: f64,
    baseline: f64,
    bench: f64,
    machine: f64,
}

/// CPU seconds spent over one or more intervals, by whom.
#[derive(Clone, Copy, Default)]
pub(crate) struct CpuSpent {
    /// The intervals' wall-clock length.
    pub(crate) wall: f64,
    pub(crate) ingress: f64,
    pub(crate) baseline: f64,
    pub(crate) broker: f64,
    pub(crate) generator: f64,
    /// Every other process on the machine (and the hypervisor's steal).
    pub(crate) others: f64,
}

impl CpuSpent {
    pub(crate) fn add(&mut self, other: &Self) {
        self.wall += other.wall;
        self.ingress += other.ingress;
        self.baseline += other.baseline;
        self.broker += other.broker;
        self.generator += other.generator;
        self.others += other.others;
    }

    /// Cores busy on average (2.0 is the whole of a 2-core machine) for `seconds` of CPU.
    pub(crate) fn cores(&self, seconds: f64) -> f64 {
        seconds / self.wall.max(f64::EPSILON)
    }
}

impl CpuMeter {
    pub(crate) fn new(ingress: u32, broker: u32) -> Self {
        Self { ingress, broker }
    }

    pub(crate) fn sample(&self) -> CpuSample {
        let process = |pid: u32| procfs::cpu_seconds(pid).unwrap_or(0.0);
        CpuSample {
            at: Instant::now(),
            ingress: process(self.ingress),
            broker: process(self.broker),
            baseline: baseline_threads_cpu(),
            bench: procfs::cpu_seconds_in(Path::new("/proc/self/stat")).unwrap_or(0.0),
            machine: procfs::machine_busy_seconds().unwrap_or(0.0),
        }
    }

    pub(crate) fn since(&self, before: &CpuSample) -> CpuSpent {
        let now = self.sample();
        let ingress = now.ingress - before.ingress;
        let broker = now.broker - before.broker;
        let bench = now.bench - before.bench;
        let baseline = now.baseline - before.baseline;
        let others = now.machine - before.machine - ingress - broker - bench;
        CpuSpent {
            wall: now.at.duration_since(before.at).as_secs_f64(),
            ingress,
            baseline,
            broker,
            generator: bench - baseline,
            others: others.max(0.0),
        }
    }
}

fn baseline_threads_cpu() -> f64 {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return 0.0;
    };
    tasks
        .filter_map(Result::ok)
        .filter(|task| {
            std::fs::read_to_string(task.path().join("comm"))
                .is_ok_and(|name| name.starts_with("baseline") || name.starts_with("rdk:"))
        })
        .filter_map(|task| procfs::cpu_seconds_in(&task.path().join("stat")))
        .sum()
}
