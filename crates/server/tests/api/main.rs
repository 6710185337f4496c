//! End-to-end tests of the server over real HTTP, WebSocket and SQLite.

mod harness;

mod accounts;
mod album;
mod conversations;
mod lifecycle;
mod live;
mod messages;
mod rules;
mod safety;
mod voice;
