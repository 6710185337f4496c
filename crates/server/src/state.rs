//! What every handler can reach: the store, the bus, the configuration, shutdown.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::blobs::{BlobStore, Partials};
use crate::bus::Bus;
use crate::store::Store;

/// Today's date (UTC) as the server sees it; tests pass a fixed one.
#[derive(Clone)]
pub struct Clock(pub Arc<dyn Fn() -> chrono::NaiveDate + Send + Sync>);

impl Clock {
    pub fn system() -> Self {
        Self(Arc::new(|| chrono::Utc::now().date_naive()))
    }

    pub fn today(&self) -> chrono::NaiveDate {
        (self.0)()
    }
}

impl std::fmt::Debug for Clock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Clock(today = {})", self.today())
    }
}

#[derive(Clone)]
pub struct AppState {
    pub store: Arc<dyn Store>,
    /// Ages (and so the safety rules) are recomputed against this on every request.
    pub clock: Clock,
    /// Bytes of uploaded media (voice notes, photos, videos, thumbnails).
    pub blobs: Arc<dyn BlobStore>,
    /// Resumable uploads in progress.
    pub partials: Arc<dyn Partials>,
    /// How long a claim on an upload lasts unrenewed (`routes/upload_claim.rs`: one writer
    /// per upload across instances).
    pub upload_claim_for: Duration,
    pub bus: Arc<dyn Bus>,
    /// What `/metrics` reports.
    pub metrics: Arc<crate::metrics::Metrics>,
    /// The nudity classifier every uploaded photo and thumbnail goes through.
    pub classifier: Arc<natter_safety::Classifier>,
    /// Decodes uploaded videos' frames out of process for the classifier (`None`: not
    /// configured; see `ServerConfig::frame_worker`).
    pub frames: Option<Arc<crate::frames::FrameDecoder>>,
    /// At most so many uploads checked at once, a few more waiting; the rest are told to
    /// come back (`server_busy`).
    pub media_checks: Arc<crate::gate::Gate>,
    pub limits: crate::routes::safety::RateLimits,
    pub token_ttl: Duration,
    pub allowed_origins: Arc<[String]>,
    /// Cancelled when the server shuts down; WebSockets close on it.
    pub shutdown: CancellationToken,
    /// WebSocket tasks, awaited on shutdown.
    pub tasks: TaskTracker,
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}
