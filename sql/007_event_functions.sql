-- 007: reading and pruning the event log (docs/events.md).

-- Events with id > p_after (NULL: from the start) in the given conversations
-- (NULL: all), ascending id, at most p_limit (NULL: no limit). Readers resume
-- per conversation: see docs/events.md.
CREATE OR REPLACE FUNCTION messaging.events_since(p_after bigint, p_conversations integer[], p_limit integer)
RETURNS TABLE (id bigint, conversation_id integer, kind text, payload text)
LANGUAGE sql STABLE PARALLEL SAFE AS $$
  SELECT e.id, e.conversation_id, e.kind, e.payload::text
    FROM messaging.events e
   WHERE e.id > coalesce(p_after, 0)
     AND (p_conversations IS NULL OR e.conversation_id = ANY (p_conversations))
   ORDER BY e.id
   LIMIT CASE WHEN p_limit IS NULL THEN NULL ELSE greatest(p_limit, 0) END
$$;

-- One event (a NOTIFY that was too large to carry its data names its id).
CREATE OR REPLACE FUNCTION messaging.event_by_id(p_id bigint)
RETURNS TABLE (id bigint, conversation_id integer, kind text, payload text)
LANGUAGE sql STABLE PARALLEL SAFE AS $$
  SELECT e.id, e.conversation_id, e.kind, e.payload::text FROM messaging.events e WHERE e.id = p_id
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
