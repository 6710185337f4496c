//! End-to-end tests of the server over real HTTP, WebSocket and SQLite.

mod harness;

mod accounts;
mod album;
mod cluster;
mod conversations;
mod groups;
mod instances;
mod lifecycle;
mod live;
mod messages;
mod ops;
mod rules;
mod safety;
mod uploads;
mod video_safety;
mod voice;
