-- Albums upload beside the outbox (so a long video does not hold back the texts after it):
-- the upload worker's own retry schedule for a queued album. Never edit once landed.

ALTER TABLE outbox ADD COLUMN upload_attempts INTEGER NOT NULL DEFAULT 0;
ALTER TABLE outbox ADD COLUMN upload_next_at INTEGER NOT NULL DEFAULT 0;
