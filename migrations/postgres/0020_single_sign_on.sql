-- Single sign-on: an org's connections to identity providers (OpenID Connect or SAML 2.0), the
-- federated identities that sign people in (keyed by the org, the provider's issuer and subject,
-- never by email), the short-lived state of sign-ins in flight, the SAML assertions already spent, and the
-- org policy that makes members sign in through single sign-on.
CREATE TABLE sso_connections (
    id              UUID PRIMARY KEY,
    org_id          UUID NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
    -- 'oidc' or 'saml'.
    protocol        TEXT NOT NULL CHECK (protocol IN ('oidc', 'saml')),
    -- 'generic', 'google', 'microsoft', 'apple' (OpenID Connect) or 'saml'.
    preset          TEXT NOT NULL,
    name            TEXT NOT NULL,
    enabled         BOOLEAN NOT NULL DEFAULT true,
    -- Email domains allowed through this connection, space-separated; empty allows any.
    allowed_domains TEXT NOT NULL DEFAULT '',
    -- The protocol's settings in clear (issuer, client id, IdP entity id and certificates, ...), JSON.
    settings        TEXT NOT NULL,
    -- Its secrets (client secret, Apple's private key), JSON sealed with the org's key.
    secret_sealed   BYTEA,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL
);
CREATE INDEX ix_sso_connections_org ON sso_connections (org_id);

-- An identity signs in only to the org whose connection met it: another org's connection
-- naming the same issuer (its owner's choice, unverified) never reaches it.
CREATE TABLE sso_identities (
    org_id        UUID NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
    issuer        TEXT NOT NULL,
    subject       TEXT NOT NULL,
    user_id       UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    -- What the provider last said the address was (shown to the user, never used to match).
    email         TEXT NOT NULL,
    created_at    BIGINT NOT NULL,
    last_used_at  BIGINT NOT NULL,
    PRIMARY KEY (org_id, issuer, subject)
);
CREATE INDEX ix_sso_identities_user ON sso_identities (user_id);

-- A sign-in in flight: found by the hash of its `state` (OpenID Connect) or RelayState (SAML),
-- spent by deleting it, bound to the browser that started it.
CREATE TABLE sso_flows (
    state_hash    BYTEA PRIMARY KEY,
    connection_id UUID NOT NULL REFERENCES sso_connections (id) ON DELETE CASCADE,
    browser_hash  BYTEA NOT NULL,
    -- The OpenID Connect nonce, or the SAML AuthnRequest's ID.
    nonce         TEXT NOT NULL,
    -- The PKCE code verifier (OpenID Connect only).
    verifier      TEXT NOT NULL,
    -- Set when a signed-in user links this provider to their own account.
    link_user     UUID REFERENCES users (id) ON DELETE CASCADE,
    created_at    BIGINT NOT NULL,
    expires_at    BIGINT NOT NULL
);

-- SAML assertion IDs already accepted (hashed), kept until the assertion would have expired.
CREATE TABLE sso_assertions_spent (
    id_hash    BYTEA PRIMARY KEY,
    expires_at BIGINT NOT NULL
);

-- How a session was signed in: 'password', 'link', 'sso' or 'passkey' (an org that requires
-- single sign-on accepts only 'sso' sessions from members other than owners).
ALTER TABLE sessions ADD COLUMN method TEXT NOT NULL DEFAULT 'password';
ALTER TABLE orgs ADD COLUMN sso_required BOOLEAN NOT NULL DEFAULT false;

DO $$
DECLARE
    t TEXT;
BEGIN
    FOREACH t IN ARRAY ARRAY['sso_connections', 'sso_identities'] LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
        EXECUTE format(
            'CREATE POLICY tenant_isolation ON %I '
            'USING (current_setting(''app.all_orgs'', true) = ''on'' OR org_id = NULLIF(current_setting(''app.org_id'', true), '''')::UUID) '
            'WITH CHECK (current_setting(''app.all_orgs'', true) = ''on'' OR org_id = NULLIF(current_setting(''app.org_id'', true), '''')::UUID)',
            t);
    END LOOP;
END;
$$;

GRANT SELECT, INSERT, UPDATE, DELETE ON sso_connections, sso_identities, sso_flows, sso_assertions_spent TO testvault_app;
