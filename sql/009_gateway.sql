-- 009: where a gateway that starts holding a conversation's room begins.

-- The newest event id of a conversation (0 when none).
CREATE OR REPLACE FUNCTION messaging.conversation_cursor(p_conversation integer)
RETURNS bigint
LANGUAGE sql STABLE PARALLEL SAFE AS $$
  SELECT coalesce(max(e.id), 0) FROM messaging.events e WHERE e.conversation_id = p_conversation
$$;

