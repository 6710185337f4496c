//! `natter-load`: the load benchmark. Drives N WebSocket clients speaking the real Natter
//! protocol (HTTP sign-up, log-in, groups and sends; `GET /v1/ws` for the events) against
//! running servers, and reports per offered rate the achieved send rate, delivered events a
//! second, p50/p90/p99/max end-to-end delivery latency, and memory per connection.
//!
//! A command, not a test: `tests/load/run.sh` builds it, starts the servers and runs it.

mod api;
mod cli;
mod conn;
mod drive;
mod procfs;
mod setup;
mod stats;

use std::collections::BTreeMap;
use std::process::ExitCode;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use clap::Parser as _;
use serde::Serialize;

use crate::cli::Args;
use crate::conn::ConnectReport;
use crate::drive::Ctx;
use crate::procfs::{CpuSnapshot, CpuUse};
use crate::stats::{lock, Percentiles, Shared};

/// Descriptors beyond one per WebSocket: stdio, files, slack (the HTTP connections are added).
const SPARE_FDS: u64 = 4096;
/// Pause after connecting before memory is read, so the servers finish their upgrades.
const SETTLE: Duration = Duration::from_secs(2);

fn main() -> ExitCode {
    let args = Args::parse();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(run(args));
    // Reader tasks still hold sockets: do not wait for them.
    runtime.shutdown_background();
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

#[derive(Debug, Serialize)]
struct Report {
    started_at: String,
    servers: Vec<String>,
    server_pids: Vec<u32>,
    cores: usize,
    connections: usize,
    group_size: usize,
    groups: usize,
    step_secs: u64,
    warmup_secs: u64,
    open_files_limit: Option<u64>,
    connect: Option<ConnectReport>,
    memory: Option<Memory>,
    steps: Vec<StepResult>,
    stopped_early: Option<String>,
    /// `message` events without this tool's tag, other events, frames that did not parse.
    foreign_events: u64,
    other_events: u64,
    unparsed_frames: u64,
    disconnects: BTreeMap<String, u64>,
    notes: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
struct Memory {
    server_rss_before_kib: Vec<Option<u64>>,
    server_rss_after_kib: Vec<Option<u64>>,
    /// All servers' growth over all open connections.
    server_kib_per_connection: Option<f64>,
    load_tool_rss_before_kib: Option<u64>,
    load_tool_rss_after_kib: Option<u64>,
    load_tool_kib_per_connection: Option<f64>,
}

#[derive(Debug, Clone, Serialize)]
struct StepResult {
    offered_per_sec: f64,
    /// Length of the measured window.
    secs: f64,
    scheduled: u64,
    /// Requests issued.
    sent: u64,
    sent_ok: u64,
    sent_per_sec: f64,
    ok_per_sec: f64,
    failures: BTreeMap<String, u64>,
    expected_deliveries: u64,
    delivered: u64,
    all_delivered: bool,
    /// Every `message` event received during the window, over its length.
    delivered_events_per_sec: f64,
    /// Scheduled send time → event received on a member's socket.
    delivery_latency: Percentiles,
    /// Scheduled send time → HTTP answer to the sender.
    send_response: Percentiles,
    /// Scheduled send time → request issued (the load generator's own lateness).
    send_start_lag: Percentiles,
    cpu: CpuUse,
    server_rss_kib: Vec<Option<u64>>,
    load_tool_rss_kib: Option<u64>,
    disconnects: u64,
    /// Time after the window until every delivery arrived (or the drain limit).
    drain_secs: f64,
}

async fn run(args: Args) -> anyhow::Result<()> {
    args.validate()?;
    let mut notes = Vec::new();
    let open_files_limit = raise_open_files(
        args.connections + args.http_connections * args.servers.len(),
        &mut notes,
    );
    check_server_limits(&args, &mut notes);

    let api = api::Api::new(&args.servers, Duration::from_secs(args.http_timeout_secs))?;
    let state = setup::ensure(
        &api,
        args.state.as_deref(),
        args.connections,
        args.group_size,
        args.signup_concurrency,
    )
    .await?;
    let shared = Arc::new(Shared::new(2 * args.rates.len(), state.users.len())?);
    let mut report = Report {
        started_at: chrono::Utc::now().to_rfc3339(),
        servers: api.servers().to_vec(),
        server_pids: args.server_pids.clone(),
        cores: std::thread::available_parallelism().map_or(0, |n| n.get()),
        connections: args.connections,
        group_size: args.group_size,
        groups: state.groups.len(),
        step_secs: args.step_secs,
        warmup_secs: args.warmup_secs,
        open_files_limit,
        connect: None,
        memory: None,
        steps: Vec::new(),
        stopped_early: None,
        foreign_events: 0,
        other_events: 0,
        unparsed_frames: 0,
        disconnects: BTreeMap::new(),
        notes,
    };

    // Connect phase.
    let server_rss = || -> Vec<Option<u64>> {
        args.server_pids
            .iter()
            .map(|p| procfs::rss_kib(&p.to_string()))
            .collect()
    };
    let server_before = server_rss();
    let own_before = procfs::rss_kib("self");
    println!(
        "connect: opening {} WebSockets over {} instance(s), {} handshakes at a time",
        state.users.len(),
        api.servers().len(),
        args.connect_concurrency
    );
    let targets = (0..state.users.len())
        .map(|i| (api.server_of(i).to_string(), state.users[i].token.clone()))
        .collect();
    let (connect, readers) =
        conn::connect_all(targets, shared.clone(), args.connect_concurrency).await;
    println!(
        "connect: {}/{} open in {:.1}s ({:.0}/s); handshake p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        connect.opened,
        connect.wanted,
        connect.secs,
        connect.per_sec,
        connect.handshake.p50_ms,
        connect.handshake.p99_ms,
        connect.handshake.max_ms
    );
    for (why, n) in &connect.failures {
        println!("connect: {n} failed: {why}");
    }
    tokio::time::sleep(SETTLE).await;
    let server_after = server_rss();
    let own_after = procfs::rss_kib("self");
    let opened = connect.opened.max(1) as f64;
    let growth = |before: &[Option<u64>], after: &[Option<u64>]| -> Option<f64> {
        let mut sum = 0.0;
        for (b, a) in before.iter().zip(after) {
            sum += a.zip(*b).map(|(a, b)| a as f64 - b as f64)?;
        }
        (!before.is_empty()).then_some(sum / opened)
    };
    let memory = Memory {
        server_kib_per_connection: growth(&server_before, &server_after),
        load_tool_kib_per_connection: own_after
            .zip(own_before)
            .map(|(a, b)| (a as f64 - b as f64) / opened),
        server_rss_before_kib: server_before,
        server_rss_after_kib: server_after,
        load_tool_rss_before_kib: own_before,
        load_tool_rss_after_kib: own_after,
    };
    print_memory(&memory);
    report.connect = Some(connect);
    report.memory = Some(memory);
    write_json(&args, &report)?;

    // The curve.
    let ctx = Arc::new(Ctx {
        api,
        state,
        shared: shared.clone(),
        padding: "x".repeat(args.padding),
        max_in_flight: args.max_in_flight,
        http_turns: args
            .servers
            .iter()
            .map(|_| tokio::sync::Semaphore::new(args.http_connections))
            .collect(),
    });
    print_header();
    for (k, &rate) in args.rates.iter().enumerate() {
        let step = run_step(&args, &ctx, k, rate).await;
        print_row(&step);
        let p99 = step.delivery_latency.p99_ms;
        let broken = step.sent_ok == 0;
        report.steps.push(step);
        write_json(&args, &report)?;
        if p99 > args.stop_p99_ms || broken {
            let why = format!(
                "stopped after {rate}/s: p99 {p99:.0} ms past --stop-p99-ms {}{}",
                args.stop_p99_ms,
                if broken { " (no send succeeded)" } else { "" }
            );
            println!("{why}");
            report.stopped_early = Some(why);
            break;
        }
    }

    report.foreign_events = shared.foreign_events.load(Ordering::Relaxed);
    report.other_events = shared.other_events.load(Ordering::Relaxed);
    report.unparsed_frames = shared.unparsed_frames.load(Ordering::Relaxed);
    report.disconnects = lock(&shared.disconnects).clone();
    println!();
    print_summary(&report);
    write_json(&args, &report)?;
    conn::drop_all(readers).await
}

/// One step: warm-up at the rate, the measured window, then the drain.
async fn run_step(args: &Args, ctx: &Arc<Ctx>, k: usize, rate: f64) -> StepResult {
    let shared = &ctx.shared;
    let (warm, measured) = (2 * k, 2 * k + 1);
    if args.warmup_secs > 0 {
        drive::drive(ctx, warm, rate, args.warmup_secs).await;
    }
    let cpu_before = CpuSnapshot::take(&args.server_pids, &args.watch);
    let events_before = shared.message_events.load(Ordering::Relaxed);
    let disconnects_before = shared.disconnect_count.load(Ordering::Relaxed);
    let started = Instant::now();
    drive::drive(ctx, measured, rate, args.step_secs).await;
    let secs = started.elapsed().as_secs_f64();
    let events = shared.message_events.load(Ordering::Relaxed) - events_before;
    let cpu = CpuSnapshot::take(&args.server_pids, &args.watch).since(&cpu_before);
    let server_rss_kib = args
        .server_pids
        .iter()
        .map(|p| procfs::rss_kib(&p.to_string()))
        .collect();
    let load_tool_rss_kib = procfs::rss_kib("self");

    let drain_started = Instant::now();
    let drain = Duration::from_secs(args.drain_secs);
    let answered =
        drive::wait_in_flight(shared, Duration::from_secs(args.http_timeout_secs) + drain).await;
    let all_delivered = answered
        && drive::wait_deliveries(
            shared,
            measured,
            drain.saturating_sub(drain_started.elapsed()),
        )
        .await;
    // The warm-up's stragglers are not measured, but must not spill into the next step.
    drive::wait_deliveries(shared, warm, Duration::from_secs(1)).await;
    let drain_secs = drain_started.elapsed().as_secs_f64();

    let phase = &shared.phases[measured];
    let send = lock(&phase.send);
    let delivered = phase.delivered.load(Ordering::Relaxed);
    StepResult {
        offered_per_sec: rate,
        secs,
        scheduled: send.scheduled,
        sent: send.started,
        sent_ok: send.ok,
        sent_per_sec: send.started as f64 / secs,
        ok_per_sec: send.ok as f64 / secs,
        failures: send.failures.clone(),
        expected_deliveries: send.expected_deliveries,
        delivered,
        all_delivered: all_delivered && delivered >= send.expected_deliveries,
        delivered_events_per_sec: events as f64 / secs,
        delivery_latency: Percentiles::of(&lock(&phase.latency)),
        send_response: Percentiles::of(&send.response),
        send_start_lag: Percentiles::of(&send.start_lag),
        cpu,
        server_rss_kib,
        load_tool_rss_kib,
        disconnects: shared.disconnect_count.load(Ordering::Relaxed) - disconnects_before,
        drain_secs,
    }
}

/// Raises this process's soft open-file limit to what the connections need; notes it when
/// the hard limit is lower.
fn raise_open_files(sockets: usize, notes: &mut Vec<String>) -> Option<u64> {
    let need = sockets as u64 + SPARE_FDS;
    let soft = match rlimit::increase_nofile_limit(need) {
        Ok(soft) => soft,
        Err(e) => {
            let note = format!("cannot raise the open-file limit: {e}");
            println!("warning: {note}");
            notes.push(note);
            return None;
        }
    };
    let hard = rlimit::Resource::NOFILE.get().map(|(_, h)| h).ok();
    println!(
        "open files: soft limit {soft}{}",
        hard.map(|h| format!(" (hard {h})")).unwrap_or_default()
    );
    if soft < sockets as u64 + 64 {
        let note = format!(
            "the open-file limit is {soft} (hard {hard:?}), under the {sockets} sockets wanted \
             (WebSockets + HTTP connections): raise the hard limit (ulimit -Hn) as root"
        );
        println!("warning: {note}");
        notes.push(note);
    }
    Some(soft)
}

/// Warns when a server's own open-file limit cannot hold its share of the connections.
fn check_server_limits(args: &Args, notes: &mut Vec<String>) {
    let share = args.connections.div_ceil(args.servers.len()) as u64;
    for pid in &args.server_pids {
        let Ok(limits) = std::fs::read_to_string(format!("/proc/{pid}/limits")) else {
            continue;
        };
        let soft = limits
            .lines()
            .find(|l| l.starts_with("Max open files"))
            .and_then(|l| l.split_whitespace().nth(3))
            .and_then(|v| v.parse::<u64>().ok());
        if let Some(soft) = soft {
            println!("server {pid}: open-file limit {soft}");
            if soft < share + 64 {
                let note = format!(
                    "server {pid} may open only {soft} files, fewer than its ~{share} WebSockets"
                );
                println!("warning: {note}");
                notes.push(note);
            }
        }
    }
}

fn write_json(args: &Args, report: &Report) -> anyhow::Result<()> {
    let Some(path) = &args.json else {
        return Ok(());
    };
    let text = serde_json::to_string_pretty(report)?;
    std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))
}

fn print_memory(m: &Memory) {
    let mib =
        |k: Option<u64>| k.map_or("?".to_string(), |k| format!("{:.1} MiB", k as f64 / 1024.0));
    for (b, a) in m.server_rss_before_kib.iter().zip(&m.server_rss_after_kib) {
        println!(
            "memory: server RSS {} before, {} connected",
            mib(*b),
            mib(*a)
        );
    }
    if let Some(k) = m.server_kib_per_connection {
        println!("memory: server {k:.1} KiB per connection");
    }
    if let Some(k) = m.load_tool_kib_per_connection {
        println!(
            "memory: load tool {} → {}, {k:.1} KiB per connection (client side)",
            mib(m.load_tool_rss_before_kib),
            mib(m.load_tool_rss_after_kib)
        );
    }
}

fn print_header() {
    println!(
        "{:>9} {:>8} {:>8} {:>9} {:>8} {:>8} {:>8} {:>8} {:>9} {:>7} {:>8} {:>8} {:>6} {:>6}",
        "offered/s",
        "sent/s",
        "ok/s",
        "events/s",
        "p50 ms",
        "p90 ms",
        "p99 ms",
        "max ms",
        "complete",
        "fails",
        "srv CPU%",
        "tool CPU",
        "others",
        "busy%"
    );
}

fn print_row(s: &StepResult) {
    let fails: u64 = s.failures.values().sum();
    let srv: Vec<String> = s
        .cpu
        .server_pct
        .iter()
        .map(|c| c.map_or("?".into(), |c| format!("{c:.0}")))
        .collect();
    let srv = if srv.is_empty() {
        "-".to_string()
    } else {
        srv.join("+")
    };
    let opt = |v: Option<f64>| v.map_or("?".into(), |v| format!("{v:.0}"));
    println!(
        "{:>9.0} {:>8.0} {:>8.0} {:>9.0} {:>8.1} {:>8.1} {:>8.1} {:>8.1} {:>9} {:>7} {:>8} {:>8} {:>6} {:>6}",
        s.offered_per_sec,
        s.sent_per_sec,
        s.ok_per_sec,
        s.delivered_events_per_sec,
        s.delivery_latency.p50_ms,
        s.delivery_latency.p90_ms,
        s.delivery_latency.p99_ms,
        s.delivery_latency.max_ms,
        if s.all_delivered {
            "yes".to_string()
        } else {
            format!("{}/{}", s.delivered, s.expected_deliveries)
        },
        fails,
        srv,
        opt(s.cpu.load_tool_pct),
        opt(s.cpu.others_pct),
        opt(s.cpu.machine_busy_pct),
    );
}

fn print_summary(r: &Report) {
    println!(
        "natter-load: {} connections over {} instance(s), {} groups of {}, steps of {}s after {}s warm-up, {} cores",
        r.connections,
        r.servers.len(),
        r.groups,
        r.group_size,
        r.step_secs,
        r.warmup_secs,
        r.cores
    );
    if let Some(c) = &r.connect {
        println!(
            "connect: {}/{} in {:.1}s; handshake p50 {:.1} ms p99 {:.1} ms",
            c.opened, c.wanted, c.secs, c.handshake.p50_ms, c.handshake.p99_ms
        );
    }
    if let Some(m) = &r.memory {
        print_memory(m);
    }
    print_header();
    for s in &r.steps {
        print_row(s);
    }
    println!(
        "(latency: scheduled send → event on each member's socket; CPU columns: % of one core, \
         200 = both; others = the rest of the machine; busy% = all cores)"
    );
    for s in &r.steps {
        for (why, n) in &s.failures {
            println!("failures at {}/s: {n} × {why}", s.offered_per_sec);
        }
        let watched: String = s
            .cpu
            .watched_pct
            .iter()
            .map(|(name, pct)| format!("; {name} CPU {pct:.0}%"))
            .collect();
        println!(
            "at {}/s: send answered p50 {:.1} ms p99 {:.1} ms; generator lag p99 {:.1} ms; drain {:.1}s{watched}",
            s.offered_per_sec,
            s.send_response.p50_ms,
            s.send_response.p99_ms,
            s.send_start_lag.p99_ms,
            s.drain_secs
        );
    }
    for (why, n) in &r.disconnects {
        println!("disconnects: {n} × {why}");
    }
    if r.foreign_events + r.unparsed_frames > 0 {
        println!(
            "events: {} untagged messages, {} unparsed frames",
            r.foreign_events, r.unparsed_frames
        );
    }
    if let Some(why) = &r.stopped_early {
        println!("{why}");
    }
    for n in &r.notes {
        println!("note: {n}");
    }
}
