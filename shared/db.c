#include "db.h"

#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"

int msg_db_init(struct msg_db *db, const char *url)
{
    memset(db, 0, sizeof *db);
    db->url = strdup(url);
    return db->url ? 0 : -1;
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

void msg_db_session_options(char *buf, size_t cap, const char *extra, const char *via, int audit)
{
    snprintf(buf, cap, "%s%s-c messaging.via=%s -c messaging.audit_log=%s", extra ? extra : "",
             extra ? " " : "", via, audit ? "on" : "off");
}

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
    if (db->options) {
        const char *keys[] = {"dbname", "options", NULL};
        const char *vals[] = {db->url, db->options, NULL};
        db->conn = PQconnectdbParams(keys, vals, 1);
    } else {
        db->conn = PQconnectdb(db->url);
    }
    if (PQstatus(db->conn) != CONNECTION_OK || prepare_all(db->conn) < 0) {
        msg_warn("db_connect_failed", "reconnects=%u", db->reconnects);
        drop(db);
        db->next_try = t + 250;
        return -1;
    }
    db->reconnects++;
    msg_info("db_connected", "reconnects=%u", db->reconnects);
    return 0;
}

int msg_db_exec(struct msg_db *db, enum msg_op op, const char *const *params, PGresult **res,
                struct msg_error *err)
{
    *res = NULL;
    for (int attempt = 0; attempt < 2; attempt++) {
        if (ensure_connected(db) < 0) {
            *err = msg_error_make(MSG_UNAVAILABLE, "The database is unavailable");
            return -1;
        }
        PGresult *r = PQexecPrepared(db->conn, msg_ops[op].name, msg_ops[op].nparams, params,
                                     NULL, NULL, 0);
        if (PQresultStatus(r) == PGRES_TUPLES_OK) {
            *res = r;
            return 0;
        }
        const char *state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
        int bad = PQstatus(db->conn) != CONNECTION_OK;
        msg_err("db_call_failed", "op=%s sqlstate=%s connection=%s", msg_ops[op].name,
                state ? state : "-", bad ? "lost" : "ok");
        int input_error = state && strncmp(state, "22", 2) == 0;
        /* The access log could not be written (sql/040_audit.sql): the
         * access it records does not happen either, and the database is
         * what is wrong (API.md section 9), as when it is out of resources. */
        const char *table = r ? PQresultErrorField(r, PG_DIAG_TABLE_NAME) : NULL;
        const char *primary = r ? PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY) : NULL;
        int log_failed = (table && strcmp(table, "audit_log") == 0) ||
                         (primary && strstr(primary, "audit_log")) ||
                         (state && (strncmp(state, "53", 2) == 0 || strncmp(state, "57", 2) == 0));
        PQclear(r);
        if (log_failed && !bad) {
            *err = msg_error_make(MSG_UNAVAILABLE, "The service is unavailable");
            return -1;
        }
        if (input_error) {
            /* Data exceptions (bad encoding, out of range) come from input. */
            *err = msg_error_make(MSG_INVALID_REQUEST, "Invalid request");
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

int msg_db_call(struct msg_db *db, enum msg_op op, const char *const *params,
                struct msg_reply *out, struct msg_error *err)
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

int msg_db_notify(struct msg_db *db, const char *channel, const char *payload)
{
    if (ensure_connected(db) < 0)
        return -1;
    const char *params[2] = {channel, payload};
    PGresult *r = PQexecParams(db->conn, "SELECT pg_notify($1, $2)", 2, NULL, params, NULL, NULL, 0);
    int ok = PQresultStatus(r) == PGRES_TUPLES_OK;
    PQclear(r);
    return ok ? 0 : -1;
}
