//! Command-line options.

use std::path::PathBuf;

use clap::Parser;

/// Drives N WebSocket clients speaking the real Natter protocol against running servers and
/// reports sustained messages per second, end-to-end delivery latency (p50/p90/p99/max) and
/// memory per connection, one step per offered rate.
///
/// Sending is open-loop: each message has a scheduled send time and latency is measured from
/// it, so a slow server shows up as latency, never as a lower offered rate. The servers must
/// allow the rate (`natter server --messages-per-minute 1000000`); `tests/load/run.sh`
/// starts them that way.
#[derive(Parser, Debug, Clone)]
#[command(name = "natter-load", version)]
pub struct Args {
    /// Server URL (repeatable): users are spread round-robin over the instances, each
    /// user's WebSocket and requests going to its own instance.
    #[arg(long = "server", default_value = "http://127.0.0.1:7878")]
    pub servers: Vec<String>,
    /// Users, each with one WebSocket open for the whole run.
    #[arg(long, default_value_t = 1000)]
    pub connections: usize,
    /// Members of each group (every user but the last `connections % group-size` is in one).
    #[arg(long, default_value_t = 10)]
    pub group_size: usize,
    /// Offered messages per second, one step each, in this order.
    #[arg(long, value_delimiter = ',', default_value = "250,500,1000,2000")]
    pub rates: Vec<f64>,
    /// Length of each measured step.
    #[arg(long, default_value_t = 20)]
    pub step_secs: u64,
    /// Sending at the step's rate before its measurement starts (not counted).
    #[arg(long, default_value_t = 5)]
    pub warmup_secs: u64,
    /// Longest wait after a step for deliveries still on their way.
    #[arg(long, default_value_t = 15)]
    pub drain_secs: u64,
    /// A server's process id (repeatable): its VmRSS before and after connecting gives the
    /// memory per connection, and its CPU time is reported per step.
    #[arg(long = "server-pid")]
    pub server_pids: Vec<u32>,
    /// A process name (repeatable, as in /proc/PID/comm, e.g. `postgres`, `nats-server`):
    /// the CPU of every process of that name is reported per step, to show where the
    /// machine's time went besides the servers and this tool.
    #[arg(long = "watch")]
    pub watch: Vec<String>,
    /// Caches the accounts, tokens and groups created, so a rerun against the same database
    /// skips sign-up (each costs the server two Argon2 hashes).
    #[arg(long)]
    pub state: Option<PathBuf>,
    /// Writes the results as JSON here.
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// Sign-ups and log-ins in flight at once (each one is an Argon2 hash on the server).
    #[arg(long, default_value_t = 8)]
    pub signup_concurrency: usize,
    /// WebSocket handshakes in flight at once.
    #[arg(long, default_value_t = 200)]
    pub connect_concurrency: usize,
    /// Send requests in flight at once; a scheduled message past this is counted as a
    /// failure ("not sent: in-flight cap") rather than delayed.
    #[arg(long, default_value_t = 20_000)]
    pub max_in_flight: usize,
    /// Send requests in flight at once per instance (each holds an HTTP connection); the
    /// rest wait for a turn, which counts in their latency. Without a cap, a server that falls
    /// behind is sent one new connection per waiting message until descriptors run out.
    #[arg(long, default_value_t = 512)]
    pub http_connections: usize,
    /// Extra characters of text in each message (beyond the ~40 of timing tags).
    #[arg(long, default_value_t = 40)]
    pub padding: usize,
    /// Ends the curve after a step whose p99 delivery latency passed this (ms): higher rates
    /// would only queue deeper and take long to drain.
    #[arg(long, default_value_t = 5000.0)]
    pub stop_p99_ms: f64,
    /// Timeout of one HTTP request, in seconds.
    #[arg(long, default_value_t = 30)]
    pub http_timeout_secs: u64,
}

impl Args {
    /// Checks the options that would otherwise fail late (after minutes of sign-ups).
    pub fn validate(&self) -> anyhow::Result<()> {
        anyhow::ensure!(!self.servers.is_empty(), "give at least one --server");
        anyhow::ensure!(
            (2..=natter_protocol::limits::GROUP_MAX_MEMBERS).contains(&self.group_size),
            "--group-size must be 2..={}",
            natter_protocol::limits::GROUP_MAX_MEMBERS
        );
        anyhow::ensure!(
            self.connections >= self.group_size,
            "--connections must be at least --group-size"
        );
        anyhow::ensure!(
            self.rates.iter().all(|r| r.is_finite() && *r > 0.0),
            "--rates must be positive numbers"
        );
        anyhow::ensure!(self.step_secs > 0, "--step-secs must be positive");
        anyhow::ensure!(
            self.signup_concurrency > 0
                && self.connect_concurrency > 0
                && self.max_in_flight > 0
                && self.http_connections > 0,
            "concurrency limits must be positive"
        );
        Ok(())
    }
}
