-- Voice notes: what a message's note is, who played it, where playback stopped, and
-- whether an outgoing note's file has reached the server. Never edit once landed.

ALTER TABLE messages ADD COLUMN voice_media_id TEXT;
ALTER TABLE messages ADD COLUMN voice_duration_ms INTEGER;
ALTER TABLE messages ADD COLUMN voice_size INTEGER;
-- 64 bars, 0-255 each
ALTER TABLE messages ADD COLUMN voice_waveform BLOB;
-- comma-separated ids of members other than the sender who have played the note
ALTER TABLE messages ADD COLUMN played_by TEXT NOT NULL DEFAULT '';
-- 1 = this account played it here and the server has not acknowledged that yet
ALTER TABLE messages ADD COLUMN played_pending INTEGER NOT NULL DEFAULT 0;
-- where playback was left (ms), so it resumes there
ALTER TABLE messages ADD COLUMN play_position_ms INTEGER NOT NULL DEFAULT 0;

-- 1 = the queued message's voice note is on the server (only the message is left to send)
ALTER TABLE outbox ADD COLUMN uploaded INTEGER NOT NULL DEFAULT 0;

CREATE INDEX messages_played_pending ON messages (played_pending) WHERE played_pending = 1;

-- Cursors of catch-ups that are not per conversation (e.g. 'played': the newest played mark
-- fetched, in server ms).
CREATE TABLE sync_state (
    key   TEXT PRIMARY KEY,
    value INTEGER NOT NULL
) STRICT;

-- 1 = this (adult) account chose not to see the reminder before sending media in this
-- conversation again (under 18 it always shows: natter_protocol::policy::reminder_needed)
ALTER TABLE conversations ADD COLUMN media_reminder_off INTEGER NOT NULL DEFAULT 0;
