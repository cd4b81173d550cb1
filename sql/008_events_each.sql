-- 008: catch-up with one cursor per conversation (docs/events.md, "Reading").
-- For each conversation of p_conversations, its events with id greater than
-- the cursor at the same position of p_after (NULL: from the start); each is
-- one range scan of events (conversation_id, id), however old the cursor.
-- Ascending id overall, at most p_limit rows (NULL: no limit); what is
-- returned for each conversation is a prefix of its events, so a reader
-- advances each cursor to the highest id it got for that conversation.
CREATE OR REPLACE FUNCTION messaging.events_since_each(p_conversations integer[], p_after bigint[], p_limit integer)
RETURNS TABLE (id bigint, conversation_id integer, kind text, payload text)
LANGUAGE sql STABLE PARALLEL SAFE AS $$
  SELECT e.id, e.conversation_id, e.kind, e.payload::text
    FROM unnest(p_conversations, p_after) AS c(conv, after)
    CROSS JOIN LATERAL (
      SELECT x.id, x.conversation_id, x.kind, x.payload
        FROM messaging.events x
       WHERE x.conversation_id = c.conv AND x.id > coalesce(c.after, 0)
       ORDER BY x.id
       LIMIT CASE WHEN p_limit IS NULL THEN NULL ELSE greatest(p_limit, 0) END) e
   ORDER BY e.id
   LIMIT CASE WHEN p_limit IS NULL THEN NULL ELSE greatest(p_limit, 0) END
$$;
