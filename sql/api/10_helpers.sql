-- The building blocks shared by the operations (one rule, one place): JSON
-- shapes of API.md section 3, replies and errors, who takes part in a
-- conversation, the caller's authentication, input checks, the caller's
-- conversations and linked users.
-- Files of sql/api are applied by scripts/migrate.sh on every run, in name
-- order, each in one transaction: every statement is safe to run again.
-- A LANGUAGE sql function is inlined into its callers' (cached) plans only
-- when its body is one expression with no FROM and no sub-select; any other
-- is parsed and planned at every call, so the hot paths use plpgsql (its
-- statements' plans are kept by the session) or such single expressions.

-- Delivery receipts (API.md section 9) are on unless the connection says
-- messaging.receipts = off (messaging.conf's delivery_receipts = off, which
-- exists to measure their cost).
CREATE OR REPLACE FUNCTION messaging.receipts_on() RETURNS boolean
LANGUAGE sql STABLE PARALLEL SAFE AS
$$ SELECT coalesce(current_setting('messaging.receipts', true), '') IS DISTINCT FROM 'off' $$;

-- Timestamps as 2026-11-24T09:30:00.123Z (UTC, milliseconds).
CREATE OR REPLACE FUNCTION messaging.ts(t timestamptz) RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE AS
$$ SELECT to_char(t AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') $$;

-- Replies. body is the complete JSON text of the HTTP answer.
CREATE OR REPLACE FUNCTION messaging.ok(p_status integer, p_body json) RETURNS messaging.reply
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS
$$ SELECT ROW(p_status, p_body::text)::messaging.reply $$;

-- STABLE, as json_build_object is: a function declared IMMUTABLE that calls
-- a STABLE one is never inlined, and a sql function that is not inlined is
-- planned anew at every call.
CREATE OR REPLACE FUNCTION messaging.fail(p_status integer, p_code text, p_message text)
RETURNS messaging.reply
LANGUAGE sql STABLE PARALLEL SAFE AS
$$ SELECT ROW(p_status, json_build_object('error',
                json_build_object('code', p_code, 'message', p_message))::text)::messaging.reply $$;

-- ---------------------------------------------------------------- authentication
-- The rule (API.md section 1), given the role found in users for the
-- caller's id (NULL when there is no such user) and the token's role claim
-- (NULL when absent): NULL when the caller is accepted, else why not.
CREATE OR REPLACE FUNCTION messaging.auth_status(p_found_role text, p_token_role text)
RETURNS text LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT CASE
    WHEN p_found_role IS NULL THEN 'Unknown user'
    WHEN p_token_role IS NOT NULL AND p_token_role IS DISTINCT FROM p_found_role
      THEN 'Token role does not match the user'
  END
$$;

-- The same as a reply: NULL when accepted, else the 401. One expression,
-- inlined into its callers' plans.
CREATE OR REPLACE FUNCTION messaging.auth_error(p_found_role text, p_token_role text)
RETURNS messaging.reply
LANGUAGE sql STABLE PARALLEL SAFE AS $$
  SELECT CASE WHEN messaging.auth_status(p_found_role, p_token_role) IS NOT NULL
              THEN messaging.fail(401, 'unauthorized', messaging.auth_status(p_found_role, p_token_role)) END
$$;

-- The preamble of every operation: the caller p_user with the token's role
-- claim p_role, one row. role: the caller's role in users (NULL: no such
-- user); deny: why the caller is refused (NULL: accepted); error: the same
-- as the 401 reply. A query's FROM inlines it (`SELECT * INTO v_me FROM
-- messaging.caller(p_user, p_role)`: one index probe, planned once with the
-- statement that holds it).
CREATE OR REPLACE FUNCTION messaging.caller(p_user integer, p_role text)
RETURNS TABLE (role text, deny text, error messaging.reply)
LANGUAGE sql STABLE PARALLEL SAFE AS $$
  SELECT u.role, messaging.auth_status(u.role, p_role), messaging.auth_error(u.role, p_role)
    FROM (VALUES (1)) one LEFT JOIN public.users u ON u.id = p_user
$$;

-- ---------------------------------------------------------------- participation
-- Whether p_user takes part in conversation c: its patient or its doctor.
-- One expression, inlined: `WHERE c.id = p_conv AND messaging.takes_part(c,
-- p_user)` is planned as if written out (an index probe on the id).
CREATE OR REPLACE FUNCTION messaging.takes_part(c public.conversations, p_user integer) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS
$$ SELECT c.patient_id = p_user OR c.doctor_id = p_user $$;

-- The other participant of c, seen from p_user.
CREATE OR REPLACE FUNCTION messaging.other_side(c public.conversations, p_user integer) RETURNS integer
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS
$$ SELECT CASE WHEN c.patient_id = p_user THEN c.doctor_id ELSE c.patient_id END $$;

-- ---------------------------------------------------------------- input
-- A path id: a positive 32-bit integer.
CREATE OR REPLACE FUNCTION messaging.is_id(p bigint) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS
$$ SELECT coalesce(p BETWEEN 1 AND 2147483647, false) $$;

-- Only Unicode white space (the White_Space property: U+0009-000D, U+0020,
-- U+0085, U+00A0, U+1680, U+2000-200A, U+2028, U+2029, U+202F, U+205F,
-- U+3000), plus U+FEFF which JavaScript's trim() also removes. '' is blank.
CREATE OR REPLACE FUNCTION messaging.is_blank(t text) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS
$$ SELECT t ~ '^[\u0009-\u000d\u0020\u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff]*$' $$;

-- The same white space removed at both ends.
CREATE OR REPLACE FUNCTION messaging.trim_space(t text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT regexp_replace(t,
    '^[\u0009-\u000d\u0020\u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff]+|[\u0009-\u000d\u0020\u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff]+$',
    '', 'g')
$$;

-- Case- and accent-folded text for search: lower(unaccent(t)). Written with the
-- unaccent extension's own schema so that it works whatever the caller's
-- search_path and wherever the application installed the extension.
DO $do$
DECLARE s text;
BEGIN
  SELECT n.nspname INTO s FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
   WHERE e.extname = 'unaccent';
  EXECUTE format(
    'CREATE OR REPLACE FUNCTION messaging.fold(t text) RETURNS text '
    'LANGUAGE sql STABLE PARALLEL SAFE AS %L',
    format('SELECT lower(%I.unaccent(%L::regdictionary, t))', s, quote_ident(s) || '.unaccent'));
END $do$;

-- ---------------------------------------------------------------- JSON objects of API.md section 3
CREATE OR REPLACE FUNCTION messaging.user_json(u public.users) RETURNS json
LANGUAGE sql STABLE PARALLEL SAFE AS $$
  SELECT json_build_object('id', u.id, 'role', u.role, 'firstName', u.first_name, 'lastName', u.last_name)
$$;

-- When a message was delivered to its recipient (sql/041_deliveries.sql),
-- or NULL.
-- plpgsql, not sql: a sql function with a subquery is never inlined, and
-- PostgreSQL 15 plans its body anew at every call (per row of a list);
-- plpgsql plans it once per connection.
CREATE OR REPLACE FUNCTION messaging.delivered_at(m public.messages) RETURNS timestamptz
LANGUAGE plpgsql STABLE PARALLEL SAFE AS $$
BEGIN
  RETURN coalesce((SELECT d.delivered_at FROM messaging.deliveries d
                    WHERE d.conversation_id = m.conversation_id AND d.user_id <> m.sender_id
                      AND d.up_to_id >= m.id LIMIT 1),
                  CASE WHEN m.is_read THEN m.sent_at END);
END $$;

CREATE OR REPLACE FUNCTION messaging.message_json(m public.messages) RETURNS json
LANGUAGE sql STABLE PARALLEL SAFE AS $$
  SELECT json_build_object('id', m.id, 'conversationId', m.conversation_id, 'senderId', m.sender_id,
                           'content', m.content, 'sentAt', messaging.ts(m.sent_at),
                           'isRead', m.is_read, 'clientId', m.client_id,
                           'deliveredAt', messaging.ts(messaging.delivered_at(m)))
$$;

-- {userId, online, lastSeenAt} of a user (never connected: offline, null).
CREATE OR REPLACE FUNCTION messaging.presence_json(p_user integer) RETURNS json
LANGUAGE sql STABLE AS $$
  SELECT json_build_object('userId', p_user, 'online', coalesce(p.online, false),
                           'lastSeenAt', CASE WHEN p.online THEN NULL ELSE messaging.ts(p.last_seen_at) END)
    FROM (SELECT 1) one LEFT JOIN messaging.presence p ON p.user_id = p_user
$$;

-- A User of the other side, with online and lastSeenAt.
-- plpgsql for the same reason as delivered_at (one call per listed row).
CREATE OR REPLACE FUNCTION messaging.participant_json(u public.users) RETURNS json
LANGUAGE plpgsql STABLE AS $$
BEGIN
  RETURN (SELECT json_build_object('id', u.id, 'role', u.role, 'firstName', u.first_name, 'lastName', u.last_name,
                                   'online', coalesce(p.online, false),
                                   'lastSeenAt', CASE WHEN p.online THEN NULL ELSE messaging.ts(p.last_seen_at) END)
            FROM (SELECT 1) one LEFT JOIN messaging.presence p ON p.user_id = u.id);
END $$;

-- A conversation as seen by p_user: the other side, the last message, and the
-- number of messages from the other side p_user has not read. plpgsql so that
-- the plan of this expression is cached by the session.
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
                     WHERE u.id = messaging.other_side(c, p_user)),
    'lastMessage', (SELECT messaging.message_json(m) FROM public.messages m
                     WHERE m.conversation_id = c.id ORDER BY m.id DESC LIMIT 1),
    'unreadCount', (SELECT count(*) FROM public.messages m
                     WHERE m.conversation_id = c.id AND NOT m.is_read AND m.sender_id <> p_user));
END $$;

-- ---------------------------------------------------------------- the caller's
-- The caller's conversations: a patient's by patient_id, a doctor's by
-- doctor_id. One index scan either way; the other branch is cut by a
-- one-time filter, also in a generic plan.
CREATE OR REPLACE FUNCTION messaging.my_conversations(p_user integer, p_role text)
RETURNS SETOF public.conversations
LANGUAGE sql STABLE PARALLEL SAFE AS $$
  SELECT c.* FROM public.conversations c WHERE p_role = 'patient' AND c.patient_id = p_user
  UNION ALL
  SELECT c.* FROM public.conversations c WHERE p_role = 'medecin' AND c.doctor_id = p_user
$$;

-- The users linked to the caller in patient_doctor (the other side).
CREATE OR REPLACE FUNCTION messaging.linked_users(p_user integer, p_role text)
RETURNS SETOF public.users
LANGUAGE sql STABLE PARALLEL SAFE AS $$
  SELECT u.* FROM public.patient_doctor pd JOIN public.users u ON u.id = pd.doctor_id
   WHERE p_role = 'patient' AND pd.patient_id = p_user
  UNION ALL
  SELECT u.* FROM public.patient_doctor pd JOIN public.users u ON u.id = pd.patient_id
   WHERE p_role = 'medecin' AND pd.doctor_id = p_user
$$;
