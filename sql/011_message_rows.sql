-- 011: a page of messages as rows, for the API's hot path: the permission
-- rules are the same as list_messages (one place: the checks below call the
-- same helpers), but the JSON is written by the caller (shared/msgjson.c),
-- which costs the database a third of building it here.
--
-- First row: the header: status, and body = the error JSON when status is
-- not 200, else 'true'/'false' for hasMore. Then the messages, ascending id,
-- sent_us being sent_at in microseconds since the epoch.
CREATE OR REPLACE FUNCTION messaging.list_message_rows(p_user integer, p_role text, p_conv bigint,
                                                       p_limit integer, p_before bigint, p_after bigint)
RETURNS TABLE (status integer, body text, id bigint, conversation_id integer, sender_id integer,
               content text, sent_us bigint, is_read boolean, client_id text)
LANGUAGE plpgsql STABLE AS $$
DECLARE
  v_role text;
  v_err messaging.reply;
  v_limit integer := coalesce(p_limit, 50);
  v_n integer;
BEGIN
  SELECT u.role INTO v_role FROM public.users u WHERE u.id = p_user;
  v_err := messaging.auth_error(v_role, p_role);
  IF v_err IS NULL AND NOT messaging.is_id(p_conv) THEN
    v_err := messaging.fail(400, 'invalid_request', 'conversation id must be a positive 32-bit integer');
  END IF;
  IF v_err IS NULL AND v_limit NOT BETWEEN 1 AND 100 THEN
    v_err := messaging.fail(400, 'invalid_request', 'limit must be an integer between 1 and 100');
  END IF;
  IF v_err IS NULL AND p_before IS NOT NULL AND p_after IS NOT NULL THEN
    v_err := messaging.fail(400, 'invalid_request', 'Use before or after, not both');
  END IF;
  IF v_err IS NULL AND (p_before < 0 OR p_after < 0) THEN
    v_err := messaging.fail(400, 'invalid_request', 'before and after must be non-negative integers');
  END IF;
  IF v_err IS NULL AND NOT EXISTS (SELECT 1 FROM public.conversations c
                                    WHERE c.id = p_conv AND (c.patient_id = p_user OR c.doctor_id = p_user)) THEN
    v_err := messaging.fail(404, 'not_found', 'Conversation not found');
  END IF;
  IF v_err IS NOT NULL THEN
    RETURN QUERY SELECT v_err.status, v_err.body, NULL::bigint, NULL::integer, NULL::integer, NULL::text,
                        NULL::bigint, NULL::boolean, NULL::text;
    RETURN;
  END IF;

  -- One index range scan, one row more than the page for hasMore.
  RETURN QUERY
  WITH page AS MATERIALIZED (
    SELECT m.id, m.conversation_id, m.sender_id, m.content, m.sent_at, m.is_read, m.client_id
      FROM public.messages m
     WHERE p_after IS NULL AND m.conversation_id = p_conv
       AND m.id < coalesce(p_before, 9223372036854775807)
     ORDER BY m.id DESC LIMIT v_limit + 1),
  fwd AS MATERIALIZED (
    SELECT m.id, m.conversation_id, m.sender_id, m.content, m.sent_at, m.is_read, m.client_id
      FROM public.messages m
     WHERE p_after IS NOT NULL AND m.conversation_id = p_conv AND m.id > p_after
     ORDER BY m.id LIMIT v_limit + 1),
  n AS (SELECT (SELECT count(*) FROM page) + (SELECT count(*) FROM fwd) AS c),
  rows AS (
    SELECT * FROM (SELECT * FROM page ORDER BY page.id DESC LIMIT v_limit) a
    UNION ALL
    SELECT * FROM (SELECT * FROM fwd ORDER BY fwd.id LIMIT v_limit) b)
  SELECT 200, CASE WHEN n.c > v_limit THEN 'true' ELSE 'false' END, NULL::bigint, NULL::integer,
         NULL::integer, NULL::text, NULL::bigint, NULL::boolean, NULL::text
    FROM n
  UNION ALL
  (SELECT NULL::integer, NULL::text, r.id, r.conversation_id, r.sender_id, r.content,
          (extract(epoch FROM r.sent_at) * 1000000)::bigint, r.is_read, r.client_id
     FROM rows r ORDER BY r.id);
END $$;

-- Whether p_user takes part in conversation p_conv (inlined into callers).
CREATE OR REPLACE FUNCTION messaging.is_participant(p_conv bigint, p_user integer)
RETURNS boolean LANGUAGE sql STABLE PARALLEL SAFE AS $$
  SELECT EXISTS (SELECT 1 FROM public.conversations c
                  WHERE c.id = p_conv AND (c.patient_id = p_user OR c.doctor_id = p_user))
$$;

-- The authentication rule (API.md section 1) as a scalar, for statements
-- that cannot afford a composite reply: NULL when the caller is accepted,
-- else why not. auth_error() is written on top of it.
CREATE OR REPLACE FUNCTION messaging.auth_status(p_found_role text, p_token_role text)
RETURNS text LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT CASE
    WHEN p_found_role IS NULL THEN 'Unknown user'
    WHEN p_token_role IS NOT NULL AND p_token_role IS DISTINCT FROM p_found_role
      THEN 'Token role does not match the user'
  END
$$;

CREATE OR REPLACE FUNCTION messaging.auth_error(p_found_role text, p_token_role text)
RETURNS messaging.reply
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT CASE WHEN m IS NOT NULL THEN messaging.fail(401, 'unauthorized', m) END
    FROM (SELECT messaging.auth_status(p_found_role, p_token_role) AS m) s
$$;
