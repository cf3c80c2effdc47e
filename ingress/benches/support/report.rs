//! The printed result: one row per phase and target, where the CPU went, and the targets
//! next to the figures, marked met or not met as information (nothing here fails the run).

use super::{load::Measured, processes::CpuSpent};

/// The targets.
const MIN_THROUGHPUT_RATIO_PCT: f64 = 80.0;
const MAX_P99_MS: f64 = 50.0;
const MAX_RSS_MB: f64 = 100.0;
/// A fixed-rate run counts as having held its rate when it accepted this share of it.
const RATE_HELD: f64 = 0.98;

#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Target {
    Ingress,
    Baseline,
}

impl Target {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::Ingress => "ingress",
            Self::Baseline => "baseline",
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Phase {
    MaxThroughput { workers: usize },
    FixedRate { per_sec: u64 },
}

impl Phase {
    pub(crate) fn label(self) -> String {
        match self {
            Self::MaxThroughput { workers } => format!("max, {workers} workers"),
            Self::FixedRate { per_sec } => format!("fixed {per_sec}/s"),
        }
    }
}

pub(crate) struct Row {
    pub(crate) phase: Phase,
    pub(crate) target: Target,
    pub(crate) measured: Measured,
    pub(crate) cpu: CpuSpent,
}

pub(crate) struct Memory {
    pub(crate) ingress_peak_kib: Option<u64>,
    pub(crate) broker_peak_kib: Option<u64>,
}

pub(crate) fn print_table(rows: &[Row]) {
    println!();
    println!(
        "{:<18} {:<9} {:>11} {:>8} {:>8} {:>8} {:>9} | {:>13} {:>7} {:>9} {:>7} | {:>12}",
        "phase",
        "target",
        "accepted/s",
        "p50 ms",
        "p99 ms",
        "non-2xx",
        "no answer",
        "cores: server",
        "broker",
        "generator",
        "others",
        "server us/ev"
    );
    for row in rows {
        let measured = &row.measured;
        let cpu = &row.cpu;
        let server = match row.target {
            Target::Ingress => cpu.ingress,
            Target::Baseline => cpu.baseline,
        };
        println!(
            "{:<18} {:<9} {:>11.0} {:>8} {:>8} {:>8} {:>9} | {:>13.2} {:>7.2} {:>9.2} {:>7.2} | {:>12.0}",
            row.phase.label(),
            row.target.name(),
            measured.accepted_per_sec(),
            millis(measured.latency_ms(0.50)),
            millis(measured.latency_ms(0.99)),
            measured.refused,
            measured.failed,
            cpu.cores(server),
            cpu.cores(cpu.broker),
            cpu.cores(cpu.generator),
            cpu.cores(cpu.others),
            server * 1e6 / (measured.accepted as f64).max(1.0),
        );
    }
    println!(
        "(latency: accepted requests only; at a fixed rate it counts from when each request was \
         due. cores: average CPU over the run, {} is the whole machine; others: every other \
         process on it, which the figures do not control. server us/ev: the server's CPU time \
         per accepted event, the figure least disturbed by others)",
        cores()
    );
}

pub(crate) fn print_targets(rows: &[Row], memory: &Memory) {
    let find = |fixed_rate: bool, target: Target| {
        rows.iter().find(|row| {
            matches!(row.phase, Phase::FixedRate { .. }) == fixed_rate && row.target == target
        })
    };

    println!();
    println!("targets from the issue (information, not assertions):");
    if let (Some(ingress), Some(baseline)) =
        (find(false, Target::Ingress), find(false, Target::Baseline))
    {
        let ratio = 100.0 * ingress.measured.accepted_per_sec()
            / baseline.measured.accepted_per_sec().max(f64::EPSILON);
        target_line(
            &format!("throughput >= {MIN_THROUGHPUT_RATIO_PCT:.0} % of baseline"),
            &format!("{ratio:.1} % (ingress/baseline, max phase)"),
            ratio >= MIN_THROUGHPUT_RATIO_PCT,
        );
    }
    if let Some(
        row @ Row {
            phase: Phase::FixedRate { per_sec },
            ..
        },
    ) = find(true, Target::Ingress)
    {
        let measured = &row.measured;
        let achieved = measured.accepted_per_sec();
        let p99 = measured.latency_ms(0.99);
        let errors = measured.refused + measured.failed;
        target_line(
            &format!("p99 < {MAX_P99_MS:.0} ms at {per_sec}/s"),
            &format!(
                "{} ms, {achieved:.0} accepted/s, {errors} errors",
                millis(p99)
            ),
            p99.is_some_and(|p99| p99 < MAX_P99_MS)
                && achieved >= RATE_HELD * *per_sec as f64
                && errors == 0,
        );
    }
    if let Some(kib) = memory.ingress_peak_kib {
        let mb = kib as f64 * 1024.0 / 1e6;
        target_line(
            &format!("peak RSS < {MAX_RSS_MB:.0} MB"),
            &format!("{mb:.1} MB (VmHWM {:.1} MiB)", kib as f64 / 1024.0),
            mb < MAX_RSS_MB,
        );
    }
    if let Some(kib) = memory.broker_peak_kib {
        println!(
            "  (the broker's own peak RSS: {:.0} MB, every event of the run held in memory)",
            kib as f64 * 1024.0 / 1e6
        );
    }
}

fn target_line(target: &str, figure: &str, met: bool) {
    let verdict = if met { "met" } else { "NOT MET" };
    println!("  ingress {target:<32} {figure:<46} {verdict}");
}

fn millis(value: Option<f64>) -> String {
    value.map_or_else(|| "-".to_owned(), |ms| format!("{ms:.1}"))
}

pub(crate) fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, usize::from)
}
