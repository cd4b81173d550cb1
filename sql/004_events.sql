-- 004: the append-only event log behind realtime delivery (docs/events.md).
-- One row per new message and per read receipt, written in the same
-- transaction as the change, while the conversation's row lock is held.

CREATE TABLE IF NOT EXISTS messaging.events (
  id              BIGSERIAL PRIMARY KEY,
  conversation_id INTEGER NOT NULL,        -- no FK: the log outlives nothing and costs no lock
  kind            TEXT NOT NULL,           -- 'new_message' | 'messages_read'
  payload         JSON NOT NULL,           -- the Socket.IO event's data, text kept as written
  created_at      TIMESTAMPTZ NOT NULL DEFAULT now()
);
-- Catch-up per conversation, and retention by age.
CREATE INDEX IF NOT EXISTS events_conversation_id_idx ON messaging.events (conversation_id, id);
CREATE INDEX IF NOT EXISTS events_created_at_idx ON messaging.events (created_at);

-- Append-only: rows are never changed (DELETE stays allowed for retention,
-- see messaging.prune_events). A statement trigger costs nothing on INSERT.
CREATE OR REPLACE FUNCTION messaging.events_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'messaging.events is append-only' USING ERRCODE = 'insufficient_privilege';
END $$;

DO $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_trigger
                  WHERE tgrelid = 'messaging.events'::regclass AND tgname = 'events_no_update') THEN
    CREATE TRIGGER events_no_update BEFORE UPDATE ON messaging.events
      FOR EACH STATEMENT EXECUTE FUNCTION messaging.events_append_only();
  END IF;
END $$;
