-- Albums: the photos and videos a message carries, and for own messages how far each item's
-- upload got. Never edit once landed.

CREATE TABLE message_media (
    message_id   TEXT    NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
    -- the sender's order (gaps are fine: an item removed before sending leaves one)
    position     INTEGER NOT NULL,
    media_id     TEXT    NOT NULL,
    thumbnail_id TEXT    NOT NULL,
    kind         TEXT    NOT NULL CHECK (kind IN ('image', 'video')),
    mime         TEXT    NOT NULL,
    width        INTEGER NOT NULL,
    height       INTEGER NOT NULL,
    size         INTEGER NOT NULL,
    duration_ms  INTEGER NOT NULL DEFAULT 0,
    blurhash     TEXT    NOT NULL,
    -- own items: 1 = the thumbnail / the file is on the server
    thumb_uploaded INTEGER NOT NULL DEFAULT 0,
    uploaded     INTEGER NOT NULL DEFAULT 0,
    -- own items: bytes of the file the server has (upload progress, kept across restarts)
    sent_bytes   INTEGER NOT NULL DEFAULT 0,
    -- own items: why the server refused this item (NULL = not refused)
    failed       TEXT,
    PRIMARY KEY (message_id, position)
) STRICT;

CREATE INDEX message_media_by_media ON message_media (media_id);
CREATE INDEX message_media_by_thumbnail ON message_media (thumbnail_id);
