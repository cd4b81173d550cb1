-- 042: user_revoke in the access log (API.md section 9): messaging.revoke_user
-- (msgctl revoke, the host application) logs each call, the same way as
-- 040's wrappers: the body moves to revoke_user_unlogged.
DO $$
BEGIN
  IF to_regprocedure('messaging.revoke_user(integer)') IS NOT NULL
     AND NOT EXISTS (SELECT 1 FROM pg_proc WHERE oid = to_regprocedure('messaging.revoke_user(integer)')
                        AND prosrc LIKE '%messaging.audit(%') THEN
    DROP FUNCTION IF EXISTS messaging.revoke_user_unlogged(integer);
    ALTER FUNCTION messaging.revoke_user(integer) RENAME TO revoke_user_unlogged;
    EXECUTE $fn$
CREATE FUNCTION messaging.revoke_user(p_user integer)
RETURNS timestamptz
LANGUAGE plpgsql AS $b$
DECLARE v_at timestamptz;
BEGIN
  v_at := messaging.revoke_user_unlogged(p_user);
  PERFORM messaging.audit(NULL, 'user_revoke', NULL,
    jsonb_build_object('outcome', CASE WHEN v_at IS NULL THEN 'refused' ELSE 'ok' END, 'userId', p_user,
                       'operator', current_setting('messaging.operator', true)));
  RETURN v_at;
END $b$ $fn$;
  END IF;
END $$;
