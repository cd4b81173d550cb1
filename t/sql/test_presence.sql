-- Presence (sql/043) and delivery markers (sql/041), run by
-- t/sql/test_operations.sh after test_audit.sql, same fixtures.
SET client_min_messages = warning;
\ir assert.sql

SELECT id AS p3 FROM users WHERE email = 'sqltest-' || :'tag' || '-p3@example.test' \gset
SELECT id AS d1 FROM users WHERE email = 'sqltest-' || :'tag' || '-d1@example.test' \gset
SELECT id AS d2 FROM users WHERE email = 'sqltest-' || :'tag' || '-d2@example.test' \gset
SELECT (body::json -> 'conversation' ->> 'id')::int AS ca FROM messaging.create_conversation(:p3, NULL, :d1) \gset

-- ---------------------------------------------------------------- presence
SELECT pg_temp.is(messaging.presence_json(:d2)::text, '{"userId" : ' || :d2 || ', "online" : false, "lastSeenAt" : null}',
  'never connected: offline, lastSeenAt null');
SELECT messaging.presence_connect('sqltest-' || :'tag', :p3) \gset
SELECT pg_temp.is((messaging.presence_json(:p3) ->> 'online'), 'true', 'a socket: online');
SELECT pg_temp.is(((body::json -> 'conversation' -> 'participant') ->> 'online'), 'true', 'participant.online in Conversation objects')
  FROM messaging.get_conversation(:d1, NULL, :ca);
SELECT messaging.presence_connect('sqltest-' || :'tag', :p3) \gset
SELECT messaging.presence_disconnect('sqltest-' || :'tag', :p3) \gset
SELECT pg_temp.is(messaging.presence_sweep(0)::text, '0', 'one socket left: still online');
SELECT messaging.presence_disconnect('sqltest-' || :'tag', :p3) \gset
SELECT pg_temp.is(messaging.presence_sweep(3600)::text, '0', 'within the grace: still online');
SELECT pg_temp.is(messaging.presence_sweep(0)::text, '1', 'after the grace: offline, announced once');
SELECT pg_temp.is(messaging.presence_sweep(0)::text, '0', '... and only once');
SELECT pg_temp.ok((SELECT NOT online AND last_seen_at > now() - interval '1 minute' FROM messaging.presence WHERE user_id = :p3),
  'offline with lastSeenAt the last close');
-- A gateway that died: its heartbeat ages out, its users go offline.
INSERT INTO messaging.gateway_instances (instance, seen_at) VALUES ('sqltest-dead-' || :'tag', now() - interval '1 hour');
INSERT INTO messaging.presence_sockets (instance, user_id, sockets) VALUES ('sqltest-dead-' || :'tag', :d2, 3);
INSERT INTO messaging.presence (user_id, online) VALUES (:d2, true) ON CONFLICT (user_id) DO UPDATE SET online = true;
SELECT pg_temp.ok(messaging.presence_sweep(5) >= 1, 'a dead gateway''s users go offline');
SELECT pg_temp.ok((SELECT NOT online AND last_seen_at < now() - interval '59 minutes' FROM messaging.presence WHERE user_id = :d2),
  'lastSeenAt: the dead gateway''s last heartbeat');
SELECT pg_temp.is((SELECT count(*)::text FROM messaging.presence_sockets WHERE instance = 'sqltest-dead-' || :'tag'), '0',
  'its rows are gone');
DELETE FROM messaging.gateway_instances WHERE instance LIKE 'sqltest-%' || :'tag';
SELECT pg_temp.is((SELECT body::json -> 'presence' ->> 'userId' FROM messaging.join_room(:d1, NULL, :ca)), :'p3',
  'join_room: the other participant''s presence');

-- ---------------------------------------------------------------- delivery markers
SELECT (body::json -> 'message' ->> 'id')::bigint AS m1 FROM messaging.send_message(:p3, NULL, :ca, 'r1', NULL, 10000, false) \gset
SELECT (body::json -> 'message' ->> 'id')::bigint AS m2 FROM messaging.send_message(:p3, NULL, :ca, 'r2', NULL, 10000, false) \gset
SELECT pg_temp.is((SELECT (body::json -> 'message' ->> 'deliveredAt') FROM messaging.get_conversation(:p3, NULL, :ca)), NULL,
  'not delivered yet');
SELECT event_id AS ev, data FROM messaging.mark_delivered(:d1, :ca, :m1) \gset
SELECT pg_temp.ok(:'ev' <> '', 'mark_delivered: an event when the marker moves');
SELECT pg_temp.is((:'data'::json ->> 'upToId'), :'m1', 'messages_delivered: upToId');
SELECT pg_temp.ok((SELECT event_id IS NULL FROM messaging.mark_delivered(:d1, :ca, :m1)), 'again: no event');
SELECT pg_temp.ok((SELECT event_id IS NOT NULL FROM messaging.mark_delivered(:d1, :ca, :m2)), 'further: an event');
SELECT pg_temp.is((SELECT count(*)::text FROM messaging.deliveries WHERE conversation_id = :ca AND user_id = :d1), '1', 'one marker per conversation and recipient');
SELECT pg_temp.ok((SELECT bool_and(messaging.delivered_at(m) IS NOT NULL) FROM messages m WHERE m.id IN (:m1, :m2)),
  'cumulative: both delivered');
SELECT pg_temp.is((SELECT status::text FROM messaging.mark_delivered(:d2, :ca, :m2)), '404', 'not a participant: 404');
-- delivery_receipts = off (the connection's messaging.receipts): the marker stays.
SELECT (body::json -> 'message' ->> 'id')::bigint AS m3 FROM messaging.send_message(:p3, NULL, :ca, 'r3', NULL, 10000, false) \gset
SET messaging.receipts = 'off';
SELECT pg_temp.is((SELECT body || coalesce(event_id::text, '') FROM messaging.mark_delivered(:d1, :ca, :m3)), '{"delivered":false}',
  'receipts off: no move, no event');
RESET messaging.receipts;
SELECT pg_temp.ok((SELECT up_to_id = :m2 FROM messaging.deliveries WHERE conversation_id = :ca AND user_id = :d1),
  'receipts off: the marker did not move');

-- mark_delivered_many: a gateway's flush of receipts as one statement.
SELECT (body::json -> 'message' ->> 'id')::bigint AS m5 FROM messaging.send_message(:d1, NULL, :ca, 'b2', NULL, 10000, false) \gset
SELECT last_event_id AS ca_prev FROM conversations WHERE id = :ca \gset
CREATE TEMP TABLE many AS
SELECT * FROM messaging.mark_delivered_many(ARRAY[:d1, :p3, :d1, :d2], ARRAY[:ca, :ca, :ca, :ca]::bigint[],
                                            ARRAY[:m3, :m5, :m3, :m5]::bigint[]);
SELECT pg_temp.is((SELECT count(*)::text FROM many), '2',
  'many: one event per marker that moved (a duplicate once, a non-participant none)');
SELECT pg_temp.is((SELECT string_agg(data::json ->> 'userId', ',' ORDER BY event_id) FROM many),
  least(:p3, :d1) || ',' || greatest(:p3, :d1), 'many: two recipients of one conversation, in user order');
SELECT pg_temp.is((SELECT prev_id::text FROM many ORDER BY event_id LIMIT 1), :'ca_prev',
  'many: the first event''s previous id is the conversation''s last');
SELECT pg_temp.is((SELECT ((array_agg(prev_id ORDER BY event_id))[2] = (array_agg(event_id ORDER BY event_id))[1])::text FROM many),
  'true', 'many: the second chains on the first');
SELECT pg_temp.is((SELECT (last_event_id = (SELECT max(event_id) FROM many))::text FROM conversations WHERE id = :ca), 'true',
  'many: last_event_id is the newest');
SELECT pg_temp.ok((SELECT up_to_id = :m3 FROM messaging.deliveries WHERE conversation_id = :ca AND user_id = :d1),
  'many: the marker moved');
SELECT pg_temp.is((SELECT count(*)::text FROM messaging.mark_delivered_many(ARRAY[:d1], ARRAY[:ca]::bigint[], ARRAY[:m3]::bigint[])), '0',
  'many: again, nothing');
SELECT pg_temp.is((SELECT count(*)::text FROM messaging.mark_delivered_many('{}', '{}', '{}')), '0', 'many: empty, nothing');
SELECT pg_temp.is((SELECT count(*)::text FROM messaging.events e JOIN many ON many.event_id = e.id WHERE e.kind = 'messages_delivered'),
  '2', 'many: the events are stored');
DROP TABLE many;
