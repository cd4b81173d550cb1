-- 003: the module's own tables, conversations and messages.
-- Invariant kept by messaging.create_conversation: patient_id is a user of
-- role 'patient' and doctor_id one of role 'medecin'; the per-user lists use it
-- to scan one index only.
-- No triggers: bulk INSERTs (bench fixtures, imports) stay as fast as the
-- indexes allow. Writes that must reach the realtime rooms go through
-- messaging.send_message / messaging.mark_read, which write messaging.events.

CREATE TABLE IF NOT EXISTS public.conversations (
  id              SERIAL PRIMARY KEY,
  patient_id      INTEGER NOT NULL REFERENCES public.users(id),
  doctor_id       INTEGER NOT NULL REFERENCES public.users(id),
  status          VARCHAR(20) NOT NULL DEFAULT 'active',
  last_message_at TIMESTAMPTZ NOT NULL DEFAULT now(),
  created_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
  updated_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
  UNIQUE (patient_id, doctor_id)
) WITH (fillfactor = 80);
-- Every send updates last_message_at/updated_at, which no index covers: room
-- left on each page keeps those updates HOT (no index writes). Harmless on a
-- table created by someone else (applies to pages written from now on).
ALTER TABLE public.conversations SET (fillfactor = 80);

-- create_conversation's ON CONFLICT (patient_id, doctor_id) needs a unique
-- index on exactly that pair; a pre-existing table may lack it.
DO $$
BEGIN
  IF NOT EXISTS (
    SELECT 1 FROM pg_index i
     WHERE i.indrelid = 'public.conversations'::regclass AND i.indisunique AND i.indpred IS NULL
       AND i.indnkeyatts = 2
       AND i.indkey[0] = (SELECT attnum FROM pg_attribute
                           WHERE attrelid = 'public.conversations'::regclass AND attname = 'patient_id')
       AND i.indkey[1] = (SELECT attnum FROM pg_attribute
                           WHERE attrelid = 'public.conversations'::regclass AND attname = 'doctor_id')) THEN
    CREATE UNIQUE INDEX conversations_patient_id_doctor_id_key
      ON public.conversations (patient_id, doctor_id);
  END IF;
END $$;
-- The unique (patient_id, doctor_id) index serves a patient's conversations;
-- this one a doctor's.
CREATE INDEX IF NOT EXISTS conversations_doctor_id_idx ON public.conversations (doctor_id);

CREATE TABLE IF NOT EXISTS public.messages (
  id              BIGSERIAL PRIMARY KEY,
  conversation_id INTEGER NOT NULL REFERENCES public.conversations(id),
  sender_id       INTEGER NOT NULL REFERENCES public.users(id),
  content         TEXT NOT NULL,
  sent_at         TIMESTAMPTZ NOT NULL DEFAULT now(),
  is_read         BOOLEAN NOT NULL DEFAULT false,
  client_id       TEXT  -- the sender's idempotency key, when given
);
-- A messages table created by a bench tool lacks client_id.
ALTER TABLE public.messages ADD COLUMN IF NOT EXISTS client_id TEXT;

-- Pages of a conversation by id (GET messages, last message).
CREATE INDEX IF NOT EXISTS messages_conversation_id_idx ON public.messages (conversation_id, id);
-- Unread counts and mark-as-read touch only unread rows.
CREATE INDEX IF NOT EXISTS messages_unread_idx
  ON public.messages (conversation_id, sender_id) WHERE NOT is_read;
-- One message per (conversation, sender, clientId): retries store nothing.
CREATE UNIQUE INDEX IF NOT EXISTS messages_client_id_key
  ON public.messages (conversation_id, sender_id, client_id) WHERE client_id IS NOT NULL;
