-- Voice notes: uploaded media files, the voice note a message carries, who played it.
-- Never edit this file once it has landed: add 0003_*.sql instead.

CREATE TABLE media (
    -- client-generated UUID v7; re-uploading the same bytes under it is a no-op
    id           TEXT    NOT NULL PRIMARY KEY,
    owner_id     TEXT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    kind         TEXT    NOT NULL CHECK (kind IN ('voice')),
    content_type TEXT    NOT NULL,
    size         INTEGER NOT NULL,
    -- measured by the server from the audio packets, never taken from metadata
    duration_ms  INTEGER NOT NULL,
    -- SHA-256 of the bytes; also the file's name in the blob store (content-addressed)
    sha256       BLOB    NOT NULL,
    created_at   INTEGER NOT NULL DEFAULT 0
) STRICT;

ALTER TABLE messages ADD COLUMN voice_media_id TEXT REFERENCES media (id);
-- 64 bars, 0-255 each
ALTER TABLE messages ADD COLUMN voice_waveform BLOB;

-- "may this user fetch this file": messages that carry it
CREATE INDEX messages_voice_media ON messages (voice_media_id) WHERE voice_media_id IS NOT NULL;

CREATE TABLE voice_plays (
    message_id TEXT    NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
    user_id    TEXT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    played_at  INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (message_id, user_id)
) STRICT;
