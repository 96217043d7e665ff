-- TOTP second factor (a user's, for every org they belong to), its single-use recovery codes
-- (hashed), the stage a session is in (password checked, code still to come), and the org policy
-- that makes members enrol.
CREATE TABLE user_factors (
    user_id      UUID PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    -- The TOTP secret, sealed with the instance key bound to the user.
    secret       BYTEA NOT NULL,
    -- Set when a code from the authenticator confirmed the secret; unconfirmed factors do nothing.
    confirmed_at BIGINT,
    -- The last time step a code was accepted for: a code is usable once.
    last_step    BIGINT,
    created_at   BIGINT NOT NULL
);

CREATE TABLE recovery_codes (
    user_id   UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    code_hash BYTEA NOT NULL,
    used_at   BIGINT,
    PRIMARY KEY (user_id, code_hash)
);

-- 'full', or 'second_factor' (awaiting the code), or 'enrol' (the org requires a factor the
-- user does not have yet).
ALTER TABLE sessions ADD COLUMN stage TEXT NOT NULL DEFAULT 'full';
ALTER TABLE orgs ADD COLUMN require_second_factor BOOLEAN NOT NULL DEFAULT false;

GRANT SELECT, INSERT, UPDATE, DELETE ON user_factors, recovery_codes TO testvault_app;
