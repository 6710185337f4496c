-- The local cache of one profile: the session, conversations, messages and the outbox.

CREATE TABLE session (
    id          INTEGER PRIMARY KEY CHECK (id = 1),
    server_url  TEXT NOT NULL,
    token       TEXT NOT NULL,
    user_id     TEXT NOT NULL,
    username    TEXT NOT NULL,
    birthdate   TEXT NOT NULL
) STRICT;

CREATE TABLE conversations (
    id          TEXT PRIMARY KEY,
    kind        TEXT NOT NULL CHECK (kind IN ('direct', 'group')),
    name        TEXT,
    creator_id  TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    -- newest sequence number the server has told us about
    last_seq    INTEGER NOT NULL DEFAULT 0,
    -- every message with seq <= synced_seq is stored here (catch-up starts after it)
    synced_seq  INTEGER NOT NULL DEFAULT 0,
    -- time of the newest message (or creation), orders the conversation list
    updated_at  INTEGER NOT NULL DEFAULT 0,
    -- messages from others above our read position (kept up to date on every write, so the
    -- conversation list never counts rows)
    unread      INTEGER NOT NULL DEFAULT 0
) STRICT;

CREATE TABLE members (
    conversation_id TEXT NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    user_id         TEXT NOT NULL,
    username        TEXT NOT NULL,
    delivered_seq   INTEGER NOT NULL DEFAULT 0,
    read_seq        INTEGER NOT NULL DEFAULT 0,
    -- our own read position not yet acknowledged by the server (0 = nothing pending)
    read_pending    INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (conversation_id, user_id)
) STRICT;

CREATE TABLE messages (
    id              TEXT PRIMARY KEY,
    conversation_id TEXT NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    -- assigned by the server; NULL while the message waits in the outbox
    seq             INTEGER,
    -- seq once known; while pending, a key above every seq so it sorts last
    sort_key        INTEGER NOT NULL,
    sender_id       TEXT NOT NULL,
    sender          TEXT NOT NULL,
    text            TEXT NOT NULL,
    sent_at         INTEGER NOT NULL,
    -- why the server refused it for good (NULL = not failed)
    failed          TEXT
) STRICT;

CREATE INDEX messages_by_conversation ON messages (conversation_id, sort_key);

CREATE TABLE outbox (
    message_id      TEXT PRIMARY KEY REFERENCES messages (id) ON DELETE CASCADE,
    conversation_id TEXT NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL DEFAULT 0,
    last_error      TEXT
) STRICT;

CREATE INDEX outbox_by_due ON outbox (next_attempt_at);
