/* One blocking PostgreSQL connection with the operations prepared, for the
 * API workers. It reconnects by itself: a call while the database is away
 * fails with `unavailable`, and the first call after it is back succeeds. */
#ifndef MSG_DB_H
#define MSG_DB_H

#include <libpq-fe.h>

#include "error.h"
#include "ops.h"

struct msg_db {
    PGconn *conn;       /* owned; NULL while disconnected */
    char *url;          /* owned copy */
    long long next_try; /* ms: no reconnect attempt before this */
    unsigned reconnects;
    char *options;      /* owned; libpq "options" of each connection, or NULL */
};

/* A reply: status and JSON body, owned by res until msg_reply_clear(). */
struct msg_reply {
    int status;
    const char *body;
    int len;
    long long event_id; /* the event the operation emitted (ops with `emits`), or 0 */
    PGresult *res;
};

int msg_db_init(struct msg_db *db, const char *url);
/* The libpq "options" of the connections from now on (replacing those of
 * the URL), e.g. msg_db_session_options(). Returns -1 when out of memory. */
int msg_db_set_options(struct msg_db *db, const char *options);
/* The session settings the SQL operations read (sql/040_audit.sql): the
 * access log's `via` and whether it is on. Writes "-c messaging.via=VIA
 * -c messaging.audit_log=on|off" (plus `extra` first, when not NULL). */
void msg_db_session_options(char *buf, size_t cap, const char *extra, const char *via, int audit);
void msg_db_close(struct msg_db *db);

/* Runs op with text params (NULL = SQL NULL). Returns 0 with *out filled, or
 * -1 with *err (`unavailable` when the database cannot be reached). */
int msg_db_call(struct msg_db *db, enum msg_op op, const char *const *params,
                struct msg_reply *out, struct msg_error *err);
void msg_reply_clear(struct msg_reply *r);

/* Runs op and gives its whole result (PGRES_TUPLES_OK) in *res, which the
 * caller clears; -1 with *err otherwise. Same reconnection rules. */
int msg_db_exec(struct msg_db *db, enum msg_op op, const char *const *params, PGresult **res,
                struct msg_error *err);

/* Sends NOTIFY channel, payload on its own (a doorbell); best effort. */
int msg_db_notify(struct msg_db *db, const char *channel, const char *payload);

#endif
