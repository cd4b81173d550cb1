-- 021: a read that marks nothing (updatedCount 0) writes no event, so that
-- the room gets no messages_read for it (API.md section 8).
--
-- Where the delivery pipeline's migration has given this rule to
-- messaging.post_read already (mark_read is then its wrapper), nothing is
-- redefined here: one rule, one place.
DO $migration$
BEGIN
  IF to_regprocedure('messaging.post_read(integer, text, bigint, boolean)') IS NOT NULL THEN
    RETURN;
  END IF;

  -- 006's operation, with its event written only when it marked something.
  EXECUTE $fn$
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

  IF v_count > 0 THEN
    v_payload := json_build_object('conversationId', p_conv, 'userId', p_user, 'updatedCount', v_count);
    INSERT INTO messaging.events (conversation_id, kind, payload)
    VALUES (p_conv, 'messages_read', v_payload)
    RETURNING id INTO v_event;
    IF p_notify THEN
      PERFORM messaging.notify_event(v_event, p_conv, 'messages_read', v_payload);
    END IF;
  END IF;
  RETURN messaging.ok(200, json_build_object('conversationId', p_conv, 'updatedCount', v_count));
END $$
$fn$;

  -- The gateway's form (012): the event only when one was written, never
  -- the conversation's previous one.
  IF to_regprocedure('messaging.mark_read_ev(integer, text, bigint)') IS NOT NULL THEN
    EXECUTE $fn$
CREATE OR REPLACE FUNCTION messaging.mark_read_ev(p_user integer, p_role text, p_conv bigint)
RETURNS TABLE (status integer, body text, event_id bigint, prev_id bigint, kind text, payload text)
LANGUAGE plpgsql AS $$
DECLARE r messaging.reply;
BEGIN
  r := messaging.mark_read(p_user, p_role, p_conv, false);
  RETURN QUERY SELECT r.status, r.body, x.id, x.prev, x.kind, x.payload
    FROM (SELECT 1) d LEFT JOIN LATERAL messaging.last_event(p_conv::integer) x
      ON r.status = 200 AND (r.body::json->>'updatedCount')::bigint > 0;
END $$
$fn$;
  END IF;
END $migration$;
