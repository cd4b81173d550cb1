-- 020: revocation of a user's tokens (API.md section 7): the table.
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

CREATE TABLE IF NOT EXISTS messaging.revocations (
  user_id    integer PRIMARY KEY REFERENCES public.users (id) ON DELETE CASCADE,
  revoked_at timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE messaging.revocations IS
  'The latest revocation of each user''s tokens: tokens issued before revoked_at (or without iat) are refused';

-- Its functions (revoke_user, token_revoked, token_check, authenticate)
-- live in sql/api/40_auth.sql.
