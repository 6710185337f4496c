//! The Natter HTTP + WebSocket server (axum) over a pluggable store and fan-out bus.
