-- 011: the authentication rule as a scalar, for the API's hottest read (the
-- page of messages, one prepared statement in shared/ops.c whose rows are
-- formatted by shared/msgjson.c: a plpgsql call building JSON costs the
-- database about three times as much).

-- The authentication rule (API.md section 1) as a scalar, for statements
-- that cannot afford a composite reply: NULL when the caller is accepted,
-- else why not. auth_error() is written on top of it.
CREATE OR REPLACE FUNCTION messaging.auth_status(p_found_role text, p_token_role text)
RETURNS text LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT CASE
    WHEN p_found_role IS NULL THEN 'Unknown user'
    WHEN p_token_role IS NOT NULL AND p_token_role IS DISTINCT FROM p_found_role
      THEN 'Token role does not match the user'
  END
$$;

CREATE OR REPLACE FUNCTION messaging.auth_error(p_found_role text, p_token_role text)
RETURNS messaging.reply
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT CASE WHEN m IS NOT NULL THEN messaging.fail(401, 'unauthorized', m) END
    FROM (SELECT messaging.auth_status(p_found_role, p_token_role) AS m) s
$$;
