/* The blocking PostgreSQL connections of the API (workers, master): the one
 * place they are made, checked, re-made and closed. A msg_db reconnects by
 * itself: a call while the database is away fails with `unavailable`, and
 * the first call after it is back (and the back-off) succeeds. The
 * gateway's connections never block: ws-gateway/app/pgconn.c. */
#ifndef MSG_DB_H
#define MSG_DB_H

#include <libpq-fe.h>
#include <stdbool.h>

#include "config.h"
#include "error.h"
#include "ops.h"

/* The libpq parameters of one connection of these programs, for
 * PQconnectdbParams / PQconnectStartParams with expand_dbname = 1: the
 * database_url, connect_timeout = db_connect_timeout_s (unless the URL names
 * one), and statement_timeout = db_statement_timeout_ms added to the URL's
 * own `options` (0: none). */
#define MSG_DB_PARAMS_MAX 4
struct msg_db_params {
    const char *keys[MSG_DB_PARAMS_MAX + 1]; /* NULL-terminated */
    const char *vals[MSG_DB_PARAMS_MAX + 1];
    char connect_timeout[24];
    char *options; /* owned */
};
/* Fills *p (pointing into url and app_name, which must outlive it); -1 on
 * out of memory. The caller frees with msg_db_params_free in both cases. */
int msg_db_params_init(struct msg_db_params *p, const char *url, const char *app_name, long connect_timeout_s,
                       long statement_timeout_ms);
void msg_db_params_free(struct msg_db_params *p);
/* Appends `extra` (libpq -c settings) to the options of *p. -1 on out of memory. */
int msg_db_params_add_options(struct msg_db_params *p, const char *extra);

/* How the connections of one msg_db are made. */
struct msg_db_spec {
    const char *app_name; /* application_name; not copied */
    long connect_timeout_s;
    long statement_timeout_ms; /* 0: none */
    long retry_ms;             /* after a failed attempt, none sooner */
    bool prepare;              /* prepare the operations (msg_ops) on each */
};

struct msg_db {
    PGconn *conn; /* owned; NULL while disconnected */
    char *url;    /* owned copy */
    struct msg_db_spec spec;
    long long next_try; /* ms: no reconnect attempt before this */
    unsigned reconnects;
    /* The token of the request in hand (msg_db_set_token). */
    bool token_set, token_has_iat;
    char token_user[16], token_iat[24];
    char *options; /* owned; libpq -c settings added to each connection's, or NULL */
};

/* A reply: status and JSON body, owned by res until msg_reply_clear(). */
struct msg_reply {
    int status;
    const char *body;
    int len;
    long long event_id; /* the event the operation emitted (ops with `emits`), or 0 */
    PGresult *res;
};

/* The database at url, connected as spec says at the first call (spec is
 * copied; its app_name must outlive db). -1 on out of memory. */
int msg_db_open(struct msg_db *db, const char *url, const struct msg_db_spec *spec);
/* An API worker's: the database of cfg, with its timeouts, the operations
 * prepared. */
int msg_db_init(struct msg_db *db, const struct msg_config *cfg);
/* The connection, up (reconnected when it was lost), or NULL while the
 * database is away or the back-off lasts. Owned by db: for statements that
 * are not operations (msg_db_exec), e.g. the master's. */
PGconn *msg_db_conn(struct msg_db *db);
/* Settings added to the options of the connections from now on, e.g.
 * msg_db_session_options(). Returns -1 when out of memory. */
int msg_db_set_options(struct msg_db *db, const char *options);
/* The session settings the SQL operations read (sql/api/30_audit.sql): the
 * access log's `via`, and whether the log and the delivery receipts are on
 * (cfg's audit_log and delivery_receipts). Writes "-c messaging.via=VIA
 * -c messaging.audit_log=on|off -c messaging.receipts=on|off" (plus `extra`
 * first, when not NULL). */
void msg_db_session_options(char *buf, size_t cap, const char *extra, const char *via, const struct msg_config *cfg);
void msg_db_close(struct msg_db *db);

/* The caller's token for the calls that follow, until msg_db_clear_token
 * (API.md section 7): each call is then sent in one pipeline (one round
 * trip, one implicit transaction) after messaging.token_check(user, iat),
 * so that for a revoked token the operation never runs and the call fails
 * with `unauthorized`. iat NULL: the token has none. */
void msg_db_set_token(struct msg_db *db, int user_id, const long long *iat);
void msg_db_clear_token(struct msg_db *db);

/* Runs op with text params (NULL = SQL NULL). Returns 0 with *out filled, or
 * -1 with *err (`unavailable` when the database cannot be reached). */
int msg_db_call(struct msg_db *db, enum msg_op op, const char *const *params, struct msg_reply *out,
                struct msg_error *err);
void msg_reply_clear(struct msg_reply *r);

/* Runs op and gives its whole result (PGRES_TUPLES_OK) in *res, which the
 * caller clears; -1 with *err otherwise. Same reconnection rules. */
int msg_db_exec(struct msg_db *db, enum msg_op op, const char *const *params, PGresult **res, struct msg_error *err);

#endif
