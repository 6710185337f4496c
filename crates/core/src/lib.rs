//! The Natter client engine: session, local SQLite cache, outbox, live sync.
