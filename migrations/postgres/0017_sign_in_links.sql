-- Sign-in links sent by email: single use, short-lived, only their hash stored, bound to the
-- browser that asked (the hash of a nonce in that browser's cookie).
CREATE TABLE sign_in_links (
    token_hash   BYTEA PRIMARY KEY,
    user_id      UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    browser_hash BYTEA NOT NULL,
    created_at   BIGINT NOT NULL,
    expires_at   BIGINT NOT NULL,
    used_at      BIGINT
);
CREATE INDEX ix_sign_in_links_user ON sign_in_links (user_id);
GRANT SELECT, INSERT, UPDATE, DELETE ON sign_in_links TO testvault_app;
