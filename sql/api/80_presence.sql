-- Presence (API.md section 9; the tables: sql/043_presence.sql). A user is
-- online while a socket of theirs is connected to a live gateway instance;
-- offline once `grace` seconds have passed without one. Each gateway counts
-- its sockets per user and calls presence_connect / presence_disconnect when
-- a user's first socket there connects and when the last one closes (a
-- CONNECT of a user already online there writes nothing), and sweeps once a
-- second (presence_sweep); an instance whose heartbeat
-- (messaging.gateway_instances, every 10 s) is older than 30 s counts as
-- dead, its sockets as closed at its last heartbeat. Changes go to the
-- gateways as a tagged NOTIFY
-- {"t":"presence","userId":U,"online":B,"lastSeenAt":ISO|null,"conversations":[ids]}
-- (docs/events.md), and from them to the rooms of those conversations.

CREATE OR REPLACE FUNCTION messaging.presence_dead_after() RETURNS interval
LANGUAGE sql IMMUTABLE AS $$ SELECT interval '30 seconds' $$;

CREATE OR REPLACE FUNCTION messaging.presence_notify(p_user integer) RETURNS void
LANGUAGE sql AS $$
  SELECT pg_notify('messaging_events',
    (messaging.presence_json(p_user)::jsonb || jsonb_build_object('t', 'presence', 'conversations',
      (SELECT coalesce(jsonb_agg(x.id), '[]') FROM (
         SELECT c.id FROM public.conversations c WHERE messaging.takes_part(c, p_user)
          ORDER BY c.last_message_at DESC LIMIT 600) x)))::text)
$$;

CREATE OR REPLACE FUNCTION messaging.presence_connect(p_instance text, p_user integer) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
  -- The gateway's row exists (its heartbeat keeps seen_at): not updated
  -- here, where every CONNECT of the gateway would queue on that one row.
  INSERT INTO messaging.gateway_instances (instance) VALUES (p_instance) ON CONFLICT (instance) DO NOTHING;
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
