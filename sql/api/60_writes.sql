-- The writes of messages and receipts (docs/events.md). Each returns
-- messaging.write_result: the reply (status, body) and what delivery needs,
-- the event id (NULL when nothing was emitted), the id of the
-- conversation's previous event (kept on the conversation row and read
-- under its row lock) and the event's data.
--
-- Ordering: each write locks the conversation row (FOR NO KEY UPDATE:
-- conflicts with itself, not with foreign-key checks) before it takes a
-- message id or an event id, so that within one conversation id order is
-- commit order.
--
-- Each is one plpgsql body whose statements are planned once per session;
-- post_message and post_read write their rows (message or marks, event,
-- conversation, delivery marker, access-log row: API.md section 9) in one
-- statement.

-- 201 {message}; 200 {message} for a repeated clientId (nothing stored, no
-- event); errors as messaging.fail.
CREATE OR REPLACE FUNCTION messaging.post_message(p_user integer, p_role text, p_conv bigint,
                                                  p_content text, p_client_id text,
                                                  p_max_len integer, p_notify boolean)
RETURNS messaging.write_result
LANGUAGE plpgsql AS $$
DECLARE
  v_max integer := coalesce(p_max_len, 10000);
  v_me record;
  v_found boolean;
  v_status text;
  v_prev bigint;
  v_err messaging.reply;
  v_id bigint;
  v_sent timestamptz;
  v_event bigint;
  v_msg public.messages;
  v_json text;
BEGIN
  -- The conversation's row lock first, then the caller. Input is checked
  -- after it, but refused before anything is written; the order of the
  -- refusals: authentication, input, conversation.
  SELECT c.status, c.last_event_id, true INTO v_status, v_prev, v_found
    FROM public.conversations c
   WHERE c.id = p_conv AND messaging.takes_part(c, p_user)
     AND p_conv BETWEEN 1 AND 2147483647
     FOR NO KEY UPDATE;
  SELECT * INTO v_me FROM messaging.caller(p_user, p_role);
  v_err := v_me.error;
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
  ELSIF v_err IS NULL AND v_found IS NULL THEN
    v_err := messaging.fail(404, 'not_found', 'Conversation not found');
  ELSIF v_err IS NULL AND v_status IS DISTINCT FROM 'active' THEN
    v_err := messaging.fail(409, 'conflict', 'This conversation is not active');
  END IF;
  IF v_err IS NOT NULL THEN
    PERFORM messaging.audit(p_user, 'message_send', p_conv, messaging.audit_outcome(v_err.status, v_err.body));
    RETURN ROW(v_err.status, v_err.body, NULL, NULL, NULL)::messaging.write_result;
  END IF;

  -- now() is the transaction's start: the message's sent_at exactly.
  WITH m AS (
    INSERT INTO public.messages AS m (conversation_id, sender_id, content, client_id)
    VALUES (p_conv, p_user, p_content, p_client_id)
    ON CONFLICT (conversation_id, sender_id, client_id) WHERE client_id IS NOT NULL DO NOTHING
    RETURNING m.id, m.sent_at),
  e AS (
    INSERT INTO messaging.events (conversation_id, kind, message_id)
    SELECT p_conv, 'new_message', m.id FROM m
    RETURNING id),
  c AS (
    UPDATE public.conversations SET last_message_at = now(), updated_at = now(), last_event_id = e.id
      FROM e WHERE public.conversations.id = p_conv),
  a AS (
    INSERT INTO messaging.audit_log (user_id, action, conversation_id, via, detail)
    SELECT p_user, 'message_send', p_conv, messaging.audit_via(),
           jsonb_build_object('outcome', 'ok', 'status', 201, 'messageId', m.id, 'repeat', false)
      FROM m WHERE messaging.audit_on())
  SELECT m.id, m.sent_at, e.id INTO v_id, v_sent, v_event FROM m, e;

  IF v_id IS NULL THEN
    -- A repeat of a clientId: the first message, nothing stored, no event.
    SELECT m.* INTO v_msg FROM public.messages m
     WHERE m.conversation_id = p_conv AND m.sender_id = p_user AND m.client_id = p_client_id;
    IF NOT FOUND THEN  -- deleted in between: let the client retry
      v_err := messaging.fail(409, 'conflict', 'A message with this clientId is being changed; retry');
      PERFORM messaging.audit(p_user, 'message_send', p_conv, messaging.audit_outcome(v_err.status, v_err.body));
      RETURN ROW(v_err.status, v_err.body, NULL, NULL, NULL)::messaging.write_result;
    END IF;
    PERFORM messaging.audit(p_user, 'message_send', p_conv,
                            jsonb_build_object('outcome', 'ok', 'status', 200, 'messageId', v_msg.id, 'repeat', true));
    RETURN ROW(200, '{"message":' || messaging.message_json(v_msg)::text || '}', NULL, NULL, NULL)::messaging.write_result;
  END IF;

  IF p_notify THEN
    PERFORM messaging.notify_bell(ARRAY[p_conv::integer], 'db');
  END IF;
  -- messaging.message_json's object for a message just written: nobody can
  -- have it delivered or read yet (a delivery marker only ever reaches an
  -- existing message), so deliveredAt is null without a look-up.
  v_json := json_build_object('id', v_id, 'conversationId', p_conv::integer, 'senderId', p_user,
                              'content', p_content, 'sentAt', messaging.ts(v_sent),
                              'isRead', false, 'clientId', p_client_id, 'deliveredAt', NULL::text)::text;
  RETURN ROW(201, '{"message":' || v_json || '}', v_event, v_prev,
             '{"message":' || v_json || ',"conversationId":' || p_conv || '}')::messaging.write_result;
END $$;

-- 200 {conversationId, updatedCount}; a 'messages_read' event only when it
-- marked something (API.md section 8). A read delivers too: the caller's
-- delivery marker moves to the newest message read (no event of its own:
-- messages_read says more).
CREATE OR REPLACE FUNCTION messaging.post_read(p_user integer, p_role text, p_conv bigint, p_notify boolean)
RETURNS messaging.write_result
LANGUAGE plpgsql AS $$
DECLARE
  v_me record;
  v_err messaging.reply;
  v_prev bigint;
  v_count bigint;
  v_event bigint;
  v_data json;
BEGIN
  SELECT * INTO v_me FROM messaging.caller(p_user, p_role);
  v_err := v_me.error;
  IF v_err IS NULL AND NOT messaging.is_id(p_conv) THEN
    v_err := messaging.fail(400, 'invalid_request', 'conversation id must be a positive 32-bit integer');
  END IF;
  IF v_err IS NULL THEN
    SELECT c.last_event_id INTO v_prev FROM public.conversations c
     WHERE c.id = p_conv AND messaging.takes_part(c, p_user)
       FOR NO KEY UPDATE;
    IF NOT FOUND THEN
      v_err := messaging.fail(404, 'not_found', 'Conversation not found');
    END IF;
  END IF;
  IF v_err IS NOT NULL THEN
    PERFORM messaging.audit(p_user, 'messages_mark_read', p_conv, messaging.audit_outcome(v_err.status, v_err.body));
    RETURN ROW(v_err.status, v_err.body, NULL, NULL, NULL)::messaging.write_result;
  END IF;

  UPDATE public.messages m SET is_read = true
   WHERE m.conversation_id = p_conv AND m.sender_id <> p_user AND NOT m.is_read;
  GET DIAGNOSTICS v_count = ROW_COUNT;
  IF v_count > 0 THEN
    v_data := json_build_object('conversationId', p_conv, 'userId', p_user, 'updatedCount', v_count);
    WITH e AS (
      INSERT INTO messaging.events (conversation_id, kind, payload)
      VALUES (p_conv, 'messages_read', v_data)
      RETURNING id),
    c AS (
      UPDATE public.conversations SET last_event_id = e.id FROM e WHERE public.conversations.id = p_conv),
    d AS (
      INSERT INTO messaging.deliveries AS d (conversation_id, user_id, up_to_id, delivered_at)
      SELECT p_conv, p_user, max(m.id), now() FROM public.messages m
       WHERE m.conversation_id = p_conv AND m.sender_id <> p_user AND m.is_read
      HAVING max(m.id) IS NOT NULL
      ON CONFLICT (conversation_id, user_id) DO UPDATE
        SET up_to_id = EXCLUDED.up_to_id, delivered_at = EXCLUDED.delivered_at
       WHERE d.up_to_id < EXCLUDED.up_to_id),
    a AS (
      INSERT INTO messaging.audit_log (user_id, action, conversation_id, via, detail)
      SELECT p_user, 'messages_mark_read', p_conv, messaging.audit_via(),
             jsonb_build_object('outcome', 'ok', 'status', 200, 'updatedCount', v_count)
       WHERE messaging.audit_on())
    SELECT e.id INTO v_event FROM e;
    IF p_notify THEN
      PERFORM messaging.notify_bell(ARRAY[p_conv::integer], 'db');
    END IF;
  ELSE
    INSERT INTO messaging.audit_log (user_id, action, conversation_id, via, detail)
    SELECT p_user, 'messages_mark_read', p_conv, messaging.audit_via(),
           jsonb_build_object('outcome', 'ok', 'status', 200, 'updatedCount', v_count)
     WHERE messaging.audit_on();
  END IF;
  RETURN ROW(200, json_build_object('conversationId', p_conv, 'updatedCount', v_count)::text,
             v_event, CASE WHEN v_event IS NULL THEN NULL ELSE v_prev END, v_data::text)::messaging.write_result;
END $$;

-- Moves p_user's delivery marker in p_conv (sql/041_deliveries.sql) to the
-- newest message of the other participant with id <= p_up_to; writes a
-- messages_delivered event when it moved ({"delivered":false} and no event
-- when it did not, or when receipts are off). Takes the conversation's row lock only when the marker
-- moves (the gateway batches it). Its statements stay apart: one statement
-- for its three writes measured no cheaper here.
CREATE OR REPLACE FUNCTION messaging.mark_delivered(p_user integer, p_conv bigint, p_up_to bigint,
                                                    p_notify boolean DEFAULT false)
RETURNS messaging.write_result
LANGUAGE plpgsql AS $$
DECLARE
  v_prev bigint;
  v_up bigint;
  v_event bigint;
  v_data json;
BEGIN
  IF p_up_to IS NULL OR NOT messaging.is_id(p_conv) OR NOT messaging.receipts_on()
     OR EXISTS (SELECT 1 FROM messaging.deliveries d
                 WHERE d.conversation_id = p_conv AND d.user_id = p_user AND d.up_to_id >= p_up_to) THEN
    RETURN ROW(200, '{"delivered":false}', NULL, NULL, NULL)::messaging.write_result;
  END IF;
  SELECT c.last_event_id INTO v_prev FROM public.conversations c
   WHERE c.id = p_conv AND messaging.takes_part(c, p_user)
     FOR NO KEY UPDATE;
  IF NOT FOUND THEN
    RETURN ROW(404, (messaging.fail(404, 'not_found', 'Conversation not found')).body, NULL, NULL, NULL)::messaging.write_result;
  END IF;
  SELECT m.id INTO v_up FROM public.messages m
   WHERE m.conversation_id = p_conv AND m.id <= p_up_to AND m.sender_id <> p_user
   ORDER BY m.id DESC LIMIT 1;
  IF v_up IS NULL THEN
    RETURN ROW(200, '{"delivered":false}', NULL, NULL, NULL)::messaging.write_result;
  END IF;
  INSERT INTO messaging.deliveries AS d (conversation_id, user_id, up_to_id, delivered_at)
  VALUES (p_conv, p_user, v_up, now())
  ON CONFLICT (conversation_id, user_id) DO UPDATE SET up_to_id = EXCLUDED.up_to_id, delivered_at = EXCLUDED.delivered_at
   WHERE d.up_to_id < EXCLUDED.up_to_id;
  IF NOT FOUND THEN
    RETURN ROW(200, '{"delivered":false}', NULL, NULL, NULL)::messaging.write_result;
  END IF;
  v_data := json_build_object('conversationId', p_conv, 'userId', p_user, 'upToId', v_up,
                              'deliveredAt', messaging.ts(now()));
  INSERT INTO messaging.events (conversation_id, kind, payload)
  VALUES (p_conv, 'messages_delivered', v_data)
  RETURNING id INTO v_event;
  UPDATE public.conversations SET last_event_id = v_event WHERE id = p_conv;
  IF p_notify THEN
    PERFORM messaging.notify_bell(ARRAY[p_conv::integer], 'db');
  END IF;
  RETURN ROW(200, v_data::text, v_event, v_prev, v_data::text)::messaging.write_result;
END $$;

-- The gateway's receipts of one flush (API.md section 9) as one statement
-- set: p_users[i] got the messages of p_convs[i] up to p_up_to[i]. One row
-- per marker that moved (its messages_delivered event, as mark_delivered
-- returns it); a mark that moves nothing, or of someone not taking part,
-- returns nothing; a conversation locked by another writer returns its
-- mark with status 409, for the caller's next flush. The row locks are
-- taken first, in a statement of their own (so that the writes read the
-- newest last_event_id): the caller commits it alone, never inside a batch
-- of sends. Measured against one
-- mark_delivered call per marker in the gateway's batches: docs/events.md.
CREATE OR REPLACE FUNCTION messaging.mark_delivered_many(p_users integer[], p_convs bigint[], p_up_to bigint[])
RETURNS SETOF messaging.write_result
LANGUAGE plpgsql AS $$
DECLARE
  v_convs bigint[];
  v_wanted bigint[];
BEGIN
  IF NOT messaging.receipts_on() THEN
    RETURN;
  END IF;
  -- The markers that would move (no lock for those that would not).
  SELECT array_agg(DISTINCT r.conv) INTO v_convs
    FROM unnest(p_users, p_convs, p_up_to) AS r(usr, conv, up_to)
   WHERE messaging.is_id(r.conv) AND r.up_to IS NOT NULL
     AND NOT EXISTS (SELECT 1 FROM messaging.deliveries d
                      WHERE d.conversation_id = r.conv AND d.user_id = r.usr AND d.up_to_id >= r.up_to);
  IF v_convs IS NULL THEN
    RETURN;
  END IF;
  -- A receipt never waits for a lock: a conversation whose row a send
  -- holds is skipped (status 409, its mark as data) and the gateway marks
  -- it at its next flush. So this transaction, which sends of these
  -- conversations may wait for, never waits itself.
  v_wanted := v_convs;
  SELECT array_agg(x.id) INTO v_convs
    FROM (SELECT c.id FROM public.conversations c WHERE c.id = ANY (v_wanted)
           ORDER BY c.id FOR NO KEY UPDATE SKIP LOCKED) x;
  RETURN QUERY
  SELECT 409, NULL::text, NULL::bigint, NULL::bigint,
         json_build_object('conversationId', r.conv, 'userId', r.usr, 'upToId', r.up_to)::text
    FROM unnest(p_users, p_convs, p_up_to) AS r(usr, conv, up_to)
   WHERE r.conv = ANY (v_wanted) AND NOT r.conv = ANY (coalesce(v_convs, '{}'));
  IF v_convs IS NULL THEN
    RETURN;
  END IF;
  RETURN QUERY
  WITH req AS (
    SELECT DISTINCT ON (r.conv, r.usr) r.usr, r.conv::integer AS conv, r.up_to
      FROM unnest(p_users, p_convs, p_up_to) AS r(usr, conv, up_to)
     WHERE r.conv = ANY (v_convs) AND r.up_to IS NOT NULL
     ORDER BY r.conv, r.usr, r.up_to DESC),
  up AS (
    SELECT q.conv, q.usr,
           (SELECT m.id FROM public.messages m
             WHERE m.conversation_id = q.conv AND m.id <= q.up_to AND m.sender_id <> q.usr
             ORDER BY m.id DESC LIMIT 1) AS up_id
      FROM req q JOIN public.conversations c ON c.id = q.conv AND messaging.takes_part(c, q.usr)),
  moved AS (
    INSERT INTO messaging.deliveries AS d (conversation_id, user_id, up_to_id, delivered_at)
    SELECT u.conv, u.usr, u.up_id, now() FROM up u WHERE u.up_id IS NOT NULL
    ON CONFLICT (conversation_id, user_id) DO UPDATE
       SET up_to_id = EXCLUDED.up_to_id, delivered_at = EXCLUDED.delivered_at
     WHERE d.up_to_id < EXCLUDED.up_to_id
    RETURNING d.conversation_id, d.user_id, d.up_to_id),
  ev AS (
    INSERT INTO messaging.events (conversation_id, kind, payload)
    SELECT mv.conversation_id, 'messages_delivered',
           json_build_object('conversationId', mv.conversation_id, 'userId', mv.user_id,
                             'upToId', mv.up_to_id, 'deliveredAt', messaging.ts(now()))
      FROM moved mv ORDER BY mv.conversation_id, mv.user_id
    RETURNING id, conversation_id, payload),
  last AS (
    UPDATE public.conversations c SET last_event_id = e.newest
      FROM (SELECT conversation_id, max(id) AS newest FROM ev GROUP BY conversation_id) e
     WHERE c.id = e.conversation_id)
  SELECT 200, e.payload::text, e.id,
         coalesce(lag(e.id) OVER (PARTITION BY e.conversation_id ORDER BY e.id), c.last_event_id),
         e.payload::text
    FROM ev e JOIN public.conversations c ON c.id = e.conversation_id
   ORDER BY e.conversation_id, e.id;
END $$;

-- The replies of post_message and post_read alone, for other callers.
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
