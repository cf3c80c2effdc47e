//! What a step came to, where the CPU went, which part held the path back, and the line the
//! run appends to `compose/bench/results.md`.

use std::{collections::HashMap, path::PathBuf, time::Duration};

use anyhow::Context;
use test_kit::procfs;

use crate::{BACKLOG_SUSTAINED, DRAIN_SUSTAINED, STEP, SUSTAINED_SHARE, load::MAX_IN_FLIGHT};

/// The target for the delay from the 202 to the row being queryable, at p99.
const LATENCY_TARGET: Duration = Duration::from_secs(2);

/// What one step of offered load came to, on one path.
pub(crate) struct StepResult {
    pub(crate) path: &'static str,
    pub(crate) offered: u32,
    pub(crate) accepted: u64,
    pub(crate) refused: HashMap<u16, u64>,
    /// Not sent: every slot was taken (the load generator's limit, or ingress too slow).
    pub(crate) no_room: u64,
    /// Reached ClickHouse between the step's start and end.
    pub(crate) stored_in_step: u64,
    /// Accepted but not yet in ClickHouse when the step ended.
    pub(crate) backlog_at_end: u64,
    pub(crate) drained_after: Option<Duration>,
    pub(crate) delays: Vec<Duration>,
    pub(crate) cpu: CpuShares,
}

impl StepResult {
    /// Ingress took what was offered.
    fn kept_up_in_front(&self) -> bool {
        self.accepted as f64 >= SUSTAINED_SHARE * f64::from(self.offered) * STEP.as_secs_f64()
    }

    /// ClickHouse kept pace with ingress: at the step's end no more than `BACKLOG_SUSTAINED`
    /// of the offered rate was still on its way (the consumer's batch window always is), and
    /// it was all stored soon after.
    fn kept_up_behind(&self) -> bool {
        self.backlog_at_end as f64 <= BACKLOG_SUSTAINED.as_secs_f64() * f64::from(self.offered)
            && self
                .drained_after
                .is_some_and(|after| after <= DRAIN_SUSTAINED)
    }

    pub(crate) fn sustained(&self) -> bool {
        self.kept_up_in_front() && self.kept_up_behind()
    }

    pub(crate) fn accepted_per_sec(&self) -> f64 {
        self.accepted as f64 / STEP.as_secs_f64()
    }

    pub(crate) fn p50(&self) -> Option<Duration> {
        percentile(&self.delays, 0.5)
    }

    pub(crate) fn p99(&self) -> Option<Duration> {
        percentile(&self.delays, 0.99)
    }
}

/// CPU seconds per wall second during a step (1.0 is one core), by process.
#[derive(Default, Clone, Copy)]
pub(crate) struct CpuShares {
    pub(crate) ingress: f64,
    pub(crate) consumer: f64,
    pub(crate) broker: f64,
    pub(crate) clickhouse: f64,
    /// This benchmark's process: the load generator and the delay tracker.
    pub(crate) load: f64,
    pub(crate) machine: f64,
    /// How long the step took, from its first request to its last answer.
    pub(crate) wall: Duration,
}

impl CpuShares {
    /// Every process we read, busiest first.
    fn by_process(&self, path: &str) -> Vec<(String, f64)> {
        let consumer = if path == "bare" {
            "bare consumer"
        } else {
            "pipeline"
        };
        let mut shares = vec![
            (format!("{path} ingress"), self.ingress),
            (consumer.to_owned(), self.consumer),
            ("broker".to_owned(), self.broker),
            ("ClickHouse".to_owned(), self.clickhouse),
            ("load generator".to_owned(), self.load),
        ];
        shares.sort_by(|a, b| b.1.total_cmp(&a.1));
        shares
    }
}

/// Reads the CPU time of one path's processes, the benchmark's own and the machine's.
pub(crate) struct CpuMeter {
    /// Ingress, consumer, broker, ClickHouse.
    pub(crate) pids: [Option<u32>; 4],
}

pub(crate) struct CpuSample {
    at: std::time::Instant,
    seconds: [f64; 6],
}

impl CpuMeter {
    pub(crate) fn sample(&self) -> CpuSample {
        let of = |pid: Option<u32>| pid.and_then(procfs::cpu_seconds).unwrap_or(0.0);
        CpuSample {
            at: std::time::Instant::now(),
            seconds: [
                of(self.pids[0]),
                of(self.pids[1]),
                of(self.pids[2]),
                of(self.pids[3]),
                procfs::cpu_seconds(std::process::id()).unwrap_or(0.0),
                procfs::machine_busy_seconds().unwrap_or(0.0),
            ],
        }
    }

    pub(crate) fn since(&self, before: &CpuSample) -> CpuShares {
        let after = self.sample();
        let wall = after.at.duration_since(before.at).as_secs_f64().max(1e-9);
        let share = |index: usize| (after.seconds[index] - before.seconds[index]) / wall;
        CpuShares {
            ingress: share(0),
            consumer: share(1),
            broker: share(2),
            clickhouse: share(3),
            load: share(4),
            machine: share(5),
            wall: after.at.duration_since(before.at),
        }
    }
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

/// CPU microseconds a process spent per event accepted in the step.
fn micros_per_event(cores: f64, step: &StepResult) -> String {
    let rate = step.accepted_per_sec();
    if rate < 1.0 {
        return "-".to_owned();
    }
    format!("{:.0}", cores / rate * 1e6)
}

pub(crate) fn print_step(step: &StepResult) {
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
    let cpu = step.cpu;
    println!(
        "  {:>4} {:>5}/s offered ({:.1}s): accepted {:>6.0}/s{}{}, stored in step {:>6.0}/s, backlog at \
         end {:>6}, drained {:>5}; 202->queryable p50 {} ms p99 {} ms ({} samples)\n             \
         cores: ingress {:.2} consumer {:.2} broker {:.2} ClickHouse {:.2} load {:.2} machine \
         {:.2}; CPU us/event: ingress {} consumer {} ClickHouse {}",
        step.path,
        step.offered,
        cpu.wall.as_secs_f64(),
        step.accepted_per_sec(),
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
        step.stored_in_step as f64 / STEP.as_secs_f64(),
        step.backlog_at_end,
        step.drained_after.map_or("no".to_owned(), |after| format!(
            "{:.1}s",
            after.as_secs_f64()
        )),
        millis(step.p50()),
        millis(step.p99()),
        step.delays.len(),
        cpu.ingress,
        cpu.consumer,
        cpu.broker,
        cpu.clickhouse,
        cpu.load,
        cpu.machine,
        micros_per_event(cpu.ingress, step),
        micros_per_event(cpu.consumer, step),
        micros_per_event(cpu.clickhouse, step),
    );
}

/// Ours against the bare path at the same offered rate.
pub(crate) fn print_pair(ours: &StepResult, bare: &StepResult) {
    let share = |a: f64, b: f64| {
        if b > 0.0 {
            format!("{:.0} %", 100.0 * a / b)
        } else {
            "-".to_owned()
        }
    };
    println!(
        "  ours/bare at {}/s: accepted {}, stored in step {}, ingress CPU per event {}, consumer \
         CPU per event {}",
        ours.offered,
        share(ours.accepted as f64, bare.accepted as f64),
        share(ours.stored_in_step as f64, bare.stored_in_step as f64),
        share(
            ours.cpu.ingress / ours.accepted_per_sec().max(1.0),
            bare.cpu.ingress / bare.accepted_per_sec().max(1.0)
        ),
        share(
            ours.cpu.consumer / ours.accepted_per_sec().max(1.0),
            bare.cpu.consumer / bare.accepted_per_sec().max(1.0)
        ),
    );
}

/// Where the first step a path could not sustain got stuck, read from which end fell behind
/// (ingress's answers, or the backlog behind it) and where the CPU went. On a machine whose
/// cores were all busy no one process is the bottleneck: the verdict says so and lists them.
pub(crate) fn bottleneck(step: &StepResult) -> String {
    let cpu = step.cpu;
    let offered = f64::from(step.offered) * STEP.as_secs_f64();
    let in_front = if step.kept_up_in_front() {
        None
    } else {
        Some(format!(
            "ingress accepted {:.1} % of what was offered",
            100.0 * step.accepted as f64 / offered
        ))
    };
    let behind = if step.kept_up_behind() {
        None
    } else {
        Some(format!(
            "the backlog behind it was {} at the step's end and {}",
            step.backlog_at_end,
            step.drained_after
                .map_or("did not drain in time".to_owned(), |after| format!(
                    "took {:.1}s to drain",
                    after.as_secs_f64()
                ))
        ))
    };
    let fell_behind = [in_front, behind]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(", and ");
    let cores = std::thread::available_parallelism().map_or(2, std::num::NonZero::get) as f64;
    if cpu.machine >= 0.9 * cores {
        let busiest: Vec<String> = cpu
            .by_process(step.path)
            .iter()
            .map(|(name, share)| format!("{name} {share:.2}"))
            .collect();
        let ours: f64 = cpu
            .by_process(step.path)
            .iter()
            .map(|(_, share)| share)
            .sum();
        return format!(
            "the machine's CPU ({:.2} of {cores:.0} cores busy, {ours:.2} of them ours: {}): \
             {fell_behind}",
            cpu.machine,
            busiest.join(", ")
        );
    }
    if step.refused.contains_key(&503) {
        return format!("the broker (ingress answered 503: produce timed out): {fell_behind}");
    }
    let (a, b) = if step.kept_up_in_front() {
        (
            ("the consumer", cpu.consumer),
            ("ClickHouse", cpu.clickhouse),
        )
    } else {
        (("ingress", cpu.ingress), ("the broker", cpu.broker))
    };
    let (first, second) = if a.1 >= b.1 { (a, b) } else { (b, a) };
    format!(
        "{} ({:.2} cores against {}'s {:.2}): {fell_behind}",
        first.0, first.1, second.0, second.1
    )
}

/// One path's outcome over the whole run.
pub(crate) struct PathSummary {
    pub(crate) sustained: Option<f64>,
    /// The highest sustained rate whose p99 202->queryable stayed within `LATENCY_TARGET`.
    pub(crate) within_latency: Option<f64>,
    pub p50: Option<Duration>,
    pub p99: Option<Duration>,
    pub(crate) load_cores: f64,
    pub(crate) bottleneck: String,
}

impl PathSummary {
    pub(crate) fn of(results: &[StepResult], path: &str, top: u32) -> Self {
        let steps: Vec<&StepResult> = results.iter().filter(|step| step.path == path).collect();
        let sustained = steps.iter().rev().find(|step| step.sustained());
        let bottleneck = steps.iter().find(|step| !step.sustained()).map_or_else(
            || format!("none reached: {top} events/s offered was sustained"),
            |step| bottleneck(step),
        );
        let within_latency = steps
            .iter()
            .rev()
            .find(|step| step.sustained() && step.p99().is_some_and(|p99| p99 < LATENCY_TARGET));
        Self {
            sustained: sustained.map(|step| step.accepted_per_sec()),
            within_latency: within_latency.map(|step| step.accepted_per_sec()),
            p50: sustained.and_then(|step| step.p50()),
            p99: sustained.and_then(|step| step.p99()),
            load_cores: sustained.map_or(0.0, |step| step.cpu.load),
            bottleneck,
        }
    }

    fn rate(&self) -> String {
        Self::figure(self.sustained)
    }

    fn rate_within_latency(&self) -> String {
        Self::figure(self.within_latency)
    }

    fn figure(rate: Option<f64>) -> String {
        rate.map_or("0".to_owned(), |rate| format!("{rate:.0}"))
    }
}

pub(crate) fn print_summary(ours: &PathSummary, bare: &PathSummary, peaks: &[(&str, Option<u64>)]) {
    for (name, summary) in [("ours", ours), ("bare", bare)] {
        println!(
            "sustained end to end, {name}: {} events/s; 202->queryable there p50 {} ms, p99 {} \
             ms; the load generator used {:.2} cores; with p99 under {} ms: {} events/s",
            summary.rate(),
            millis(summary.p50),
            millis(summary.p99),
            summary.load_cores,
            LATENCY_TARGET.as_millis(),
            summary.rate_within_latency(),
        );
    }
    println!("ours/bare sustained: {}", ratio(ours, bare));
    for (name, kib) in peaks {
        println!(
            "peak RSS {name}: {}",
            kib.map_or("?".to_owned(), |kib| format!(
                "{:.0} MiB",
                kib as f64 / 1024.0
            ))
        );
    }
    println!("bottleneck, ours: {}", ours.bottleneck);
    println!("bottleneck, bare: {}", bare.bottleneck);
}

fn ratio(ours: &PathSummary, bare: &PathSummary) -> String {
    match (ours.sustained, bare.sustained) {
        (Some(ours), Some(bare)) if bare > 0.0 => format!("{:.0} %", 100.0 * ours / bare),
        _ => "-".to_owned(),
    }
}

/// Appends the run to `compose/bench/results.md`, so progress shows over time.
pub(crate) fn record(
    ours: &PathSummary,
    bare: &PathSummary,
    ingress_rss_kib: Option<u64>,
    pipeline_rss_kib: Option<u64>,
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
        "| {} | {commit} | {} | {} | {} | {} | {} | {} | {:.2} | {} | {} | {} |\n",
        chrono::Utc::now().format("%Y-%m-%d %H:%M"),
        ours.rate(),
        bare.rate(),
        ratio(ours, bare),
        ours.rate_within_latency(),
        millis(ours.p50),
        millis(ours.p99),
        ours.load_cores,
        mib(ingress_rss_kib),
        mib(pipeline_rss_kib),
        ours.bottleneck.replace('|', "/"),
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
