-- 043: presence (API.md section 9). A user is online while a socket of theirs
-- is connected to a live gateway instance; offline once `grace` seconds have
-- passed without one. Each gateway counts its sockets per user here
-- (presence_connect / presence_disconnect) and sweeps once a second
-- (presence_sweep); an instance whose heartbeat (messaging.gateway_instances,
-- every 10 s) is older than 30 s counts as dead, its sockets as closed at its
-- last heartbeat. Changes go to the gateways as a tagged NOTIFY
-- {"t":"presence","userId":U,"online":B,"lastSeenAt":ISO|null,"conversations":[ids]}
-- (docs/events.md), and from them to the rooms of those conversations.

CREATE TABLE IF NOT EXISTS messaging.presence_sockets (
  instance  text NOT NULL,
  user_id   integer NOT NULL,
  sockets   integer NOT NULL,
  closed_at timestamptz,             -- when sockets last fell to 0
  PRIMARY KEY (instance, user_id)
);
CREATE INDEX IF NOT EXISTS presence_sockets_user ON messaging.presence_sockets (user_id);
CREATE INDEX IF NOT EXISTS presence_sockets_closed ON messaging.presence_sockets (closed_at) WHERE sockets = 0;

-- What was last announced: the source of participant.online / lastSeenAt.
CREATE TABLE IF NOT EXISTS messaging.presence (
  user_id      integer PRIMARY KEY,
  online       boolean NOT NULL,
  last_seen_at timestamptz           -- NULL while online, or never connected
);

CREATE OR REPLACE FUNCTION messaging.presence_dead_after() RETURNS interval
LANGUAGE sql IMMUTABLE AS $$ SELECT interval '30 seconds' $$;

-- {userId, online, lastSeenAt} of a user (never connected: offline, null).
CREATE OR REPLACE FUNCTION messaging.presence_json(p_user integer) RETURNS json
LANGUAGE sql STABLE AS $$
  SELECT json_build_object('userId', p_user, 'online', coalesce(p.online, false),
                           'lastSeenAt', CASE WHEN p.online THEN NULL ELSE messaging.ts(p.last_seen_at) END)
    FROM (SELECT 1) one LEFT JOIN messaging.presence p ON p.user_id = p_user
$$;

CREATE OR REPLACE FUNCTION messaging.presence_notify(p_user integer) RETURNS void
LANGUAGE sql AS $$
  SELECT pg_notify('messaging_events',
    (messaging.presence_json(p_user)::jsonb || jsonb_build_object('t', 'presence', 'conversations',
      (SELECT coalesce(jsonb_agg(x.id), '[]') FROM (
         SELECT c.id FROM public.conversations c WHERE c.patient_id = p_user OR c.doctor_id = p_user
          ORDER BY c.last_message_at DESC LIMIT 600) x)))::text)
$$;

CREATE OR REPLACE FUNCTION messaging.presence_connect(p_instance text, p_user integer) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO messaging.gateway_instances (instance) VALUES (p_instance)
  ON CONFLICT (instance) DO UPDATE SET seen_at = now();
  INSERT INTO messaging.presence_sockets AS s (instance, user_id, sockets) VALUES (p_instance, p_user, 1)
  ON CONFLICT (instance, user_id) DO UPDATE SET sockets = s.sockets + 1, closed_at = NULL;
  UPDATE messaging.presence SET online = true, last_seen_at = NULL WHERE user_id = p_user AND NOT online;
  IF NOT FOUND THEN
    INSERT INTO messaging.presence (user_id, online) VALUES (p_user, true) ON CONFLICT DO NOTHING;
    IF NOT FOUND THEN
      RETURN;  -- online already
    END IF;
  END IF;
  PERFORM messaging.presence_notify(p_user);
END $$;

CREATE OR REPLACE FUNCTION messaging.presence_disconnect(p_instance text, p_user integer) RETURNS void
LANGUAGE sql AS $$
  UPDATE messaging.presence_sockets
     SET sockets = greatest(sockets - 1, 0),
         closed_at = CASE WHEN sockets <= 1 THEN now() ELSE closed_at END
   WHERE instance = p_instance AND user_id = p_user
$$;

-- Users whose last socket closed more than p_grace_s ago (or whose
-- gateways died) go offline, announced once. Returns how many.
CREATE OR REPLACE FUNCTION messaging.presence_sweep(p_grace_s integer) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
  v_user integer;
  v_last timestamptz;
  v_n integer := 0;
  v_grace interval := greatest(coalesce(p_grace_s, 5), 0) * interval '1 second';
BEGIN
  FOR v_user IN
    SELECT DISTINCT s.user_id FROM messaging.presence_sockets s
      LEFT JOIN messaging.gateway_instances i ON i.instance = s.instance
     WHERE (s.sockets = 0 AND s.closed_at <= now() - v_grace)
        OR coalesce(i.seen_at, '-infinity') < now() - messaging.presence_dead_after()
  LOOP
    -- Still a live socket somewhere (or one closed within the grace): stays
    -- online; the rows that made it a candidate go, so that it is not one
    -- again every second.
    IF EXISTS (
      SELECT 1 FROM messaging.presence_sockets s JOIN messaging.gateway_instances i ON i.instance = s.instance
       WHERE s.user_id = v_user AND (s.sockets > 0 OR s.closed_at > now() - v_grace)
         AND i.seen_at >= now() - messaging.presence_dead_after()) THEN
      DELETE FROM messaging.presence_sockets s
       WHERE s.user_id = v_user
         AND ((s.sockets = 0 AND s.closed_at <= now() - v_grace)
              OR NOT EXISTS (SELECT 1 FROM messaging.gateway_instances i WHERE i.instance = s.instance
                                AND i.seen_at >= now() - messaging.presence_dead_after()));
      CONTINUE;
    END IF;
    SELECT max(CASE WHEN coalesce(i.seen_at, '-infinity') < now() - messaging.presence_dead_after()
                    THEN coalesce(i.seen_at, s.closed_at) ELSE s.closed_at END)
      INTO v_last
      FROM messaging.presence_sockets s LEFT JOIN messaging.gateway_instances i ON i.instance = s.instance
     WHERE s.user_id = v_user;
    DELETE FROM messaging.presence_sockets s WHERE s.user_id = v_user;
    UPDATE messaging.presence SET online = false, last_seen_at = coalesce(v_last, now())
     WHERE user_id = v_user AND online;
    IF FOUND THEN
      PERFORM messaging.presence_notify(v_user);
      v_n := v_n + 1;
    END IF;
  END LOOP;
  RETURN v_n;
END $$;

-- User objects of the other side gain online and lastSeenAt.
CREATE OR REPLACE FUNCTION messaging.participant_json(u public.users) RETURNS json
LANGUAGE sql STABLE AS $$
  SELECT json_build_object('id', u.id, 'role', u.role, 'firstName', u.first_name, 'lastName', u.last_name,
                           'online', coalesce(p.online, false),
                           'lastSeenAt', CASE WHEN p.online THEN NULL ELSE messaging.ts(p.last_seen_at) END)
    FROM (SELECT 1) one LEFT JOIN messaging.presence p ON p.user_id = u.id
$$;

CREATE OR REPLACE FUNCTION messaging.conversation_json(c public.conversations, p_user integer)
RETURNS json
LANGUAGE plpgsql STABLE PARALLEL SAFE AS $$
BEGIN
  RETURN json_build_object(
    'id', c.id, 'patientId', c.patient_id, 'doctorId', c.doctor_id, 'status', c.status,
    'lastMessageAt', messaging.ts(c.last_message_at),
    'createdAt', messaging.ts(c.created_at),
    'updatedAt', messaging.ts(c.updated_at),
    'participant', (SELECT messaging.participant_json(u) FROM public.users u
                     WHERE u.id = CASE WHEN c.patient_id = p_user THEN c.doctor_id ELSE c.patient_id END),
    'lastMessage', (SELECT messaging.message_json(m) FROM public.messages m
                     WHERE m.conversation_id = c.id ORDER BY m.id DESC LIMIT 1),
    'unreadCount', (SELECT count(*) FROM public.messages m
                     WHERE m.conversation_id = c.id AND NOT m.is_read AND m.sender_id <> p_user));
END $$;

CREATE OR REPLACE FUNCTION messaging.available_users(p_user integer, p_role text)
RETURNS messaging.reply
LANGUAGE plpgsql STABLE AS $$
DECLARE
  v_role text;
  v_err messaging.reply;
  v_list json;
BEGIN
  SELECT u.role INTO v_role FROM public.users u WHERE u.id = p_user;
  v_err := messaging.auth_error(v_role, p_role);
  IF v_err IS NOT NULL THEN RETURN v_err; END IF;
  SELECT coalesce(json_agg((messaging.participant_json(u)::jsonb || jsonb_build_object('conversationId', c.id))::json
                           ORDER BY u.last_name, u.first_name, u.id), '[]'::json)
    INTO v_list
    FROM messaging.linked_users(p_user, v_role) u
    LEFT JOIN public.conversations c
      ON c.patient_id = CASE WHEN v_role = 'patient' THEN p_user ELSE u.id END
     AND c.doctor_id  = CASE WHEN v_role = 'patient' THEN u.id ELSE p_user END;
  RETURN messaging.ok(200, json_build_object('users', v_list));
END $$;

-- join_room's reply carries the other participant's presence, sent right
-- after room_joined: {conversationId, presence}.
CREATE OR REPLACE FUNCTION messaging.join_room(p_user integer, p_role text, p_conv bigint)
RETURNS messaging.reply
LANGUAGE plpgsql AS $$
DECLARE r messaging.reply;
BEGIN
  r := messaging.check_participant(p_user, p_role, p_conv);
  PERFORM messaging.audit(p_user, 'room_join', p_conv, messaging.audit_outcome(r.status, r.body));
  IF r.status = 200 THEN
    r.body := json_build_object('conversationId', p_conv,
      'presence', (SELECT messaging.presence_json(CASE WHEN c.patient_id = p_user THEN c.doctor_id ELSE c.patient_id END)
                     FROM public.conversations c WHERE c.id = p_conv))::text;
  END IF;
  RETURN r;
END $$;
