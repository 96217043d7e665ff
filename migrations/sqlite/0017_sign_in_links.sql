-- Sign-in links sent by email: single use, short-lived, only their hash stored, bound to the
-- browser that asked (the hash of a nonce in that browser's cookie).
CREATE TABLE sign_in_links (
    token_hash   BLOB PRIMARY KEY,
    user_id      BLOB NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    browser_hash BLOB NOT NULL,
    created_at   INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL,
    used_at      INTEGER
);
CREATE INDEX ix_sign_in_links_user ON sign_in_links (user_id);
