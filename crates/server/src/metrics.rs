//! What `GET /metrics` reports, in the Prometheus text format: open WebSockets, messages
//! stored (a counter; Prometheus's `rate()` gives messages per second), how long a message
//! takes from being accepted to being written to each recipient's socket, and the errors
//! answered, by code. One registry per server, so tests can read one instance's figures.

use axum::extract::{Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use natter_protocol::ErrorCode;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

use crate::state::AppState;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CodeLabel {
    code: String,
}

pub struct Metrics {
    registry: Registry,
    connections: Gauge,
    messages: Counter,
    delivery: Histogram,
    errors: Family<CodeLabel, Counter>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("natter");
        let connections = Gauge::default();
        registry.register(
            "websocket_connections",
            "WebSockets open on this instance",
            connections.clone(),
        );
        let messages = Counter::default();
        registry.register(
            "messages",
            "Messages stored by this instance (re-sends not counted)",
            messages.clone(),
        );
        // 1 ms to about 16 s.
        let delivery = Histogram::new(exponential_buckets(0.001, 2.0, 15));
        registry.register(
            "delivery_seconds",
            "From a message being accepted to it being written to a recipient's WebSocket",
            delivery.clone(),
        );
        let errors = Family::<CodeLabel, Counter>::default();
        registry.register(
            "errors",
            "Requests answered with an error, by error code",
            errors.clone(),
        );
        Self {
            registry,
            connections,
            messages,
            delivery,
            errors,
        }
    }

    /// A WebSocket opened; the guard counts it closed when dropped.
    pub fn connection(&self) -> ConnectionGuard {
        self.connections.inc();
        ConnectionGuard(self.connections.clone())
    }

    pub fn message_stored(&self) {
        self.messages.inc();
    }

    /// A message accepted at `sent_at` (ms since the epoch) was just written to a socket.
    pub fn delivered(&self, sent_at: i64) {
        let ms = crate::state::now_ms().saturating_sub(sent_at).max(0);
        #[allow(clippy::cast_precision_loss)] // milliseconds fit an f64 exactly
        self.delivery.observe(ms as f64 / 1000.0);
    }

    pub fn error(&self, code: ErrorCode) {
        self.errors
            .get_or_create(&CodeLabel {
                code: code.to_string(),
            })
            .inc();
    }

    /// The text exposition format.
    pub fn render(&self) -> Result<String, std::fmt::Error> {
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &self.registry)?;
        Ok(out)
    }
}

/// Counts one open WebSocket until dropped.
pub struct ConnectionGuard(Gauge);

impl Drop for ConnectionGuard {
    fn drop(&mut self) {
        self.0.dec();
    }
}

/// `GET /metrics`.
pub async fn metrics(State(state): State<AppState>) -> Response {
    match state.metrics.render() {
        Ok(text) => (
            [(
                header::CONTENT_TYPE,
                "application/openmetrics-text; version=1.0.0; charset=utf-8",
            )],
            text,
        )
            .into_response(),
        Err(e) => {
            tracing::error!(error = %e, "rendering metrics");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

/// Counts every error answer by its code (the error puts its code in the response).
pub async fn count_errors(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let response = next.run(request).await;
    if let Some(code) = response.extensions().get::<ErrorCode>() {
        state.metrics.error(*code);
    }
    response
}
