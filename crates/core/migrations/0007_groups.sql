-- Groups as invitations, blocks in groups, and the server's history lines (issue 19).
-- Never edit once landed.

-- Why the server sent this message without its content: 'invitation' (a photo, video or
-- voice note of a group this account has not joined yet: not listed, fetched again once
-- accepted) or 'blocked' (from someone this account blocked: shown as a placeholder).
ALTER TABLE messages ADD COLUMN withheld TEXT;
-- A line the server wrote about the group ("X left"): natter_protocol::GroupEvent as JSON.
ALTER TABLE messages ADD COLUMN event TEXT;

-- Groups: who invited the member (accepted = 0 while only invited).
ALTER TABLE members ADD COLUMN invited_by TEXT;
