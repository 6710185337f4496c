//! A TCP proxy on loopback that can lose the server's answers (to test what a client does
//! when a request reaches the server but the acknowledgement never comes back), or cut every
//! connection once a budget of bytes has gone up (a connection dropped mid-upload), or slow
//! every connection's uploads down (a phone on a poor network). It counts the bytes it
//! forwards to the server.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicI64, AtomicU64, AtomicU8, Ordering};
use std::sync::Arc;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Mode {
    /// Forward both ways.
    Pass = 0,
    /// Forward requests, then cut the connection as soon as the server answers: the server
    /// acts on the request, the client never learns it did.
    LoseAnswers = 1,
    /// Forward until the budget set with [`Proxy::cut_after`] is used up, then cut the
    /// connection in the middle of whatever was being sent (and every later one at once).
    CutAfterBudget = 2,
    /// Forward both ways, but each connection sends at most the rate set with
    /// [`Proxy::throttle`] up to the server (16 KiB at a time, then a pause).
    Throttle = 3,
}

#[derive(Default)]
struct Counters {
    /// Bytes forwarded client → server.
    upstream: AtomicU64,
    /// Bytes still allowed up in [`Mode::CutAfterBudget`].
    budget: AtomicI64,
    /// Bytes per second up, per connection, in [`Mode::Throttle`].
    rate: AtomicU64,
}

pub struct Proxy {
    addr: SocketAddr,
    mode: Arc<AtomicU8>,
    counters: Arc<Counters>,
    task: tokio::task::JoinHandle<()>,
}

impl Proxy {
    pub async fn start(upstream: SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind proxy");
        let addr = listener.local_addr().expect("proxy addr");
        let mode = Arc::new(AtomicU8::new(Mode::Pass as u8));
        let counters = Arc::new(Counters::default());
        let (m, c) = (mode.clone(), counters.clone());
        let task = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let (m, c) = (m.clone(), c.clone());
                tokio::spawn(async move {
                    if let Ok(server) = TcpStream::connect(upstream).await {
                        pipe(client, server, m, c).await;
                    }
                });
            }
        });
        Self {
            addr,
            mode,
            counters,
            task,
        }
    }

    /// Lets `bytes` more go up to the server, then cuts connections ([`Mode::CutAfterBudget`]).
    pub fn cut_after(&self, bytes: i64) {
        self.counters.budget.store(bytes, Ordering::SeqCst);
        self.set(Mode::CutAfterBudget);
    }

    /// Slows every connection's traffic to the server to `bytes_per_second` ([`Mode::Throttle`]).
    pub fn throttle(&self, bytes_per_second: u64) {
        self.counters
            .rate
            .store(bytes_per_second.max(1), Ordering::SeqCst);
        self.set(Mode::Throttle);
    }

    /// Bytes forwarded to the server so far.
    pub fn upstream_bytes(&self) -> u64 {
        self.counters.upstream.load(Ordering::SeqCst)
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn set(&self, mode: Mode) {
        self.mode.store(mode as u8, Ordering::SeqCst);
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn pipe(client: TcpStream, server: TcpStream, mode: Arc<AtomicU8>, c: Arc<Counters>) {
    let (mut cr, mut cw) = client.into_split();
    let (mut sr, mut sw) = server.into_split();
    let up_mode = mode.clone();
    let up = async move {
        let mut buf = vec![0u8; 16 * 1024];
        loop {
            match cr.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(mut n) => {
                    let cut = up_mode.load(Ordering::SeqCst) == Mode::CutAfterBudget as u8;
                    if cut {
                        let left = c.budget.fetch_sub(n as i64, Ordering::SeqCst);
                        n = n.min(left.max(0) as usize);
                    }
                    if sw.write_all(&buf[..n]).await.is_err() {
                        break;
                    }
                    c.upstream.fetch_add(n as u64, Ordering::SeqCst);
                    if cut && c.budget.load(Ordering::SeqCst) <= 0 {
                        break;
                    }
                    if up_mode.load(Ordering::SeqCst) == Mode::Throttle as u8 {
                        let rate = c.rate.load(Ordering::SeqCst).max(1);
                        let pause = std::time::Duration::from_secs_f64(n as f64 / rate as f64);
                        tokio::time::sleep(pause).await;
                    }
                }
            }
        }
    };
    let down = async move {
        let mut buf = vec![0u8; 16 * 1024];
        loop {
            match sr.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    if mode.load(Ordering::SeqCst) == Mode::LoseAnswers as u8 {
                        break;
                    }
                    if cw.write_all(&buf[..n]).await.is_err() {
                        break;
                    }
                }
            }
        }
    };
    // When either direction ends, both sockets are dropped and the connection is cut.
    tokio::select! {
        _ = up => {}
        _ = down => {}
    }
}
