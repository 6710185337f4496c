-- Safety rules (issue 5) in the cache: message requests, the nudity filter, blocks.
-- Never edit once landed.

-- Direct conversations: the member started it, accepted the request or wrote in it (as the
-- server says). Our own 0 makes the conversation a request for us.
ALTER TABLE members ADD COLUMN accepted INTEGER NOT NULL DEFAULT 1;

-- The server's classifier found the item (photo, or video poster) explicit.
ALTER TABLE message_media ADD COLUMN explicit INTEGER NOT NULL DEFAULT 0;

-- The nudity filter as it applies to this account (from the server's account record).
ALTER TABLE session ADD COLUMN nudity_filter INTEGER NOT NULL DEFAULT 1;
ALTER TABLE session ADD COLUMN nudity_filter_locked INTEGER NOT NULL DEFAULT 1;

-- A queued message the server asked to hold back (rate_limited): when it goes out (ms).
ALTER TABLE outbox ADD COLUMN held_until INTEGER;

-- People this account has blocked.
CREATE TABLE blocked_users (
    user_id  TEXT NOT NULL PRIMARY KEY,
    username TEXT NOT NULL
) STRICT;
