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
  cursors         BIGINT[],                -- per room, recorded at disconnect
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

CREATE OR REPLACE FUNCTION messaging.session_open(p_pid text, p_user integer, p_instance text)
RETURNS void LANGUAGE sql AS $$
  INSERT INTO messaging.sessions (pid, user_id, instance) VALUES (p_pid, p_user, p_instance)
  ON CONFLICT (pid) DO UPDATE SET instance = excluded.instance, disconnected_at = NULL
$$;

CREATE OR REPLACE FUNCTION messaging.session_join(p_pid text, p_conversation integer)
RETURNS void LANGUAGE sql AS $$
  UPDATE messaging.sessions SET rooms = array_append(rooms, p_conversation)
   WHERE pid = p_pid AND NOT (p_conversation = ANY (rooms))
$$;

CREATE OR REPLACE FUNCTION messaging.session_leave(p_pid text, p_conversation integer)
RETURNS void LANGUAGE sql AS $$
  UPDATE messaging.sessions SET rooms = array_remove(rooms, p_conversation) WHERE pid = p_pid
$$;

-- The socket has gone: its rooms and, for each, the last event id sent to it.
CREATE OR REPLACE FUNCTION messaging.session_close(p_pid text, p_rooms integer[], p_cursors bigint[])
RETURNS void LANGUAGE sql AS $$
  UPDATE messaging.sessions
     SET rooms = coalesce(p_rooms, rooms), cursors = p_cursors, disconnected_at = now()
   WHERE pid = p_pid
$$;

-- A reconnecting client's session, when it is the same user's and gone for
-- at most p_max_ms; it then belongs to p_instance again. No row otherwise.
CREATE OR REPLACE FUNCTION messaging.session_restore(p_pid text, p_user integer, p_max_ms bigint,
                                                     p_instance text)
RETURNS TABLE (rooms text, cursors text)
LANGUAGE plpgsql AS $$
BEGIN
  RETURN QUERY
  UPDATE messaging.sessions s
     SET instance = p_instance, disconnected_at = NULL
    FROM messaging.sessions old
    LEFT JOIN messaging.gateway_instances i ON i.instance = old.instance
   WHERE s.pid = old.pid AND old.pid = p_pid AND old.user_id = p_user
     AND coalesce(old.disconnected_at, i.seen_at, old.created_at)
         >= now() - p_max_ms * interval '1 millisecond'
  RETURNING old.rooms::text, old.cursors::text;
END $$;

-- A gateway's heartbeat; also forgets sessions nobody can recover any more.
CREATE OR REPLACE FUNCTION messaging.gateway_heartbeat(p_instance text, p_max_ms bigint)
RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO messaging.gateway_instances (instance) VALUES (p_instance)
  ON CONFLICT (instance) DO UPDATE SET seen_at = now();
  DELETE FROM messaging.sessions
   WHERE disconnected_at < now() - p_max_ms * interval '1 millisecond' - interval '1 minute';
  DELETE FROM messaging.gateway_instances WHERE seen_at < now() - interval '1 day';
END $$;
