-- Safety rules (issue 5): the nudity filter's choice and the classifier's scores, message
-- requests, blocks, reports, and the indexes the rate limits count with.
-- Never edit this file once it has landed: add 0005_*.sql instead.

-- An adult's own choice for the nudity filter: NULL = never chose (off). Under 18 it is on
-- whatever this says (natter_protocol::policy::nudity_filter).
ALTER TABLE users ADD COLUMN nudity_filter boolean;

-- The server's nudity classifier on every uploaded photo and thumbnail: the five class
-- probabilities ({"drawing":…,"hentai":…,"neutral":…,"porn":…,"sexy":…}), NULL for voice
-- notes and videos (a video is judged by its poster, which is a thumbnail upload).
ALTER TABLE media ADD COLUMN nsfw_scores jsonb;
-- The verdict of those scores under natter_safety::thresholds at upload time.
ALTER TABLE media ADD COLUMN explicit boolean NOT NULL DEFAULT false;

-- Direct conversations: the member started it, accepted the request or wrote in it. Until
-- then it is a message request for them, and only text may be sent to them. Groups: always true.
ALTER TABLE members ADD COLUMN accepted boolean NOT NULL DEFAULT true;
-- The member deleted the request: it leaves their lists until the other writes again.
ALTER TABLE members ADD COLUMN hidden boolean NOT NULL DEFAULT false;

-- Existing direct conversations: whoever neither created it nor wrote in it has not accepted
-- (what the rule meant before requests could be accepted explicitly).
UPDATE members SET accepted = false
WHERE conversation_id IN (SELECT id FROM conversations WHERE kind = 'direct')
    AND user_id != (SELECT c.creator_id FROM conversations AS c
                    WHERE c.id = members.conversation_id)
    AND NOT EXISTS (SELECT 1 FROM messages AS m
                    WHERE m.conversation_id = members.conversation_id
                        AND m.sender_id = members.user_id);

CREATE TABLE blocks (
    blocker_id uuid   NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    blocked_id uuid   NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (blocker_id, blocked_id)
);

CREATE INDEX blocks_blocked ON blocks (blocked_id, blocker_id);

-- The moderation queue. `messages` is an array of natter_protocol::Message as they were when
-- the report was made, so deleting them later cannot hide what was reported.
CREATE TABLE reports (
    id              uuid   NOT NULL PRIMARY KEY,
    reporter_id     uuid   NOT NULL REFERENCES users (id),
    reported_id     uuid   NOT NULL REFERENCES users (id),
    conversation_id uuid,
    reason          text   NOT NULL,
    messages        jsonb  NOT NULL DEFAULT '[]' CHECK (jsonb_typeof(messages) = 'array'),
    created_at      bigint NOT NULL DEFAULT 0,
    -- insertion order: breaks ties between reports made in the same millisecond
    added           bigint NOT NULL GENERATED ALWAYS AS IDENTITY
);

CREATE INDEX reports_created ON reports (created_at, added);

-- Rate limits count a sender's recent messages and a user's recent new direct conversations.
CREATE INDEX messages_sender_time ON messages (sender_id, sent_at);
CREATE INDEX conversations_creator_time ON conversations (creator_id, created_at)
    WHERE kind = 'direct';
