-- Audit retention, and PostgreSQL's own guarantees: the application works as `testvault_app`,
-- a role that cannot change or delete audit rows and that row-level security confines to the
-- org named by `app.org_id` for the current transaction.

-- Retention: events older than this many days are purged by a background job.
ALTER TABLE orgs ADD COLUMN audit_retention_days INTEGER NOT NULL DEFAULT 365
    CHECK (audit_retention_days BETWEEN 30 AND 3650);

-- The last purged event of an org: verification starts from it instead of the genesis hash.
CREATE TABLE audit_anchors (
    org_id    UUID PRIMARY KEY REFERENCES orgs (id) ON DELETE CASCADE,
    seq       BIGINT NOT NULL,
    hash      BYTEA NOT NULL,
    purged_at BIGINT NOT NULL
);

-- Updates never; deletes only of events past their org's retention (whoever asks).
CREATE OR REPLACE FUNCTION audit_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' AND OLD.at < EXTRACT(EPOCH FROM now())::BIGINT
        - COALESCE((SELECT audit_retention_days FROM orgs WHERE id = OLD.org_id), 36500)::BIGINT * 86400 THEN
        RETURN OLD;
    END IF;
    RAISE EXCEPTION 'audit events are append-only';
END;
$$;

-- The only way the application removes audit rows: the oldest run of expired events of one org,
-- recording the last one as the chain's new anchor. Runs with its owner's rights, so the
-- application role itself needs no DELETE on audit_events.
CREATE FUNCTION audit_purge(p_org UUID, p_lock BIGINT) RETURNS BIGINT
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    cutoff     BIGINT;
    first_kept BIGINT;
    last_seq   BIGINT;
    last_hash  BYTEA;
    removed    BIGINT;
BEGIN
    PERFORM set_config('app.org_id', p_org::TEXT, true);
    PERFORM set_config('app.all_orgs', 'off', true);
    PERFORM pg_advisory_xact_lock(p_lock);
    SELECT EXTRACT(EPOCH FROM now())::BIGINT - audit_retention_days::BIGINT * 86400 INTO cutoff
        FROM orgs WHERE id = p_org;
    IF cutoff IS NULL THEN
        RETURN 0;
    END IF;
    SELECT MIN(seq) INTO first_kept FROM audit_events WHERE org_id = p_org AND at >= cutoff;
    SELECT seq, hash INTO last_seq, last_hash FROM audit_events
        WHERE org_id = p_org AND (first_kept IS NULL OR seq < first_kept)
        ORDER BY seq DESC LIMIT 1;
    IF last_seq IS NULL THEN
        RETURN 0;
    END IF;
    DELETE FROM audit_events WHERE org_id = p_org AND seq <= last_seq;
    GET DIAGNOSTICS removed = ROW_COUNT;
    INSERT INTO audit_anchors (org_id, seq, hash, purged_at)
        VALUES (p_org, last_seq, last_hash, EXTRACT(EPOCH FROM now())::BIGINT)
        ON CONFLICT (org_id) DO UPDATE SET seq = excluded.seq, hash = excluded.hash, purged_at = excluded.purged_at;
    RETURN removed;
END;
$$;

-- The application's role: no login of its own (the configured login switches to it on every
-- connection), no BYPASSRLS. Roles are cluster-wide, so several databases (and concurrent
-- first starts) may race to create it.
DO $$
BEGIN
    CREATE ROLE testvault_app NOLOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE;
EXCEPTION WHEN duplicate_object OR unique_violation THEN
    NULL;
END;
$$;
DO $$
BEGIN
    IF NOT (SELECT rolsuper FROM pg_roles WHERE rolname = current_user)
       AND NOT pg_has_role(current_user, 'testvault_app', 'MEMBER') THEN
        GRANT testvault_app TO CURRENT_USER;
    END IF;
END;
$$;

GRANT USAGE ON SCHEMA public TO testvault_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO testvault_app;
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO testvault_app;
-- The trail is append-only for the application: no UPDATE, no DELETE (retention goes through
-- audit_purge); the anchor table is written by audit_purge only.
REVOKE UPDATE, DELETE ON audit_events FROM testvault_app;
REVOKE INSERT, UPDATE, DELETE ON audit_anchors FROM testvault_app;
REVOKE UPDATE, DELETE ON schema_migrations FROM testvault_app;
REVOKE ALL ON FUNCTION audit_purge(UUID, BIGINT) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION audit_purge(UUID, BIGINT) TO testvault_app;

-- Row-level security on every tenant table, forced even for the tables' owner.
ALTER TABLE orgs ENABLE ROW LEVEL SECURITY;
ALTER TABLE orgs FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON orgs
    USING (current_setting('app.all_orgs', true) = 'on' OR id = NULLIF(current_setting('app.org_id', true), '')::UUID)
    WITH CHECK (current_setting('app.all_orgs', true) = 'on' OR id = NULLIF(current_setting('app.org_id', true), '')::UUID);

DO $$
DECLARE
    t TEXT;
BEGIN
    FOREACH t IN ARRAY ARRAY['org_keys', 'members', 'projects', 'invitations', 'sessions', 'api_tokens',
                             'audit_events', 'audit_anchors', 'org_roles', 'project_grants'] LOOP
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
