-- Passkeys (WebAuthn): a user's credentials, for signing in without a password and as a second
-- factor, and the server-side state of ceremonies in flight (their challenges), single use.
CREATE TABLE passkeys (
    id            BLOB PRIMARY KEY,
    user_id       BLOB NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    credential_id BLOB NOT NULL,
    name          TEXT NOT NULL,
    -- webauthn-rs's Passkey: public key, algorithm, signature counter (JSON; nothing secret).
    credential    TEXT NOT NULL,
    created_at    INTEGER NOT NULL,
    last_used_at  INTEGER,
    CONSTRAINT uq_passkeys_credential UNIQUE (credential_id)
);
CREATE INDEX ix_passkeys_user ON passkeys (user_id);

CREATE TABLE webauthn_ceremonies (
    id_hash    BLOB PRIMARY KEY,
    -- Whose registration or second factor this is; none for a passwordless sign-in.
    user_id    BLOB REFERENCES users (id) ON DELETE CASCADE,
    -- 'register', 'sign_in' or 'second_factor'.
    kind       TEXT NOT NULL,
    -- webauthn-rs's ceremony state (its challenge), JSON, never sent to the browser.
    state      TEXT NOT NULL,
    expires_at INTEGER NOT NULL
);
