-- Passkeys (WebAuthn): a user's credentials, for signing in without a password and as a second
-- factor, and the server-side state of ceremonies in flight (their challenges), single use.
CREATE TABLE passkeys (
    id            UUID PRIMARY KEY,
    user_id       UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    credential_id BYTEA NOT NULL,
    name          TEXT NOT NULL,
    -- webauthn-rs's Passkey: public key, algorithm, signature counter (JSON; nothing secret).
    credential    TEXT NOT NULL,
    created_at    BIGINT NOT NULL,
    last_used_at  BIGINT,
    CONSTRAINT uq_passkeys_credential UNIQUE (credential_id)
);
CREATE INDEX ix_passkeys_user ON passkeys (user_id);

CREATE TABLE webauthn_ceremonies (
    id_hash    BYTEA PRIMARY KEY,
    -- Whose registration or second factor this is; none for a passwordless sign-in.
    user_id    UUID REFERENCES users (id) ON DELETE CASCADE,
    -- 'register', 'sign_in' or 'second_factor'.
    kind       TEXT NOT NULL,
    -- webauthn-rs's ceremony state (its challenge), JSON, never sent to the browser.
    state      TEXT NOT NULL,
    expires_at BIGINT NOT NULL
);

GRANT SELECT, INSERT, UPDATE, DELETE ON passkeys, webauthn_ceremonies TO testvault_app;
