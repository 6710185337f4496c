//! The Natter HTTP + WebSocket server (axum) over a pluggable store and fan-out bus.
//!
//! [`start`] binds, migrates and serves in a background task; [`RunningServer::shutdown`]
//! stops it gracefully. Handlers only see the [`store::Store`] and [`bus::Bus`] traits;
//! [`store::SqliteStore`] and [`bus::LocalBus`] are the embedded defaults.

pub mod auth;
pub mod blobs;
pub mod bus;
pub mod error;
pub mod extract;
pub mod frames;
pub mod gate;
pub mod metrics;
pub mod rate;
pub mod routes;
pub mod state;
pub mod store;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::state::AppState;
use crate::store::Store;

pub use routes::openapi;

/// How long an unfinished upload is kept without receiving anything: a day, long enough for
/// a phone that lost its network overnight.
pub const DEFAULT_UPLOAD_TTL: Duration = Duration::from_secs(24 * 60 * 60);
/// What a `server_busy` answer to an upload asks the client to wait: checking one file takes
/// well under a second, so a queue this server turned away has moved on by then.
pub const MEDIA_CHECK_RETRY_AFTER_S: u64 = 2;

/// How long a log-in lasts unless configured otherwise.
pub const DEFAULT_TOKEN_TTL: Duration = Duration::from_secs(30 * 24 * 60 * 60);

#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Where `natter.db` and the `media/` directory live (created if missing).
    pub data_dir: PathBuf,
    /// Address to bind; port 0 picks a free port.
    pub listen: SocketAddr,
    /// How long a bearer token stays valid.
    pub token_ttl: Duration,
    /// Browser origins allowed to open the WebSocket (exact match, e.g.
    /// `"tauri://localhost"`). Requests without an `Origin` header are always allowed.
    pub allowed_origins: Vec<String>,
    /// Today's date for the age rules (the system's UTC date unless a test fixes it).
    pub clock: state::Clock,
    /// A resumable upload that receives nothing for this long is abandoned: its partial file
    /// and record are removed (the client, if it ever comes back, starts that file over).
    pub upload_ttl: Duration,
    /// How often abandoned uploads are looked for.
    pub upload_sweep_every: Duration,
    /// How long a request's claim on an upload lasts without renewal (it is renewed while the
    /// request runs): a claim left by an instance that died blocks that upload this long.
    pub upload_claim_for: Duration,
    /// Messages per minute and new conversations per day, per user.
    pub limits: routes::safety::RateLimits,
    /// Where accounts, conversations and messages live: `None` for the embedded SQLite file
    /// `data_dir/natter.db`, or a `postgres://` URL shared by every instance.
    pub database: Option<String>,
    /// How instances tell each other about events: `None` for this process only, or a
    /// `nats://HOST:PORT` URL shared by every instance.
    pub bus: Option<String>,
    /// Where media bytes live: `None` for the directory `data_dir/media`, or an
    /// `s3://BUCKET[/PREFIX]` URL (endpoint and credentials from the `AWS_*` environment).
    pub media: Option<String>,
    /// The program that decodes a video's frames for the nudity filter, in a separate,
    /// resource-limited process ([`frames`]). `None`: videos are judged by their poster only,
    /// so a video from an account under 18 is refused (it cannot be checked).
    pub frame_worker: Option<frames::FrameWorker>,
    /// How many uploads are checked at once (decoded, classified, hashed) and how many more
    /// may wait; past that an upload is answered `503 server_busy` with `Retry-After`.
    pub media_checks: gate::GateSize,
}

impl ServerConfig {
    pub fn new(data_dir: impl Into<PathBuf>, listen: SocketAddr) -> Self {
        Self {
            data_dir: data_dir.into(),
            listen,
            token_ttl: DEFAULT_TOKEN_TTL,
            allowed_origins: Vec::new(),
            clock: state::Clock::system(),
            upload_ttl: DEFAULT_UPLOAD_TTL,
            upload_sweep_every: Duration::from_secs(10 * 60),
            upload_claim_for: Duration::from_secs(30),
            limits: Default::default(),
            database: None,
            bus: None,
            media: None,
            frame_worker: None,
            media_checks: gate::GateSize::per_core(),
        }
    }
}

/// A server serving in the background. Dropping it without [`shutdown`](Self::shutdown)
/// stops serving but does not wait for it.
pub struct RunningServer {
    local_addr: SocketAddr,
    shutdown: CancellationToken,
    serving: Option<JoinHandle<std::io::Result<()>>>,
    tasks: TaskTracker,
    store: Arc<dyn Store>,
}

impl RunningServer {
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Base URL, e.g. `http://127.0.0.1:8080`.
    pub fn url(&self) -> String {
        format!("http://{}", self.local_addr)
    }

    /// Stops accepting, closes WebSockets with a close frame, lets in-flight requests
    /// finish, then closes the database.
    pub async fn shutdown(mut self) -> anyhow::Result<()> {
        tracing::info!("shutting down");
        self.shutdown.cancel();
        let serving = self.serving.take();
        if let Some(serving) = serving {
            serving
                .await
                .context("server task panicked")?
                .context("serving")?;
        }
        self.tasks.close();
        self.tasks.wait().await;
        self.store.close().await;
        tracing::info!("shut down");
        Ok(())
    }
}

impl Drop for RunningServer {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

/// Opens the store (migrating it), binds `config.listen` and starts serving.
pub async fn start(config: ServerConfig) -> anyhow::Result<RunningServer> {
    let store = store::open(config.database.as_deref(), &config.data_dir).await?;
    let (blobs, partials) = blobs::open(config.media.as_deref(), &config.data_dir).await?;
    let bus = bus::open(config.bus.as_deref()).await?;
    let classifier = tokio::task::spawn_blocking(natter_safety::Classifier::shared)
        .await
        .context("loading the nudity classifier")?
        .context("loading the nudity classifier")?;
    let frames = match config.frame_worker {
        Some(worker) => {
            tracing::info!(program = %worker.program.display(), concurrency = worker.concurrency,
                timeout_s = worker.timeout.as_secs_f32(), "video frames are judged by the frame worker");
            let inherited = frames::inherited_descriptors();
            if !inherited.is_empty() {
                tracing::warn!(
                    ?inherited,
                    "descriptors this server inherited without close-on-exec reach the frame \
                     worker too (its system-call filter keeps it from using them); start the \
                     server with stdio only"
                );
            }
            Some(Arc::new(frames::FrameDecoder::new(worker)))
        }
        None => {
            tracing::warn!(
                "no frame worker: no video can be checked; videos from accounts under 18 \
                 are refused, and adults' videos are withheld from viewers under 18"
            );
            None
        }
    };
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("binding {}", config.listen))?;
    let local_addr = listener.local_addr().context("reading bound address")?;
    let shutdown = CancellationToken::new();
    let tasks = TaskTracker::new();
    let state = AppState {
        store: store.clone(),
        clock: config.clock.clone(),
        blobs,
        partials,
        upload_claim_for: config.upload_claim_for,
        bus,
        metrics: Arc::new(metrics::Metrics::new()),
        classifier: Arc::new(classifier),
        frames,
        media_checks: Arc::new(gate::Gate::new(
            "checking uploads",
            config.media_checks,
            MEDIA_CHECK_RETRY_AFTER_S,
        )),
        limits: config.limits,
        token_ttl: config.token_ttl,
        allowed_origins: config.allowed_origins.into(),
        shutdown: shutdown.clone(),
        tasks: tasks.clone(),
    };
    tasks.spawn(routes::media::resumable::sweep_uploads(
        state.clone(),
        config.upload_ttl,
        config.upload_sweep_every,
    ));
    let app = routes::app(state);
    let signal = shutdown.clone();
    let serving = tokio::spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(async move { signal.cancelled().await })
            .await
    });
    tracing::info!(%local_addr, data_dir = %config.data_dir.display(), "serving");
    Ok(RunningServer {
        local_addr,
        shutdown,
        serving: Some(serving),
        tasks,
        store,
    })
}
