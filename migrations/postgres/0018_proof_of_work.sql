-- Proof-of-work challenges (ALTCHA-compatible) already solved on a public form: a solution is
-- accepted once. Rows outlive their challenge's expiry only until housekeeping drops them.
CREATE TABLE pow_spent (
    challenge  BYTEA PRIMARY KEY,
    expires_at BIGINT NOT NULL
);
GRANT SELECT, INSERT, UPDATE, DELETE ON pow_spent TO testvault_app;
