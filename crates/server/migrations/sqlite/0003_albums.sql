-- Albums: photos and videos in the media table, the items a message carries, and resumable
-- uploads in progress. Never edit this file once it has landed: add 0004_*.sql instead.
--
-- SQLite cannot alter a CHECK constraint, so `media` is rebuilt. Voice notes in `messages`
-- point at it: their checks are deferred to the end of this migration's transaction, by
-- which time the rebuilt table (same name, same ids) satisfies them again.

PRAGMA defer_foreign_keys = ON;

CREATE TABLE media_new (
    -- client-generated UUID v7; re-uploading the same bytes under it is a no-op
    id           TEXT    NOT NULL PRIMARY KEY,
    owner_id     TEXT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    -- what the content turned out to be (never the declared type or the file name)
    kind         TEXT    NOT NULL CHECK (kind IN ('voice', 'image', 'video')),
    content_type TEXT    NOT NULL,
    size         INTEGER NOT NULL,
    -- measured by the server from the file, never taken from metadata; 0 for photos
    duration_ms  INTEGER NOT NULL,
    -- SHA-256 of the bytes; also the file's name in the blob store (content-addressed)
    sha256       BLOB    NOT NULL,
    created_at   INTEGER NOT NULL DEFAULT 0,
    -- pixels as displayed (photos, videos); 0 for voice notes
    width        INTEGER NOT NULL DEFAULT 0,
    height       INTEGER NOT NULL DEFAULT 0
) STRICT;

INSERT INTO media_new (id, owner_id, kind, content_type, size, duration_ms, sha256, created_at)
SELECT id, owner_id, kind, content_type, size, duration_ms, sha256, created_at FROM media;

DROP TABLE media;
ALTER TABLE media_new RENAME TO media;

-- The photos and videos of an album, in the sender's order.
CREATE TABLE album_items (
    message_id   TEXT    NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
    position     INTEGER NOT NULL,
    media_id     TEXT    NOT NULL REFERENCES media (id),
    thumbnail_id TEXT    NOT NULL REFERENCES media (id),
    blurhash     TEXT    NOT NULL,
    PRIMARY KEY (message_id, position)
) STRICT;

-- "may this user fetch this file": the albums that carry it
CREATE INDEX album_items_media ON album_items (media_id);
CREATE INDEX album_items_thumbnail ON album_items (thumbnail_id);

-- Resumable uploads not finished yet; their bytes so far are in the blob store's partial
-- area under the id. Finished uploads move to `media` and disappear from here.
CREATE TABLE uploads (
    id         TEXT    NOT NULL PRIMARY KEY,
    owner_id   TEXT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    -- total size announced by the first piece (Upload-Length)
    length     INTEGER NOT NULL,
    -- bytes stored so far, durably
    received   INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL DEFAULT 0,
    updated_at INTEGER NOT NULL DEFAULT 0
) STRICT;
