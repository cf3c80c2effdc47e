//! What Linux's /proc says about a process, for benchmarks that print what each part costs.

use std::path::Path;

/// Linux reports CPU time in clock ticks of `USER_HZ`, which is 100 on every architecture we run.
const TICKS_PER_SEC: f64 = 100.0;

/// Peak resident memory (`VmHWM`) of a live process, in KiB.
pub fn peak_rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|line| line.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// CPU seconds (user + system) a live process has spent, dead threads included.
pub fn cpu_seconds(pid: u32) -> Option<f64> {
    cpu_seconds_in(Path::new(&format!("/proc/{pid}/stat")))
}

/// CPU seconds (user + system) from a `/proc/.../stat` file: a process's or one thread's
/// (`/proc/<pid>/task/<tid>/stat`).
pub fn cpu_seconds_in(stat: &Path) -> Option<f64> {
    let stat = std::fs::read_to_string(stat).ok()?;
    // The command name, in parentheses, may hold spaces; fields are counted after it, where
    // the state is field 3 and utime and stime are fields 14 and 15.
    let fields: Vec<&str> = stat[stat.rfind(')')? + 1..].split_whitespace().collect();
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) / TICKS_PER_SEC)
}

/// CPU seconds all cores have spent busy since boot: `/proc/stat`'s first line, all but idle
/// and iowait.
pub fn machine_busy_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let ticks: Vec<f64> = stat
        .lines()
        .next()?
        .split_whitespace()
        .skip(1)
        .map(|field| field.parse().unwrap_or(0.0))
        .collect();
    // user nice system idle iowait irq softirq steal (guest time is already in user).
    let busy = ticks.iter().take(8).sum::<f64>() - ticks.get(3)? - ticks.get(4)?;
    Some(busy / TICKS_PER_SEC)
}
