/* The operations of the messaging module. Each one is a SQL function in
 * sql/ (permission check, write, event row, answer JSON); this table is the
 * only place that names them, for the API (synchronous) and the gateway
 * (asynchronous) alike. Every operation returns one row (status, body). */
#ifndef MSG_OPS_H
#define MSG_OPS_H

enum msg_op {
    MSG_OP_AUTHENTICATE,        /* user, role, iat (NULL: none) */
    MSG_OP_TOKEN_CHECK,         /* user, iat: raises MSG_SQLSTATE_TOKEN_REVOKED when refused */
    MSG_OP_CREATE_CONVERSATION, /* user, role, participant */
    MSG_OP_LIST_CONVERSATIONS,  /* user, role, limit, offset */
    MSG_OP_GET_CONVERSATION,    /* user, role, conversation */
    /* The writes (sql/013): rows of (status, body, event id, previous event
     * id of the conversation, event data); `emits` below. */
    MSG_OP_SEND_MESSAGE,      /* user, role, conversation, content, client id, max length, notify */
    MSG_OP_LIST_MESSAGES,     /* user, role, conversation, limit, before, after */
    MSG_OP_LIST_MESSAGE_ROWS, /* the same, as rows for shared/msgjson.c; + notify inline */
    MSG_OP_MARK_READ,         /* user, role, conversation, notify */
    MSG_OP_UNREAD_COUNT,      /* user, role */
    MSG_OP_SEARCH_USERS,      /* user, role, q, limit */
    MSG_OP_AVAILABLE_USERS,   /* user, role */
    MSG_OP_CHECK_PARTICIPANT, /* user, role, conversation */
    MSG_OP_JOIN_ROOM,         /* user, role, conversation: check_participant, logged (room_join) */
    MSG_OP_HEALTH,            /* (none) */
    MSG_OP_DOORBELL,          /* conversations int[] (NULL: all): a bell after commit */
    /* The gateway's reads (rows, not a reply): */
    MSG_OP_EVENTS_FOR,          /* conversations int[], cursors bigint[], limit -> events */
    MSG_OP_CONVERSATION_CURSOR, /* conversation -> newest event id */
    MSG_OP_NOTIFY,              /* payload (shared/bus.h): a bell or a typing event */
    MSG_OP_EVENTS_AFTER,        /* after id, limit -> (id, conversation): the safety net */
    /* Connection state recovery (sql/010_sessions.sql): */
    MSG_OP_SESSION_OPEN,        /* pid, user, instance */
    MSG_OP_SESSION_JOIN,        /* pid, conversation */
    MSG_OP_SESSION_LEAVE,       /* pid, conversation */
    MSG_OP_SESSION_CLOSE,       /* pid, sent jsonb {conv: id}, send log bigint[] */
    MSG_OP_SESSION_RESTORE,     /* pid, user, max ms, instance -> joined, sent, sent_log */
    MSG_OP_SESSION_REPLAY,      /* ids bigint[], conversations int[], after bigint[], limit -> events */
    MSG_OP_GATEWAY_HEARTBEAT,   /* instance, max ms */
    MSG_OP_MARK_DELIVERED_MANY, /* users[], conversations[], up to ids[]: a flush of receipts, alone */
    MSG_OP_PRESENCE_CONNECT,    /* instance, user (sql/043_presence.sql) */
    MSG_OP_PRESENCE_DISCONNECT, /* instance, user */
    MSG_OP_PRESENCE_SWEEP,      /* grace seconds -> users gone offline */
    MSG_OP_AUDIT_PURGE,         /* retention days -> rows removed (sql/040_audit.sql) */
    MSG_OP_REVOCATIONS_SINCE,   /* since (epoch s) -> (user id, revoked_at rounded up) */
    MSG_OP_COUNT
};

struct msg_op_def {
    const char *name; /* also the prepared statement's name */
    const char *sql;
    int nparams;
    int writes; /* not safe to retry blindly */
    int emits;  /* returns (status, body, event id, previous id, data):
                       * the event id is NULL when nothing was emitted */
    int batch;  /* the gateway may commit it with others (group commit):
                       * it takes no lock but its conversation's row and its
                       * session's, so batches sorted by conversation cannot
                       * deadlock */
};

extern const struct msg_op_def msg_ops[MSG_OP_COUNT];

/* The error messaging.token_check raises for a revoked token. */
#define MSG_SQLSTATE_TOKEN_REVOKED "28000"

#endif
