//! Memory and CPU readings from Linux's `/proc` (absent elsewhere: the readings are `None`).

use std::collections::BTreeMap;
use std::time::Instant;

use serde::Serialize;

/// Kernel clock ticks per second of `/proc/*/stat` times (USER_HZ, 100 on every Linux
/// architecture this runs on; reading it needs `sysconf`, an unsafe call).
const TICKS_PER_SEC: f64 = 100.0;

/// Resident memory of a process in KiB (`VmRSS`), `"self"` for this one.
pub fn rss_kib(pid: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

/// User + system CPU time of a process so far, in clock ticks.
pub fn cpu_ticks(pid: &str) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may hold spaces and parentheses: fields start after the last ')'.
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // After the name, field 3 (state) is index 0: utime (14) is index 11, stime (15) 12.
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some(utime + stime)
}

/// CPU ticks so far of every process named `name` (`/proc/PID/comm`), by pid.
fn ticks_by_name(name: &str) -> BTreeMap<String, u64> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return BTreeMap::new();
    };
    dir.filter_map(Result::ok)
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|pid| pid.bytes().all(|b| b.is_ascii_digit()))
        .filter(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/comm")).is_ok_and(|c| c.trim() == name)
        })
        .filter_map(|pid| cpu_ticks(&pid).map(|t| (pid, t)))
        .collect()
}

/// Busy and total ticks of the whole machine, all cores (`/proc/stat`).
fn machine_ticks() -> Option<(u64, u64)> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let line = stat.lines().find(|l| l.starts_with("cpu "))?;
    let values: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .filter_map(|v| v.parse().ok())
        .collect();
    // user nice system idle iowait irq softirq steal (guest is already inside user).
    let total: u64 = values.iter().take(8).sum();
    let idle = values.get(3).copied().unwrap_or(0) + values.get(4).copied().unwrap_or(0);
    Some((total - idle, total))
}

/// CPU readings at one instant, to subtract from a later one.
pub struct CpuSnapshot {
    at: Instant,
    servers: Vec<Option<u64>>,
    own: Option<u64>,
    machine: Option<(u64, u64)>,
    /// Per watched name: ticks of each process of that name.
    watched: Vec<(String, BTreeMap<String, u64>)>,
}

/// CPU used between two snapshots. Process figures are percent of one core (200 = both
/// cores of this machine busy); the machine figure is percent of all cores.
#[derive(Debug, Clone, Serialize)]
pub struct CpuUse {
    pub server_pct: Vec<Option<f64>>,
    pub load_tool_pct: Option<f64>,
    pub machine_busy_pct: Option<f64>,
    /// Everything else on the machine (other builds, databases…), percent of one core:
    /// the machine's busy time less the servers' and this tool's.
    pub others_pct: Option<f64>,
    /// Per `--watch` name: all its processes together, percent of one core (processes that
    /// started during the step count from zero, those that ended are left out).
    pub watched_pct: BTreeMap<String, f64>,
}

impl CpuSnapshot {
    pub fn take(server_pids: &[u32], watch: &[String]) -> Self {
        Self {
            watched: watch
                .iter()
                .map(|name| (name.clone(), ticks_by_name(name)))
                .collect(),
            at: Instant::now(),
            servers: server_pids
                .iter()
                .map(|p| cpu_ticks(&p.to_string()))
                .collect(),
            own: cpu_ticks("self"),
            machine: machine_ticks(),
        }
    }

    pub fn since(&self, earlier: &CpuSnapshot) -> CpuUse {
        let secs = self.at.duration_since(earlier.at).as_secs_f64().max(0.001);
        let pct = |now: Option<u64>, then: Option<u64>| {
            Some((now?.saturating_sub(then?)) as f64 / TICKS_PER_SEC / secs * 100.0)
        };
        let server_pct: Vec<Option<f64>> = self
            .servers
            .iter()
            .zip(&earlier.servers)
            .map(|(n, t)| pct(*n, *t))
            .collect();
        let load_tool_pct = pct(self.own, earlier.own);
        let (machine_busy_pct, machine_core_pct) = match (self.machine, earlier.machine) {
            (Some((b1, t1)), Some((b0, t0))) if t1 > t0 => (
                Some((b1.saturating_sub(b0)) as f64 / (t1 - t0) as f64 * 100.0),
                Some((b1.saturating_sub(b0)) as f64 / TICKS_PER_SEC / secs * 100.0),
            ),
            _ => (None, None),
        };
        let ours: Option<f64> = server_pct
            .iter()
            .copied()
            .chain([load_tool_pct])
            .sum::<Option<f64>>();
        let watched_pct = self
            .watched
            .iter()
            .zip(&earlier.watched)
            .map(|((name, now), (_, then))| {
                let ticks: u64 = now
                    .iter()
                    .map(|(pid, t)| t.saturating_sub(then.get(pid).copied().unwrap_or(0)))
                    .sum();
                (name.clone(), ticks as f64 / TICKS_PER_SEC / secs * 100.0)
            })
            .collect();
        CpuUse {
            watched_pct,
            server_pct,
            load_tool_pct,
            machine_busy_pct,
            others_pct: machine_core_pct
                .zip(ours)
                .map(|(all, ours)| (all - ours).max(0.0)),
        }
    }
}
