-- Assertions on the operations, run by t/sql/test_operations.sh with
--   psql -X -tA -v ON_ERROR_STOP=1 -v tag=TAG -f test_operations.sql
-- after the fixtures of that tag exist. Prints "ok - ..." / "not ok - ...".
-- Any exception stops the script (ON_ERROR_STOP) and fails the run: bad input
-- must be answered with a reply, never raise.
SET client_min_messages = warning;

\ir assert.sql
-- The error code of a reply body, or NULL.
CREATE FUNCTION pg_temp.code(b text) RETURNS text LANGUAGE sql AS $$ SELECT b::json->'error'->>'code' $$;
CREATE FUNCTION pg_temp.keys(j json) RETURNS text LANGUAGE sql AS
$$ SELECT string_agg(k, ',' ORDER BY k) FROM json_object_keys(j) k $$;

SELECT id AS p1 FROM users WHERE email = 'sqltest-' || :'tag' || '-p1@example.test' \gset
SELECT id AS p2 FROM users WHERE email = 'sqltest-' || :'tag' || '-p2@example.test' \gset
SELECT id AS p3 FROM users WHERE email = 'sqltest-' || :'tag' || '-p3@example.test' \gset
SELECT id AS d1 FROM users WHERE email = 'sqltest-' || :'tag' || '-d1@example.test' \gset
SELECT id AS d2 FROM users WHERE email = 'sqltest-' || :'tag' || '-d2@example.test' \gset
SELECT id AS d3 FROM users WHERE email = 'sqltest-' || :'tag' || '-d3@example.test' \gset
SELECT coalesce(max(id), 0) + 1000000 AS nobody FROM users \gset

-- ---------------------------------------------------------------- authentication
SELECT status AS st, body AS b FROM messaging.authenticate(:p1, NULL) \gset
SELECT pg_temp.is(:'st', '200', 'authenticate: 200');
SELECT pg_temp.is(:'b'::json->>'firstName', 'Hélène', 'authenticate: User object');
SELECT pg_temp.is(pg_temp.keys(:'b'::json), 'firstName,id,lastName,role', 'authenticate: User keys');
SELECT status AS st, body AS b FROM messaging.authenticate(:p1, 'patient') \gset
SELECT pg_temp.is(:'st', '200', 'authenticate: matching role claim');
SELECT status AS st, body AS b FROM messaging.authenticate(:p1, 'medecin') \gset
SELECT pg_temp.is(:'st' || pg_temp.code(:'b'), '401unauthorized', 'authenticate: contradicting role is 401');
SELECT pg_temp.is(:'b'::json->'error'->>'message', 'Token role does not match the user', 'authenticate: role message');
SELECT status AS st, body AS b FROM messaging.authenticate(:nobody, NULL) \gset
SELECT pg_temp.is(:'st' || pg_temp.code(:'b'), '401unauthorized', 'authenticate: unknown user is 401');
SELECT pg_temp.is(:'b'::json->'error'->>'message', 'Unknown user', 'authenticate: unknown user message');
SELECT status AS st FROM messaging.authenticate(NULL, NULL) \gset
SELECT pg_temp.is(:'st', '401', 'authenticate: NULL user is 401');
SELECT status AS st FROM messaging.unread_count(:nobody, NULL) \gset
SELECT pg_temp.is(:'st', '401', 'every operation authenticates (unread_count)');
SELECT status AS st FROM messaging.send_message(:d1, 'patient', 1, 'x', NULL, 10000, false) \gset
SELECT pg_temp.is(:'st', '401', 'every operation authenticates (send_message role)');

-- ---------------------------------------------------------------- create_conversation
SELECT status AS st, body AS b FROM messaging.create_conversation(:p1, 'patient', :d1) \gset
SELECT pg_temp.is(:'st', '201', 'create_conversation: 201 when created');
SELECT (:'b'::json->'conversation'->>'id')::int AS c1 \gset
SELECT pg_temp.is(pg_temp.keys(:'b'::json->'conversation'),
  'createdAt,doctorId,id,lastMessage,lastMessageAt,participant,patientId,status,unreadCount,updatedAt',
  'create_conversation: Conversation keys');
SELECT pg_temp.is(:'b'::json->'conversation'->'participant'->>'id', :'d1', 'create_conversation: participant is the other side');
SELECT pg_temp.is(:'b'::json->'conversation'->>'patientId' || '/' || (:'b'::json->'conversation'->>'doctorId'),
  :'p1' || '/' || :'d1', 'create_conversation: patientId/doctorId');
SELECT pg_temp.is(json_typeof(:'b'::json->'conversation'->'lastMessage'), 'null', 'create_conversation: lastMessage null');
SELECT pg_temp.is(:'b'::json->'conversation'->>'unreadCount', '0', 'create_conversation: unreadCount 0');
SELECT pg_temp.is(:'b'::json->'conversation'->>'status', 'active', 'create_conversation: status active');
SELECT pg_temp.ok(:'b'::json->'conversation'->>'createdAt' ~ '^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$',
  'create_conversation: createdAt in ISO 8601 UTC with milliseconds');
SELECT status AS st, body AS b FROM messaging.create_conversation(:d1, 'medecin', :p1) \gset
SELECT pg_temp.is(:'st' || '/' || (:'b'::json->'conversation'->>'id'), '200/' || :'c1', 'create_conversation: 200 and the same one when it exists (other side)');
SELECT pg_temp.is(:'b'::json->'conversation'->'participant'->>'id', :'p1', 'create_conversation: participant seen from the doctor');
SELECT status AS st, body AS b FROM messaging.create_conversation(:p1, NULL, :nobody) \gset
SELECT pg_temp.is(:'st' || pg_temp.code(:'b'), '404not_found', 'create_conversation: 404 no such user');
SELECT status AS st, body AS b FROM messaging.create_conversation(:p1, NULL, :p1) \gset
SELECT pg_temp.is(:'st' || pg_temp.code(:'b'), '400invalid_request', 'create_conversation: 400 self');
SELECT status AS st, body AS b FROM messaging.create_conversation(:p1, NULL, :p2) \gset
SELECT pg_temp.is(:'st' || pg_temp.code(:'b'), '400invalid_request', 'create_conversation: 400 same role');
SELECT status AS st, body AS b FROM messaging.create_conversation(:p1, NULL, :d3) \gset
SELECT pg_temp.is(:'st' || pg_temp.code(:'b'), '403forbidden', 'create_conversation: 403 not linked');
SELECT status AS st FROM messaging.create_conversation(:p1, NULL, NULL) \gset
SELECT pg_temp.is(:'st', '400', 'create_conversation: 400 NULL participant');
SELECT status AS st FROM messaging.create_conversation(:p1, NULL, 4294967296) \gset
SELECT pg_temp.is(:'st', '400', 'create_conversation: 400 participant beyond 32 bits');
SELECT status AS st FROM messaging.create_conversation(:p1, NULL, -1) \gset
SELECT pg_temp.is(:'st', '400', 'create_conversation: 400 negative participant');
SELECT status AS st, body AS b FROM messaging.create_conversation(:p1, NULL, :d2) \gset
SELECT (:'b'::json->'conversation'->>'id')::int AS c2 \gset
SELECT pg_temp.is(:'st', '201', 'create_conversation: second conversation');

-- ---------------------------------------------------------------- get_conversation / check_participant
SELECT status AS st, body AS b FROM messaging.get_conversation(:p1, NULL, :c1) \gset
SELECT pg_temp.is(:'st' || '/' || (:'b'::json->'conversation'->>'id'), '200/' || :'c1', 'get_conversation: 200');
SELECT status AS st, body AS b FROM messaging.get_conversation(:p2, NULL, :c1) \gset
SELECT pg_temp.is(:'st' || pg_temp.code(:'b'), '404not_found', 'get_conversation: 404 for a non-participant');
SELECT pg_temp.is(:'b'::json->'error'->>'message', 'Conversation not found', 'get_conversation: 404 message');
SELECT status AS st FROM messaging.get_conversation(:p1, NULL, 2147483647) \gset
SELECT pg_temp.is(:'st', '404', 'get_conversation: 404 when absent');
SELECT status AS st FROM messaging.get_conversation(:p1, NULL, 0) \gset
SELECT pg_temp.is(:'st', '400', 'get_conversation: 400 id 0');
SELECT status AS st FROM messaging.get_conversation(:p1, NULL, NULL) \gset
SELECT pg_temp.is(:'st', '400', 'get_conversation: 400 NULL id');
SELECT status AS st, body AS b FROM messaging.check_participant(:d1, 'medecin', :c1) \gset
SELECT pg_temp.is(:'st' || (:'b'::json->>'conversationId'), '200' || :'c1', 'check_participant: 200 {conversationId}');
SELECT status AS st FROM messaging.check_participant(:d2, NULL, :c1) \gset
SELECT pg_temp.is(:'st', '404', 'check_participant: 404 for a non-participant');

-- ---------------------------------------------------------------- send_message
SELECT coalesce(max(id), 0) AS ev0 FROM messaging.events \gset
SELECT status AS st, body AS b FROM messaging.send_message(:p1, 'patient', :c1, 'Bonjour, docteur Élise 👋', NULL, 10000, false) \gset
SELECT pg_temp.is(:'st', '201', 'send_message: 201');
SELECT (:'b'::json->'message'->>'id')::bigint AS m1 \gset
SELECT pg_temp.is(pg_temp.keys(:'b'::json->'message'), 'clientId,content,conversationId,deliveredAt,id,isRead,senderId,sentAt',
  'send_message: Message keys');
SELECT pg_temp.is(:'b'::json->'message'->>'content', 'Bonjour, docteur Élise 👋', 'send_message: content kept');
SELECT pg_temp.is(json_typeof(:'b'::json->'message'->'clientId'), 'null', 'send_message: clientId null when not given');
SELECT pg_temp.is(json_typeof(:'b'::json->'message'->'id') || json_typeof(:'b'::json->'message'->'conversationId'),
  'numbernumber', 'send_message: ids are numbers');
SELECT pg_temp.is(:'b'::json->'message'->>'isRead', 'false', 'send_message: isRead false');
SELECT pg_temp.ok(:'b'::json->'message'->>'sentAt' ~ '^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$', 'send_message: sentAt format');
SELECT pg_temp.ok((SELECT last_message_at = (SELECT sent_at FROM messages WHERE id = :m1) AND updated_at = last_message_at
                     FROM conversations WHERE id = :c1), 'send_message: conversation last_message_at/updated_at = sent_at');
SELECT pg_temp.is((SELECT count(*)::text FROM messaging.events WHERE id > :ev0), '1', 'send_message: one event written (notify off)');
SELECT pg_temp.ok((SELECT kind = 'new_message' AND conversation_id = :c1 AND message_id = :m1 AND payload IS NULL
                     FROM messaging.events WHERE id > :ev0),
  'send_message: event new_message references its message (no copy)');
SELECT pg_temp.ok((SELECT payload::jsonb = json_build_object('message', :'b'::json->'message', 'conversationId', :c1)::jsonb
                     FROM messaging.events_since_each(ARRAY[:c1], ARRAY[:ev0]::bigint[], NULL)),
  'send_message: the event reads as {message, conversationId}');
SELECT pg_temp.ok((SELECT last_event_id = (SELECT max(id) FROM messaging.events WHERE conversation_id = :c1)
                     FROM conversations WHERE id = :c1), 'send_message: the conversation keeps its newest event id');

-- idempotent clientId
SELECT status AS st, body AS b FROM messaging.send_message(:p1, NULL, :c1, 'Avec clé', 'key-1', 10000, true) \gset
SELECT pg_temp.is(:'st' || '/' || (:'b'::json->'message'->>'clientId'), '201/key-1', 'clientId: first send 201 with clientId');
SELECT (:'b'::json->'message'->>'id')::bigint AS mk \gset
SELECT count(*) AS nmsg FROM messages WHERE conversation_id = :c1 \gset
SELECT coalesce(max(id), 0) AS ev1 FROM messaging.events \gset
SELECT status AS st, body AS b FROM messaging.send_message(:p1, NULL, :c1, 'Autre texte', 'key-1', 10000, true) \gset
SELECT pg_temp.is(:'st' || '/' || (:'b'::json->'message'->>'id'), '200/' || :'mk', 'clientId: repeat gives 200 and the first message');
SELECT pg_temp.is(:'b'::json->'message'->>'content', 'Avec clé', 'clientId: repeat returns the first content');
SELECT pg_temp.is((SELECT count(*) FROM messages WHERE conversation_id = :c1)::text, :'nmsg', 'clientId: repeat stores nothing');
SELECT pg_temp.is((SELECT count(*) FROM messaging.events WHERE id > :ev1)::text, '0', 'clientId: repeat writes no event');
SELECT status AS st FROM messaging.send_message(:d1, NULL, :c1, 'Même clé, autre expéditeur', 'key-1', 10000, false) \gset
SELECT pg_temp.is(:'st', '201', 'clientId: same key by the other participant is a new message');
SELECT status AS st FROM messaging.send_message(:p1, NULL, :c2, 'Même clé, autre conversation', 'key-1', 10000, false) \gset
SELECT pg_temp.is(:'st', '201', 'clientId: same key in another conversation is a new message');
SELECT status AS st FROM messaging.send_message(:p1, NULL, :c1, 'x', repeat('k', 64), 10000, false) \gset
SELECT pg_temp.is(:'st', '201', 'clientId: 64 characters accepted');
SELECT status AS st FROM messaging.send_message(:p1, NULL, :c1, 'x', repeat('é', 64), 10000, false) \gset
SELECT pg_temp.is(:'st', '201', 'clientId: 64 code points (128 bytes) accepted');
SELECT status AS st, body AS b FROM messaging.send_message(:p1, NULL, :c1, 'x', repeat('k', 65), 10000, false) \gset
SELECT pg_temp.is(:'st' || pg_temp.code(:'b'), '400invalid_request', 'clientId: 65 characters is 400');
SELECT status AS st FROM messaging.send_message(:p1, NULL, :c1, 'x', '', 10000, false) \gset
SELECT pg_temp.is(:'st', '400', 'clientId: empty is 400');
SELECT status AS st FROM messaging.send_message(:p1, NULL, :c1, 'x', repeat('k', 1000000), 10000, false) \gset
SELECT pg_temp.is(:'st', '400', 'clientId: 1 MB is 400');

-- content validation
SELECT status AS st, body AS b FROM messaging.send_message(:p1, NULL, :c1, NULL, NULL, 10000, false) \gset
SELECT pg_temp.is(:'st' || pg_temp.code(:'b'), '400invalid_request', 'content: NULL is 400');
SELECT status AS st FROM messaging.send_message(:p1, NULL, :c1, '', NULL, 10000, false) \gset
SELECT pg_temp.is(:'st', '400', 'content: empty is 400');
SELECT status AS st FROM messaging.send_message(:p1, NULL, :c1, E' \t\r\n\x0b\f', NULL, 10000, false) \gset
SELECT pg_temp.is(:'st', '400', 'content: ASCII white space only is 400');
SELECT status AS st FROM messaging.send_message(:p1, NULL, :c1, E'\u00a0\u2000\u2009\u200a\u3000\u2028\u2029\u202f\u205f\u1680\u0085\ufeff', NULL, 10000, false) \gset
SELECT pg_temp.is(:'st', '400', 'content: Unicode white space only (U+00A0, U+2000-200A, U+3000...) is 400');
SELECT status AS st FROM messaging.send_message(:p1, NULL, :c1, E'\u200b', NULL, 10000, false) \gset
SELECT pg_temp.is(:'st', '201', 'content: U+200B (not white space) is accepted');
SELECT status AS st FROM messaging.send_message(:p1, NULL, :c1, E'\u3000a\u3000', NULL, 10000, false) \gset
SELECT pg_temp.is(:'st', '201', 'content: text surrounded by white space is accepted');
SELECT status AS st FROM messaging.send_message(:p1, NULL, :c1, 'ééééé', NULL, 5, false) \gset
SELECT pg_temp.is(:'st', '201', 'content: exactly max code points (multi-byte) accepted');
SELECT status AS st, body AS b FROM messaging.send_message(:p1, NULL, :c1, 'éééééé', NULL, 5, false) \gset
SELECT pg_temp.is(:'st' || (:'b'::json->'error'->>'message'), '400content must be at most 5 characters', 'content: max+1 code points is 400');
SELECT status AS st FROM messaging.send_message(:p1, NULL, :c1, repeat('😀', 10000), NULL, 10000, false) \gset
SELECT pg_temp.is(:'st', '201', 'content: 10000 astral code points (40000 bytes) accepted');
SELECT status AS st FROM messaging.send_message(:p1, NULL, :c1, repeat('a', 10001), NULL, NULL, false) \gset
SELECT pg_temp.is(:'st', '400', 'content: default max is 10000');
SELECT status AS st FROM messaging.send_message(:p1, NULL, :c1, repeat('a', 50000000), NULL, 10000, false) \gset
SELECT pg_temp.is(:'st', '400', 'content: 50 MB is 400');
SELECT status AS st FROM messaging.send_message(:p1, NULL, :c1, repeat(' ', 50000000), NULL, 10000, false) \gset
SELECT pg_temp.is(:'st', '400', 'content: 50 MB of spaces is 400');

-- participation, status, ids
SELECT status AS st, body AS b FROM messaging.send_message(:p2, NULL, :c1, 'intrus', NULL, 10000, false) \gset
SELECT pg_temp.is(:'st' || pg_temp.code(:'b'), '404not_found', 'send_message: 404 for a non-participant');
SELECT status AS st FROM messaging.send_message(:p1, NULL, 2147483647, 'x', NULL, 10000, false) \gset
SELECT pg_temp.is(:'st', '404', 'send_message: 404 absent conversation');
SELECT status AS st FROM messaging.send_message(:p1, NULL, 2147483648, 'x', NULL, 10000, false) \gset
SELECT pg_temp.is(:'st', '400', 'send_message: 400 id beyond 32 bits');
SELECT status AS st FROM messaging.send_message(:p1, NULL, :c2, 'still active', 'before-close', 10000, false) \gset
UPDATE conversations SET status = 'closed' WHERE id = :c2;
SELECT count(*) AS nmsg2 FROM messages WHERE conversation_id = :c2 \gset
SELECT status AS st, body AS b FROM messaging.send_message(:d2, NULL, :c2, 'trop tard', NULL, 10000, true) \gset
SELECT pg_temp.is(:'st' || pg_temp.code(:'b'), '409conflict', 'send_message: 409 on a closed conversation');
UPDATE conversations SET status = 'archived' WHERE id = :c2;
SELECT status AS st FROM messaging.send_message(:d2, NULL, :c2, 'trop tard', NULL, 10000, true) \gset
SELECT pg_temp.is(:'st', '409', 'send_message: 409 on any status but active');
SELECT pg_temp.is((SELECT count(*) FROM messages WHERE conversation_id = :c2)::text, :'nmsg2', 'send_message: nothing stored on 409');
SELECT status AS st FROM messaging.list_messages(:d2, NULL, :c2, 10, NULL, NULL) \gset
SELECT pg_temp.is(:'st', '200', 'list_messages: a closed conversation can still be read');

-- ---------------------------------------------------------------- list_messages: order, cursors, hasMore
-- A fresh conversation with 7 messages.
SELECT (messaging.create_conversation(:p3, NULL, :d1)).body::json->'conversation'->>'id' AS c3 \gset
SELECT string_agg(((messaging.send_message(CASE WHEN g % 2 = 0 THEN :p3 ELSE :d1 END, NULL, :c3, 'm' || g, NULL, 10000, false)).body::json->'message'->>'id'), ',' ORDER BY g) AS ids
  FROM generate_series(1, 7) g \gset
SELECT string_to_array(:'ids', ',')::bigint[] AS ida \gset
CREATE FUNCTION pg_temp.page_ids(b text) RETURNS text LANGUAGE sql AS
$$ SELECT coalesce(string_agg(e->>'content', ',' ORDER BY n), '') FROM json_array_elements(b::json->'messages') WITH ORDINALITY AS t(e, n) $$;
SELECT status AS st, body AS b FROM messaging.list_messages(:p3, NULL, :c3, 3, NULL, NULL) \gset
SELECT pg_temp.is(:'st' || ' ' || pg_temp.page_ids(:'b') || ' ' || (:'b'::json->>'hasMore'), '200 m5,m6,m7 true', 'list_messages: newest page ascending, hasMore');
SELECT pg_temp.is(pg_temp.keys(:'b'::json), 'hasMore,messages', 'list_messages: keys');
SELECT status AS st, body AS b FROM messaging.list_messages(:p3, NULL, :c3, 3, (:'ida'::bigint[])[5], NULL) \gset
SELECT pg_temp.is(pg_temp.page_ids(:'b') || ' ' || (:'b'::json->>'hasMore'), 'm2,m3,m4 true', 'list_messages: before cursor');
SELECT status AS st, body AS b FROM messaging.list_messages(:p3, NULL, :c3, 3, (:'ida'::bigint[])[2], NULL) \gset
SELECT pg_temp.is(pg_temp.page_ids(:'b') || ' ' || (:'b'::json->>'hasMore'), 'm1 false', 'list_messages: before, last page hasMore false');
SELECT status AS st, body AS b FROM messaging.list_messages(:p3, NULL, :c3, 3, (:'ida'::bigint[])[4], NULL) \gset
SELECT pg_temp.is(pg_temp.page_ids(:'b') || ' ' || (:'b'::json->>'hasMore'), 'm1,m2,m3 false', 'list_messages: before, exactly limit left gives hasMore false');
SELECT status AS st, body AS b FROM messaging.list_messages(:p3, NULL, :c3, 3, NULL, (:'ida'::bigint[])[1]) \gset
SELECT pg_temp.is(pg_temp.page_ids(:'b') || ' ' || (:'b'::json->>'hasMore'), 'm2,m3,m4 true', 'list_messages: after cursor, oldest first');
SELECT status AS st, body AS b FROM messaging.list_messages(:p3, NULL, :c3, 3, NULL, (:'ida'::bigint[])[4]) \gset
SELECT pg_temp.is(pg_temp.page_ids(:'b') || ' ' || (:'b'::json->>'hasMore'), 'm5,m6,m7 false', 'list_messages: after, exactly limit left gives hasMore false');
SELECT status AS st, body AS b FROM messaging.list_messages(:p3, NULL, :c3, 3, NULL, (:'ida'::bigint[])[7]) \gset
SELECT pg_temp.is(:'st' || ' [' || pg_temp.page_ids(:'b') || '] ' || (:'b'::json->>'hasMore'), '200 [] false', 'list_messages: after the newest: empty');
SELECT status AS st, body AS b FROM messaging.list_messages(:p3, NULL, :c3, NULL, NULL, 0) \gset
SELECT pg_temp.is(pg_temp.page_ids(:'b') || ' ' || (:'b'::json->>'hasMore'), 'm1,m2,m3,m4,m5,m6,m7 false', 'list_messages: after=0, default limit');
SELECT status AS st, body AS b FROM messaging.list_messages(:p3, NULL, :c3, 100, 0, NULL) \gset
SELECT pg_temp.is(:'st' || ' [' || pg_temp.page_ids(:'b') || ']', '200 []', 'list_messages: before=0 is empty');
SELECT status AS st, body AS b FROM messaging.list_messages(:p3, NULL, :c3, 3, 5, 5) \gset
SELECT pg_temp.is(:'st' || pg_temp.code(:'b'), '400invalid_request', 'list_messages: both cursors is 400');
SELECT status AS st FROM messaging.list_messages(:p3, NULL, :c3, 0, NULL, NULL) \gset
SELECT pg_temp.is(:'st', '400', 'list_messages: limit 0 is 400');
SELECT status AS st FROM messaging.list_messages(:p3, NULL, :c3, 101, NULL, NULL) \gset
SELECT pg_temp.is(:'st', '400', 'list_messages: limit 101 is 400');
SELECT status AS st FROM messaging.list_messages(:p3, NULL, :c3, 10, -1, NULL) \gset
SELECT pg_temp.is(:'st', '400', 'list_messages: negative before is 400');
SELECT status AS st FROM messaging.list_messages(:p2, NULL, :c3, 10, NULL, NULL) \gset
SELECT pg_temp.is(:'st', '404', 'list_messages: 404 for a non-participant');

-- ---------------------------------------------------------------- mark_read, unread_count
-- c3: m1,m3,m5,m7 from d1 (4 unread for p3), m2,m4,m6 from p3 (3 unread for d1).
SELECT status AS st, body AS b FROM messaging.unread_count(:p3, NULL) \gset
SELECT pg_temp.is(:'b', '{"total" : 4, "byConversation" : { "' || :c3 || '" : 4 }}', 'unread_count: total and byConversation');
SELECT status AS st, body AS b FROM messaging.get_conversation(:p3, NULL, :c3) \gset
SELECT pg_temp.is((:'b'::json->'conversation'->>'unreadCount') || ' ' || (:'b'::json->'conversation'->'lastMessage'->>'content'), '4 m7', 'get_conversation: unreadCount and lastMessage');
SELECT coalesce(max(id), 0) AS ev2 FROM messaging.events \gset
SELECT status AS st, body AS b FROM messaging.mark_read(:p3, 'patient', :c3, false) \gset
SELECT pg_temp.is(:'st' || ' ' || :'b', '200 {"conversationId" : ' || :c3 || ', "updatedCount" : 4}', 'mark_read: {conversationId, updatedCount}');
SELECT pg_temp.is((SELECT string_agg(sender_id::text || ':' || is_read, ',' ORDER BY id) FROM messages WHERE conversation_id = :c3),
  concat_ws(',', :d1 || ':true', :p3 || ':false', :d1 || ':true', :p3 || ':false', :d1 || ':true', :p3 || ':false', :d1 || ':true'),
  'mark_read: only the other side''s messages are marked');
SELECT pg_temp.ok((SELECT kind = 'messages_read' AND conversation_id = :c3
                          AND payload::jsonb = jsonb_build_object('conversationId', :c3, 'userId', :p3, 'updatedCount', 4)
                     FROM messaging.events WHERE id > :ev2),
  'mark_read: event messages_read {conversationId, userId, updatedCount}');
SELECT status AS st, body AS b FROM messaging.mark_read(:p3, NULL, :c3, false) \gset
SELECT pg_temp.is(:'b'::json->>'updatedCount', '0', 'mark_read: again gives 0');
SELECT pg_temp.is((SELECT count(*) FROM messaging.events WHERE id > :ev2)::text, '1', 'mark_read: marking nothing writes no event');
SELECT status AS st, body AS b FROM messaging.unread_count(:p3, NULL) \gset
SELECT pg_temp.is(:'b', '{"total" : 0, "byConversation" : {}}', 'unread_count: {} when nothing unread');
SELECT status AS st FROM messaging.mark_read(:p2, NULL, :c3, false) \gset
SELECT pg_temp.is(:'st', '404', 'mark_read: 404 for a non-participant');
SELECT status AS st, body AS b FROM messaging.unread_count(:d1, 'medecin') \gset
SELECT pg_temp.is(:'b'::json->'byConversation'->>:'c3', '3', 'unread_count: the doctor''s side');
SELECT pg_temp.is(:'b'::json->>'total',
  (SELECT count(*)::text FROM messages m JOIN conversations c ON c.id = m.conversation_id
    WHERE c.doctor_id = :d1 AND NOT m.is_read AND m.sender_id <> :d1), 'unread_count: total = sum over conversations');

-- ---------------------------------------------------------------- list_conversations
-- Send into c1 now: it becomes the newest for d1.
SELECT status AS st FROM messaging.send_message(:p1, NULL, :c1, 'remonte', NULL, 10000, false) \gset
SELECT status AS st, body AS b FROM messaging.list_conversations(:d1, NULL, NULL, NULL) \gset
SELECT pg_temp.is((SELECT string_agg(e->>'id', ',' ORDER BY n) FROM json_array_elements(:'b'::json->'conversations') WITH ORDINALITY t(e, n)),
  :'c1' || ',' || :'c3', 'list_conversations: newest lastMessageAt first');
SELECT pg_temp.is((SELECT string_agg(e->'participant'->>'id', ',' ORDER BY n) FROM json_array_elements(:'b'::json->'conversations') WITH ORDINALITY t(e, n)),
  :'p1' || ',' || :'p3', 'list_conversations: participant per conversation');
SELECT status AS st, body AS b FROM messaging.list_conversations(:d1, NULL, 1, 1) \gset
SELECT pg_temp.is((SELECT string_agg(e->>'id', ',') FROM json_array_elements(:'b'::json->'conversations') e), :'c3', 'list_conversations: limit and offset');
UPDATE conversations SET last_message_at = '2030-01-01T00:00:00Z' WHERE id IN (:c1, :c3);
SELECT status AS st, body AS b FROM messaging.list_conversations(:d1, NULL, 10, 0) \gset
SELECT pg_temp.is((SELECT string_agg(e->>'id', ',' ORDER BY n) FROM json_array_elements(:'b'::json->'conversations') WITH ORDINALITY t(e, n)),
  greatest(:c1, :c3) || ',' || least(:c1, :c3), 'list_conversations: ties by higher id first');
SELECT pg_temp.is((SELECT e->>'lastMessageAt' FROM json_array_elements(:'b'::json->'conversations') e LIMIT 1), '2030-01-01T00:00:00.000Z', 'list_conversations: timestamps in UTC');
SELECT status AS st, body AS b FROM messaging.list_conversations(:d3, NULL, 10, 0) \gset
SELECT pg_temp.is(:'b', '{"conversations" : []}', 'list_conversations: empty list');
SELECT status AS st FROM messaging.list_conversations(:d1, NULL, 0, 0) \gset
SELECT pg_temp.is(:'st', '400', 'list_conversations: limit 0 is 400');
SELECT status AS st FROM messaging.list_conversations(:d1, NULL, 10, -1) \gset
SELECT pg_temp.is(:'st', '400', 'list_conversations: negative offset is 400');

-- ---------------------------------------------------------------- search_users, available_users
CREATE FUNCTION pg_temp.names(b text) RETURNS text LANGUAGE sql AS
$$ SELECT coalesce(string_agg((e->>'firstName') || ' ' || (e->>'lastName'), ',' ORDER BY n), '') FROM json_array_elements(b::json->'users') WITH ORDINALITY AS t(e, n) $$;
SELECT status AS st, body AS b FROM messaging.search_users(:d1, NULL, 'helene', NULL) \gset
SELECT pg_temp.is(:'st' || ' ' || pg_temp.names(:'b'), '200 Hélène Dubois', 'search_users: accents ignored (helene finds Hélène)');
SELECT status AS st, body AS b FROM messaging.search_users(:d1, NULL, 'DUBOIS', NULL) \gset
SELECT pg_temp.is(pg_temp.names(:'b'), 'Hélène Dubois', 'search_users: case ignored, last name');
SELECT status AS st, body AS b FROM messaging.search_users(:d1, NULL, 'lène du', NULL) \gset
SELECT pg_temp.is(pg_temp.names(:'b'), 'Hélène Dubois', 'search_users: "first last"');
SELECT status AS st, body AS b FROM messaging.search_users(:d1, NULL, 'E', NULL) \gset
SELECT pg_temp.is(pg_temp.names(:'b'), 'Anaïs Bézier,Hélène Dubois,Zoé Lefèvre', 'search_users: ordered by last name');
SELECT status AS st, body AS b FROM messaging.search_users(:d1, NULL, 'E', 2) \gset
SELECT pg_temp.is(pg_temp.names(:'b'), 'Anaïs Bézier,Hélène Dubois', 'search_users: limit');
SELECT pg_temp.is(pg_temp.keys((:'b'::json->'users')->0), 'firstName,id,lastName,role', 'search_users: User objects');
SELECT status AS st, body AS b FROM messaging.search_users(:p1, NULL, 'rousseau', NULL) \gset
SELECT pg_temp.is(:'st' || ' [' || pg_temp.names(:'b') || ']', '200 []', 'search_users: only linked users');
SELECT status AS st, body AS b FROM messaging.search_users(:p1, NULL, E'\u3000 jérôme ', NULL) \gset
SELECT pg_temp.is(pg_temp.names(:'b'), 'Jérôme Caron', 'search_users: q trimmed');
SELECT status AS st, body AS b FROM messaging.search_users(:p1, NULL, '%', NULL) \gset
SELECT pg_temp.is(:'st' || ' [' || pg_temp.names(:'b') || ']', '200 []', 'search_users: % is literal');
SELECT status AS st, body AS b FROM messaging.search_users(:p1, NULL, E' \u00a0', NULL) \gset
SELECT pg_temp.is(:'st' || pg_temp.code(:'b'), '400invalid_request', 'search_users: blank q is 400');
SELECT status AS st FROM messaging.search_users(:p1, NULL, NULL, NULL) \gset
SELECT pg_temp.is(:'st', '400', 'search_users: NULL q is 400');
SELECT status AS st FROM messaging.search_users(:p1, NULL, repeat('é', 100), NULL) \gset
SELECT pg_temp.is(:'st', '200', 'search_users: 100 code points accepted');
SELECT status AS st FROM messaging.search_users(:p1, NULL, repeat('é', 101), NULL) \gset
SELECT pg_temp.is(:'st', '400', 'search_users: 101 code points is 400');
SELECT status AS st FROM messaging.search_users(:p1, NULL, repeat('x', 10000000), NULL) \gset
SELECT pg_temp.is(:'st', '400', 'search_users: 10 MB q is 400');
SELECT status AS st FROM messaging.search_users(:p1, NULL, 'a', 51) \gset
SELECT pg_temp.is(:'st', '400', 'search_users: limit 51 is 400');
SELECT status AS st, body AS b FROM messaging.available_users(:p1, 'patient') \gset
SELECT pg_temp.is((SELECT string_agg((e->>'lastName') || '=' || coalesce(e->>'conversationId', 'null'), ',' ORDER BY n)
                     FROM json_array_elements(:'b'::json->'users') WITH ORDINALITY t(e, n)),
  'Caron=' || :'c2' || ',Martin=' || :'c1', 'available_users: linked users with their conversation id');
SELECT pg_temp.is(pg_temp.keys((:'b'::json->'users')->0), 'conversationId,firstName,id,lastName,lastSeenAt,online,role', 'available_users: keys');
SELECT status AS st, body AS b FROM messaging.available_users(:d3, NULL) \gset
SELECT pg_temp.is((SELECT string_agg((e->>'lastName') || '=' || coalesce(e->>'conversationId', 'null'), ',')
                     FROM json_array_elements(:'b'::json->'users') e), 'Lefèvre=null', 'available_users: null without a conversation');

-- ---------------------------------------------------------------- events: reading, append-only, retention
SELECT pg_temp.is((SELECT string_agg(kind, ',' ORDER BY id) FROM messaging.events_since_each(ARRAY[:c3], ARRAY[:ev2]::bigint[], 10)),
  'messages_read', 'events_since_each: by conversation, ascending');
SELECT pg_temp.is((SELECT count(*)::text FROM messaging.events_since_each(ARRAY[:c1, :c3], ARRAY[:ev0, :ev0]::bigint[], 2)), '2',
  'events_since_each: limit');
SELECT pg_temp.is((SELECT count(*)::text FROM messaging.events_after(:ev0, 1000000) WHERE id > 0),
  (SELECT count(*)::text FROM messaging.events WHERE id > :ev0), 'events_after: every conversation''s events after the id');
SELECT pg_temp.ok((SELECT bool_and(e.payload::json->'message'->>'conversationId' = e.conversation_id::text)
                     FROM messaging.events_since_each(ARRAY[:c1, :c3], ARRAY[:ev0, :ev0]::bigint[], NULL) e
                    WHERE e.kind = 'new_message'), 'events_since_each: payload is text JSON');
SELECT pg_temp.is((SELECT string_agg(conversation_id || ':' || kind, ',' ORDER BY id)
                     FROM messaging.events_since_each(ARRAY[:c3, :c1], ARRAY[:ev2, NULL]::bigint[], NULL)),
  (SELECT string_agg(conversation_id || ':' || kind, ',' ORDER BY id) FROM messaging.events
    WHERE (conversation_id = :c3 AND id > :ev2) OR conversation_id = :c1),
  'events_since_each: one cursor per conversation');
SELECT pg_temp.is((SELECT string_agg(id::text, ',' ORDER BY id) FROM messaging.events_since_each(ARRAY[:c1, :c3], ARRAY[0, 0]::bigint[], 3)),
  (SELECT string_agg(id::text, ',' ORDER BY id) FROM (SELECT id FROM messaging.events WHERE conversation_id IN (:c1, :c3) ORDER BY id LIMIT 3) s),
  'events_since_each: limit keeps the oldest overall');
SELECT max(id) AS evlast FROM messaging.events \gset
SELECT pg_temp.is((SELECT id::text FROM messaging.session_replay(ARRAY[:evlast]::bigint[], NULL, NULL, 10)), :'evlast',
  'session_replay: an event by its id');
SELECT pg_temp.is((SELECT count(*)::text FROM messaging.session_replay(ARRAY[-1]::bigint[], NULL, NULL, 10)), '0',
  'session_replay: an absent id gives no row');
SELECT pg_temp.ok(pg_temp.raises('UPDATE messaging.events SET kind = ''x'' WHERE id = ' || :evlast), 'events: append-only (UPDATE refused)');
INSERT INTO messaging.events (conversation_id, kind, payload, created_at)
VALUES (:c3, 'test_old', '{}', now() - interval '4000 days') RETURNING id AS evold \gset
SELECT pg_temp.is(messaging.prune_events(NULL)::text, '0', 'prune_events: NULL deletes nothing');
SELECT pg_temp.is(messaging.prune_events(interval '-1 day')::text, '0', 'prune_events: negative deletes nothing');
SELECT pg_temp.ok(messaging.prune_events(interval '3650 days') >= 1, 'prune_events: returns the number deleted');
SELECT pg_temp.is((SELECT count(*)::text FROM messaging.events WHERE id = :evold), '0', 'prune_events: old event gone');
SELECT pg_temp.is((SELECT count(*)::text FROM messaging.events WHERE id = :evlast), '1', 'prune_events: recent event kept');

-- ---------------------------------------------------------------- sessions: a pid belongs to its user (022)
CREATE FUNCTION pg_temp.sqlstate(q text) RETURNS text LANGUAGE plpgsql AS
$$ BEGIN EXECUTE q; RETURN NULL; EXCEPTION WHEN others THEN RETURN SQLSTATE || ' ' || SQLERRM; END $$;
SELECT 'sqltest-' || :'tag' || '-pid' AS spid \gset
SELECT messaging.session_open(:'spid', :p1, 'test-instance-a');
SELECT pg_temp.is((SELECT user_id || ' ' || instance || ' ' || (disconnected_at IS NULL) FROM messaging.sessions WHERE pid = :'spid'),
  :'p1' || ' test-instance-a true', 'session_open: opens a session for its user');
SELECT messaging.session_join(:'spid', :c1);
SELECT messaging.session_close_log(:'spid', '{}', '{}');
SELECT messaging.session_open(:'spid', :p1, 'test-instance-b');
SELECT pg_temp.is((SELECT instance || ' ' || (disconnected_at IS NULL) || ' ' || rooms::text FROM messaging.sessions WHERE pid = :'spid'),
  'test-instance-b true {' || :'c1' || '}', 'session_open: the same user re-opens it (instance, connected, rooms kept)');
SELECT messaging.session_close_log(:'spid', '{}', '{}');
SELECT pg_temp.is(pg_temp.sqlstate(format('SELECT messaging.session_open(%L, %s, %L)', :'spid', :p2, 'test-instance-c')),
  '23505 session pid belongs to another user', 'session_open: a pid of another user is refused (unique_violation)');
SELECT pg_temp.is((SELECT user_id || ' ' || instance || ' ' || (disconnected_at IS NOT NULL) FROM messaging.sessions WHERE pid = :'spid'),
  :'p1' || ' test-instance-b true', 'session_open: a refused open leaves the session as it was');
SELECT pg_temp.is((SELECT count(*)::text FROM messaging.session_restore(:'spid', :p2, 120000, 'test-instance-c')), '0',
  'session_restore: another user cannot restore it either');
DELETE FROM messaging.sessions WHERE pid = :'spid';
