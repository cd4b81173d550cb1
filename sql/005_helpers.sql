-- 005: building blocks shared by the operations (one rule, one place):
-- JSON shapes of API.md section 3, errors, authentication, input checks,
-- the caller's conversations and linked users, notifications.

-- Timestamps as 2026-11-24T09:30:00.123Z (UTC, milliseconds).
CREATE OR REPLACE FUNCTION messaging.ts(t timestamptz) RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE AS
$$ SELECT to_char(t AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') $$;

-- Replies. body is the complete JSON text of the HTTP answer.
CREATE OR REPLACE FUNCTION messaging.ok(p_status integer, p_body json) RETURNS messaging.reply
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS
$$ SELECT ROW(p_status, p_body::text)::messaging.reply $$;

CREATE OR REPLACE FUNCTION messaging.fail(p_status integer, p_code text, p_message text)
RETURNS messaging.reply
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS
$$ SELECT ROW(p_status, json_build_object('error',
                json_build_object('code', p_code, 'message', p_message))::text)::messaging.reply $$;

-- Authentication, given the role found in users for the caller's id (NULL when
-- there is no such user) and the token's role claim (NULL when absent).
-- NULL when the caller is accepted, else the 401 reply.
CREATE OR REPLACE FUNCTION messaging.auth_error(p_found_role text, p_token_role text)
RETURNS messaging.reply
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT CASE
    WHEN p_found_role IS NULL THEN messaging.fail(401, 'unauthorized', 'Unknown user')
    WHEN p_token_role IS NOT NULL AND p_token_role IS DISTINCT FROM p_found_role
      THEN messaging.fail(401, 'unauthorized', 'Token role does not match the user')
  END
$$;

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

-- JSON objects of API.md section 3.
CREATE OR REPLACE FUNCTION messaging.user_json(u public.users) RETURNS json
LANGUAGE sql STABLE PARALLEL SAFE AS $$
  SELECT json_build_object('id', u.id, 'role', u.role, 'firstName', u.first_name, 'lastName', u.last_name)
$$;

CREATE OR REPLACE FUNCTION messaging.message_json(m public.messages) RETURNS json
LANGUAGE sql STABLE PARALLEL SAFE AS $$
  SELECT json_build_object('id', m.id, 'conversationId', m.conversation_id, 'senderId', m.sender_id,
                           'content', m.content, 'sentAt', messaging.ts(m.sent_at),
                           'isRead', m.is_read, 'clientId', m.client_id)
$$;

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
    'participant', (SELECT messaging.user_json(u) FROM public.users u
                     WHERE u.id = CASE WHEN c.patient_id = p_user THEN c.doctor_id ELSE c.patient_id END),
    'lastMessage', (SELECT messaging.message_json(m) FROM public.messages m
                     WHERE m.conversation_id = c.id ORDER BY m.id DESC LIMIT 1),
    'unreadCount', (SELECT count(*) FROM public.messages m
                     WHERE m.conversation_id = c.id AND NOT m.is_read AND m.sender_id <> p_user));
END $$;

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

-- NOTIFY of one event on channel messaging_events (docs/events.md):
-- {"id","conversationId","kind","data"} when under 8000 bytes, else the same
-- without "data" (listeners fetch it with messaging.event_by_id).
CREATE OR REPLACE FUNCTION messaging.notify_event(p_id bigint, p_conversation bigint, p_kind text, p_data json)
RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
  v text := format('{"id":%s,"conversationId":%s,"kind":%s,"data":%s}',
                   p_id, p_conversation, to_json(p_kind), p_data);
BEGIN
  IF octet_length(v) >= 8000 THEN
    v := format('{"id":%s,"conversationId":%s,"kind":%s}', p_id, p_conversation, to_json(p_kind));
  END IF;
  PERFORM pg_notify('messaging_events', v);
END $$;

-- The doorbell a caller rings in its own short transaction after commit when
-- it called an operation with p_notify = false: {"upTo":N}, N the newest
-- event id. One ring may cover many events. With no argument, N is the
-- newest committed event id.
CREATE OR REPLACE FUNCTION messaging.doorbell(p_up_to bigint DEFAULT NULL) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE v bigint := coalesce(p_up_to, (SELECT max(id) FROM messaging.events), 0);
BEGIN
  PERFORM pg_notify('messaging_events', format('{"upTo":%s}', v));
  RETURN v;
END $$;
