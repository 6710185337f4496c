-- Natter server schema, version 1.
-- Ids are UUIDs as lower-case hyphenated TEXT; times are INTEGER milliseconds since the Unix
-- epoch (UTC). Never edit this file once it has landed: add 0002_*.sql instead.

CREATE TABLE users (
    id            TEXT    NOT NULL PRIMARY KEY,
    -- canonical (lower-case) form, see natter_protocol::validate::username
    username      TEXT    NOT NULL,
    -- argon2id PHC string
    password_hash TEXT    NOT NULL,
    -- ISO date, YYYY-MM-DD
    birthdate     TEXT    NOT NULL,
    created_at    INTEGER NOT NULL DEFAULT 0
) STRICT;

-- usernames are unique case-insensitively
CREATE UNIQUE INDEX users_username_lower ON users (lower(username));

CREATE TABLE sessions (
    -- SHA-256 of the bearer token; the token itself is never stored
    token_hash BLOB    NOT NULL PRIMARY KEY,
    user_id    TEXT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at INTEGER NOT NULL DEFAULT 0,
    expires_at INTEGER NOT NULL DEFAULT 0
) STRICT;

CREATE INDEX sessions_user ON sessions (user_id);

CREATE TABLE conversations (
    id               TEXT    NOT NULL PRIMARY KEY,
    kind             TEXT    NOT NULL CHECK (kind IN ('direct', 'group')),
    -- group name; empty for direct conversations
    name             TEXT    NOT NULL DEFAULT '',
    creator_id       TEXT    NOT NULL REFERENCES users (id),
    -- "minid:maxid" of the two members of a direct conversation, NULL for groups;
    -- UNIQUE makes "one direct conversation per pair" hold even under concurrent creates
    direct_key       TEXT    UNIQUE,
    -- sequence number of the newest message (0 = none); bumped in the insert transaction
    last_seq         INTEGER NOT NULL DEFAULT 0,
    created_at       INTEGER NOT NULL DEFAULT 0,
    -- time of the newest message, or of creation; orders the conversation list
    last_activity_at INTEGER NOT NULL DEFAULT 0
) STRICT;

CREATE TABLE members (
    conversation_id TEXT    NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    user_id         TEXT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    joined_at       INTEGER NOT NULL DEFAULT 0,
    delivered_seq   INTEGER NOT NULL DEFAULT 0,
    read_seq        INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (conversation_id, user_id)
) STRICT;

-- "conversations of a user"
CREATE INDEX members_user ON members (user_id, conversation_id);

CREATE TABLE messages (
    -- client-generated UUID v7; the primary key makes re-sends idempotent
    id              TEXT    NOT NULL PRIMARY KEY,
    conversation_id TEXT    NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    seq             INTEGER NOT NULL,
    sender_id       TEXT    NOT NULL REFERENCES users (id),
    text            TEXT    NOT NULL DEFAULT '',
    sent_at         INTEGER NOT NULL DEFAULT 0
) STRICT;

-- history paging; also guarantees no two messages share a seq in a conversation
CREATE UNIQUE INDEX messages_conversation_seq ON messages (conversation_id, seq);
