-- Groups as invitations (issue 19): who invited a member (a group member with accepted =
-- false is only invited: texts reach them, media does not, until they accept), lines the
-- server writes into a group's history ("X left"), and the invitations that count against
-- the inviter's daily limit of new conversations. Never edit this file once it has landed:
-- add 0007_*.sql instead.
--
-- Members of groups created before this keep accepted = true (the default of 0004): they
-- stay full members.

ALTER TABLE members ADD COLUMN invited_by uuid REFERENCES users (id) ON DELETE SET NULL;

-- A history line about the group itself (natter_protocol::GroupEvent), NULL for a message
-- someone wrote.
ALTER TABLE messages ADD COLUMN event jsonb;

-- An invitation of someone who shared no conversation with the inviter: one new
-- conversation in the inviter's daily limit, like starting a direct chat with a stranger.
CREATE TABLE group_invites (
    inviter_id      uuid   NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    invitee_id      uuid   NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    conversation_id uuid   NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    created_at      bigint NOT NULL DEFAULT 0
);

CREATE INDEX group_invites_inviter_time ON group_invites (inviter_id, created_at);
