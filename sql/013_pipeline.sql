-- 013: the delivery pipeline (docs/events.md).
-- * A new_message event references its message instead of copying its JSON:
--   the event row is small (less WAL per message), its data is built when
--   read (messaging.event_data).
-- * One operation per write (messaging.post_message, messaging.post_read)
--   returns the reply and what delivery needs (messaging.write_result): the
--   event id and the id of the conversation's previous event, kept on the
--   conversation row and read under its row lock.
-- The functions live in sql/api (20_events.sql, 60_writes.sql).

ALTER TABLE messaging.events ADD COLUMN IF NOT EXISTS message_id bigint;
ALTER TABLE messaging.events ALTER COLUMN payload DROP NOT NULL;
DO $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_constraint WHERE conname = 'events_payload_or_message') THEN
    ALTER TABLE messaging.events ADD CONSTRAINT events_payload_or_message
      CHECK ((payload IS NULL) <> (message_id IS NULL)) NOT VALID;
  END IF;
END $$;

-- The newest event of each conversation: the "previous event" of the next
-- write, taken under the row lock the write holds anyway.
ALTER TABLE public.conversations ADD COLUMN IF NOT EXISTS last_event_id bigint NOT NULL DEFAULT 0;
UPDATE public.conversations c SET last_event_id = e.m
  FROM (SELECT conversation_id, max(id) AS m FROM messaging.events GROUP BY conversation_id) e
 WHERE e.conversation_id = c.id AND c.last_event_id < e.m;

DO $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
                  WHERE n.nspname = 'messaging' AND t.typname = 'write_result') THEN
    -- status and body as messaging.reply; event_id NULL when nothing was
    -- emitted; prev_id the conversation's event before it (0: none); data
    -- the event's Socket.IO data as JSON text.
    CREATE TYPE messaging.write_result AS (status integer, body text, event_id bigint, prev_id bigint, data text);
  END IF;
END $$;
