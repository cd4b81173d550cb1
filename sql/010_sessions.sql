-- 010: Socket.IO connection state recovery, backed by the database so that
-- a session survives a gateway restart and moves to another instance.
-- A session is a user's socket: its private id (pid, given to the client in
-- the CONNECT reply), the conversation rooms it joined, and, once it has
-- gone, when and the last event id each of its rooms had been sent.

CREATE TABLE IF NOT EXISTS messaging.sessions (
  pid             TEXT PRIMARY KEY,
  user_id         INTEGER NOT NULL,
  instance        TEXT NOT NULL,           -- the gateway process holding it
  rooms           INTEGER[] NOT NULL DEFAULT '{}',
  joined          JSONB NOT NULL DEFAULT '{}', -- room -> its newest event id when joined
  sent            JSONB,                   -- room -> last event id sent, at disconnection
  sent_log        BIGINT[],                -- last event ids sent to the socket, in order
  created_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
  disconnected_at TIMESTAMPTZ              -- NULL while connected
);
CREATE INDEX IF NOT EXISTS sessions_disconnected_at_idx ON messaging.sessions (disconnected_at);
CREATE INDEX IF NOT EXISTS sessions_instance_idx ON messaging.sessions (instance) WHERE disconnected_at IS NULL;

-- Gateways write here every few seconds: the sessions of a gateway that died
-- without recording their disconnection count as gone since its last beat.
CREATE TABLE IF NOT EXISTS messaging.gateway_instances (
  instance TEXT PRIMARY KEY,
  seen_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- Its functions live in sql/api/70_sessions.sql.
