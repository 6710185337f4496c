-- Voice notes: uploaded media files, the voice note a message carries, who played it.
-- Never edit this file once it has landed: add 0003_*.sql instead.

CREATE TABLE media (
    -- client-generated UUID v7; re-uploading the same bytes under it is a no-op
    id           uuid   NOT NULL PRIMARY KEY,
    owner_id     uuid   NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    kind         text   NOT NULL,
    content_type text   NOT NULL,
    size         bigint NOT NULL CHECK (size >= 0),
    -- measured by the server from the audio packets, never taken from metadata
    duration_ms  bigint NOT NULL CHECK (duration_ms >= 0),
    -- SHA-256 of the bytes; also the file's name in the blob store (content-addressed)
    sha256       bytea  NOT NULL CHECK (octet_length(sha256) = 32),
    created_at   bigint NOT NULL DEFAULT 0,
    CONSTRAINT media_kind CHECK (kind IN ('voice'))
);

ALTER TABLE messages ADD COLUMN voice_media_id uuid REFERENCES media (id);
-- 64 bars, 0-255 each
ALTER TABLE messages ADD COLUMN voice_waveform bytea;

-- "may this user fetch this file": messages that carry it
CREATE INDEX messages_voice_media ON messages (voice_media_id) WHERE voice_media_id IS NOT NULL;

CREATE TABLE voice_plays (
    message_id uuid   NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
    user_id    uuid   NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    played_at  bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (message_id, user_id)
);

-- "played marks since": the sync of played marks reads them by time
CREATE INDEX voice_plays_time ON voice_plays (played_at);
