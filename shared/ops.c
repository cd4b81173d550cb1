#include "ops.h"

#define OP(n, args, np, w) {#n, "SELECT status, body FROM messaging." #n "(" args ")", np, w}

const struct msg_op_def msg_ops[MSG_OP_COUNT] = {
    [MSG_OP_AUTHENTICATE] = OP(authenticate, "$1::int, $2::text", 2, 0),
    [MSG_OP_CREATE_CONVERSATION] = OP(create_conversation, "$1::int, $2::text, $3::bigint", 3, 1),
    [MSG_OP_LIST_CONVERSATIONS] = OP(list_conversations, "$1::int, $2::text, $3::int, $4::int", 4, 0),
    [MSG_OP_GET_CONVERSATION] = OP(get_conversation, "$1::int, $2::text, $3::bigint", 3, 0),
    [MSG_OP_SEND_MESSAGE] = OP(send_message,
                               "$1::int, $2::text, $3::bigint, $4::text, $5::text, $6::int, $7::boolean", 7, 1),
    [MSG_OP_LIST_MESSAGES] = OP(list_messages,
                                "$1::int, $2::text, $3::bigint, $4::int, $5::bigint, $6::bigint", 6, 0),
    [MSG_OP_MARK_READ] = OP(mark_read, "$1::int, $2::text, $3::bigint, $4::boolean", 4, 1),
    [MSG_OP_UNREAD_COUNT] = OP(unread_count, "$1::int, $2::text", 2, 0),
    [MSG_OP_SEARCH_USERS] = OP(search_users, "$1::int, $2::text, $3::text, $4::int", 4, 0),
    [MSG_OP_AVAILABLE_USERS] = OP(available_users, "$1::int, $2::text", 2, 0),
    [MSG_OP_CHECK_PARTICIPANT] = OP(check_participant, "$1::int, $2::text, $3::bigint", 3, 0),
    [MSG_OP_HEALTH] = {"health", "SELECT 200, '{\"status\":\"ok\"}'", 0, 0},
    [MSG_OP_DOORBELL] = {"doorbell", "SELECT 200, messaging.doorbell()::text", 0, 0},
    [MSG_OP_EVENTS_FOR] = {"events_for",
                           "SELECT id, conversation_id, kind, payload FROM messaging.events_since_each($1::int[], $2::bigint[], $3::int)",
                           3, 0},
    [MSG_OP_CONVERSATION_CURSOR] = {"conversation_cursor",
                                    "SELECT messaging.conversation_cursor($1::int)", 1, 0},
    [MSG_OP_NOTIFY] = {"notify", "SELECT pg_notify('messaging_events', $1::text)", 1, 0},
};
