-- 045: messaging.post_message, the hottest write, as one body.
-- A profile of POST .../messages under load put a third of PostgreSQL's
-- CPU in SQL-language helpers that are not inlined (auth_error, audit,
-- audit_outcome, delivered_at): PostgreSQL 15 parses and plans such a
-- function's body at every call. Here every statement is plpgsql's own,
-- planned once per connection, and the four writes (message, event,
-- conversation, access-log row) are one statement. Same answers, same
-- rows, same rules as sql/013 + sql/040 (t/sql/test_operations.sql,
-- test_audit.sql).

CREATE OR REPLACE FUNCTION messaging.post_message(p_user integer, p_role text, p_conv bigint,
                                                  p_content text, p_client_id text,
                                                  p_max_len integer, p_notify boolean)
RETURNS messaging.write_result
LANGUAGE plpgsql AS $$
DECLARE
  v_max integer := coalesce(p_max_len, 10000);
  v_role text;
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
  -- The conversation's row lock first (as sql/013: every message id and
  -- event id of a conversation is taken under it, so id order is commit
  -- order), with the caller's role in the same statement. Input is
  -- checked after it, but refused before anything is written; the order
  -- of the refusals is sql/013's: authentication, input, conversation.
  SELECT c.status, c.last_event_id, true INTO v_status, v_prev, v_found
    FROM public.conversations c
   WHERE c.id = p_conv AND (c.patient_id = p_user OR c.doctor_id = p_user)
     AND p_conv BETWEEN 1 AND 2147483647
     FOR NO KEY UPDATE;
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

-- Its former body, now unused.
DROP FUNCTION IF EXISTS messaging.post_message_unlogged(integer, text, bigint, text, text, integer, boolean);

-- The check that precedes every authenticated call: one plpgsql body.
CREATE OR REPLACE FUNCTION messaging.token_check(p_user integer, p_iat bigint)
RETURNS boolean
LANGUAGE plpgsql STABLE AS $$
BEGIN
  IF EXISTS (SELECT 1 FROM messaging.revocations r
              WHERE r.user_id = p_user
                AND (p_iat IS NULL OR p_iat < ceil(extract(epoch FROM r.revoked_at)))) THEN
    RAISE EXCEPTION 'token revoked' USING ERRCODE = '28000';
  END IF;
  RETURN true;
END $$;

-- auth_error as a single expression, which PostgreSQL inlines into its
-- callers' cached plans (the form of sql/011, with a FROM, is planned anew
-- at every call).
CREATE OR REPLACE FUNCTION messaging.auth_error(p_found_role text, p_token_role text)
RETURNS messaging.reply
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT CASE WHEN messaging.auth_status(p_found_role, p_token_role) IS NOT NULL
              THEN messaging.fail(401, 'unauthorized', messaging.auth_status(p_found_role, p_token_role)) END
$$;
