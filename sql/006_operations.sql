-- 006: the operations of API.md section 4, shared by the REST program and the
-- realtime gateway. Each authenticates the caller first (p_user must exist in
-- users; p_role, the token's role claim, when not NULL must match), checks its
-- input, does its work and returns messaging.reply(status, body) where body is
-- the complete JSON text of the answer. Bad input never raises: it gets a 400
-- (or 401/403/404/409) reply. Only a real database failure raises.
--
-- Ordering (docs/events.md): send_message and mark_read lock the conversation
-- row before taking a message id or an event id, so that within one
-- conversation id order equals commit order.

-- 200 User
CREATE OR REPLACE FUNCTION messaging.authenticate(p_user integer, p_role text)
RETURNS messaging.reply
LANGUAGE plpgsql STABLE AS $$
DECLARE
  v_me public.users;
  v_err messaging.reply;
BEGIN
  SELECT u.* INTO v_me FROM public.users u WHERE u.id = p_user;
  v_err := messaging.auth_error(v_me.role, p_role);
  IF v_err IS NOT NULL THEN RETURN v_err; END IF;
  RETURN messaging.ok(200, messaging.user_json(v_me));
END $$;

-- 201 {conversation} created, 200 {conversation} already there.
CREATE OR REPLACE FUNCTION messaging.create_conversation(p_user integer, p_role text, p_participant bigint)
RETURNS messaging.reply
LANGUAGE plpgsql AS $$
DECLARE
  v_role text;
  v_other text;
  v_err messaging.reply;
  v_patient integer;
  v_doctor integer;
  v_conv public.conversations;
  v_status integer := 201;
BEGIN
  SELECT u.role INTO v_role FROM public.users u WHERE u.id = p_user;
  v_err := messaging.auth_error(v_role, p_role);
  IF v_err IS NOT NULL THEN RETURN v_err; END IF;

  IF NOT messaging.is_id(p_participant) THEN
    RETURN messaging.fail(400, 'invalid_request', 'participantId must be a positive 32-bit integer');
  END IF;
  IF p_participant = p_user THEN
    RETURN messaging.fail(400, 'invalid_request', 'Cannot start a conversation with yourself');
  END IF;
  SELECT u.role INTO v_other FROM public.users u WHERE u.id = p_participant;
  IF NOT FOUND THEN
    RETURN messaging.fail(404, 'not_found', 'User not found');
  END IF;
  IF v_other = v_role THEN
    RETURN messaging.fail(400, 'invalid_request', 'A conversation is between a patient and a doctor');
  END IF;
  IF v_role = 'patient' THEN
    v_patient := p_user; v_doctor := p_participant;
  ELSE
    v_patient := p_participant; v_doctor := p_user;
  END IF;
  PERFORM 1 FROM public.patient_doctor pd WHERE pd.patient_id = v_patient AND pd.doctor_id = v_doctor;
  IF NOT FOUND THEN
    RETURN messaging.fail(403, 'forbidden', 'This patient and this doctor are not linked');
  END IF;

  -- Race-safe: a concurrent creator of the same pair makes this one wait,
  -- then do nothing; the next statement sees its row.
  INSERT INTO public.conversations AS c (patient_id, doctor_id) VALUES (v_patient, v_doctor)
  ON CONFLICT (patient_id, doctor_id) DO NOTHING
  RETURNING c.* INTO v_conv;
  IF NOT FOUND THEN
    v_status := 200;
    SELECT c.* INTO v_conv FROM public.conversations c
     WHERE c.patient_id = v_patient AND c.doctor_id = v_doctor;
  END IF;
  RETURN messaging.ok(v_status, json_build_object('conversation', messaging.conversation_json(v_conv, p_user)));
END $$;

-- 200 {conversations: [...]}, newest last_message_at first, ties higher id first.
CREATE OR REPLACE FUNCTION messaging.list_conversations(p_user integer, p_role text, p_limit integer, p_offset integer)
RETURNS messaging.reply
LANGUAGE plpgsql STABLE AS $$
DECLARE
  v_role text;
  v_err messaging.reply;
  v_limit integer := coalesce(p_limit, 50);
  v_offset integer := coalesce(p_offset, 0);
  v_list json;
BEGIN
  SELECT u.role INTO v_role FROM public.users u WHERE u.id = p_user;
  v_err := messaging.auth_error(v_role, p_role);
  IF v_err IS NOT NULL THEN RETURN v_err; END IF;
  IF v_limit NOT BETWEEN 1 AND 100 THEN
    RETURN messaging.fail(400, 'invalid_request', 'limit must be an integer between 1 and 100');
  END IF;
  IF v_offset < 0 THEN
    RETURN messaging.fail(400, 'invalid_request', 'offset must be an integer between 0 and 2147483647');
  END IF;

  SELECT coalesce(json_agg(messaging.conversation_json(s.c, p_user)
                           ORDER BY (s.c).last_message_at DESC, (s.c).id DESC), '[]'::json)
    INTO v_list
    FROM (SELECT c FROM messaging.my_conversations(p_user, v_role) c
           ORDER BY c.last_message_at DESC, c.id DESC
           LIMIT v_limit OFFSET v_offset) s;
  RETURN messaging.ok(200, json_build_object('conversations', v_list));
END $$;

-- 200 {conversation} / 404 (absent and foreign look the same).
CREATE OR REPLACE FUNCTION messaging.get_conversation(p_user integer, p_role text, p_conv bigint)
RETURNS messaging.reply
LANGUAGE plpgsql STABLE AS $$
DECLARE
  v_role text;
  v_err messaging.reply;
  v_conv public.conversations;
BEGIN
  SELECT u.role INTO v_role FROM public.users u WHERE u.id = p_user;
  v_err := messaging.auth_error(v_role, p_role);
  IF v_err IS NOT NULL THEN RETURN v_err; END IF;
  IF NOT messaging.is_id(p_conv) THEN
    RETURN messaging.fail(400, 'invalid_request', 'conversation id must be a positive 32-bit integer');
  END IF;
  SELECT c.* INTO v_conv FROM public.conversations c
   WHERE c.id = p_conv AND (c.patient_id = p_user OR c.doctor_id = p_user);
  IF NOT FOUND THEN
    RETURN messaging.fail(404, 'not_found', 'Conversation not found');
  END IF;
  RETURN messaging.ok(200, json_build_object('conversation', messaging.conversation_json(v_conv, p_user)));
END $$;

-- 201 {message}; 200 {message} for a repeated clientId (nothing stored).
CREATE OR REPLACE FUNCTION messaging.send_message(p_user integer, p_role text, p_conv bigint,
                                                  p_content text, p_client_id text,
                                                  p_max_len integer, p_notify boolean)
RETURNS messaging.reply
LANGUAGE plpgsql AS $$
DECLARE
  v_role text;
  v_err messaging.reply;
  v_max integer := coalesce(p_max_len, 10000);
  v_status text;
  v_msg public.messages;
  v_json json;
  v_payload json;
  v_event bigint;
BEGIN
  SELECT u.role INTO v_role FROM public.users u WHERE u.id = p_user;
  v_err := messaging.auth_error(v_role, p_role);
  IF v_err IS NOT NULL THEN RETURN v_err; END IF;
  IF NOT messaging.is_id(p_conv) THEN
    RETURN messaging.fail(400, 'invalid_request', 'conversation id must be a positive 32-bit integer');
  END IF;
  IF p_content IS NULL THEN
    RETURN messaging.fail(400, 'invalid_request', 'content must be a string');
  END IF;
  -- More than 4 bytes per allowed code point is too long without counting.
  IF octet_length(p_content) > 4::bigint * greatest(v_max, 0) THEN
    RETURN messaging.fail(400, 'invalid_request', format('content must be at most %s characters', v_max));
  END IF;
  IF messaging.is_blank(p_content) THEN
    RETURN messaging.fail(400, 'invalid_request', 'content must not be blank');
  END IF;
  IF char_length(p_content) > v_max THEN
    RETURN messaging.fail(400, 'invalid_request', format('content must be at most %s characters', v_max));
  END IF;
  IF p_client_id IS NOT NULL AND (octet_length(p_client_id) > 256 OR char_length(p_client_id) NOT BETWEEN 1 AND 64) THEN
    RETURN messaging.fail(400, 'invalid_request', 'clientId must be a string of 1 to 64 characters');
  END IF;

  -- The conversation's row lock first: every message id and event id of this
  -- conversation is taken under it, so id order is commit order.
  -- NO KEY UPDATE: conflicts with itself (and UPDATE), not with the KEY SHARE
  -- locks of foreign-key checks.
  SELECT c.status INTO v_status FROM public.conversations c
   WHERE c.id = p_conv AND (c.patient_id = p_user OR c.doctor_id = p_user)
     FOR NO KEY UPDATE;
  IF NOT FOUND THEN
    RETURN messaging.fail(404, 'not_found', 'Conversation not found');
  END IF;
  IF v_status IS DISTINCT FROM 'active' THEN
    RETURN messaging.fail(409, 'conflict', 'This conversation is not active');
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
      RETURN messaging.fail(409, 'conflict', 'A message with this clientId is being changed; retry');
    END IF;
    RETURN messaging.ok(200, json_build_object('message', messaging.message_json(v_msg)));
  END IF;

  -- now() is the transaction's start: the message's sent_at exactly.
  UPDATE public.conversations SET last_message_at = now(), updated_at = now() WHERE id = p_conv;

  v_json := messaging.message_json(v_msg);
  v_payload := json_build_object('message', v_json, 'conversationId', p_conv);
  INSERT INTO messaging.events (conversation_id, kind, payload)
  VALUES (p_conv, 'new_message', v_payload)
  RETURNING id INTO v_event;
  IF p_notify THEN
    PERFORM messaging.notify_event(v_event, p_conv, 'new_message', v_payload);
  END IF;
  RETURN messaging.ok(201, json_build_object('message', v_json));
END $$;

-- 200 {messages: [...] ascending id, hasMore}.
CREATE OR REPLACE FUNCTION messaging.list_messages(p_user integer, p_role text, p_conv bigint,
                                                   p_limit integer, p_before bigint, p_after bigint)
RETURNS messaging.reply
LANGUAGE plpgsql STABLE AS $$
DECLARE
  v_role text;
  v_err messaging.reply;
  v_limit integer := coalesce(p_limit, 50);
  v_list json;
  v_more boolean;
BEGIN
  SELECT u.role INTO v_role FROM public.users u WHERE u.id = p_user;
  v_err := messaging.auth_error(v_role, p_role);
  IF v_err IS NOT NULL THEN RETURN v_err; END IF;
  IF NOT messaging.is_id(p_conv) THEN
    RETURN messaging.fail(400, 'invalid_request', 'conversation id must be a positive 32-bit integer');
  END IF;
  IF v_limit NOT BETWEEN 1 AND 100 THEN
    RETURN messaging.fail(400, 'invalid_request', 'limit must be an integer between 1 and 100');
  END IF;
  IF p_before IS NOT NULL AND p_after IS NOT NULL THEN
    RETURN messaging.fail(400, 'invalid_request', 'Use before or after, not both');
  END IF;
  IF p_before < 0 THEN
    RETURN messaging.fail(400, 'invalid_request', 'before must be a non-negative integer');
  END IF;
  IF p_after < 0 THEN
    RETURN messaging.fail(400, 'invalid_request', 'after must be a non-negative integer');
  END IF;
  PERFORM 1 FROM public.conversations c
   WHERE c.id = p_conv AND (c.patient_id = p_user OR c.doctor_id = p_user);
  IF NOT FOUND THEN
    RETURN messaging.fail(404, 'not_found', 'Conversation not found');
  END IF;

  -- One backward (or forward) scan of messages (conversation_id, id), one
  -- row more than the page to know whether there are more.
  IF p_after IS NOT NULL THEN
    SELECT coalesce(json_agg(messaging.message_json(s.m) ORDER BY (s.m).id) FILTER (WHERE s.n <= v_limit), '[]'::json),
           count(*) > v_limit
      INTO v_list, v_more
      FROM (SELECT m, row_number() OVER (ORDER BY m.id) AS n
              FROM public.messages m
             WHERE m.conversation_id = p_conv AND m.id > p_after
             ORDER BY m.id LIMIT v_limit + 1) s;
  ELSE
    SELECT coalesce(json_agg(messaging.message_json(s.m) ORDER BY (s.m).id) FILTER (WHERE s.n <= v_limit), '[]'::json),
           count(*) > v_limit
      INTO v_list, v_more
      FROM (SELECT m, row_number() OVER (ORDER BY m.id DESC) AS n
              FROM public.messages m
             WHERE m.conversation_id = p_conv AND m.id < coalesce(p_before, 9223372036854775807)
             ORDER BY m.id DESC LIMIT v_limit + 1) s;
  END IF;
  RETURN messaging.ok(200, json_build_object('messages', v_list, 'hasMore', v_more));
END $$;

-- 200 {conversationId, updatedCount}; writes a 'messages_read' event always.
CREATE OR REPLACE FUNCTION messaging.mark_read(p_user integer, p_role text, p_conv bigint, p_notify boolean)
RETURNS messaging.reply
LANGUAGE plpgsql AS $$
DECLARE
  v_role text;
  v_err messaging.reply;
  v_count bigint;
  v_payload json;
  v_event bigint;
BEGIN
  SELECT u.role INTO v_role FROM public.users u WHERE u.id = p_user;
  v_err := messaging.auth_error(v_role, p_role);
  IF v_err IS NOT NULL THEN RETURN v_err; END IF;
  IF NOT messaging.is_id(p_conv) THEN
    RETURN messaging.fail(400, 'invalid_request', 'conversation id must be a positive 32-bit integer');
  END IF;
  -- Same lock as send_message: the event id is taken under it.
  PERFORM 1 FROM public.conversations c
   WHERE c.id = p_conv AND (c.patient_id = p_user OR c.doctor_id = p_user)
     FOR NO KEY UPDATE;
  IF NOT FOUND THEN
    RETURN messaging.fail(404, 'not_found', 'Conversation not found');
  END IF;

  UPDATE public.messages m SET is_read = true
   WHERE m.conversation_id = p_conv AND m.sender_id <> p_user AND NOT m.is_read;
  GET DIAGNOSTICS v_count = ROW_COUNT;

  v_payload := json_build_object('conversationId', p_conv, 'userId', p_user, 'updatedCount', v_count);
  INSERT INTO messaging.events (conversation_id, kind, payload)
  VALUES (p_conv, 'messages_read', v_payload)
  RETURNING id INTO v_event;
  IF p_notify THEN
    PERFORM messaging.notify_event(v_event, p_conv, 'messages_read', v_payload);
  END IF;
  RETURN messaging.ok(200, json_build_object('conversationId', p_conv, 'updatedCount', v_count));
END $$;

-- 200 {total, byConversation: {"<id>": n}} non-zero entries only.
CREATE OR REPLACE FUNCTION messaging.unread_count(p_user integer, p_role text)
RETURNS messaging.reply
LANGUAGE plpgsql STABLE AS $$
DECLARE
  v_role text;
  v_err messaging.reply;
  v_total bigint;
  v_by json;
BEGIN
  SELECT u.role INTO v_role FROM public.users u WHERE u.id = p_user;
  v_err := messaging.auth_error(v_role, p_role);
  IF v_err IS NOT NULL THEN RETURN v_err; END IF;
  -- The caller's conversations (one index), each probing the partial index
  -- of unread messages.
  SELECT coalesce(sum(s.n), 0)::bigint, coalesce(json_object_agg(s.id, s.n ORDER BY s.id), '{}'::json)
    INTO v_total, v_by
    FROM (SELECT c.id, count(*) AS n
            FROM messaging.my_conversations(p_user, v_role) c
            JOIN public.messages m ON m.conversation_id = c.id AND NOT m.is_read AND m.sender_id <> p_user
           GROUP BY c.id) s;
  RETURN messaging.ok(200, json_build_object('total', v_total, 'byConversation', v_by));
END $$;

-- 200 {users: [User...]}: linked users whose "first last" contains q,
-- ignoring case and accents; ordered by last name, first name, id.
CREATE OR REPLACE FUNCTION messaging.search_users(p_user integer, p_role text, p_q text, p_limit integer)
RETURNS messaging.reply
LANGUAGE plpgsql STABLE AS $$
DECLARE
  v_role text;
  v_err messaging.reply;
  v_limit integer := coalesce(p_limit, 20);
  v_q text;
  v_list json;
BEGIN
  SELECT u.role INTO v_role FROM public.users u WHERE u.id = p_user;
  v_err := messaging.auth_error(v_role, p_role);
  IF v_err IS NOT NULL THEN RETURN v_err; END IF;
  IF p_q IS NULL OR octet_length(p_q) > 65536 THEN
    RETURN messaging.fail(400, 'invalid_request', 'q is required (1 to 100 characters)');
  END IF;
  v_q := messaging.trim_space(p_q);
  IF v_q = '' OR char_length(v_q) > 100 THEN
    RETURN messaging.fail(400, 'invalid_request', 'q is required (1 to 100 characters)');
  END IF;
  IF v_limit NOT BETWEEN 1 AND 50 THEN
    RETURN messaging.fail(400, 'invalid_request', 'limit must be an integer between 1 and 50');
  END IF;
  v_q := messaging.fold(v_q);
  SELECT coalesce(json_agg(messaging.user_json(s.u) ORDER BY (s.u).last_name, (s.u).first_name, (s.u).id), '[]'::json)
    INTO v_list
    FROM (SELECT u FROM messaging.linked_users(p_user, v_role) u
           WHERE strpos(messaging.fold(u.first_name || ' ' || u.last_name), v_q) > 0
           ORDER BY u.last_name, u.first_name, u.id
           LIMIT v_limit) s;
  RETURN messaging.ok(200, json_build_object('users', v_list));
END $$;

-- 200 {users: [User + conversationId (or null)]} every linked user.
CREATE OR REPLACE FUNCTION messaging.available_users(p_user integer, p_role text)
RETURNS messaging.reply
LANGUAGE plpgsql STABLE AS $$
DECLARE
  v_role text;
  v_err messaging.reply;
  v_list json;
BEGIN
  SELECT u.role INTO v_role FROM public.users u WHERE u.id = p_user;
  v_err := messaging.auth_error(v_role, p_role);
  IF v_err IS NOT NULL THEN RETURN v_err; END IF;
  SELECT coalesce(json_agg(json_build_object('id', u.id, 'role', u.role, 'firstName', u.first_name,
                                             'lastName', u.last_name, 'conversationId', c.id)
                           ORDER BY u.last_name, u.first_name, u.id), '[]'::json)
    INTO v_list
    FROM messaging.linked_users(p_user, v_role) u
    LEFT JOIN public.conversations c
      ON c.patient_id = CASE WHEN v_role = 'patient' THEN p_user ELSE u.id END
     AND c.doctor_id  = CASE WHEN v_role = 'patient' THEN u.id ELSE p_user END;
  RETURN messaging.ok(200, json_build_object('users', v_list));
END $$;

-- 200 {conversationId} when the caller takes part in it, else 404
-- (the realtime gateway's join_room and typing events).
CREATE OR REPLACE FUNCTION messaging.check_participant(p_user integer, p_role text, p_conv bigint)
RETURNS messaging.reply
LANGUAGE plpgsql STABLE AS $$
DECLARE
  v_role text;
  v_err messaging.reply;
BEGIN
  SELECT u.role INTO v_role FROM public.users u WHERE u.id = p_user;
  v_err := messaging.auth_error(v_role, p_role);
  IF v_err IS NOT NULL THEN RETURN v_err; END IF;
  IF NOT messaging.is_id(p_conv) THEN
    RETURN messaging.fail(400, 'invalid_request', 'conversation id must be a positive 32-bit integer');
  END IF;
  PERFORM 1 FROM public.conversations c
   WHERE c.id = p_conv AND (c.patient_id = p_user OR c.doctor_id = p_user);
  IF NOT FOUND THEN
    RETURN messaging.fail(404, 'not_found', 'Conversation not found');
  END IF;
  RETURN messaging.ok(200, json_build_object('conversationId', p_conv));
END $$;
