-- The event log (docs/events.md): the NOTIFY doorbells, reading, retention.

-- The one payload type of channel messaging_events, tagged by "t":
--   {"t":"bell","origin":O,"conversations":[ids]}  events were committed in
--       those conversations (no "conversations": in any of them);
--   {"t":"typing",...}, {"t":"revoke",...}, {"t":"presence",...}: see
--   docs/events.md.
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

-- The API's doorbell, after commit: a bell for the conversations its
-- workers wrote to (NULL: all). Returns the newest event id.
CREATE OR REPLACE FUNCTION messaging.ring(p_conversations integer[])
RETURNS bigint
LANGUAGE plpgsql AS $$
BEGIN
  PERFORM messaging.notify_bell(p_conversations, 'api');
  RETURN coalesce((SELECT max(id) FROM messaging.events), 0);
END $$;

-- The doorbell for other writers that called an operation with p_notify =
-- false: a bell naming no conversation, after their commit. The argument is
-- ignored (kept for callers of its first form).
CREATE OR REPLACE FUNCTION messaging.doorbell(p_up_to bigint DEFAULT NULL) RETURNS bigint
LANGUAGE sql AS $$ SELECT messaging.ring(NULL) $$;

-- The data of an event's Socket.IO packet, as JSON text: a new_message
-- event references its message (built here), the others carry it.
CREATE OR REPLACE FUNCTION messaging.event_data(p_payload json, p_message public.messages, p_conversation integer)
RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE AS $$
  SELECT CASE WHEN p_payload IS NOT NULL THEN p_payload::text
              WHEN (p_message).id IS NOT NULL
              THEN json_build_object('message', messaging.message_json(p_message),
                                     'conversationId', p_conversation)::text END
$$;

-- Catch-up with one cursor per conversation (docs/events.md, "Reading").
-- For each conversation of p_conversations, its events with id greater than
-- the cursor at the same position of p_after (NULL: from the start); each is
-- one range scan of events (conversation_id, id), however old the cursor.
-- Ascending id overall, at most p_limit rows (NULL: no limit); what is
-- returned for each conversation is a prefix of its events, so a reader
-- advances each cursor to the highest id it got for that conversation.
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

-- Where a gateway that starts holding a conversation's room begins: the
-- newest event id of that conversation (0 when none).
CREATE OR REPLACE FUNCTION messaging.conversation_cursor(p_conversation integer)
RETURNS bigint
LANGUAGE sql STABLE PARALLEL SAFE AS $$
  SELECT coalesce(max(e.id), 0) FROM messaging.events e WHERE e.conversation_id = p_conversation
$$;

-- Retention: deletes the events older than p_max_age, returns how many.
-- NULL or a negative age deletes nothing.
CREATE OR REPLACE FUNCTION messaging.prune_events(p_max_age interval)
RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE v_n bigint;
BEGIN
  IF p_max_age IS NULL OR p_max_age < interval '0' THEN
    RETURN 0;
  END IF;
  DELETE FROM messaging.events e WHERE e.created_at < now() - p_max_age;
  GET DIAGNOSTICS v_n = ROW_COUNT;
  RETURN v_n;
END $$;
