#include "ops.h"

#define LIST_MESSAGE_ROWS_SQL \
    "WITH chk AS (SELECT messaging.auth_status(u.role, $2::text) AS deny, " \
    "              EXISTS (SELECT 1 FROM public.conversations c WHERE c.id = $3::bigint " \
    "                      AND (c.patient_id = $1::int OR c.doctor_id = $1::int)) AS ok " \
    "              FROM (VALUES (1)) one LEFT JOIN public.users u ON u.id = $1::int), " \
    "back AS MATERIALIZED (SELECT m.id, m.conversation_id, m.sender_id, m.content, m.sent_at, m.is_read, m.client_id " \
    "  FROM public.messages m WHERE (SELECT deny IS NULL AND ok FROM chk) AND $6::bigint IS NULL " \
    "   AND m.conversation_id = $3::bigint AND m.id < coalesce($5::bigint, 9223372036854775807) " \
    "   ORDER BY m.id DESC LIMIT $4::int + 1), " \
    "fwd AS MATERIALIZED (SELECT m.id, m.conversation_id, m.sender_id, m.content, m.sent_at, m.is_read, m.client_id " \
    "  FROM public.messages m WHERE (SELECT deny IS NULL AND ok FROM chk) AND $6::bigint IS NOT NULL " \
    "   AND m.conversation_id = $3::bigint AND m.id > $6::bigint ORDER BY m.id LIMIT $4::int + 1), " \
    "page AS (SELECT * FROM (SELECT * FROM back ORDER BY id DESC LIMIT $4::int) b " \
    "         UNION ALL SELECT * FROM (SELECT * FROM fwd ORDER BY id LIMIT $4::int) f), " \
    AUDIT_PAGE_SQL ", " \
    DELIVERY_PAGE_SQL \
    "SELECT CASE WHEN deny IS NOT NULL THEN 401 WHEN ok THEN 200 ELSE 404 END, " \
    "       CASE WHEN deny IS NOT NULL THEN deny WHEN ok " \
    "            THEN ((SELECT count(*) FROM back) + (SELECT count(*) FROM fwd) > $4::int)::text END, " \
    "       (SELECT ev FROM dlv), NULL::int, NULL::int, NULL::text, NULL::bigint, NULL::boolean, NULL::text, " \
    "       NULL::bigint FROM chk " \
    "UNION ALL (SELECT NULL::int, NULL::text, p.id, p.conversation_id, p.sender_id, p.content, " \
    "       (extract(epoch FROM p.sent_at) * 1000000)::bigint, p.is_read, p.client_id, " \
    "       (extract(epoch FROM coalesce(CASE WHEN p.sender_id = $1::int " \
    "            THEN (SELECT o.delivered_at FROM ot o WHERE o.up_to_id >= p.id LIMIT 1) " \
    "            ELSE coalesce((SELECT k.delivered_at FROM mk k WHERE k.up_to_id >= p.id), now()) END, " \
    "         CASE WHEN p.is_read THEN p.sent_at END)) * 1000000)::bigint " \
    "  FROM page p ORDER BY p.id)"

/* The access log's row for the page (sql/040_audit.sql), in the same
 * statement: a page that cannot be logged is not shown. Its commit does not
 * wait for the disk (the page itself wrote nothing): docs/operations.md. */
#define AUDIT_PAGE_SQL \
    "aud AS (INSERT INTO messaging.audit_log (user_id, action, conversation_id, via, detail) " \
    "  SELECT $1::int, 'messages_list', messaging.audit_conv($3::bigint), messaging.audit_via(), " \
    "    CASE WHEN deny IS NOT NULL THEN '{\"outcome\":\"refused\",\"status\":401,\"code\":\"unauthorized\"}'::jsonb " \
    "         WHEN NOT ok THEN '{\"outcome\":\"refused\",\"status\":404,\"code\":\"not_found\"}'::jsonb " \
    "         ELSE jsonb_build_object('outcome', 'ok', 'status', 200, 'count', (SELECT count(*) FROM page), " \
    "              'firstId', (SELECT min(id) FROM page), 'lastId', (SELECT max(id) FROM page)) END " \
    "    || jsonb_strip_nulls(jsonb_build_object('limit', $4::int, 'before', $5::bigint, 'after', $6::bigint)) " \
    "  FROM chk WHERE messaging.audit_on() " \
    "   AND set_config('synchronous_commit', 'off', true) IS NOT NULL) "

/* Delivery receipts (sql/041_deliveries.sql): the caller's marker (mk), the
 * other participant's (ot), and the caller's moved past the page's newest
 * message from the other side, in the same statement (dlv: the event id of
 * messages_delivered, for the doorbell; $7: NOTIFY inline). Only a page that
 * holds something new calls the function. */
#define DELIVERY_PAGE_SQL \
    "mk AS (SELECT d.up_to_id, d.delivered_at FROM messaging.deliveries d " \
    "        WHERE d.conversation_id = $3::bigint AND d.user_id = $1::int), " \
    "ot AS (SELECT d.up_to_id, d.delivered_at FROM messaging.deliveries d " \
    "        WHERE d.conversation_id = $3::bigint AND d.user_id <> $1::int), " \
    "newest AS (SELECT max(id) AS id FROM page WHERE sender_id <> $1::int), " \
    "dlv AS (SELECT (messaging.mark_delivered($1::int, $3::bigint, n.id, $7::boolean)).event_id AS ev " \
    "         FROM newest n WHERE n.id > coalesce((SELECT up_to_id FROM mk), 0)) "

#define OP(n, args, np, w) {#n, "SELECT status, body FROM messaging." #n "(" args ")", np, w, 0, 0}
/* A write of sql/013: its reply and its event. */
#define WRITE(n, fn, args, np) \
    {#n, "SELECT status, body, event_id, prev_id, data FROM messaging." #fn "(" args ")", np, 1, 1, 1}

const struct msg_op_def msg_ops[MSG_OP_COUNT] = {
    [MSG_OP_AUTHENTICATE] = OP(authenticate, "$1::int, $2::text, $3::bigint", 3, 0),
    [MSG_OP_TOKEN_CHECK] = {"token_check", "SELECT messaging.token_check($1::int, $2::bigint)", 2, 0},
    [MSG_OP_CREATE_CONVERSATION] = OP(create_conversation, "$1::int, $2::text, $3::bigint", 3, 1),
    [MSG_OP_LIST_CONVERSATIONS] = OP(list_conversations, "$1::int, $2::text, $3::int, $4::int", 4, 0),
    [MSG_OP_GET_CONVERSATION] = OP(get_conversation, "$1::int, $2::text, $3::bigint", 3, 0),
    [MSG_OP_SEND_MESSAGE] = WRITE(send_message, post_message,
                                  "$1::int, $2::text, $3::bigint, $4::text, $5::text, $6::int, $7::boolean", 7),
    [MSG_OP_LIST_MESSAGES] = OP(list_messages,
                                "$1::int, $2::text, $3::bigint, $4::int, $5::bigint, $6::bigint", 6, 0),
    /* The API's hottest read as one statement (a plpgsql call costs the
     * database three times as much): the same rules as list_messages, from
     * the same helpers, rows formatted by shared/msgjson.c. The caller has
     * checked limit, before and after already. */
    [MSG_OP_LIST_MESSAGE_ROWS] = {"list_message_rows", LIST_MESSAGE_ROWS_SQL, 7, 0},
    [MSG_OP_MARK_READ] = WRITE(mark_read, post_read, "$1::int, $2::text, $3::bigint, $4::boolean", 4),
    [MSG_OP_UNREAD_COUNT] = OP(unread_count, "$1::int, $2::text", 2, 0),
    [MSG_OP_SEARCH_USERS] = OP(search_users, "$1::int, $2::text, $3::text, $4::int", 4, 0),
    [MSG_OP_AVAILABLE_USERS] = OP(available_users, "$1::int, $2::text", 2, 0),
    [MSG_OP_CHECK_PARTICIPANT] = OP(check_participant, "$1::int, $2::text, $3::bigint", 3, 0),
    [MSG_OP_JOIN_ROOM] = OP(join_room, "$1::int, $2::text, $3::bigint", 3, 0),
    [MSG_OP_HEALTH] = {"health", "SELECT 200, '{\"status\":\"ok\"}'", 0, 0},
    [MSG_OP_DOORBELL] = {"doorbell", "SELECT 200, messaging.ring($1::int[])::text", 1, 0, 0, 0},
    [MSG_OP_EVENTS_FOR] = {"events_for",
                           "SELECT id, conversation_id, kind, payload FROM messaging.events_since_each($1::int[], $2::bigint[], $3::int)",
                           3, 0},
    [MSG_OP_CONVERSATION_CURSOR] = {"conversation_cursor",
                                    "SELECT messaging.conversation_cursor($1::int)", 1, 0},
    [MSG_OP_NOTIFY] = {"notify", "SELECT pg_notify('messaging_events', $1::text)", 1, 0, 0, 1},
    [MSG_OP_EVENTS_AFTER] = {"events_after", "SELECT id, conversation_id FROM messaging.events_after($1::bigint, $2::int)",
                             2, 0, 0, 0},
    [MSG_OP_SESSION_OPEN] = {"session_open", "SELECT messaging.session_open($1::text, $2::int, $3::text)", 3, 1},
    [MSG_OP_SESSION_JOIN] = {"session_join", "SELECT messaging.session_join($1::text, $2::int)", 2, 1, 0, 1},
    [MSG_OP_SESSION_LEAVE] = {"session_leave", "SELECT messaging.session_leave($1::text, $2::int)", 2, 1, 0, 1},
    [MSG_OP_SESSION_CLOSE] = {"session_close",
                              "SELECT messaging.session_close_log($1::text, $2::jsonb, $3::bigint[])", 3, 1},
    [MSG_OP_SESSION_RESTORE] = {"session_restore",
                                "SELECT joined, sent, sent_log FROM messaging.session_restore($1::text, $2::int, $3::bigint, $4::text)",
                                4, 1},
    [MSG_OP_SESSION_REPLAY] = {"session_replay",
                               "SELECT id, conversation_id, kind, payload FROM messaging.session_replay($1::bigint[], $2::int[], $3::bigint[], $4::int)",
                               4, 0},
    [MSG_OP_GATEWAY_HEARTBEAT] = {"gateway_heartbeat",
                                  "SELECT messaging.gateway_heartbeat($1::text, $2::bigint)", 2, 1},
    [MSG_OP_MARK_DELIVERED] = WRITE(mark_delivered, mark_delivered, "$1::int, $2::bigint, $3::bigint, false", 3),
    [MSG_OP_PRESENCE_CONNECT] = {"presence_connect", "SELECT messaging.presence_connect($1::text, $2::int)", 2, 1},
    [MSG_OP_PRESENCE_DISCONNECT] = {"presence_disconnect",
                                    "SELECT messaging.presence_disconnect($1::text, $2::int)", 2, 1},
    [MSG_OP_PRESENCE_SWEEP] = {"presence_sweep", "SELECT messaging.presence_sweep($1::int)", 1, 1},
    [MSG_OP_AUDIT_PURGE] = {"audit_purge", "SELECT messaging.audit_purge($1::int)", 1, 1},
    [MSG_OP_REVOCATIONS_SINCE] = {"revocations_since",
                                  "SELECT user_id, ceil(extract(epoch FROM revoked_at))::bigint FROM messaging.revocations "
                                  "WHERE revoked_at >= to_timestamp($1::double precision)",
                                  1, 0, 0, 0},
};
