-- 013: the delivery pipeline (docs/events.md).
-- * A new_message event references its message instead of copying its JSON:
--   the event row is small (less WAL per message), its data is built when
--   read (messaging.event_data).
-- * One operation per write (messaging.post_message, messaging.post_read)
--   returns the reply and what delivery needs: the event id and the id of
--   the conversation's previous event, kept on the conversation row and
--   read under its row lock, so no second function reads anything back.
--   send_message and mark_read stay, as wrappers, for other callers.
-- * A read that marks nothing writes no event (API.md section 8).
-- * One NOTIFY payload type, tagged (messaging.notify_bell below).

ALTER TABLE messaging.events ADD COLUMN IF NOT EXISTS message_id bigint;
ALTER TABLE messaging.events ALTER COLUMN payload DROP NOT NULL;
DO $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_constraint WHERE conname = 'events_payload_or_message') THEN
    ALTER TABLE messaging.events ADD CONSTRAINT events_payload_or_message
      CHECK ((payload IS NULL) <> (message_id IS NULL)) NOT VALID;
  END IF;
END $$;

-- The newest event of each conversation: the "previous event" of the next
-- write, taken under the row lock the write holds anyway.
ALTER TABLE public.conversations ADD COLUMN IF NOT EXISTS last_event_id bigint NOT NULL DEFAULT 0;
UPDATE public.conversations c SET last_event_id = e.m
  FROM (SELECT conversation_id, max(id) AS m FROM messaging.events GROUP BY conversation_id) e
 WHERE e.conversation_id = c.id AND c.last_event_id < e.m;

DO $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
                  WHERE n.nspname = 'messaging' AND t.typname = 'write_result') THEN
    -- status and body as messaging.reply; event_id NULL when nothing was
    -- emitted; prev_id the conversation's event before it (0: none); data
    -- the event's Socket.IO data as JSON text.
    CREATE TYPE messaging.write_result AS (status integer, body text, event_id bigint, prev_id bigint, data text);
  END IF;
END $$;

-- The data of an event's Socket.IO packet, as JSON text.
CREATE OR REPLACE FUNCTION messaging.event_data(p_payload json, p_message public.messages, p_conversation integer)
RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE AS $$
  SELECT CASE WHEN p_payload IS NOT NULL THEN p_payload::text
              WHEN (p_message).id IS NOT NULL
              THEN json_build_object('message', messaging.message_json(p_message),
                                     'conversationId', p_conversation)::text END
$$;

-- ---------------------------------------------------------------- NOTIFY
-- The one payload type of channel messaging_events, tagged by "t":
--   {"t":"bell","origin":O,"conversations":[ids]}  events were committed in
--       those conversations (no "conversations": in any of them);
--   {"t":"typing",...} and {"t":"revoke",...}: see docs/events.md.
-- Past NOTIFY's 8000 bytes a bell names no conversation.
CREATE OR REPLACE FUNCTION messaging.notify_bell(p_conversations integer[], p_origin text DEFAULT 'db')
RETURNS void
LANGUAGE plpgsql AS $$
DECLARE v text;
BEGIN
  v := json_build_object('t', 'bell', 'origin', coalesce(p_origin, 'db'))::text;
  IF p_conversations IS NOT NULL AND cardinality(p_conversations) BETWEEN 1 AND 600 THEN
    v := json_build_object('t', 'bell', 'origin', coalesce(p_origin, 'db'),
                           'conversations', to_json(p_conversations))::text;
  END IF;
  PERFORM pg_notify('messaging_events', v);
END $$;

-- Inline notification (notify_mode = inline, other writers): a bell naming
-- the conversation, inside the writing transaction.
CREATE OR REPLACE FUNCTION messaging.notify_event(p_id bigint, p_conversation bigint, p_kind text, p_data json)
RETURNS void
LANGUAGE sql AS $$ SELECT messaging.notify_bell(ARRAY[p_conversation::integer], 'db') $$;

-- The API's doorbell, after commit: a bell for the conversations its
-- workers wrote to (NULL: all). Returns the newest event id.
CREATE OR REPLACE FUNCTION messaging.ring(p_conversations integer[])
RETURNS bigint
LANGUAGE plpgsql AS $$
BEGIN
  PERFORM messaging.notify_bell(p_conversations, 'api');
  RETURN coalesce((SELECT max(id) FROM messaging.events), 0);
END $$;

CREATE OR REPLACE FUNCTION messaging.doorbell(p_up_to bigint DEFAULT NULL) RETURNS bigint
LANGUAGE sql AS $$ SELECT messaging.ring(NULL) $$;

-- ---------------------------------------------------------------- writes

-- 201 {message}; 200 {message} for a repeated clientId (nothing stored, no
-- event); errors as messaging.fail.
CREATE OR REPLACE FUNCTION messaging.post_message(p_user integer, p_role text, p_conv bigint,
                                                  p_content text, p_client_id text,
                                                  p_max_len integer, p_notify boolean)
RETURNS messaging.write_result
LANGUAGE plpgsql AS $$
DECLARE
  v_role text;
  v_err messaging.reply;
  v_max integer := coalesce(p_max_len, 10000);
  v_status text;
  v_prev bigint;
  v_msg public.messages;
  v_json text;
  v_event bigint;
BEGIN
  SELECT u.role INTO v_role FROM public.users u WHERE u.id = p_user;
  v_err := messaging.auth_error(v_role, p_role);
  IF v_err IS NULL AND NOT messaging.is_id(p_conv) THEN
    v_err := messaging.fail(400, 'invalid_request', 'conversation id must be a positive 32-bit integer');
  ELSIF v_err IS NULL AND p_content IS NULL THEN
    v_err := messaging.fail(400, 'invalid_request', 'content must be a string');
  -- More than 4 bytes per allowed code point is too long without counting.
  ELSIF v_err IS NULL AND octet_length(p_content) > 4::bigint * greatest(v_max, 0) THEN
    v_err := messaging.fail(400, 'invalid_request', format('content must be at most %s characters', v_max));
  ELSIF v_err IS NULL AND messaging.is_blank(p_content) THEN
    v_err := messaging.fail(400, 'invalid_request', 'content must not be blank');
  ELSIF v_err IS NULL AND char_length(p_content) > v_max THEN
    v_err := messaging.fail(400, 'invalid_request', format('content must be at most %s characters', v_max));
  ELSIF v_err IS NULL AND p_client_id IS NOT NULL
        AND (octet_length(p_client_id) > 256 OR char_length(p_client_id) NOT BETWEEN 1 AND 64) THEN
    v_err := messaging.fail(400, 'invalid_request', 'clientId must be a string of 1 to 64 characters');
  END IF;
  IF v_err IS NOT NULL THEN
    RETURN ROW(v_err.status, v_err.body, NULL, NULL, NULL)::messaging.write_result;
  END IF;

  -- The conversation's row lock first: every message id and event id of
  -- this conversation is taken under it, so id order is commit order.
  -- NO KEY UPDATE: conflicts with itself, not with foreign-key checks.
  SELECT c.status, c.last_event_id INTO v_status, v_prev FROM public.conversations c
   WHERE c.id = p_conv AND (c.patient_id = p_user OR c.doctor_id = p_user)
     FOR NO KEY UPDATE;
  IF NOT FOUND THEN
    v_err := messaging.fail(404, 'not_found', 'Conversation not found');
  ELSIF v_status IS DISTINCT FROM 'active' THEN
    v_err := messaging.fail(409, 'conflict', 'This conversation is not active');
  END IF;
  IF v_err IS NOT NULL THEN
    RETURN ROW(v_err.status, v_err.body, NULL, NULL, NULL)::messaging.write_result;
  END IF;

  INSERT INTO public.messages AS m (conversation_id, sender_id, content, client_id)
  VALUES (p_conv, p_user, p_content, p_client_id)
  ON CONFLICT (conversation_id, sender_id, client_id) WHERE client_id IS NOT NULL DO NOTHING
  RETURNING m.* INTO v_msg;
  IF NOT FOUND THEN
    -- A repeat: the first message, nothing stored, no event.
    SELECT m.* INTO v_msg FROM public.messages m
     WHERE m.conversation_id = p_conv AND m.sender_id = p_user AND m.client_id = p_client_id;
    IF NOT FOUND THEN  -- deleted in between: let the client retry
      v_err := messaging.fail(409, 'conflict', 'A message with this clientId is being changed; retry');
      RETURN ROW(v_err.status, v_err.body, NULL, NULL, NULL)::messaging.write_result;
    END IF;
    RETURN ROW(200, '{"message":' || messaging.message_json(v_msg)::text || '}', NULL, NULL, NULL)::messaging.write_result;
  END IF;

  INSERT INTO messaging.events (conversation_id, kind, message_id)
  VALUES (p_conv, 'new_message', v_msg.id)
  RETURNING id INTO v_event;
  -- now() is the transaction's start: the message's sent_at exactly.
  UPDATE public.conversations SET last_message_at = now(), updated_at = now(), last_event_id = v_event
   WHERE id = p_conv;
  IF p_notify THEN
    PERFORM messaging.notify_bell(ARRAY[p_conv::integer], 'db');
  END IF;
  v_json := messaging.message_json(v_msg)::text;
  RETURN ROW(201, '{"message":' || v_json || '}', v_event, v_prev,
             '{"message":' || v_json || ',"conversationId":' || p_conv || '}')::messaging.write_result;
END $$;

-- 200 {conversationId, updatedCount}; a 'messages_read' event only when it
-- marked something.
CREATE OR REPLACE FUNCTION messaging.post_read(p_user integer, p_role text, p_conv bigint, p_notify boolean)
RETURNS messaging.write_result
LANGUAGE plpgsql AS $$
DECLARE
  v_role text;
  v_err messaging.reply;
  v_prev bigint;
  v_count bigint;
  v_event bigint;
  v_data json;
BEGIN
  SELECT u.role INTO v_role FROM public.users u WHERE u.id = p_user;
  v_err := messaging.auth_error(v_role, p_role);
  IF v_err IS NULL AND NOT messaging.is_id(p_conv) THEN
    v_err := messaging.fail(400, 'invalid_request', 'conversation id must be a positive 32-bit integer');
  END IF;
  IF v_err IS NULL THEN
    -- Same lock as post_message: the event id is taken under it.
    SELECT c.last_event_id INTO v_prev FROM public.conversations c
     WHERE c.id = p_conv AND (c.patient_id = p_user OR c.doctor_id = p_user)
       FOR NO KEY UPDATE;
    IF NOT FOUND THEN
      v_err := messaging.fail(404, 'not_found', 'Conversation not found');
    END IF;
  END IF;
  IF v_err IS NOT NULL THEN
    RETURN ROW(v_err.status, v_err.body, NULL, NULL, NULL)::messaging.write_result;
  END IF;

  UPDATE public.messages m SET is_read = true
   WHERE m.conversation_id = p_conv AND m.sender_id <> p_user AND NOT m.is_read;
  GET DIAGNOSTICS v_count = ROW_COUNT;
  IF v_count > 0 THEN
    v_data := json_build_object('conversationId', p_conv, 'userId', p_user, 'updatedCount', v_count);
    INSERT INTO messaging.events (conversation_id, kind, payload)
    VALUES (p_conv, 'messages_read', v_data)
    RETURNING id INTO v_event;
    UPDATE public.conversations SET last_event_id = v_event WHERE id = p_conv;
    IF p_notify THEN
      PERFORM messaging.notify_bell(ARRAY[p_conv::integer], 'db');
    END IF;
  END IF;
  RETURN ROW(200, json_build_object('conversationId', p_conv, 'updatedCount', v_count)::text,
             v_event, CASE WHEN v_event IS NULL THEN NULL ELSE v_prev END, v_data::text)::messaging.write_result;
END $$;

-- The operations of 006 as before, for other callers: one rule, one place.
CREATE OR REPLACE FUNCTION messaging.send_message(p_user integer, p_role text, p_conv bigint,
                                                  p_content text, p_client_id text,
                                                  p_max_len integer, p_notify boolean)
RETURNS messaging.reply
LANGUAGE sql AS $$
  SELECT ROW(w.status, w.body)::messaging.reply
    FROM messaging.post_message(p_user, p_role, p_conv, p_content, p_client_id, p_max_len, p_notify) w
$$;

CREATE OR REPLACE FUNCTION messaging.mark_read(p_user integer, p_role text, p_conv bigint, p_notify boolean)
RETURNS messaging.reply
LANGUAGE sql AS $$
  SELECT ROW(w.status, w.body)::messaging.reply FROM messaging.post_read(p_user, p_role, p_conv, p_notify) w
$$;

DROP FUNCTION IF EXISTS messaging.send_message_ev(integer, text, bigint, text, text, integer);
DROP FUNCTION IF EXISTS messaging.mark_read_ev(integer, text, bigint);
DROP FUNCTION IF EXISTS messaging.last_event(integer);

-- ---------------------------------------------------------------- reads
-- The same signatures as before; the data is built from the message row.

CREATE OR REPLACE FUNCTION messaging.events_since(p_after bigint, p_conversations integer[], p_limit integer)
RETURNS TABLE (id bigint, conversation_id integer, kind text, payload text)
LANGUAGE sql STABLE PARALLEL SAFE AS $$
  SELECT e.id, e.conversation_id, e.kind, messaging.event_data(e.payload, m, e.conversation_id)
    FROM messaging.events e LEFT JOIN public.messages m ON m.id = e.message_id
   WHERE e.id > coalesce(p_after, 0)
     AND (p_conversations IS NULL OR e.conversation_id = ANY (p_conversations))
   ORDER BY e.id
   LIMIT CASE WHEN p_limit IS NULL THEN NULL ELSE greatest(p_limit, 0) END
$$;

CREATE OR REPLACE FUNCTION messaging.event_by_id(p_id bigint)
RETURNS TABLE (id bigint, conversation_id integer, kind text, payload text)
LANGUAGE sql STABLE PARALLEL SAFE AS $$
  SELECT e.id, e.conversation_id, e.kind, messaging.event_data(e.payload, m, e.conversation_id)
    FROM messaging.events e LEFT JOIN public.messages m ON m.id = e.message_id
   WHERE e.id = p_id
$$;

CREATE OR REPLACE FUNCTION messaging.events_since_each(p_conversations integer[], p_after bigint[], p_limit integer)
RETURNS TABLE (id bigint, conversation_id integer, kind text, payload text)
LANGUAGE sql STABLE PARALLEL SAFE AS $$
  SELECT e.id, e.conversation_id, e.kind, messaging.event_data(e.payload, m, e.conversation_id)
    FROM unnest(p_conversations, p_after) AS c(conv, after)
    CROSS JOIN LATERAL (
      SELECT x.id, x.conversation_id, x.kind, x.payload, x.message_id
        FROM messaging.events x
       WHERE x.conversation_id = c.conv AND x.id > coalesce(c.after, 0)
       ORDER BY x.id
       LIMIT CASE WHEN p_limit IS NULL THEN NULL ELSE greatest(p_limit, 0) END) e
    LEFT JOIN public.messages m ON m.id = e.message_id
   ORDER BY e.id
   LIMIT CASE WHEN p_limit IS NULL THEN NULL ELSE greatest(p_limit, 0) END
$$;

CREATE OR REPLACE FUNCTION messaging.session_replay(p_ids bigint[], p_conversations integer[],
                                                    p_after bigint[], p_limit integer)
RETURNS TABLE (id bigint, conversation_id integer, kind text, payload text)
LANGUAGE sql STABLE AS $$
  SELECT x.id, x.conversation_id, x.kind, x.payload FROM (
    SELECT e.id, e.conversation_id, e.kind, messaging.event_data(e.payload, m, e.conversation_id) AS payload,
           0 AS part, array_position(p_ids, e.id) AS ord
      FROM messaging.events e LEFT JOIN public.messages m ON m.id = e.message_id
     WHERE e.id = ANY (coalesce(p_ids, '{}'))
    UNION ALL
    SELECT s.id, s.conversation_id, s.kind, s.payload, 1, s.id
      FROM messaging.events_since_each(p_conversations, p_after, p_limit) s
     WHERE NOT (s.id = ANY (coalesce(p_ids, '{}')))) x
  ORDER BY x.part, x.ord
  LIMIT p_limit
$$;

-- The gateway's safety net: what was committed after `p_after` (ids and
-- conversations only), by the primary key: one index probe when nothing
-- changed. p_after NULL: one row, the newest id (where to start).
CREATE OR REPLACE FUNCTION messaging.events_after(p_after bigint, p_limit integer)
RETURNS TABLE (id bigint, conversation_id integer)
LANGUAGE sql STABLE PARALLEL SAFE AS $$
  (SELECT e.id, e.conversation_id FROM messaging.events e
    WHERE p_after IS NOT NULL AND e.id > p_after ORDER BY e.id LIMIT greatest(p_limit, 0))
  UNION ALL
  SELECT coalesce(max(e.id), 0), 0 FROM messaging.events e WHERE p_after IS NULL
$$;
