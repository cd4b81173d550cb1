-- The assertions of the t/sql/test_*.sql scripts, included by each with
-- \ir assert.sql: ok(), is() print "ok - NAME" or "not ok - NAME (...)";
-- raises() tells whether a statement raises.
CREATE FUNCTION pg_temp.ok(cond boolean, name text) RETURNS text LANGUAGE sql AS
$$ SELECT CASE WHEN coalesce(cond, false) THEN 'ok - ' ELSE 'not ok - ' END || name $$;
CREATE FUNCTION pg_temp.is(got text, want text, name text) RETURNS text LANGUAGE sql AS
$$ SELECT CASE WHEN got IS NOT DISTINCT FROM want THEN 'ok - ' || name
          ELSE 'not ok - ' || name || ' (got ' || coalesce(got, 'NULL') || ', want ' || coalesce(want, 'NULL') || ')' END $$;
CREATE FUNCTION pg_temp.raises(q text) RETURNS boolean LANGUAGE plpgsql AS
$$ BEGIN EXECUTE q; RETURN false; EXCEPTION WHEN others THEN RETURN true; END $$;
