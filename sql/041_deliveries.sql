-- 041: delivery receipts (API.md section 9).
-- One marker per conversation and recipient: every message of that
-- conversation sent to user_id with id <= up_to_id is delivered, since
-- delivered_at (the time the marker last moved). A message is delivered when
-- it was written to a socket of its recipient (the gateway, through its
-- group commit) or the recipient fetched a page containing it (in the same
-- statement as the page); a read message is delivered too (post_read moves
-- the marker). Moving the marker writes one `messages_delivered` event
-- {conversationId, userId, upToId, deliveredAt} for the room.

CREATE TABLE IF NOT EXISTS messaging.deliveries (
  conversation_id integer NOT NULL,
  user_id         integer NOT NULL,   -- the recipient
  up_to_id        bigint NOT NULL,
  delivered_at    timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (conversation_id, user_id)
);

-- Messages read before this migration count as delivered when read.
INSERT INTO messaging.deliveries (conversation_id, user_id, up_to_id, delivered_at)
SELECT c.id, r.reader, r.up_to, now()
  FROM public.conversations c
  CROSS JOIN LATERAL (
    SELECT CASE WHEN m.sender_id = c.patient_id THEN c.doctor_id ELSE c.patient_id END AS reader, max(m.id) AS up_to
      FROM public.messages m WHERE m.conversation_id = c.id AND m.is_read
     GROUP BY 1) r
ON CONFLICT DO NOTHING;

-- When a message was delivered to its recipient, or NULL.
CREATE OR REPLACE FUNCTION messaging.delivered_at(m public.messages) RETURNS timestamptz
LANGUAGE sql STABLE PARALLEL SAFE AS $$
  SELECT coalesce((SELECT d.delivered_at FROM messaging.deliveries d
                    WHERE d.conversation_id = m.conversation_id AND d.user_id <> m.sender_id
                      AND d.up_to_id >= m.id LIMIT 1),
                  CASE WHEN m.is_read THEN m.sent_at END)
$$;

CREATE OR REPLACE FUNCTION messaging.message_json(m public.messages) RETURNS json
LANGUAGE sql STABLE PARALLEL SAFE AS $$
  SELECT json_build_object('id', m.id, 'conversationId', m.conversation_id, 'senderId', m.sender_id,
                           'content', m.content, 'sentAt', messaging.ts(m.sent_at),
                           'isRead', m.is_read, 'clientId', m.client_id,
                           'deliveredAt', messaging.ts(messaging.delivered_at(m)))
$$;

-- Moves p_user's marker in p_conv to the newest message of the other
-- participant with id <= p_up_to. A write of sql/013's shape: (status,
-- body, event id, previous event id, data); no event when nothing moved.
-- Takes the conversation's row lock only when the marker moves (batchable).
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
  IF p_up_to IS NULL OR NOT messaging.is_id(p_conv)
     OR EXISTS (SELECT 1 FROM messaging.deliveries d
                 WHERE d.conversation_id = p_conv AND d.user_id = p_user AND d.up_to_id >= p_up_to) THEN
    RETURN ROW(200, '{"delivered":false}', NULL, NULL, NULL)::messaging.write_result;
  END IF;
  SELECT c.last_event_id INTO v_prev FROM public.conversations c
   WHERE c.id = p_conv AND (c.patient_id = p_user OR c.doctor_id = p_user)
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

-- A read delivers too: the marker moves to the newest message read (no
-- event of its own: messages_read says more).
CREATE OR REPLACE FUNCTION messaging.post_read(p_user integer, p_role text, p_conv bigint, p_notify boolean)
RETURNS messaging.write_result
LANGUAGE plpgsql AS $$
DECLARE w messaging.write_result;
BEGIN
  w := messaging.post_read_unlogged(p_user, p_role, p_conv, p_notify);
  IF w.status = 200 AND w.event_id IS NOT NULL THEN
    INSERT INTO messaging.deliveries AS d (conversation_id, user_id, up_to_id, delivered_at)
    SELECT p_conv, p_user, max(m.id), now() FROM public.messages m
     WHERE m.conversation_id = p_conv AND m.sender_id <> p_user AND m.is_read
    HAVING max(m.id) IS NOT NULL
    ON CONFLICT (conversation_id, user_id) DO UPDATE SET up_to_id = EXCLUDED.up_to_id, delivered_at = EXCLUDED.delivered_at
     WHERE d.up_to_id < EXCLUDED.up_to_id;
  END IF;
  PERFORM messaging.audit(p_user, 'messages_mark_read', p_conv,
                          messaging.audit_outcome(w.status, w.body,
                            CASE WHEN w.status = 200 THEN jsonb_build_object(
                              'updatedCount', ((w.body::json) ->> 'updatedCount')::bigint) END));
  RETURN w;
END $$;
