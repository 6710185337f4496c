-- Who is writing a resumable upload right now, and until when (one request at a time, on
-- any instance: routes/upload_claim.rs). A claim renewed while its request runs; one left by
-- an instance that died runs out and is taken over. Never edit this file once it has landed:
-- add 0006_*.sql instead.
CREATE TABLE upload_claims (
    upload_id  TEXT    NOT NULL PRIMARY KEY,
    holder     TEXT    NOT NULL,
    -- ms since the epoch
    expires_at INTEGER NOT NULL
) STRICT;
