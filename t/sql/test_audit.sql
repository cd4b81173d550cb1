-- The access log (API.md section 9, sql/040_audit.sql), run by
-- t/sql/test_operations.sh after test_operations.sql, same fixtures.
SET client_min_messages = warning;

\ir assert.sql
-- The newest row of the log for a user: "action via conversation outcome".
CREATE FUNCTION pg_temp.last(u integer) RETURNS text LANGUAGE sql AS $$
  SELECT action || ' ' || via || ' ' || coalesce(conversation_id::text, '-') || ' ' || (detail ->> 'outcome')
    FROM messaging.audit_log WHERE user_id = u ORDER BY id DESC LIMIT 1 $$;
CREATE FUNCTION pg_temp.n() RETURNS bigint LANGUAGE sql AS $$ SELECT count(*) FROM messaging.audit_log $$;

SELECT id AS p3 FROM users WHERE email = 'sqltest-' || :'tag' || '-p3@example.test' \gset
SELECT id AS d1 FROM users WHERE email = 'sqltest-' || :'tag' || '-d1@example.test' \gset
SELECT id AS d2 FROM users WHERE email = 'sqltest-' || :'tag' || '-d2@example.test' \gset

-- ---------------------------------------------------------------- one row per call, with its outcome
SELECT (body::json -> 'conversation' ->> 'id')::int AS ca FROM messaging.create_conversation(:p3, NULL, :d1) \gset
SELECT pg_temp.is(pg_temp.last(:p3), 'conversation_create admin ' || :ca || ' ok', 'create_conversation is logged (via admin from psql)');
SELECT pg_temp.ok((SELECT (detail ->> 'participantId')::int = :d1 AND detail ? 'created' FROM messaging.audit_log
                    WHERE user_id = :p3 ORDER BY id DESC LIMIT 1), 'conversation_create: detail names the participant');
SELECT status FROM messaging.create_conversation(:p3, NULL, :d2) \gset
SELECT pg_temp.is(pg_temp.last(:p3), 'conversation_create admin - refused', 'a refused create is logged too');
SELECT pg_temp.is((SELECT detail ->> 'code' FROM messaging.audit_log WHERE user_id = :p3 ORDER BY id DESC LIMIT 1),
  'forbidden', 'a refusal says its code');
SELECT status FROM messaging.get_conversation(:p3, NULL, :ca) \gset
SELECT pg_temp.is(pg_temp.last(:p3), 'conversation_view admin ' || :ca || ' ok', 'get_conversation: conversation_view');
SELECT status FROM messaging.get_conversation(:d2, NULL, :ca) \gset
SELECT pg_temp.is(pg_temp.last(:d2), 'conversation_view admin ' || :ca || ' refused', 'a non-participant''s view is logged, refused');
SELECT status FROM messaging.list_conversations(:p3, NULL, 50, 0) \gset
SELECT pg_temp.is(pg_temp.last(:p3), 'conversations_list admin - ok', 'list_conversations: conversations_list');
-- A read's row does not wait for the disk (messaging.audit_read), for that
-- transaction only; a write's does.
BEGIN;
SELECT status FROM messaging.list_conversations(:p3, NULL, 50, 0) \gset
SELECT pg_temp.is(current_setting('synchronous_commit'), 'off', 'conversations_list: its transaction commits without waiting for the disk');
COMMIT;
SELECT pg_temp.is(current_setting('synchronous_commit'), 'on', 'after it, the session commits as before');
BEGIN;
SELECT status FROM messaging.get_conversation(:p3, NULL, :ca) \gset
SELECT status FROM messaging.list_messages(:p3, NULL, :ca, 50, NULL, NULL) \gset
SELECT pg_temp.is(current_setting('synchronous_commit'), 'off', 'conversation_view, messages_list: the same');
ROLLBACK;
BEGIN;
SELECT status FROM messaging.send_message(:p3, NULL, :ca, 'durable', NULL, 10000, false) \gset
SELECT pg_temp.is(current_setting('synchronous_commit'), 'on', 'message_send: its row is as durable as the message');
ROLLBACK;
BEGIN;
SET LOCAL messaging.audit_log = off;
SELECT status FROM messaging.list_conversations(:p3, NULL, 50, 0) \gset
SELECT pg_temp.is(current_setting('synchronous_commit'), 'on', 'audit_log off: nothing written, nothing changed');
ROLLBACK;
SELECT status FROM messaging.send_message(:p3, NULL, :ca, 'audit me', NULL, 10000, false) \gset
SELECT pg_temp.is(pg_temp.last(:p3), 'message_send admin ' || :ca || ' ok', 'send_message: message_send');
SELECT pg_temp.ok((SELECT (detail ->> 'messageId')::bigint = (SELECT max(id) FROM messages WHERE conversation_id = :ca)
                     AND detail -> 'status' = '201' FROM messaging.audit_log WHERE user_id = :p3 ORDER BY id DESC LIMIT 1),
  'message_send: detail has the message id and status');
SELECT pg_temp.ok(position('audit me' IN (SELECT string_agg(detail::text, '') FROM messaging.audit_log WHERE user_id = :p3)) = 0,
  'no message content in the log');
SELECT status FROM messaging.send_message(:p3, NULL, :ca, '   ', NULL, 10000, false) \gset
SELECT pg_temp.is(pg_temp.last(:p3), 'message_send admin ' || :ca || ' refused', 'a refused send is logged');
SELECT status FROM messaging.list_messages(:d1, NULL, :ca, 50, NULL, NULL) \gset
SELECT pg_temp.is(pg_temp.last(:d1), 'messages_list admin ' || :ca || ' ok', 'list_messages: messages_list');
SELECT pg_temp.is((SELECT (detail ->> 'count') || ',' || (detail ->> 'limit') || ',' || (detail ->> 'lastId') FROM messaging.audit_log WHERE user_id = :d1 ORDER BY id DESC LIMIT 1),
  (SELECT least(count(*), 50) || ',50,' || max(id) FROM messages WHERE conversation_id = :ca), 'messages_list: what the page held');
SELECT count(*) AS unread FROM messages WHERE conversation_id = :ca AND sender_id <> :d1 AND NOT is_read \gset
SELECT status FROM messaging.mark_read(:d1, NULL, :ca, false) \gset
SELECT pg_temp.is(pg_temp.last(:d1), 'messages_mark_read admin ' || :ca || ' ok', 'mark_read: messages_mark_read');
SELECT pg_temp.is((SELECT detail ->> 'updatedCount' FROM messaging.audit_log WHERE user_id = :d1 ORDER BY id DESC LIMIT 1),
  :'unread', 'messages_mark_read: updatedCount');
SELECT status FROM messaging.mark_read(:d1, NULL, :ca, false) \gset
SELECT pg_temp.is((SELECT detail ->> 'updatedCount' FROM messaging.audit_log WHERE user_id = :d1 ORDER BY id DESC LIMIT 1),
  '0', 'a read that marks nothing is logged too');
SELECT status FROM messaging.join_room(:d2, NULL, :ca) \gset
SELECT pg_temp.is(pg_temp.last(:d2), 'room_join admin ' || :ca || ' refused', 'join_room: room_join, refused');
SELECT status FROM messaging.join_room(:d1, NULL, :ca) \gset
SELECT pg_temp.is(pg_temp.last(:d1), 'room_join admin ' || :ca || ' ok', 'join_room: room_join');
SELECT pg_temp.n() AS before \gset
SELECT status FROM messaging.check_participant(:d1, NULL, :ca) \gset
SELECT pg_temp.is((pg_temp.n() - :before)::text, '0', 'check_participant (typing) is not logged');
SELECT count(*) FROM messaging.session_restore('no-such-pid-' || :'tag', :p3, 120000, 'test') \gset
SELECT pg_temp.is(pg_temp.last(:p3), 'session_recover admin - refused', 'session_restore: session_recover, refused');
SELECT messaging.session_open('pid-' || :'tag', :p3, 'test') \gset
SELECT messaging.session_close_log('pid-' || :'tag', '{}', NULL) \gset
SELECT count(*) AS restored FROM messaging.session_restore('pid-' || :'tag', :p3, 120000, 'test') \gset
SELECT pg_temp.is(:'restored' || ' ' || pg_temp.last(:p3), '1 session_recover admin - ok', 'session_restore: restores and is logged');
DELETE FROM messaging.sessions WHERE pid = 'pid-' || :'tag';

-- ---------------------------------------------------------------- via and audit_log
SET messaging.via = 'rest';
SELECT status FROM messaging.get_conversation(:p3, NULL, :ca) \gset
SELECT pg_temp.is(pg_temp.last(:p3), 'conversation_view rest ' || :ca || ' ok', 'via from the connection''s messaging.via');
SET messaging.via = 'socket';
SELECT status FROM messaging.get_conversation(:p3, NULL, :ca) \gset
SELECT pg_temp.is(pg_temp.last(:p3), 'conversation_view socket ' || :ca || ' ok', 'via socket');
SET messaging.via = 'nonsense';
SELECT status FROM messaging.get_conversation(:p3, NULL, :ca) \gset
SELECT pg_temp.is(pg_temp.last(:p3), 'conversation_view admin ' || :ca || ' ok', 'an unknown via is admin');
RESET messaging.via;
SET messaging.audit_log = 'off';
SELECT pg_temp.n() AS before \gset
SELECT status FROM messaging.get_conversation(:p3, NULL, :ca) \gset
SELECT status FROM messaging.send_message(:p3, NULL, :ca, 'unlogged', NULL, 10000, false) \gset
SELECT pg_temp.is((pg_temp.n() - :before)::text, '0', 'audit_log = off writes nothing');
RESET messaging.audit_log;
SELECT messaging.audit(:p3, 'msgctl_test', :ca, '{"outcome":"ok"}') \gset
SELECT pg_temp.is(pg_temp.last(:p3), 'msgctl_test admin ' || :ca || ' ok', 'messaging.audit() for other callers');

-- ---------------------------------------------------------------- append-only
SELECT max(id) AS last FROM messaging.audit_log \gset
SELECT pg_temp.ok(pg_temp.raises('UPDATE messaging.audit_log SET action = ''x'' WHERE id = ' || :last), 'UPDATE refused');
SELECT pg_temp.ok(pg_temp.raises('DELETE FROM messaging.audit_log WHERE id = ' || :last), 'DELETE refused');
SELECT pg_temp.ok(pg_temp.raises('TRUNCATE messaging.audit_log'), 'TRUNCATE refused');
SELECT pg_temp.is((SELECT count(*)::text FROM messaging.audit_log WHERE id = :last), '1', 'the row is still there');
SELECT pg_temp.ok(pg_temp.raises('SELECT messaging.audit_purge(0)'), 'audit_purge: a retention under one day is refused');

-- ---------------------------------------------------------------- retention
INSERT INTO messaging.audit_log (user_id, action, via, at) VALUES (:p3, 'old_test', 'admin', now() - interval '2191 days')
RETURNING id AS old \gset
SELECT pg_temp.ok(messaging.audit_purge(2190) >= 1, 'audit_purge: removes rows older than the retention');
SELECT pg_temp.is((SELECT count(*)::text FROM messaging.audit_log WHERE id = :old), '0', 'audit_purge: the old row is gone');
SELECT pg_temp.is((SELECT count(*)::text FROM messaging.audit_log WHERE id = :last), '1', 'audit_purge: recent rows stay');
SELECT pg_temp.is((SELECT action FROM messaging.audit_log ORDER BY id DESC LIMIT 1), 'audit_purge', 'audit_purge is logged');
SELECT pg_temp.ok(pg_temp.raises('DELETE FROM messaging.audit_log WHERE id = ' || :last), 'after the purge, DELETE is refused again');
