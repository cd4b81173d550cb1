-- The access log (API.md section 9, sql/040_audit.sql for the table): the
-- helpers every audited operation writes its row with, in its own
-- statement or transaction (a read that cannot be logged fails).
-- * `via` comes from the connection's setting messaging.via (the API's
--   connections say rest, the gateway's socket; anything else, msgctl and
--   psql included, is admin).
-- * messaging.audit_log = off on the connection (messaging.conf's
--   audit_log = off) writes nothing: it exists to measure the log's cost.

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
-- application, msgctl, the gateway's token_refresh) and for the operations
-- below: one rule, one place. plpgsql: its INSERT is planned once per
-- session.
CREATE OR REPLACE FUNCTION messaging.audit(p_user integer, p_action text, p_conv bigint, p_detail jsonb)
RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO messaging.audit_log (user_id, action, conversation_id, via, detail)
  SELECT p_user, p_action, messaging.audit_conv(p_conv), messaging.audit_via(), coalesce(p_detail, '{}')
   WHERE messaging.audit_on();
END $$;

-- The row of a read that wrote nothing else (the conversation list, a
-- conversation, a page of messages, a room joined): its transaction's
-- commit need not wait for the disk, as the messages page's
-- (list_message_rows) does not (docs/operations.md, the access log). Never for a write: a write's row is
-- as durable as the write. The REST and socket reads run alone in their
-- transaction (shared/ops.c: not batched), so the setting reaches nothing
-- else.
CREATE OR REPLACE FUNCTION messaging.audit_read(p_user integer, p_action text, p_conv bigint, p_detail jsonb)
RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
  IF messaging.audit_on() THEN
    PERFORM set_config('synchronous_commit', 'off', true);
    PERFORM messaging.audit(p_user, p_action, p_conv, p_detail);
  END IF;
END $$;

-- The outcome of a reply, for `detail`: {"outcome":"ok"|"refused",
-- "status":N[, "code":C]}, plus `extra`.
CREATE OR REPLACE FUNCTION messaging.audit_outcome(p_status integer, p_body text, p_extra jsonb DEFAULT NULL)
RETURNS jsonb
LANGUAGE sql STABLE AS $$
  SELECT CASE WHEN p_status < 400
              THEN jsonb_build_object('outcome', 'ok', 'status', p_status)
              ELSE jsonb_build_object('outcome', 'refused', 'status', p_status,
                                      'code', (p_body::jsonb) -> 'error' ->> 'code') END
         || coalesce(p_extra, '{}')
$$;

-- The page's ids, for `detail`: which messages were shown.
CREATE OR REPLACE FUNCTION messaging.audit_page(p_status integer, p_body text, p_limit integer,
                                                p_before bigint, p_after bigint)
RETURNS jsonb
LANGUAGE sql STABLE AS $$
  SELECT messaging.audit_outcome(p_status, p_body,
           jsonb_strip_nulls(jsonb_build_object('limit', p_limit, 'before', p_before, 'after', p_after))
           || CASE WHEN p_status = 200 THEN
                (SELECT jsonb_build_object('count', count(*), 'firstId', min((m ->> 'id')::bigint),
                                           'lastId', max((m ->> 'id')::bigint))
                   FROM json_array_elements((p_body::json) -> 'messages') m)
              ELSE '{}' END)
$$;

-- The retention purge, the only exception to append-only: rows older than
-- p_days (the gateway passes audit_retention_days, once a day). SECURITY
-- DEFINER: it runs as the table's owner, so a production role that has only
-- INSERT and SELECT on the log can run it without being able to delete
-- anything else. Returns the rows removed; the purge itself is logged.
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
