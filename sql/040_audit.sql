-- 040: the access log (API.md section 9, docs/operations.md "Access log").
-- Every call of an audited action is one row of messaging.audit_log, written
-- by the operation itself, in its own statement/transaction: a read that
-- cannot be logged fails (no unlogged access), and a read costs no commit
-- of its own.
-- * `via` comes from the connection's setting messaging.via (the API's
--   connections say rest, the gateway's socket; anything else, msgctl and
--   psql included, is admin).
-- * messaging.audit_log = off on the connection (messaging.conf's
--   audit_log = off) writes nothing: it exists to measure the log's cost.
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

CREATE OR REPLACE FUNCTION messaging.audit_on() RETURNS boolean
LANGUAGE sql STABLE PARALLEL SAFE AS
$$ SELECT coalesce(current_setting('messaging.audit_log', true), '') IS DISTINCT FROM 'off' $$;

CREATE OR REPLACE FUNCTION messaging.audit_via() RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE AS $$
  SELECT CASE current_setting('messaging.via', true) WHEN 'rest' THEN 'rest' WHEN 'socket' THEN 'socket'
         ELSE 'admin' END
$$;

-- A conversation id as stored: NULL unless a positive 32-bit integer.
CREATE OR REPLACE FUNCTION messaging.audit_conv(p bigint) RETURNS integer
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS
$$ SELECT CASE WHEN p BETWEEN 1 AND 2147483647 THEN p::integer END $$;

-- One row. For every caller that logs an action of its own (the host
-- application, msgctl, the gateway's token_refresh): one rule, one place.
CREATE OR REPLACE FUNCTION messaging.audit(p_user integer, p_action text, p_conv bigint, p_detail jsonb)
RETURNS void
LANGUAGE sql AS $$
  INSERT INTO messaging.audit_log (user_id, action, conversation_id, via, detail)
  SELECT p_user, p_action, messaging.audit_conv(p_conv), messaging.audit_via(), coalesce(p_detail, '{}')
   WHERE messaging.audit_on()
$$;

-- The outcome of a reply, for `detail`: {"outcome":"ok"|"refused",
-- "status":N[, "code":C]}, plus `extra`.
CREATE OR REPLACE FUNCTION messaging.audit_outcome(p_status integer, p_body text, p_extra jsonb DEFAULT NULL)
RETURNS jsonb
LANGUAGE sql IMMUTABLE AS $$
  SELECT CASE WHEN p_status < 400
              THEN jsonb_build_object('outcome', 'ok', 'status', p_status)
              ELSE jsonb_build_object('outcome', 'refused', 'status', p_status,
                                      'code', (p_body::jsonb) -> 'error' ->> 'code') END
         || coalesce(p_extra, '{}')
$$;

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

-- The retention purge, the only exception: rows older than p_days (the
-- gateway passes audit_retention_days, once a day). SECURITY DEFINER: it
-- runs as the table's owner, so a production role that has only INSERT and
-- SELECT on the log can run it without being able to delete anything else.
-- Returns the rows removed; the purge itself is logged.
CREATE OR REPLACE FUNCTION messaging.audit_purge(p_days integer DEFAULT 2190)
RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE v_n bigint;
BEGIN
  IF p_days IS NULL OR p_days < 1 THEN
    RAISE EXCEPTION 'audit_purge: the retention must be at least one day' USING ERRCODE = 'invalid_parameter_value';
  END IF;
  PERFORM set_config('messaging.audit_purging', 'on', true);
  DELETE FROM messaging.audit_log WHERE at < now() - p_days * interval '1 day';
  GET DIAGNOSTICS v_n = ROW_COUNT;
  PERFORM set_config('messaging.audit_purging', 'off', true);
  -- Logged whatever audit_log says: a deletion from the log is always shown.
  INSERT INTO messaging.audit_log (user_id, action, conversation_id, via, detail)
  VALUES (NULL, 'audit_purge', NULL, messaging.audit_via(),
          jsonb_build_object('outcome', 'ok', 'retentionDays', p_days, 'removed', v_n));
  RETURN v_n;
END $$;

-- ---------------------------------------------------------------- the operations
-- Each audited operation keeps its name and arguments: the body moves to
-- <name>_unlogged and the name becomes a wrapper that logs the call with
-- its outcome, in the same statement. Running this file again changes
-- nothing; a later migration that changes an audited operation changes
-- <name>_unlogged (or replaces the name and runs this file's wrappers
-- again).
DO $$
DECLARE
  f text;
BEGIN
  FOREACH f IN ARRAY ARRAY[
      'create_conversation(integer, text, bigint)',
      'list_conversations(integer, text, integer, integer)',
      'get_conversation(integer, text, bigint)',
      'list_messages(integer, text, bigint, integer, bigint, bigint)',
      'post_message(integer, text, bigint, text, text, integer, boolean)',
      'post_read(integer, text, bigint, boolean)',
      'session_restore(text, integer, bigint, text)'] LOOP
    -- The current body is not (yet, or no longer: an earlier file run
    -- again replaced it) the wrapper: it becomes the new _unlogged.
    IF NOT EXISTS (SELECT 1 FROM pg_proc WHERE oid = to_regprocedure('messaging.' || f)
                      AND prosrc LIKE '%messaging.audit(%') THEN
      EXECUTE format('DROP FUNCTION IF EXISTS messaging.%s', replace(f, '(', '_unlogged('));
      EXECUTE format('ALTER FUNCTION messaging.%s RENAME TO %s', f, split_part(f, '(', 1) || '_unlogged');
    END IF;
  END LOOP;
END $$;

CREATE OR REPLACE FUNCTION messaging.create_conversation(p_user integer, p_role text, p_participant bigint)
RETURNS messaging.reply
LANGUAGE plpgsql AS $$
DECLARE r messaging.reply;
BEGIN
  r := messaging.create_conversation_unlogged(p_user, p_role, p_participant);
  PERFORM messaging.audit(p_user, 'conversation_create',
                          CASE WHEN r.status < 300 THEN ((r.body::json) -> 'conversation' ->> 'id')::bigint END,
                          messaging.audit_outcome(r.status, r.body,
                            jsonb_build_object('participantId', p_participant, 'created', r.status = 201)));
  RETURN r;
END $$;

CREATE OR REPLACE FUNCTION messaging.list_conversations(p_user integer, p_role text, p_limit integer, p_offset integer)
RETURNS messaging.reply
LANGUAGE plpgsql AS $$
DECLARE r messaging.reply;
BEGIN
  r := messaging.list_conversations_unlogged(p_user, p_role, p_limit, p_offset);
  PERFORM messaging.audit(p_user, 'conversations_list', NULL,
                          messaging.audit_outcome(r.status, r.body,
                            CASE WHEN r.status = 200 THEN jsonb_build_object('conversationIds',
                              (SELECT coalesce(jsonb_agg((x ->> 'id')::bigint), '[]')
                                 FROM json_array_elements((r.body::json) -> 'conversations') x)) END));
  RETURN r;
END $$;

CREATE OR REPLACE FUNCTION messaging.get_conversation(p_user integer, p_role text, p_conv bigint)
RETURNS messaging.reply
LANGUAGE plpgsql AS $$
DECLARE r messaging.reply;
BEGIN
  r := messaging.get_conversation_unlogged(p_user, p_role, p_conv);
  PERFORM messaging.audit(p_user, 'conversation_view', p_conv, messaging.audit_outcome(r.status, r.body));
  RETURN r;
END $$;

-- The page's ids, for `detail`: which messages were shown.
CREATE OR REPLACE FUNCTION messaging.audit_page(p_status integer, p_body text, p_limit integer,
                                                p_before bigint, p_after bigint)
RETURNS jsonb
LANGUAGE sql IMMUTABLE AS $$
  SELECT messaging.audit_outcome(p_status, p_body,
           jsonb_strip_nulls(jsonb_build_object('limit', p_limit, 'before', p_before, 'after', p_after))
           || CASE WHEN p_status = 200 THEN
                (SELECT jsonb_build_object('count', count(*), 'firstId', min((m ->> 'id')::bigint),
                                           'lastId', max((m ->> 'id')::bigint))
                   FROM json_array_elements((p_body::json) -> 'messages') m)
              ELSE '{}' END)
$$;

CREATE OR REPLACE FUNCTION messaging.list_messages(p_user integer, p_role text, p_conv bigint,
                                                   p_limit integer, p_before bigint, p_after bigint)
RETURNS messaging.reply
LANGUAGE plpgsql AS $$
DECLARE r messaging.reply;
BEGIN
  r := messaging.list_messages_unlogged(p_user, p_role, p_conv, p_limit, p_before, p_after);
  PERFORM messaging.audit(p_user, 'messages_list', p_conv,
                          messaging.audit_page(r.status, r.body, p_limit, p_before, p_after));
  RETURN r;
END $$;

-- The writes: in the gateway's group commit too (one more row, no lock).
CREATE OR REPLACE FUNCTION messaging.post_message(p_user integer, p_role text, p_conv bigint,
                                                  p_content text, p_client_id text,
                                                  p_max_len integer, p_notify boolean)
RETURNS messaging.write_result
LANGUAGE plpgsql AS $$
DECLARE w messaging.write_result;
BEGIN
  w := messaging.post_message_unlogged(p_user, p_role, p_conv, p_content, p_client_id, p_max_len, p_notify);
  PERFORM messaging.audit(p_user, 'message_send', p_conv,
                          messaging.audit_outcome(w.status, w.body,
                            CASE WHEN w.status < 300 THEN jsonb_build_object(
                              'messageId', ((w.body::json) -> 'message' ->> 'id')::bigint,
                              'repeat', w.status = 200) END));
  RETURN w;
END $$;

CREATE OR REPLACE FUNCTION messaging.post_read(p_user integer, p_role text, p_conv bigint, p_notify boolean)
RETURNS messaging.write_result
LANGUAGE plpgsql AS $$
DECLARE w messaging.write_result;
BEGIN
  w := messaging.post_read_unlogged(p_user, p_role, p_conv, p_notify);
  PERFORM messaging.audit(p_user, 'messages_mark_read', p_conv,
                          messaging.audit_outcome(w.status, w.body,
                            CASE WHEN w.status = 200 THEN jsonb_build_object(
                              'updatedCount', ((w.body::json) ->> 'updatedCount')::bigint) END));
  RETURN w;
END $$;

-- join_room: check_participant stays unlogged (typing uses it too).
CREATE OR REPLACE FUNCTION messaging.join_room(p_user integer, p_role text, p_conv bigint)
RETURNS messaging.reply
LANGUAGE plpgsql AS $$
DECLARE r messaging.reply;
BEGIN
  r := messaging.check_participant(p_user, p_role, p_conv);
  PERFORM messaging.audit(p_user, 'room_join', p_conv, messaging.audit_outcome(r.status, r.body));
  RETURN r;
END $$;

-- session_recover: one row per attempt; its rooms in `detail` (the events
-- replayed and written to the socket afterwards are covered by it).
CREATE OR REPLACE FUNCTION messaging.session_restore(p_pid text, p_user integer, p_max_ms bigint,
                                                     p_instance text)
RETURNS TABLE (joined text, sent text, sent_log text)
LANGUAGE plpgsql AS $$
DECLARE
  v_joined text; v_sent text; v_log text; v_found boolean := false;
BEGIN
  SELECT r.joined, r.sent, r.sent_log, true INTO v_joined, v_sent, v_log, v_found
    FROM messaging.session_restore_unlogged(p_pid, p_user, p_max_ms, p_instance) r;
  PERFORM messaging.audit(p_user, 'session_recover', NULL,
    CASE WHEN v_found THEN jsonb_build_object('outcome', 'ok', 'rooms', coalesce(v_joined::jsonb, '[]'))
         ELSE jsonb_build_object('outcome', 'refused', 'reason', 'expired or unknown session') END);
  IF v_found THEN
    joined := v_joined; sent := v_sent; sent_log := v_log;
    RETURN NEXT;
  END IF;
END $$;
