-- Three changes that make every stored result cheaper on PostgreSQL (measured in
-- docs/PERFORMANCE.md).
--
-- 1. A result is addressed by its run and id. Its primary key was its id alone, beside a
--    `(run_id, outcome)` index: two index entries per result, the second inserted at one of
--    four places within its run. `(run_id, id)` is both in one, and it grows at its end (run
--    ids are time-ordered, ids ascending). Every query that opens a result names its run; a
--    run's failures are found through `ix_results_attention`, its results in id order here.
ALTER TABLE results DROP CONSTRAINT results_pkey;
DROP INDEX ix_results_run;
ALTER TABLE results ADD CONSTRAINT results_pkey PRIMARY KEY (run_id, id);

-- 2. Row-level security read its two settings once per row: `current_setting` is a lookup by
--    name and the org id a text-to-UUID parse, for every row a statement wrote or read. As
--    scalar subqueries they are InitPlans, evaluated once per statement: the same values, the
--    same rows allowed. Every tenant table's policy is rebuilt (`orgs` is keyed by its own id).
DO $$
DECLARE
    t TEXT;
    col TEXT;
BEGIN
    FOR t IN SELECT tablename FROM pg_policies
             WHERE schemaname = current_schema() AND policyname = 'tenant_isolation' LOOP
        col := CASE WHEN t = 'orgs' THEN 'id' ELSE 'org_id' END;
        EXECUTE format('DROP POLICY tenant_isolation ON %I', t);
        EXECUTE format(
            'CREATE POLICY tenant_isolation ON %I '
            'USING ((SELECT current_setting(''app.all_orgs'', true) = ''on'') OR %I = (SELECT NULLIF(current_setting(''app.org_id'', true), '''')::UUID)) '
            'WITH CHECK ((SELECT current_setting(''app.all_orgs'', true) = ''on'') OR %I = (SELECT NULLIF(current_setting(''app.org_id'', true), '''')::UUID))',
            t, col, col);
    END LOOP;
END;
$$;

-- 3. A failure's search terms were indexed twice: by org (for a search across the project's
--    runs) and by run. A search now probes the run index once per run of the project, and
--    every stored failure word writes one index entry instead of two.
DROP INDEX ix_result_terms;
