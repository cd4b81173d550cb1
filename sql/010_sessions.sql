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

CREATE OR REPLACE FUNCTION messaging.session_open(p_pid text, p_user integer, p_instance text)
RETURNS void LANGUAGE sql AS $$
  INSERT INTO messaging.sessions (pid, user_id, instance) VALUES (p_pid, p_user, p_instance)
  ON CONFLICT (pid) DO UPDATE SET instance = excluded.instance, disconnected_at = NULL
$$;

-- What recovery needs to be exact across several rooms:
-- joined: for each room of the session, the newest event id of its
--   conversation when the socket joined (the replay never starts earlier);
-- sent: at disconnection, each room's last event id sent by the gateway;
-- sent_log: the ids of the last events sent to this socket, in the order
--   they were sent: a client's offset is found there, and what follows it
--   was sent but not received, whatever the rooms' id order.
CREATE OR REPLACE FUNCTION messaging.session_join(p_pid text, p_conversation integer)
RETURNS void LANGUAGE sql AS $$
  UPDATE messaging.sessions
     SET rooms = array_append(rooms, p_conversation),
         joined = joined || jsonb_build_object(p_conversation::text,
                                               messaging.conversation_cursor(p_conversation))
   WHERE pid = p_pid AND NOT (p_conversation = ANY (rooms))
$$;

CREATE OR REPLACE FUNCTION messaging.session_leave(p_pid text, p_conversation integer)
RETURNS void LANGUAGE sql AS $$
  UPDATE messaging.sessions
     SET rooms = array_remove(rooms, p_conversation), joined = joined - p_conversation::text
   WHERE pid = p_pid
$$;

-- The socket has gone: what each room had been sent, and the send log.
CREATE OR REPLACE FUNCTION messaging.session_close_log(p_pid text, p_sent jsonb, p_log bigint[])
RETURNS void LANGUAGE sql AS $$
  UPDATE messaging.sessions
     SET sent = p_sent, sent_log = p_log, disconnected_at = now()
   WHERE pid = p_pid
$$;

CREATE OR REPLACE FUNCTION messaging.session_restore(p_pid text, p_user integer, p_max_ms bigint,
                                                     p_instance text)
RETURNS TABLE (joined text, sent text, sent_log text)
LANGUAGE plpgsql AS $$
BEGIN
  RETURN QUERY
  UPDATE messaging.sessions s
     SET instance = p_instance, disconnected_at = NULL, sent = NULL, sent_log = NULL
    FROM messaging.sessions old
    LEFT JOIN messaging.gateway_instances i ON i.instance = old.instance
   WHERE s.pid = old.pid AND old.pid = p_pid AND old.user_id = p_user
     AND coalesce(old.disconnected_at, i.seen_at, old.created_at)
         >= now() - p_max_ms * interval '1 millisecond'
  RETURNING old.joined::text, old.sent::text, old.sent_log::text;
END $$;

-- The events to replay: first those of p_ids (sent but not received), in
-- that order; then, per conversation, those newer than its p_after.
CREATE OR REPLACE FUNCTION messaging.session_replay(p_ids bigint[], p_conversations integer[],
                                                    p_after bigint[], p_limit integer)
RETURNS TABLE (id bigint, conversation_id integer, kind text, payload text)
LANGUAGE sql STABLE AS $$
  SELECT x.id, x.conversation_id, x.kind, x.payload FROM (
    SELECT e.id, e.conversation_id, e.kind, e.payload::text AS payload, 0 AS part, array_position(p_ids, e.id) AS ord
      FROM messaging.events e WHERE e.id = ANY (coalesce(p_ids, '{}'))
    UNION ALL
    SELECT s.id, s.conversation_id, s.kind, s.payload, 1, s.id
      FROM messaging.events_since_each(p_conversations, p_after, p_limit) s
     WHERE NOT (s.id = ANY (coalesce(p_ids, '{}')))) x
  ORDER BY x.part, x.ord
  LIMIT p_limit
$$;

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
