-- Socket.IO connection state recovery (docs/recovery.md; the tables:
-- sql/010_sessions.sql). A session is a user's socket: its private id (pid,
-- given to the client in the CONNECT reply), the conversation rooms it
-- joined, and, once it has gone, when and the last event id each of its
-- rooms had been sent.

-- A recovery session belongs to the user who opened it: the same user's pid
-- is re-opened; a pid of another user means the gateway's randomness failed
-- or something else writes sessions: refused with SQLSTATE 23505
-- (unique_violation), the session row left as it was, and the gateway
-- refuses the CONNECT.
CREATE OR REPLACE FUNCTION messaging.session_open(p_pid text, p_user integer, p_instance text)
RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO messaging.sessions AS s (pid, user_id, instance) VALUES (p_pid, p_user, p_instance)
  ON CONFLICT (pid) DO UPDATE SET instance = excluded.instance, disconnected_at = NULL
   WHERE s.user_id = excluded.user_id;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'session pid belongs to another user'
      USING ERRCODE = 'unique_violation', HINT = 'the gateway refuses this CONNECT';
  END IF;
END $$;

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

-- Takes a session over for a reconnecting socket of its user, if it went
-- less than p_max_ms ago (or its gateway's last heartbeat is that recent);
-- one row (what recovery needs) or none. Each attempt is logged
-- (session_recover, its rooms in `detail`: the events replayed and written
-- to the socket afterwards are covered by it).
CREATE OR REPLACE FUNCTION messaging.session_restore(p_pid text, p_user integer, p_max_ms bigint,
                                                     p_instance text)
RETURNS TABLE (joined text, sent text, sent_log text)
LANGUAGE plpgsql AS $$
DECLARE
  v_joined text; v_sent text; v_log text; v_found boolean := false;
BEGIN
  WITH r AS (
    UPDATE messaging.sessions s
       SET instance = p_instance, disconnected_at = NULL, sent = NULL, sent_log = NULL
      FROM messaging.sessions old
      LEFT JOIN messaging.gateway_instances i ON i.instance = old.instance
     WHERE s.pid = old.pid AND old.pid = p_pid AND old.user_id = p_user
       AND coalesce(old.disconnected_at, i.seen_at, old.created_at)
           >= now() - p_max_ms * interval '1 millisecond'
    RETURNING old.joined::text AS joined, old.sent::text AS sent, old.sent_log::text AS sent_log)
  SELECT r.joined, r.sent, r.sent_log, true INTO v_joined, v_sent, v_log, v_found FROM r;
  PERFORM messaging.audit(p_user, 'session_recover', NULL,
    CASE WHEN v_found THEN jsonb_build_object('outcome', 'ok', 'rooms', coalesce(v_joined::jsonb, '[]'))
         ELSE jsonb_build_object('outcome', 'refused', 'reason', 'expired or unknown session') END);
  IF v_found THEN
    joined := v_joined; sent := v_sent; sent_log := v_log;
    RETURN NEXT;
  END IF;
END $$;

-- The events to replay: first those of p_ids (sent but not received), in
-- that order; then, per conversation, those newer than its p_after.
CREATE OR REPLACE FUNCTION messaging.session_replay(p_ids bigint[], p_conversations integer[],
                                                    p_after bigint[], p_limit integer)
RETURNS TABLE (id bigint, conversation_id integer, kind text, payload text)
LANGUAGE sql STABLE AS $$
  SELECT x.id, x.conversation_id, x.kind, x.payload FROM (
    SELECT e.id, e.conversation_id, e.kind, messaging.event_data(e.payload, m, e.conversation_id) AS payload,
           0 AS part, array_position(p_ids, e.id) AS ord
      FROM messaging.events e LEFT JOIN public.messages m ON m.id = e.message_id
     WHERE e.id = ANY (coalesce(p_ids, '{}'))
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
