-- 022: a recovery session belongs to the user who opened it.
-- session_open used to take over a pid that already existed (ON CONFLICT
-- ... DO UPDATE) whatever user held it. The gateway draws pids at random
-- (128 bits), so a pid of another user means its randomness failed or
-- something else writes sessions: refuse, and the gateway refuses the
-- CONNECT. The same user's pid is re-opened as before.
-- Refusal: SQLSTATE 23505 (unique_violation), the message below; the
-- session row is left as it was.

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
