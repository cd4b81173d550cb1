-- 040: the access log (API.md section 9, docs/operations.md "Access log").
-- Every call of an audited action is one row of messaging.audit_log, written
-- by the operation itself, in its own statement/transaction: a read that
-- cannot be logged fails (no unlogged access), and a read costs no commit
-- of its own.
-- * Append-only: triggers refuse UPDATE, DELETE and TRUNCATE, except the
--   retention purge messaging.audit_purge().

CREATE TABLE IF NOT EXISTS messaging.audit_log (
  id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  at              timestamptz NOT NULL DEFAULT now(),
  user_id         integer,
  action          text NOT NULL,
  conversation_id integer,
  via             text NOT NULL CHECK (via IN ('rest', 'socket', 'admin')),
  detail          jsonb NOT NULL DEFAULT '{}'
);
-- The reports: by user, by conversation (access-report), by time (--since,
-- the purge). BRIN on `at`: rows arrive in time order, the index stays tiny
-- and costs the hot read path next to nothing.
CREATE INDEX IF NOT EXISTS audit_log_user_at ON messaging.audit_log (user_id, at);
CREATE INDEX IF NOT EXISTS audit_log_conversation_at ON messaging.audit_log (conversation_id, at)
  WHERE conversation_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS audit_log_at ON messaging.audit_log USING brin (at);

-- ---------------------------------------------------------------- append-only
CREATE OR REPLACE FUNCTION messaging.audit_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'DELETE' AND current_setting('messaging.audit_purging', true) = 'on' THEN
    RETURN NULL;  -- statement trigger: the purge's DELETE goes on
  END IF;
  RAISE EXCEPTION 'messaging.audit_log is append-only (% refused)', TG_OP
    USING ERRCODE = 'insufficient_privilege';
END $$;

DO $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_trigger WHERE tgrelid = 'messaging.audit_log'::regclass
                    AND tgname = 'audit_log_no_update') THEN
    CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON messaging.audit_log
      FOR EACH STATEMENT EXECUTE FUNCTION messaging.audit_append_only();
    CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON messaging.audit_log
      FOR EACH STATEMENT EXECUTE FUNCTION messaging.audit_append_only();
    CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON messaging.audit_log
      FOR EACH STATEMENT EXECUTE FUNCTION messaging.audit_append_only();
  END IF;
END $$;

-- The functions that write and purge it live in sql/api/30_audit.sql; each
-- audited operation writes its own row (sql/api).
