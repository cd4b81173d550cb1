-- 012: the gateway's writes with their event (see below).
-- The gateway's writes: the operation's reply, and the event it stored with
-- the id of the previous event of the same conversation (read under the
-- conversation's row lock, so exact): a gateway whose room was sent exactly
-- that previous event can send this one at once, in order, without reading.
CREATE OR REPLACE FUNCTION messaging.send_message_ev(p_user integer, p_role text, p_conv bigint,
                                                     p_content text, p_client_id text,
                                                     p_max_len integer)
RETURNS TABLE (status integer, body text, event_id bigint, prev_id bigint, kind text, payload text)
LANGUAGE plpgsql AS $$
DECLARE r messaging.reply;
BEGIN
  r := messaging.send_message(p_user, p_role, p_conv, p_content, p_client_id, p_max_len, false);
  RETURN QUERY SELECT r.status, r.body, x.id, x.prev, x.kind, x.payload
    FROM (SELECT 1) d LEFT JOIN LATERAL messaging.last_event(p_conv::integer) x ON r.status = 201;
END $$;

CREATE OR REPLACE FUNCTION messaging.mark_read_ev(p_user integer, p_role text, p_conv bigint)
RETURNS TABLE (status integer, body text, event_id bigint, prev_id bigint, kind text, payload text)
LANGUAGE plpgsql AS $$
DECLARE r messaging.reply;
BEGIN
  r := messaging.mark_read(p_user, p_role, p_conv, false);
  RETURN QUERY SELECT r.status, r.body, x.id, x.prev, x.kind, x.payload
    FROM (SELECT 1) d LEFT JOIN LATERAL messaging.last_event(p_conv::integer) x ON r.status = 200;
END $$;

-- The newest event of a conversation and the one before it (0 if none).
CREATE OR REPLACE FUNCTION messaging.last_event(p_conversation integer)
RETURNS TABLE (id bigint, prev bigint, kind text, payload text)
LANGUAGE sql STABLE AS $$
  SELECT e.id,
         coalesce((SELECT max(p.id) FROM messaging.events p
                    WHERE p.conversation_id = p_conversation AND p.id < e.id), 0),
         e.kind, e.payload::text
    FROM messaging.events e WHERE e.conversation_id = p_conversation
   ORDER BY e.id DESC LIMIT 1
$$;
