//! Several server instances as one service, for fault tests: real `natter server` processes
//! (so one can be killed outright), a load balancer in front of them, and a private
//! PostgreSQL server and NATS server that a test may stop and restart without disturbing
//! other tests.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt as _, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::process::{Child, Command};

use crate::{eventually, TestClient, PASSWORD};

/// A TCP load balancer on loopback: each new connection goes to the next backend in turn,
/// skipping those that refuse it (as a balancer with passive health checks does), so the
/// clients of an instance that died reconnect to the others.
pub struct Balancer {
    addr: SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl Balancer {
    pub async fn start(backends: Vec<SocketAddr>) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind balancer");
        let addr = listener.local_addr().expect("balancer addr");
        let next = Arc::new(AtomicUsize::new(0));
        let backends = Arc::new(backends);
        let task = tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                let (next, backends) = (next.clone(), backends.clone());
                tokio::spawn(async move {
                    let first = next.fetch_add(1, Ordering::Relaxed);
                    for i in 0..backends.len() {
                        let backend = backends[(first + i) % backends.len()];
                        if let Ok(mut server) = TcpStream::connect(backend).await {
                            let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                            return;
                        }
                    }
                });
            }
        });
        Self { addr, task }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

impl Drop for Balancer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A `natter server` process.
pub struct Instance {
    child: Child,
    pub url: String,
    pub addr: SocketAddr,
    _log: tokio::task::JoinHandle<()>,
}

impl Instance {
    /// Starts `natter_bin server` with `args` (plus `--listen 127.0.0.1:0`) and waits until it
    /// prints the URL it serves on. Its log goes to `log`.
    pub async fn spawn(natter_bin: &Path, args: &[String], log: &Path) -> Self {
        let log_file = std::fs::File::create(log).expect("instance log");
        let mut child = Command::new(natter_bin)
            .arg("server")
            .args(args)
            .args(["--listen", "127.0.0.1:0"])
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(log_file))
            .kill_on_drop(true)
            .spawn()
            .expect("spawn natter server");
        let stdout = child.stdout.take().expect("stdout");
        let mut lines = BufReader::new(stdout).lines();
        let url = tokio::time::timeout(Duration::from_secs(60), lines.next_line())
            .await
            .unwrap_or_else(|_| panic!("instance did not start; see {}", log.display()))
            .expect("read instance stdout")
            .unwrap_or_else(|| panic!("instance exited; see {}", log.display()));
        let addr = url
            .trim_start_matches("http://")
            .parse()
            .expect("instance address");
        let _log = tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        Self {
            child,
            url,
            addr,
            _log,
        }
    }

    /// SIGKILL: no graceful shutdown, no close frames, connections cut.
    pub async fn kill(&mut self) {
        self.child.kill().await.expect("kill instance");
    }

    /// The status of `GET /readyz`, or `None` when the instance does not answer.
    pub async fn ready_status(&self) -> Option<u16> {
        let r = reqwest::Client::new()
            .get(format!("{}/readyz", self.url))
            .timeout(Duration::from_secs(5))
            .send()
            .await
            .ok()?;
        Some(r.status().as_u16())
    }
}

/// Signs `name` up on a fresh profile at `profile` through `url` and starts its client.
pub async fn signup(profile: &Path, name: &str, url: &str) -> TestClient {
    let client = natter_core::Client::open(profile, Some(url))
        .await
        .expect("open profile");
    client
        .signup(name, PASSWORD, "1990-05-17".parse().expect("date"))
        .await
        .expect("signup");
    client.start().await.expect("start");
    TestClient {
        name: name.to_string(),
        client,
    }
}

/// Waits until every text of `texts` is in `who`'s cache of `conv`, then checks none is
/// there twice and the order is the server's.
pub async fn assert_has_each_once(who: &TestClient, conv: uuid::Uuid, texts: &[String]) {
    eventually(
        &format!("{} has all {} messages", who.name, texts.len()),
        || async {
            let have = who.messages(conv).await;
            texts
                .iter()
                .all(|t| have.iter().any(|m| &m.text == t))
                .then_some(())
        },
    )
    .await;
    let have = who.messages(conv).await;
    for t in texts {
        let copies: Vec<_> = have.iter().filter(|m| &m.text == t).collect();
        assert_eq!(
            copies.len(),
            1,
            "{} shows {t:?} {} times: {copies:#?}",
            who.name,
            copies.len()
        );
    }
    let seqs: Vec<i64> = have.iter().filter_map(|m| m.seq).collect();
    assert!(
        seqs.windows(2).all(|w| w[0] < w[1]),
        "{} shows messages out of order: {seqs:?}",
        who.name
    );
}

/// A PostgreSQL server of the test's own (initdb in a temp dir, its own port), so a test can
/// stop and restart it. Needs Debian's `postgresql` package; as root it runs as `postgres`.
pub struct PrivatePostgres {
    dir: tempfile::TempDir,
    bin: PathBuf,
    pub port: u16,
}

impl PrivatePostgres {
    pub async fn start() -> Self {
        let bin = std::fs::read_dir("/usr/lib/postgresql")
            .expect("PostgreSQL is installed (/usr/lib/postgresql)")
            .filter_map(|e| e.ok().map(|e| e.path().join("bin")))
            .filter(|p| p.join("initdb").exists())
            .max()
            .expect("an initdb under /usr/lib/postgresql");
        let dir = tempfile::tempdir().expect("temp dir");
        let port = free_port();
        let pg = Self { dir, bin, port };
        if is_root() {
            run(Command::new("chown")
                .args(["-R", "postgres:postgres"])
                .arg(pg.dir.path()))
            .await;
        }
        run(pg
            .as_owner("initdb")
            .args(["-A", "trust", "-U", "postgres", "--no-sync", "-D"])
            .arg(pg.data()))
        .await;
        pg.ctl("start").await;
        pg
    }

    fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    fn as_owner(&self, tool: &str) -> Command {
        let path = self.bin.join(tool);
        if is_root() {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(path);
            c
        } else {
            Command::new(path)
        }
    }

    async fn ctl(&self, action: &str) {
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1",
            self.port,
            self.dir.path().display()
        );
        run(self
            .as_owner("pg_ctl")
            .args([action, "-w", "-m", "fast", "-D"])
            .arg(self.data())
            .args(["-l"])
            .arg(self.dir.path().join("log"))
            .args(["-o", &options]))
        .await;
    }

    pub async fn stop(&self) {
        self.ctl("stop").await;
    }

    pub async fn resume(&self) {
        self.ctl("start").await;
    }

    /// The admin URL (database `postgres`).
    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }
}

impl Drop for PrivatePostgres {
    fn drop(&mut self) {
        let _ = std::process::Command::new(if is_root() { "runuser" } else { "true" })
            .args(if is_root() {
                vec!["-u", "postgres", "--"]
            } else {
                vec![]
            })
            .arg(self.bin.join("pg_ctl"))
            .args(["stop", "-m", "immediate", "-D"])
            .arg(self.data())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

/// A NATS server of the test's own (Debian's `nats-server`, its own port), so a test can take
/// the bus away and bring it back on the same address.
pub struct PrivateNats {
    child: Option<Child>,
    pub port: u16,
}

impl PrivateNats {
    pub async fn start() -> Self {
        let mut nats = Self {
            child: None,
            port: free_port(),
        };
        nats.resume().await;
        nats
    }

    /// Stops it outright (SIGKILL): every connection to it is cut.
    pub async fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().await.expect("kill nats-server");
        }
    }

    /// Starts it again on the same port and waits until it accepts connections.
    pub async fn resume(&mut self) {
        let bin = ["/usr/sbin/nats-server", "/usr/bin/nats-server"]
            .into_iter()
            .find(|p| Path::new(p).exists())
            .unwrap_or("nats-server");
        let child = Command::new(bin)
            .args(["-a", "127.0.0.1", "-p", &self.port.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("nats-server is installed (Debian package nats-server)");
        self.child = Some(child);
        let addr = format!("127.0.0.1:{}", self.port);
        eventually("nats-server accepts connections", || async {
            TcpStream::connect(&addr).await.ok().map(|_| ())
        })
        .await;
    }

    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }
}

fn is_root() -> bool {
    std::env::var("USER").is_ok_and(|u| u == "root")
        || std::fs::metadata("/proc/self")
            .is_ok_and(|m| std::os::unix::fs::MetadataExt::uid(&m) == 0)
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port()
}

async fn run(command: &mut Command) {
    let out = command.output().await.expect("run command");
    assert!(
        out.status.success(),
        "{command:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
