-- The operations of API.md section 4 that the REST program and the realtime
-- gateway share, except the writes of messages and receipts (60_writes.sql).
-- Each authenticates the caller first (messaging.caller: p_user must exist
-- in users; p_role, the token's role claim, when not NULL must match),
-- checks its input, does its work and returns messaging.reply(status, body)
-- where body is the complete JSON text of the answer. Bad input never
-- raises: it gets a 400 (or 401/403/404/409) reply. Only a real database
-- failure raises. The audited ones (API.md section 9) log each call with
-- its outcome, in the same transaction.

-- 201 {conversation} created, 200 {conversation} already there.
CREATE OR REPLACE FUNCTION messaging.create_conversation(p_user integer, p_role text, p_participant bigint)
RETURNS messaging.reply
LANGUAGE plpgsql AS $$
DECLARE
  v_me record;
  v_other text;
  v_patient integer;
  v_doctor integer;
  v_conv public.conversations;
  v_status integer := 201;
  r messaging.reply;
BEGIN
  SELECT * INTO v_me FROM messaging.caller(p_user, p_role);
  <<op>> BEGIN
    r := v_me.error;
    EXIT op WHEN r IS NOT NULL;
    IF NOT messaging.is_id(p_participant) THEN
      r := messaging.fail(400, 'invalid_request', 'participantId must be a positive 32-bit integer');
      EXIT op;
    END IF;
    IF p_participant = p_user THEN
      r := messaging.fail(400, 'invalid_request', 'Cannot start a conversation with yourself');
      EXIT op;
    END IF;
    SELECT u.role INTO v_other FROM public.users u WHERE u.id = p_participant;
    IF NOT FOUND THEN
      r := messaging.fail(404, 'not_found', 'User not found');
      EXIT op;
    END IF;
    IF v_other = v_me.role THEN
      r := messaging.fail(400, 'invalid_request', 'A conversation is between a patient and a doctor');
      EXIT op;
    END IF;
    IF v_me.role = 'patient' THEN
      v_patient := p_user; v_doctor := p_participant;
    ELSE
      v_patient := p_participant; v_doctor := p_user;
    END IF;
    PERFORM 1 FROM public.patient_doctor pd WHERE pd.patient_id = v_patient AND pd.doctor_id = v_doctor;
    IF NOT FOUND THEN
      r := messaging.fail(403, 'forbidden', 'This patient and this doctor are not linked');
      EXIT op;
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
    r := messaging.ok(v_status, json_build_object('conversation', messaging.conversation_json(v_conv, p_user)));
  END op;
  PERFORM messaging.audit(p_user, 'conversation_create',
                          CASE WHEN r.status < 300 THEN v_conv.id END,
                          messaging.audit_outcome(r.status, r.body,
                            jsonb_build_object('participantId', p_participant, 'created', r.status = 201)));
  RETURN r;
END $$;

-- 200 {conversations: [...]}, newest last_message_at first, ties higher id first.
CREATE OR REPLACE FUNCTION messaging.list_conversations(p_user integer, p_role text, p_limit integer, p_offset integer)
RETURNS messaging.reply
LANGUAGE plpgsql AS $$
DECLARE
  v_me record;
  v_limit integer := coalesce(p_limit, 50);
  v_offset integer := coalesce(p_offset, 0);
  v_list json;
  v_ids jsonb;
  r messaging.reply;
BEGIN
  SELECT * INTO v_me FROM messaging.caller(p_user, p_role);
  <<op>> BEGIN
    r := v_me.error;
    EXIT op WHEN r IS NOT NULL;
    IF v_limit NOT BETWEEN 1 AND 100 THEN
      r := messaging.fail(400, 'invalid_request', 'limit must be an integer between 1 and 100');
      EXIT op;
    END IF;
    IF v_offset < 0 THEN
      r := messaging.fail(400, 'invalid_request', 'offset must be an integer between 0 and 2147483647');
      EXIT op;
    END IF;
    SELECT coalesce(json_agg(messaging.conversation_json(s.c, p_user)
                             ORDER BY (s.c).last_message_at DESC, (s.c).id DESC), '[]'::json),
           coalesce(jsonb_agg((s.c).id ORDER BY (s.c).last_message_at DESC, (s.c).id DESC), '[]')
      INTO v_list, v_ids
      FROM (SELECT c FROM messaging.my_conversations(p_user, v_me.role) c
             ORDER BY c.last_message_at DESC, c.id DESC
             LIMIT v_limit OFFSET v_offset) s;
    r := messaging.ok(200, json_build_object('conversations', v_list));
  END op;
  PERFORM messaging.audit_read(p_user, 'conversations_list', NULL,
                          messaging.audit_outcome(r.status, r.body,
                            CASE WHEN r.status = 200 THEN jsonb_build_object('conversationIds', v_ids) END));
  RETURN r;
END $$;

-- 200 {conversation} / 404 (absent and foreign look the same).
CREATE OR REPLACE FUNCTION messaging.get_conversation(p_user integer, p_role text, p_conv bigint)
RETURNS messaging.reply
LANGUAGE plpgsql AS $$
DECLARE
  v_me record;
  v_conv public.conversations;
  r messaging.reply;
BEGIN
  SELECT * INTO v_me FROM messaging.caller(p_user, p_role);
  <<op>> BEGIN
    r := v_me.error;
    EXIT op WHEN r IS NOT NULL;
    IF NOT messaging.is_id(p_conv) THEN
      r := messaging.fail(400, 'invalid_request', 'conversation id must be a positive 32-bit integer');
      EXIT op;
    END IF;
    SELECT c.* INTO v_conv FROM public.conversations c
     WHERE c.id = p_conv AND messaging.takes_part(c, p_user);
    IF NOT FOUND THEN
      r := messaging.fail(404, 'not_found', 'Conversation not found');
      EXIT op;
    END IF;
    r := messaging.ok(200, json_build_object('conversation', messaging.conversation_json(v_conv, p_user)));
  END op;
  PERFORM messaging.audit_read(p_user, 'conversation_view', p_conv, messaging.audit_outcome(r.status, r.body));
  RETURN r;
END $$;

-- 200 {messages: [...] ascending id, hasMore}, for other callers: the API
-- serves the page with list_message_rows below (the JSON written in C).
CREATE OR REPLACE FUNCTION messaging.list_messages(p_user integer, p_role text, p_conv bigint,
                                                   p_limit integer, p_before bigint, p_after bigint)
RETURNS messaging.reply
LANGUAGE plpgsql AS $$
DECLARE
  v_me record;
  v_limit integer := coalesce(p_limit, 50);
  v_list json;
  v_more boolean;
  r messaging.reply;
BEGIN
  SELECT * INTO v_me FROM messaging.caller(p_user, p_role);
  <<op>> BEGIN
    r := v_me.error;
    EXIT op WHEN r IS NOT NULL;
    IF NOT messaging.is_id(p_conv) THEN
      r := messaging.fail(400, 'invalid_request', 'conversation id must be a positive 32-bit integer');
    ELSIF v_limit NOT BETWEEN 1 AND 100 THEN
      r := messaging.fail(400, 'invalid_request', 'limit must be an integer between 1 and 100');
    ELSIF p_before IS NOT NULL AND p_after IS NOT NULL THEN
      r := messaging.fail(400, 'invalid_request', 'Use before or after, not both');
    ELSIF p_before < 0 THEN
      r := messaging.fail(400, 'invalid_request', 'before must be a non-negative integer');
    ELSIF p_after < 0 THEN
      r := messaging.fail(400, 'invalid_request', 'after must be a non-negative integer');
    END IF;
    EXIT op WHEN r IS NOT NULL;
    PERFORM 1 FROM public.conversations c WHERE c.id = p_conv AND messaging.takes_part(c, p_user);
    IF NOT FOUND THEN
      r := messaging.fail(404, 'not_found', 'Conversation not found');
      EXIT op;
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
    r := messaging.ok(200, json_build_object('messages', v_list, 'hasMore', v_more));
  END op;
  PERFORM messaging.audit_read(p_user, 'messages_list', p_conv,
                          messaging.audit_page(r.status, r.body, p_limit, p_before, p_after));
  RETURN r;
END $$;

-- The same page as rows, for the API's hottest read: shared/msgjson.c
-- writes the JSON (a plpgsql function building it cost the database three
-- times as much). The caller has checked limit, before and after already.
-- The first row: status (200, 401 or 404), body (401: why; 200: hasMore as
-- 'true'/'false'), id (the messages_delivered event the page wrote, or
-- NULL); then one row per message of the page, ascending id, times in
-- microseconds since the epoch. In the same statement: the access log's
-- row (a page that cannot be logged is not shown; its commit does not wait
-- for the disk, docs/operations.md) and the delivery receipt (the caller's
-- marker moved past the page's newest message from the other side;
-- p_notify: its NOTIFY inline). plpgsql with one static statement: its plan
-- is kept by the session, as a prepared statement's would be.
CREATE OR REPLACE FUNCTION messaging.list_message_rows(p_user integer, p_role text, p_conv bigint,
                                                       p_limit integer, p_before bigint, p_after bigint,
                                                       p_notify boolean)
RETURNS TABLE (status integer, body text, id bigint, conversation_id integer, sender_id integer,
               content text, sent_at_us bigint, is_read boolean, client_id text, delivered_at_us bigint)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
BEGIN
  RETURN QUERY
  WITH chk AS (
    SELECT a.deny,
           EXISTS (SELECT 1 FROM public.conversations c
                    WHERE c.id = p_conv AND messaging.takes_part(c, p_user)) AS ok
      FROM messaging.caller(p_user, p_role) a),
  back AS MATERIALIZED (
    SELECT m.id, m.conversation_id, m.sender_id, m.content, m.sent_at, m.is_read, m.client_id
      FROM public.messages m
     WHERE (SELECT deny IS NULL AND ok FROM chk) AND p_after IS NULL
       AND m.conversation_id = p_conv AND m.id < coalesce(p_before, 9223372036854775807)
     ORDER BY m.id DESC LIMIT p_limit + 1),
  fwd AS MATERIALIZED (
    SELECT m.id, m.conversation_id, m.sender_id, m.content, m.sent_at, m.is_read, m.client_id
      FROM public.messages m
     WHERE (SELECT deny IS NULL AND ok FROM chk) AND p_after IS NOT NULL
       AND m.conversation_id = p_conv AND m.id > p_after
     ORDER BY m.id LIMIT p_limit + 1),
  page AS (
    SELECT * FROM (SELECT * FROM back ORDER BY id DESC LIMIT p_limit) b
    UNION ALL
    SELECT * FROM (SELECT * FROM fwd ORDER BY id LIMIT p_limit) f),
  aud AS (
    INSERT INTO messaging.audit_log (user_id, action, conversation_id, via, detail)
    SELECT p_user, 'messages_list', messaging.audit_conv(p_conv), messaging.audit_via(),
           CASE WHEN deny IS NOT NULL THEN '{"outcome":"refused","status":401,"code":"unauthorized"}'::jsonb
                WHEN NOT ok THEN '{"outcome":"refused","status":404,"code":"not_found"}'::jsonb
                ELSE (SELECT jsonb_build_object('outcome', 'ok', 'status', 200, 'count', count(*),
                                                'firstId', min(id), 'lastId', max(id)) FROM page) END
           || jsonb_strip_nulls(jsonb_build_object('limit', p_limit, 'before', p_before, 'after', p_after))
      FROM chk
     WHERE messaging.audit_on() AND set_config('synchronous_commit', 'off', true) IS NOT NULL),
  -- Delivery receipts: the caller's marker (mk), the other participant's
  -- (ot); dlv moves the caller's, only when the page holds something new.
  mk AS (SELECT d.up_to_id, d.delivered_at FROM messaging.deliveries d
          WHERE d.conversation_id = p_conv AND d.user_id = p_user),
  ot AS (SELECT d.up_to_id, d.delivered_at FROM messaging.deliveries d
          WHERE d.conversation_id = p_conv AND d.user_id <> p_user),
  newest AS (SELECT max(id) AS id FROM page WHERE sender_id <> p_user),
  dlv AS (SELECT (messaging.mark_delivered(p_user, p_conv, n.id, p_notify)).event_id AS ev
            FROM newest n WHERE n.id > coalesce((SELECT up_to_id FROM mk), 0))
  SELECT CASE WHEN deny IS NOT NULL THEN 401 WHEN ok THEN 200 ELSE 404 END,
         CASE WHEN deny IS NOT NULL THEN deny
              WHEN ok THEN ((SELECT count(*) FROM back) + (SELECT count(*) FROM fwd) > p_limit)::text END,
         (SELECT ev FROM dlv), NULL::int, NULL::int, NULL::text, NULL::bigint, NULL::boolean, NULL::text,
         NULL::bigint
    FROM chk
  UNION ALL
  (SELECT NULL::int, NULL::text, p.id, p.conversation_id, p.sender_id, p.content,
          (extract(epoch FROM p.sent_at) * 1000000)::bigint, p.is_read, p.client_id,
          (extract(epoch FROM coalesce(CASE WHEN p.sender_id = p_user
               THEN (SELECT o.delivered_at FROM ot o WHERE o.up_to_id >= p.id LIMIT 1)
               ELSE coalesce((SELECT k.delivered_at FROM mk k WHERE k.up_to_id >= p.id), now()) END,
            CASE WHEN p.is_read THEN p.sent_at END)) * 1000000)::bigint
     FROM page p ORDER BY p.id);
END $$;

-- 200 {total, byConversation: {"<id>": n}} non-zero entries only.
CREATE OR REPLACE FUNCTION messaging.unread_count(p_user integer, p_role text)
RETURNS messaging.reply
LANGUAGE plpgsql STABLE AS $$
DECLARE
  v_me record;
  v_total bigint;
  v_by json;
BEGIN
  SELECT * INTO v_me FROM messaging.caller(p_user, p_role);
  IF v_me.error IS NOT NULL THEN RETURN v_me.error; END IF;
  -- The caller's conversations (one index), each probing the partial index
  -- of unread messages.
  SELECT coalesce(sum(s.n), 0)::bigint, coalesce(json_object_agg(s.id, s.n ORDER BY s.id), '{}'::json)
    INTO v_total, v_by
    FROM (SELECT c.id, count(*) AS n
            FROM messaging.my_conversations(p_user, v_me.role) c
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
  v_me record;
  v_limit integer := coalesce(p_limit, 20);
  v_q text;
  v_list json;
BEGIN
  SELECT * INTO v_me FROM messaging.caller(p_user, p_role);
  IF v_me.error IS NOT NULL THEN RETURN v_me.error; END IF;
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
    FROM (SELECT u FROM messaging.linked_users(p_user, v_me.role) u
           WHERE strpos(messaging.fold(u.first_name || ' ' || u.last_name), v_q) > 0
           ORDER BY u.last_name, u.first_name, u.id
           LIMIT v_limit) s;
  RETURN messaging.ok(200, json_build_object('users', v_list));
END $$;

-- 200 {users: [User + conversationId (or null)]} every linked user, with
-- their presence.
CREATE OR REPLACE FUNCTION messaging.available_users(p_user integer, p_role text)
RETURNS messaging.reply
LANGUAGE plpgsql STABLE AS $$
DECLARE
  v_me record;
  v_list json;
BEGIN
  SELECT * INTO v_me FROM messaging.caller(p_user, p_role);
  IF v_me.error IS NOT NULL THEN RETURN v_me.error; END IF;
  SELECT coalesce(json_agg((messaging.participant_json(u)::jsonb || jsonb_build_object('conversationId', c.id))::json
                           ORDER BY u.last_name, u.first_name, u.id), '[]'::json)
    INTO v_list
    FROM messaging.linked_users(p_user, v_me.role) u
    LEFT JOIN public.conversations c
      ON c.patient_id = CASE WHEN v_me.role = 'patient' THEN p_user ELSE u.id END
     AND c.doctor_id  = CASE WHEN v_me.role = 'patient' THEN u.id ELSE p_user END;
  RETURN messaging.ok(200, json_build_object('users', v_list));
END $$;

-- 200 {conversationId} when the caller takes part in it, else 404
-- (the realtime gateway's typing events; join_room below).
CREATE OR REPLACE FUNCTION messaging.check_participant(p_user integer, p_role text, p_conv bigint)
RETURNS messaging.reply
LANGUAGE plpgsql STABLE AS $$
DECLARE
  v_me record;
BEGIN
  SELECT * INTO v_me FROM messaging.caller(p_user, p_role);
  IF v_me.error IS NOT NULL THEN RETURN v_me.error; END IF;
  IF NOT messaging.is_id(p_conv) THEN
    RETURN messaging.fail(400, 'invalid_request', 'conversation id must be a positive 32-bit integer');
  END IF;
  PERFORM 1 FROM public.conversations c WHERE c.id = p_conv AND messaging.takes_part(c, p_user);
  IF NOT FOUND THEN
    RETURN messaging.fail(404, 'not_found', 'Conversation not found');
  END IF;
  RETURN messaging.ok(200, json_build_object('conversationId', p_conv));
END $$;

-- join_room: check_participant, logged (room_join); the reply carries the
-- other participant's presence, sent right after room_joined:
-- {conversationId, presence}.
CREATE OR REPLACE FUNCTION messaging.join_room(p_user integer, p_role text, p_conv bigint)
RETURNS messaging.reply
LANGUAGE plpgsql AS $$
DECLARE r messaging.reply;
BEGIN
  r := messaging.check_participant(p_user, p_role, p_conv);
  PERFORM messaging.audit_read(p_user, 'room_join', p_conv, messaging.audit_outcome(r.status, r.body));
  IF r.status = 200 THEN
    r.body := json_build_object('conversationId', p_conv,
      'presence', (SELECT messaging.presence_json(messaging.other_side(c, p_user))
                     FROM public.conversations c WHERE c.id = p_conv))::text;
  END IF;
  RETURN r;
END $$;
