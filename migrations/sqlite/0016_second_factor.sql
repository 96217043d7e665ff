-- TOTP second factor (a user's, for every org they belong to), its single-use recovery codes
-- (hashed), the stage a session is in (password checked, code still to come), and the org policy
-- that makes members enrol.
CREATE TABLE user_factors (
    user_id      BLOB PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    -- The TOTP secret, sealed with the instance key bound to the user.
    secret       BLOB NOT NULL,
    -- Set when a code from the authenticator confirmed the secret; unconfirmed factors do nothing.
    confirmed_at INTEGER,
    -- The last time step a code was accepted for: a code is usable once.
    last_step    INTEGER,
    created_at   INTEGER NOT NULL
);

CREATE TABLE recovery_codes (
    user_id   BLOB NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    code_hash BLOB NOT NULL,
    used_at   INTEGER,
    PRIMARY KEY (user_id, code_hash)
);

-- 'full', or 'second_factor' (awaiting the code), or 'enrol' (the org requires a factor the
-- user does not have yet).
ALTER TABLE sessions ADD COLUMN stage TEXT NOT NULL DEFAULT 'full';
ALTER TABLE orgs ADD COLUMN require_second_factor INTEGER NOT NULL DEFAULT 0;
