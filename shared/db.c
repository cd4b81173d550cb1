#include "db.h"

#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "log.h"

/* A connection string libpq would expand (URI or key=value), as opposed to
 * a bare database name. */
static bool is_conninfo(const char *url)
{
    return strchr(url, '=') || strncmp(url, "postgresql://", 13) == 0 || strncmp(url, "postgres://", 11) == 0;
}

int msg_db_params_init(struct msg_db_params *p, const char *url, const char *app_name, long connect_timeout_s,
                       long statement_timeout_ms)
{
    memset(p, 0, sizeof *p);
    const char *url_options = NULL;
    bool url_timeout = false;
    PQconninfoOption *parsed = is_conninfo(url) ? PQconninfoParse(url, NULL) : NULL;
    for (PQconninfoOption *o = parsed; o && o->keyword; o++) {
        if (strcmp(o->keyword, "options") == 0 && o->val && o->val[0])
            url_options = o->val;
        else if (strcmp(o->keyword, "connect_timeout") == 0 && o->val && o->val[0])
            url_timeout = true;
    }
    if (statement_timeout_ms > 0) {
        size_t n = (url_options ? strlen(url_options) + 1 : 0) + 64;
        p->options = malloc(n);
        if (!p->options) {
            PQconninfoFree(parsed);
            return -1;
        }
        snprintf(p->options, n, "%s%s-c statement_timeout=%ld", url_options ? url_options : "", url_options ? " " : "",
                 statement_timeout_ms);
    }
    PQconninfoFree(parsed);
    /* Repeated keys: the last one wins, and the URL's are processed where
     * dbname is. Its connect_timeout wins over ours; its options are in
     * ours already. */
    int k = 0;
    snprintf(p->connect_timeout, sizeof p->connect_timeout, "%ld", connect_timeout_s);
    if (!url_timeout) {
        p->keys[k] = "connect_timeout";
        p->vals[k++] = p->connect_timeout;
    }
    p->keys[k] = "dbname";
    p->vals[k++] = url;
    if (app_name) {
        p->keys[k] = "application_name";
        p->vals[k++] = app_name;
    }
    if (p->options) {
        p->keys[k] = "options";
        p->vals[k++] = p->options;
    }
    p->keys[k] = p->vals[k] = NULL;
    return 0;
}

void msg_db_params_free(struct msg_db_params *p)
{
    free(p->options);
    p->options = NULL;
}

int msg_db_params_add_options(struct msg_db_params *p, const char *extra)
{
    if (!extra || !extra[0])
        return 0;
    size_t n = (p->options ? strlen(p->options) + 1 : 0) + strlen(extra) + 1;
    char *o = malloc(n);
    if (!o)
        return -1;
    snprintf(o, n, "%s%s%s", p->options ? p->options : "", p->options ? " " : "", extra);
    int k = 0;
    while (p->keys[k] && strcmp(p->keys[k], "options") != 0)
        k++;
    if (!p->keys[k]) {
        if (k >= MSG_DB_PARAMS_MAX) {
            free(o);
            return -1;
        }
        p->keys[k] = "options";
        p->keys[k + 1] = p->vals[k + 1] = NULL;
    }
    free(p->options);
    p->options = o;
    p->vals[k] = o;
    return 0;
}

int msg_db_set_options(struct msg_db *db, const char *options)
{
    char *o = options ? strdup(options) : NULL;
    if (options && !o)
        return -1;
    free(db->options);
    db->options = o;
    return 0;
}

void msg_db_session_options(char *buf, size_t cap, const char *extra, const char *via, const struct msg_config *cfg)
{
    snprintf(buf, cap, "%s%s-c messaging.via=%s -c messaging.audit_log=%s -c messaging.receipts=%s", extra ? extra : "",
             extra ? " " : "", via, cfg->audit_log, cfg->delivery_receipts);
}

int msg_db_open(struct msg_db *db, const char *url, const struct msg_db_spec *spec)
{
    memset(db, 0, sizeof *db);
    db->url = strdup(url);
    db->spec = *spec;
    return db->url ? 0 : -1;
}

int msg_db_init(struct msg_db *db, const struct msg_config *cfg)
{
    struct msg_db_spec spec = {.app_name = "messaging-api",
                               .connect_timeout_s = cfg->db_connect_timeout_s,
                               .statement_timeout_ms = cfg->db_statement_timeout_ms,
                               .retry_ms = 250,
                               .prepare = true};
    return msg_db_open(db, cfg->database_url, &spec);
}

void msg_db_set_token(struct msg_db *db, int user_id, const long long *iat)
{
    db->token_set = true;
    snprintf(db->token_user, sizeof db->token_user, "%d", user_id);
    db->token_has_iat = iat != NULL;
    if (iat)
        snprintf(db->token_iat, sizeof db->token_iat, "%lld", *iat);
}

void msg_db_clear_token(struct msg_db *db) { db->token_set = db->token_has_iat = false; }

void msg_db_close(struct msg_db *db)
{
    if (db->conn)
        PQfinish(db->conn);
    free(db->url);
    free(db->options);
    memset(db, 0, sizeof *db);
}

static void drop(struct msg_db *db)
{
    if (db->conn)
        PQfinish(db->conn);
    db->conn = NULL;
}

static int prepare_all(PGconn *c)
{
    for (int i = 0; i < MSG_OP_COUNT; i++) {
        PGresult *r = PQprepare(c, msg_ops[i].name, msg_ops[i].sql, msg_ops[i].nparams, NULL);
        int ok = PQresultStatus(r) == PGRES_COMMAND_OK;
        if (!ok)
            msg_err("db_prepare_failed", "op=%s", msg_ops[i].name);
        PQclear(r);
        if (!ok)
            return -1;
    }
    return 0;
}

static int ensure_connected(struct msg_db *db)
{
    if (db->conn && PQstatus(db->conn) == CONNECTION_OK) {
        /* An idle connection the server has closed (restart, admin
         * termination) has something to read: notice it before sending, so
         * that a write is not lost to a dead socket. */
        struct pollfd p = {.fd = PQsocket(db->conn), .events = POLLIN};
        /* The server's farewell (an error message) and its EOF may take two
         * reads: read until nothing is left or the connection is found bad. */
        for (int i = 0; i < 4 && PQstatus(db->conn) == CONNECTION_OK && poll(&p, 1, 0) > 0; i++) {
            if (!PQconsumeInput(db->conn))
                break;
            PGnotify *n;
            while ((n = PQnotifies(db->conn)))
                PQfreemem(n);
        }
        if (PQstatus(db->conn) == CONNECTION_OK)
            return 0;
    }
    drop(db);
    long long t = msg_now_ms();
    if (t < db->next_try)
        return -1;
    const struct msg_db_spec *s = &db->spec;
    struct msg_db_params p;
    if (msg_db_params_init(&p, db->url, s->app_name, s->connect_timeout_s, s->statement_timeout_ms) < 0 ||
        msg_db_params_add_options(&p, db->options) < 0) {
        msg_db_params_free(&p);
        return -1;
    }
    db->conn = PQconnectdbParams(p.keys, p.vals, 1);
    msg_db_params_free(&p);
    if (PQstatus(db->conn) != CONNECTION_OK || (s->prepare && prepare_all(db->conn) < 0)) {
        msg_warn("db_connect_failed", "conn=%s reconnects=%u", s->app_name, db->reconnects);
        drop(db);
        db->next_try = t + s->retry_ms;
        return -1;
    }
    db->reconnects++;
    msg_info("db_connected", "conn=%s reconnects=%u", s->app_name, db->reconnects);
    return 0;
}

PGconn *msg_db_conn(struct msg_db *db) { return ensure_connected(db) == 0 ? db->conn : NULL; }

/* The token check and op in one pipeline. Returns op's result (NULL when it
 * could not be sent), and in *check the check's own (NULL when it
 * succeeded). */
static PGresult *exec_checked(struct msg_db *db, enum msg_op op, const char *const *params, PGresult **check)
{
    PGconn *c = db->conn;
    const char *tp[] = {db->token_user, db->token_has_iat ? db->token_iat : NULL};
    *check = NULL;
    if (!PQenterPipelineMode(c))
        return NULL;
    if (!PQsendQueryPrepared(c, msg_ops[MSG_OP_TOKEN_CHECK].name, 2, tp, NULL, NULL, 0) ||
        !PQsendQueryPrepared(c, msg_ops[op].name, msg_ops[op].nparams, params, NULL, NULL, 0) || !PQpipelineSync(c)) {
        /* Nothing usable is left of this connection's state. */
        drop(db);
        return NULL;
    }
    /* Results: the check's, NULL, op's, NULL, then the sync. */
    PGresult *results[2] = {NULL, NULL};
    int which = 0;
    for (int guard = 0; guard < 16; guard++) {
        PGresult *r = PQgetResult(c);
        if (!r) {
            if (PQstatus(c) != CONNECTION_OK)
                break;
            if (which < 2)
                which++;
            continue;
        }
        ExecStatusType st = PQresultStatus(r);
        if (st == PGRES_PIPELINE_SYNC) {
            PQclear(r);
            break;
        }
        if (which < 2 && !results[which])
            results[which] = r;
        else
            PQclear(r);
    }
    if (PQstatus(c) != CONNECTION_OK || !PQexitPipelineMode(c)) {
        /* Lost, or out of step: a new connection for what follows. */
        PQclear(results[0]);
        PQclear(results[1]);
        drop(db);
        return NULL;
    }
    if (PQresultStatus(results[0]) == PGRES_TUPLES_OK)
        PQclear(results[0]);
    else
        *check = results[0];
    return results[1];
}

int msg_db_exec(struct msg_db *db, enum msg_op op, const char *const *params, PGresult **res, struct msg_error *err)
{
    *res = NULL;
    for (int attempt = 0; attempt < 2; attempt++) {
        if (ensure_connected(db) < 0) {
            *err = msg_error_make(MSG_UNAVAILABLE, "The database is unavailable");
            return -1;
        }
        PGresult *check = NULL, *r;
        if (db->token_set)
            r = exec_checked(db, op, params, &check);
        else
            r = PQexecPrepared(db->conn, msg_ops[op].name, msg_ops[op].nparams, params, NULL, NULL, 0);
        if (check) {
            /* The token check failed: op was not run. */
            const char *state = PQresultErrorField(check, PG_DIAG_SQLSTATE);
            int revoked = state && strcmp(state, MSG_SQLSTATE_TOKEN_REVOKED) == 0;
            if (!revoked)
                msg_err("db_call_failed", "op=%s sqlstate=%s connection=ok", msg_ops[MSG_OP_TOKEN_CHECK].name,
                        state ? state : "-");
            PQclear(check);
            PQclear(r);
            *err = revoked ? msg_error_make(MSG_UNAUTHORIZED, "Token revoked")
                           : msg_error_make(MSG_INTERNAL, "Internal error");
            return -1;
        }
        if (PQresultStatus(r) == PGRES_TUPLES_OK) {
            *res = r;
            return 0;
        }
        const char *state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
        int bad = !db->conn || PQstatus(db->conn) != CONNECTION_OK;
        msg_err("db_call_failed", "op=%s sqlstate=%s connection=%s", msg_ops[op].name, state ? state : "-",
                bad ? "lost" : "ok");
        int input_error = state && strncmp(state, "22", 2) == 0;
        int timeout = state && strcmp(state, "57014") == 0; /* query_canceled: statement_timeout */
        /* The access log could not be written (sql/040_audit.sql): the
         * access it records does not happen either, and the database is
         * what is wrong (API.md section 9), as when it is out of resources. */
        const char *table = r ? PQresultErrorField(r, PG_DIAG_TABLE_NAME) : NULL;
        const char *primary = r ? PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY) : NULL;
        int log_failed = (table && strcmp(table, "audit_log") == 0) || (primary && strstr(primary, "audit_log")) ||
                         (state && (strncmp(state, "53", 2) == 0 || strncmp(state, "57", 2) == 0));
        PQclear(r);
        if (log_failed && !bad && !timeout) {
            *err = msg_error_make(MSG_UNAVAILABLE, "The service is unavailable");
            return -1;
        }
        if (input_error) {
            /* Data exceptions (bad encoding, out of range) come from input. */
            *err = msg_error_make(MSG_INVALID_REQUEST, "Invalid request");
            return -1;
        }
        if (timeout) {
            *err = msg_error_make(MSG_UNAVAILABLE, "The database is too slow to answer");
            return -1;
        }
        if (!bad) {
            *err = msg_error_make(MSG_INTERNAL, "Internal error");
            return -1;
        }
        drop(db);
        /* A lost connection during a write may or may not have committed:
         * do not repeat it (the client may, with its clientId). */
        if (msg_ops[op].writes)
            break;
    }
    *err = msg_error_make(MSG_UNAVAILABLE, "The database is unavailable");
    return -1;
}

int msg_db_call(struct msg_db *db, enum msg_op op, const char *const *params, struct msg_reply *out,
                struct msg_error *err)
{
    memset(out, 0, sizeof *out);
    PGresult *r;
    if (msg_db_exec(db, op, params, &r, err) < 0)
        return -1;
    int want = msg_ops[op].emits ? 5 : 2;
    if (PQntuples(r) != 1 || PQnfields(r) != want || PQgetisnull(r, 0, 0) || PQgetisnull(r, 0, 1)) {
        msg_err("db_reply_malformed", "op=%s", msg_ops[op].name);
        PQclear(r);
        *err = msg_error_make(MSG_INTERNAL, "Internal error");
        return -1;
    }
    out->res = r;
    out->status = atoi(PQgetvalue(r, 0, 0));
    out->body = PQgetvalue(r, 0, 1);
    out->len = PQgetlength(r, 0, 1);
    out->event_id = msg_ops[op].emits && !PQgetisnull(r, 0, 2) ? atoll(PQgetvalue(r, 0, 2)) : 0;
    return 0;
}

void msg_reply_clear(struct msg_reply *r)
{
    PQclear(r->res);
    memset(r, 0, sizeof *r);
}
