-- Authentication and revocation of a user's tokens (API.md sections 1 and
-- 7; the table messaging.revocations: sql/020_revocation.sql).
--
-- messaging.revoke_user(user_id), for msgctl and the host application
-- (after a password change, a lost device, an account closed): every token
-- of that user issued before that moment, and every token of that user
-- without an `iat`, is refused from then on, over REST (401) and at the
-- gateway's CONNECT; tokens issued afterwards work. It also rings
-- NOTIFY messaging_events '{"t":"revoke","userId":N}' (docs/events.md), on
-- which every gateway disconnects that user's open sockets.
--
-- `iat` counts whole seconds: a token whose iat is the second of the
-- revocation may have been issued before it, so it is refused too; tokens
-- issued from the next second on are accepted.

-- Whether a token of p_user issued at p_iat (seconds since the epoch; NULL
-- when the token has no iat) is refused: the rule, for authenticate (the
-- gateway's CONNECT) and token_check (every REST request). plpgsql: its
-- query's plan is kept for the session.
CREATE OR REPLACE FUNCTION messaging.token_revoked(p_user integer, p_iat bigint)
RETURNS boolean
LANGUAGE plpgsql STABLE PARALLEL SAFE AS $$
BEGIN
  RETURN EXISTS (SELECT 1 FROM messaging.revocations r
                  WHERE r.user_id = p_user
                    AND (p_iat IS NULL OR p_iat < ceil(extract(epoch FROM r.revoked_at))));
END $$;

-- For the API workers, in the same pipeline as the request's operation: a
-- refused token raises (SQLSTATE 28000), so that the operation after it is
-- not run. Returns true otherwise.
CREATE OR REPLACE FUNCTION messaging.token_check(p_user integer, p_iat bigint)
RETURNS boolean
LANGUAGE plpgsql STABLE AS $$
BEGIN
  IF messaging.token_revoked(p_user, p_iat) THEN
    RAISE EXCEPTION 'token revoked' USING ERRCODE = '28000';
  END IF;
  RETURN true;
END $$;

-- 200 User, or 401: the user must exist, a role claim must match, and the
-- token must not be revoked (p_iat: its iat, NULL when it has none).
CREATE OR REPLACE FUNCTION messaging.authenticate(p_user integer, p_role text, p_iat bigint)
RETURNS messaging.reply
LANGUAGE plpgsql STABLE AS $$
DECLARE
  v_me record;
  v_user public.users;
BEGIN
  SELECT * INTO v_me FROM messaging.caller(p_user, p_role);
  IF v_me.error IS NOT NULL THEN RETURN v_me.error; END IF;
  IF messaging.token_revoked(p_user, p_iat) THEN
    RETURN messaging.fail(401, 'unauthorized', 'Token revoked');
  END IF;
  SELECT u.* INTO v_user FROM public.users u WHERE u.id = p_user;
  RETURN messaging.ok(200, messaging.user_json(v_user));
END $$;

-- For callers that do not pass the token's iat: as a token without iat
-- (refused once the user was revoked).
CREATE OR REPLACE FUNCTION messaging.authenticate(p_user integer, p_role text)
RETURNS messaging.reply
LANGUAGE sql STABLE AS $$ SELECT messaging.authenticate(p_user, p_role, NULL::bigint) $$;

-- Records the revocation (now(): the transaction's start), notifies the
-- gateways and logs the call (user_revoke). Returns the moment recorded, or
-- NULL when there is no such user (nothing recorded, nothing sent; logged
-- as refused). Revoking again moves the moment forward.
CREATE OR REPLACE FUNCTION messaging.revoke_user(p_user integer)
RETURNS timestamptz
LANGUAGE plpgsql AS $$
DECLARE
  v_at timestamptz;
BEGIN
  PERFORM 1 FROM public.users u WHERE u.id = p_user;
  IF FOUND THEN
    INSERT INTO messaging.revocations AS r (user_id, revoked_at) VALUES (p_user, now())
    ON CONFLICT (user_id) DO UPDATE SET revoked_at = greatest(r.revoked_at, EXCLUDED.revoked_at)
    RETURNING r.revoked_at INTO v_at;
    -- Exactly this text: the gateways parse it (docs/events.md).
    PERFORM pg_notify('messaging_events', '{"t":"revoke","userId":' || p_user || '}');
  END IF;
  PERFORM messaging.audit(NULL, 'user_revoke', NULL,
    jsonb_build_object('outcome', CASE WHEN v_at IS NULL THEN 'refused' ELSE 'ok' END, 'userId', p_user,
                       'operator', current_setting('messaging.operator', true)));
  RETURN v_at;
END $$;
