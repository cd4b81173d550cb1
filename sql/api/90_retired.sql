-- Functions of earlier versions that are gone: dropped from a database
-- migrated by them (nothing here exists on a new one).

-- The bodies the access log's wrappers of sql/040 and sql/042 renamed, now
-- each operation's own body logs its call.
DROP FUNCTION IF EXISTS messaging.create_conversation_unlogged(integer, text, bigint);
DROP FUNCTION IF EXISTS messaging.list_conversations_unlogged(integer, text, integer, integer);
DROP FUNCTION IF EXISTS messaging.get_conversation_unlogged(integer, text, bigint);
DROP FUNCTION IF EXISTS messaging.list_messages_unlogged(integer, text, bigint, integer, bigint, bigint);
DROP FUNCTION IF EXISTS messaging.post_message_unlogged(integer, text, bigint, text, text, integer, boolean);
DROP FUNCTION IF EXISTS messaging.post_read_unlogged(integer, text, bigint, boolean);
DROP FUNCTION IF EXISTS messaging.session_restore_unlogged(text, integer, bigint, text);
DROP FUNCTION IF EXISTS messaging.revoke_user_unlogged(integer);

-- The gateway's writes before sql/013's write_result.
DROP FUNCTION IF EXISTS messaging.send_message_ev(integer, text, bigint, text, text, integer);
DROP FUNCTION IF EXISTS messaging.mark_read_ev(integer, text, bigint);
DROP FUNCTION IF EXISTS messaging.last_event(integer);

-- Readers and a NOTIFY of the event log that nothing calls any more: the
-- gateways read with events_since_each, events_after and session_replay;
-- every NOTIFY is a bell (notify_bell).
DROP FUNCTION IF EXISTS messaging.events_since(bigint, integer[], integer);
DROP FUNCTION IF EXISTS messaging.event_by_id(bigint);
DROP FUNCTION IF EXISTS messaging.notify_event(bigint, bigint, text, json);
