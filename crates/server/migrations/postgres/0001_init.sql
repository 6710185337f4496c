-- Natter server schema for PostgreSQL, version 1: the same tables as migrations/sqlite, in
-- PostgreSQL's own types. Ids are native `uuid`s; times are `bigint` milliseconds since the
-- Unix epoch (UTC). Never edit this file once it has landed: add 0002_*.sql instead.
--
-- Several server instances may share this database: every invariant the store relies on is
-- either a constraint here or taken under a row lock in the store (see store/postgres).

CREATE TABLE users (
    id            uuid   NOT NULL PRIMARY KEY,
    -- canonical (lower-case) form, see natter_protocol::validate::username
    username      text   NOT NULL,
    -- argon2id PHC string
    password_hash text   NOT NULL,
    birthdate     date   NOT NULL,
    created_at    bigint NOT NULL DEFAULT 0
);

-- usernames are unique case-insensitively (sign-up inserts with ON CONFLICT DO NOTHING)
CREATE UNIQUE INDEX users_username_lower ON users (lower(username));

CREATE TABLE sessions (
    -- SHA-256 of the bearer token; the token itself is never stored
    token_hash bytea  NOT NULL PRIMARY KEY CHECK (octet_length(token_hash) = 32),
    user_id    uuid   NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at bigint NOT NULL DEFAULT 0,
    expires_at bigint NOT NULL DEFAULT 0
);

CREATE INDEX sessions_user ON sessions (user_id);

CREATE TABLE conversations (
    id               uuid   NOT NULL PRIMARY KEY,
    kind             text   NOT NULL CHECK (kind IN ('direct', 'group')),
    -- group name; empty for direct conversations
    name             text   NOT NULL DEFAULT '',
    creator_id       uuid   NOT NULL REFERENCES users (id),
    -- "minid:maxid" of the two members of a direct conversation, NULL for groups;
    -- UNIQUE makes "one direct conversation per pair" hold even under concurrent creates
    direct_key       text   UNIQUE,
    -- sequence number of the newest message (0 = none); bumped in the insert transaction,
    -- whose row lock also serialises concurrent inserts into one conversation
    last_seq         bigint NOT NULL DEFAULT 0 CHECK (last_seq >= 0),
    created_at       bigint NOT NULL DEFAULT 0,
    -- time of the newest message, or of creation; orders the conversation list
    last_activity_at bigint NOT NULL DEFAULT 0,
    CHECK ((kind = 'direct') = (direct_key IS NOT NULL))
);

CREATE TABLE members (
    conversation_id uuid   NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    user_id         uuid   NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    joined_at       bigint NOT NULL DEFAULT 0,
    delivered_seq   bigint NOT NULL DEFAULT 0 CHECK (delivered_seq >= 0),
    read_seq        bigint NOT NULL DEFAULT 0 CHECK (read_seq >= 0),
    -- insertion order: breaks ties between members who joined in the same millisecond (what
    -- SQLite's rowid does there)
    added           bigint NOT NULL GENERATED ALWAYS AS IDENTITY,
    PRIMARY KEY (conversation_id, user_id)
);

-- "conversations of a user"
CREATE INDEX members_user ON members (user_id, conversation_id);

CREATE TABLE messages (
    -- client-generated UUID v7; the primary key makes re-sends idempotent
    id              uuid   NOT NULL PRIMARY KEY,
    conversation_id uuid   NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    seq             bigint NOT NULL CHECK (seq > 0),
    sender_id       uuid   NOT NULL REFERENCES users (id),
    text            text   NOT NULL DEFAULT '',
    sent_at         bigint NOT NULL DEFAULT 0
);

-- history paging; also guarantees no two messages share a seq in a conversation
CREATE UNIQUE INDEX messages_conversation_seq ON messages (conversation_id, seq);
