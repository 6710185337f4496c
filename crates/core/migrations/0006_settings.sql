-- Profile settings that outlive a session (issue 7). Never edit once landed.
-- `server_url`: the server the person chose (at first start, or when they signed in last), so
-- a packaged app asks once and signing out does not forget it.
CREATE TABLE settings (
    key   TEXT NOT NULL PRIMARY KEY,
    value TEXT NOT NULL
) STRICT;
