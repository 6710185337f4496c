-- Albums: photos and videos in the media table, the items a message carries, and resumable
-- uploads in progress. Never edit this file once it has landed: add 0004_*.sql instead.
--
-- Unlike SQLite, PostgreSQL alters a CHECK constraint in place: no table rebuild.

ALTER TABLE media DROP CONSTRAINT media_kind;
-- what the content turned out to be (never the declared type or the file name)
ALTER TABLE media ADD CONSTRAINT media_kind CHECK (kind IN ('voice', 'image', 'video'));
-- pixels as displayed (photos, videos); 0 for voice notes
ALTER TABLE media ADD COLUMN width bigint NOT NULL DEFAULT 0 CHECK (width >= 0);
ALTER TABLE media ADD COLUMN height bigint NOT NULL DEFAULT 0 CHECK (height >= 0);

-- The photos and videos of an album, in the sender's order.
CREATE TABLE album_items (
    message_id   uuid    NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
    position     integer NOT NULL CHECK (position >= 0),
    media_id     uuid    NOT NULL REFERENCES media (id),
    thumbnail_id uuid    NOT NULL REFERENCES media (id),
    blurhash     text    NOT NULL,
    PRIMARY KEY (message_id, position)
);

-- "may this user fetch this file": the albums that carry it
CREATE INDEX album_items_media ON album_items (media_id);
CREATE INDEX album_items_thumbnail ON album_items (thumbnail_id);

-- Resumable uploads not finished yet; their bytes so far are in the blob store's partial
-- area under the id. Finished uploads move to `media` and disappear from here.
CREATE TABLE uploads (
    id         uuid   NOT NULL PRIMARY KEY,
    owner_id   uuid   NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    -- total size announced by the first piece (Upload-Length)
    length     bigint NOT NULL CHECK (length >= 0),
    -- bytes stored so far, durably
    received   bigint NOT NULL DEFAULT 0 CHECK (received >= 0),
    created_at bigint NOT NULL DEFAULT 0,
    updated_at bigint NOT NULL DEFAULT 0
);

-- the sweep of abandoned uploads
CREATE INDEX uploads_updated ON uploads (updated_at);
