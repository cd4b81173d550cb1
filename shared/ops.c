#include "ops.h"

#define OP(n, args, np, w)                                                     \
    {                                                                          \
#n, "SELECT status, body FROM messaging." #n "(" args ")", np, w, 0, 0 \
    }
/* A write of sql/013: its reply and its event. */
#define WRITE(n, fn, args, np)                                                                           \
    {                                                                                                    \
#n, "SELECT status, body, event_id, prev_id, data FROM messaging." #fn "(" args ")", np, 1, 1, 1 \
    }

const struct msg_op_def msg_ops[MSG_OP_COUNT] = {
    [MSG_OP_AUTHENTICATE] = OP(authenticate, "$1::int, $2::text, $3::bigint", 3, 0),
    [MSG_OP_TOKEN_CHECK] = {"token_check", "SELECT messaging.token_check($1::int, $2::bigint)", 2, 0},
    [MSG_OP_CREATE_CONVERSATION] = OP(create_conversation, "$1::int, $2::text, $3::bigint", 3, 1),
    [MSG_OP_LIST_CONVERSATIONS] = OP(list_conversations, "$1::int, $2::text, $3::int, $4::int", 4, 0),
    [MSG_OP_GET_CONVERSATION] = OP(get_conversation, "$1::int, $2::text, $3::bigint", 3, 0),
    [MSG_OP_SEND_MESSAGE] =
        WRITE(send_message, post_message, "$1::int, $2::text, $3::bigint, $4::text, $5::text, $6::int, $7::boolean", 7),
    [MSG_OP_LIST_MESSAGES] = OP(list_messages, "$1::int, $2::text, $3::bigint, $4::int, $5::bigint, $6::bigint", 6, 0),
    /* The API's hottest read: the page as rows (sql/api/50_reads.sql),
     * formatted by shared/msgjson.c. The caller has checked limit, before
     * and after already. */
    [MSG_OP_LIST_MESSAGE_ROWS] = {"list_message_rows",
                                  "SELECT * FROM messaging.list_message_rows($1::int, $2::text, $3::bigint, "
                                  "$4::int, $5::bigint, $6::bigint, $7::boolean)",
                                  7, 0},
    [MSG_OP_MARK_READ] = WRITE(mark_read, post_read, "$1::int, $2::text, $3::bigint, $4::boolean", 4),
    [MSG_OP_UNREAD_COUNT] = OP(unread_count, "$1::int, $2::text", 2, 0),
    [MSG_OP_SEARCH_USERS] = OP(search_users, "$1::int, $2::text, $3::text, $4::int", 4, 0),
    [MSG_OP_AVAILABLE_USERS] = OP(available_users, "$1::int, $2::text", 2, 0),
    [MSG_OP_CHECK_PARTICIPANT] = OP(check_participant, "$1::int, $2::text, $3::bigint", 3, 0),
    [MSG_OP_JOIN_ROOM] = OP(join_room, "$1::int, $2::text, $3::bigint", 3, 0),
    [MSG_OP_HEALTH] = {"health", "SELECT 200, '{\"status\":\"ok\"}'", 0, 0},
    [MSG_OP_DOORBELL] = {"doorbell", "SELECT 200, messaging.ring($1::int[])::text", 1, 0, 0, 0},
    [MSG_OP_EVENTS_FOR] =
        {"events_for",
         "SELECT id, conversation_id, kind, payload FROM messaging.events_since_each($1::int[], $2::bigint[], $3::int)",
         3, 0},
    [MSG_OP_CONVERSATION_CURSOR] = {"conversation_cursor", "SELECT messaging.conversation_cursor($1::int)", 1, 0},
    [MSG_OP_NOTIFY] = {"notify", "SELECT pg_notify('messaging_events', $1::text)", 1, 0, 0, 1},
    [MSG_OP_EVENTS_AFTER] = {"events_after",
                             "SELECT id, conversation_id FROM messaging.events_after($1::bigint, $2::int)", 2, 0, 0, 0},
    [MSG_OP_SESSION_OPEN] = {"session_open", "SELECT messaging.session_open($1::text, $2::int, $3::text)", 3, 1},
    [MSG_OP_SESSION_JOIN] = {"session_join", "SELECT messaging.session_join($1::text, $2::int)", 2, 1, 0, 1},
    [MSG_OP_SESSION_LEAVE] = {"session_leave", "SELECT messaging.session_leave($1::text, $2::int)", 2, 1, 0, 1},
    [MSG_OP_SESSION_CLOSE] = {"session_close", "SELECT messaging.session_close_log($1::text, $2::jsonb, $3::bigint[])",
                              3, 1},
    [MSG_OP_SESSION_RESTORE] =
        {"session_restore",
         "SELECT joined, sent, sent_log FROM messaging.session_restore($1::text, $2::int, $3::bigint, $4::text)", 4, 1},
    [MSG_OP_SESSION_REPLAY] = {"session_replay",
                               "SELECT id, conversation_id, kind, payload FROM messaging.session_replay($1::bigint[], "
                               "$2::int[], $3::bigint[], $4::int)",
                               4, 0},
    [MSG_OP_GATEWAY_HEARTBEAT] = {"gateway_heartbeat", "SELECT messaging.gateway_heartbeat($1::text, $2::bigint)", 2,
                                  1},
    /* Locks many conversations (in id order): its own transaction, never
     * in a batch of sends (sql/api/60_writes.sql). */
    [MSG_OP_MARK_DELIVERED_MANY] = {"mark_delivered_many",
                                    "SELECT status, body, event_id, prev_id, data FROM "
                                    "messaging.mark_delivered_many($1::int[], $2::bigint[], $3::bigint[])",
                                    3, 1, 1, 0},
    [MSG_OP_PRESENCE_CONNECT] = {"presence_connect", "SELECT messaging.presence_connect($1::text, $2::int)", 2, 1},
    [MSG_OP_PRESENCE_DISCONNECT] = {"presence_disconnect", "SELECT messaging.presence_disconnect($1::text, $2::int)", 2,
                                    1},
    [MSG_OP_PRESENCE_SWEEP] = {"presence_sweep", "SELECT messaging.presence_sweep($1::int)", 1, 1},
    [MSG_OP_AUDIT_PURGE] = {"audit_purge", "SELECT messaging.audit_purge($1::int)", 1, 1},
    [MSG_OP_REVOCATIONS_SINCE] =
        {"revocations_since",
         "SELECT user_id, ceil(extract(epoch FROM revoked_at))::bigint FROM messaging.revocations "
         "WHERE revoked_at >= to_timestamp($1::double precision)",
         1, 0, 0, 0},
};
