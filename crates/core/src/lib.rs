//! The Natter client engine: session, local SQLite cache, outbox, live sync.
//!
//! One [`Client`] per profile directory. Every front end (the Tauri shell, the `natter` CLI,
//! the test harness) drives the same `Client`, so the behaviour they test is the behaviour
//! users get.

mod album;
mod api;
mod cache;
mod client;
mod error;
mod groups;
mod outbox;
mod safety;
mod sync;
mod views;
mod voice;

#[cfg(test)]
mod cache_tests;

pub use album::{AlbumItemDraft, StageInput, StageResult, StagedMedia};
pub use cache::{Cache, PENDING_BASE};
pub use client::{Client, DEFAULT_SERVER_URL};
pub use error::{CoreError, Result};
pub use natter_media::{PhotoEdits, VideoEdits};
pub use natter_protocol as protocol;
pub use views::{
    ConnectionState, ConversationView, CoreEvent, MediaDisplay, MediaItemView, MediaReminder,
    MessageStatus, MessageView, VoiceView,
};
