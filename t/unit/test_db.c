/* shared/db.c. The connection parameters: connect_timeout and
 * statement_timeout added to any database_url, as libpq resolves them (a
 * connection object to a folder with no server, never connected). Then the
 * API's synchronous calls against a real, migrated database
 * (MSG_UNIT_DB_URL, which scripts/run-unit.sh provides; without it this
 * test fails): replies, errors as values, revoked tokens, a connection lost
 * while idle, a database that is not there, NOTIFY. */
#include <libpq-fe.h>
#include <poll.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "clock.h"
#include "db.h"
#include "log.h"

/* The value libpq settles on for keyword, with p's parameters. */
static char *effective(const struct msg_db_params *p, const char *keyword)
{
    PGconn *c = PQconnectStartParams(p->keys, p->vals, 1);
    char *v = NULL;
    PQconninfoOption *opts = c ? PQconninfo(c) : NULL;
    for (PQconninfoOption *o = opts; o && o->keyword; o++)
        if (strcmp(o->keyword, keyword) == 0 && o->val)
            v = strdup(o->val);
    PQconninfoFree(opts);
    PQfinish(c);
    return v;
}

static void expect(const char *url, long ct, long st, const char *want_timeout, const char *want_options,
                   const char *want_db)
{
    struct msg_db_params p;
    CHECK(msg_db_params_init(&p, url, "unit", ct, st) == 0);
    char *t = effective(&p, "connect_timeout"), *o = effective(&p, "options"), *d = effective(&p, "dbname"),
         *a = effective(&p, "application_name");
    CHECK_STR(t, want_timeout);
    if (want_options)
        CHECK_STR(o, want_options);
    else
        CHECK(o == NULL || o[0] == '\0');
    CHECK_STR(d, want_db);
    CHECK_STR(a, "unit");
    if (!t || strcmp(t, want_timeout) || (want_options && (!o || strcmp(o, want_options))))
        fprintf(stderr, "url %s: connect_timeout=%s options=%s\n", url, t ? t : "-", o ? o : "-");
    free(t);
    free(o);
    free(d);
    free(a);
    msg_db_params_free(&p);
}

/* One statement on a connection of the test's own; the first value, or "". */
static void sql1(PGconn *c, const char *sql, char *out, size_t cap)
{
    PGresult *r = PQexec(c, sql);
    snprintf(out, cap, "%s", PQntuples(r) > 0 ? PQgetvalue(r, 0, 0) : "");
    if (PQresultStatus(r) != PGRES_TUPLES_OK && PQresultStatus(r) != PGRES_COMMAND_OK)
        fprintf(stderr, "  %s: %s", sql, PQerrorMessage(c));
    PQclear(r);
}

static void options_text(void)
{
    char buf[200];
    struct msg_config on = {.audit_log = "on", .delivery_receipts = "on"};
    struct msg_config off = {.audit_log = "off", .delivery_receipts = "off"};
    msg_db_session_options(buf, sizeof buf, NULL, "rest", &on);
    CHECK_STR(buf, "-c messaging.via=rest -c messaging.audit_log=on -c messaging.receipts=on");
    msg_db_session_options(buf, sizeof buf, "-c work_mem=4MB", "socket", &off);
    CHECK_STR(buf, "-c work_mem=4MB -c messaging.via=socket -c messaging.audit_log=off -c messaging.receipts=off");
    /* Added options go after the statement timeout; none added: unchanged. */
    struct msg_db_params p;
    CHECK_INT(msg_db_params_init(&p, "host=/nonexistent-msg-unit dbname=m", "unit", 3, 500), 0);
    CHECK_INT(msg_db_params_add_options(&p, NULL), 0);
    CHECK_INT(msg_db_params_add_options(&p, ""), 0);
    CHECK_STR(p.options, "-c statement_timeout=500");
    CHECK_INT(msg_db_params_add_options(&p, "-c a.b=1"), 0);
    CHECK_STR(p.options, "-c statement_timeout=500 -c a.b=1");
    msg_db_params_free(&p);
    /* No options of its own: the key is added. */
    CHECK_INT(msg_db_params_init(&p, "host=/nonexistent-msg-unit dbname=m", "unit", 3, 0), 0);
    CHECK(p.options == NULL);
    CHECK_INT(msg_db_params_add_options(&p, "-c a.b=2"), 0);
    int found = 0;
    for (int k = 0; p.keys[k]; k++)
        found += strcmp(p.keys[k], "options") == 0 && strcmp(p.vals[k], "-c a.b=2") == 0;
    CHECK_INT(found, 1);
    msg_db_params_free(&p);
}

static void calls(const char *url)
{
    struct msg_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.database_url = (char *)url;
    cfg.db_connect_timeout_s = 5;
    cfg.db_statement_timeout_ms = 10000;
    struct msg_db db;
    CHECK_INT(msg_db_init(&db, &cfg), 0);
    CHECK(db.conn == NULL); /* connects on first use */
    struct msg_reply rep;
    struct msg_error err = MSG_NO_ERROR;
    CHECK_INT(msg_db_call(&db, MSG_OP_HEALTH, NULL, &rep, &err), 0);
    CHECK_INT(rep.status, 200);
    CHECK_STR(rep.body, "{\"status\":\"ok\"}");
    CHECK(rep.len == 15 && rep.event_id == 0);
    msg_reply_clear(&rep);
    CHECK(rep.res == NULL);
    CHECK_INT(db.reconnects, 1);

    PGconn *own = PQconnectdb(url);
    CHECK(PQstatus(own) == CONNECTION_OK);
    char uid[16], buf[64], q[256];
    snprintf(q, sizeof q,
             "INSERT INTO users (role, first_name, last_name, email) VALUES "
             "('patient', 'Unit', 'Db', 'unit-db-%d-%ld@example.test') RETURNING id",
             (int)getpid(), (long)time(NULL));
    sql1(own, q, uid, sizeof uid);
    CHECK(atoi(uid) > 0);

    /* Input the database refuses as data (22xxx): invalid_request. */
    const char *bad[3] = {uid, "patient", "abc"};
    CHECK_INT(msg_db_call(&db, MSG_OP_GET_CONVERSATION, bad, &rep, &err), -1);
    CHECK_INT(err.code, MSG_INVALID_REQUEST);
    /* An answer of the rule (not an error): no such conversation. */
    const char *none[3] = {uid, "patient", "2147483647"};
    CHECK_INT(msg_db_call(&db, MSG_OP_GET_CONVERSATION, none, &rep, &err), 0);
    CHECK_INT(rep.status, 404);
    msg_reply_clear(&rep);

    /* A token issued before the user's revocation: refused before the
     * operation runs; one issued after: served. */
    snprintf(q, sizeof q, "SELECT messaging.revoke_user(%s) IS NOT NULL", uid);
    sql1(own, q, buf, sizeof buf);
    CHECK_STR(buf, "t");
    long long old_iat = (long long)time(NULL) - 100, new_iat = (long long)time(NULL) + 60;
    msg_db_set_token(&db, atoi(uid), &old_iat);
    CHECK_INT(msg_db_call(&db, MSG_OP_UNREAD_COUNT, (const char *[]){uid, "patient"}, &rep, &err), -1);
    CHECK_INT(err.code, MSG_UNAUTHORIZED);
    CHECK_STR(err.message, "Token revoked");
    msg_db_set_token(&db, atoi(uid), &new_iat);
    CHECK_INT(msg_db_call(&db, MSG_OP_UNREAD_COUNT, (const char *[]){uid, "patient"}, &rep, &err), 0);
    CHECK_INT(rep.status, 200);
    msg_reply_clear(&rep);
    msg_db_clear_token(&db);

    /* The server closes the idle connection (a restart, an administrator):
     * the next call, a write included, goes over a new one, not lost. */
    snprintf(q, sizeof q, "SELECT pg_terminate_backend(%d)", PQbackendPID(db.conn));
    sql1(own, q, buf, sizeof buf);
    CHECK_STR(buf, "t");
    usleep(100000);
    const char *create[3] = {uid, "patient", "2147483647"};
    CHECK_INT(msg_db_call(&db, MSG_OP_CREATE_CONVERSATION, create, &rep, &err), 0);
    CHECK(rep.status >= 400 && rep.status < 500); /* no such doctor: the rule's answer */
    msg_reply_clear(&rep);
    CHECK_INT(db.reconnects, 2);

    /* NOTIFY goes out on the API's connection. */
    sql1(own, "LISTEN messaging_events", buf, sizeof buf);
    const char *ding[1] = {"ding"};
    PGresult *nr = NULL;
    CHECK_INT(msg_db_exec(&db, MSG_OP_NOTIFY, ding, &nr, &err), 0);
    PQclear(nr);
    PGnotify *n = NULL;
    for (int i = 0; i < 40 && !n; i++) {
        struct pollfd pfd = {.fd = PQsocket(own), .events = POLLIN};
        poll(&pfd, 1, 50);
        PQconsumeInput(own);
        n = PQnotifies(own);
    }
    CHECK(n != NULL && strcmp(n->relname, "messaging_events") == 0 && strcmp(n->extra, "ding") == 0);
    PQfreemem(n);
    PQfinish(own);
    msg_db_close(&db);
    CHECK(db.conn == NULL && db.url == NULL);

    /* No database there: unavailable, and no new attempt for a while. */
    cfg.database_url = "postgresql:///none?host=/nonexistent-msg-unit";
    CHECK_INT(msg_db_init(&db, &cfg), 0);
    CHECK_INT(msg_db_call(&db, MSG_OP_HEALTH, NULL, &rep, &err), -1);
    CHECK_INT(err.code, MSG_UNAVAILABLE);
    CHECK(db.conn == NULL && db.next_try > msg_now_ms());
    CHECK_INT(msg_db_exec(&db, MSG_OP_NOTIFY, ding, &nr, &err), -1);
    msg_db_close(&db);
}

int main(void)
{
    msg_log_set_level(MSG_LOG_ERROR); /* the reconnections it causes are expected */
    options_text();
    const char *url = getenv("MSG_UNIT_DB_URL");
    if (url && *url)
        calls(url);
    else
        fprintf(stderr, "FAIL test_db: MSG_UNIT_DB_URL is not set (scripts/run-unit.sh starts a database)\n");
    CHECK(url && *url);
    /* Nothing below ever reaches a server (the bare name's host too). */
    setenv("PGHOST", "/nonexistent-msg-unit", 1);
    const char *h = "host=/nonexistent-msg-unit";
    char kv[256];
    /* A URI: both added. */
    expect("postgresql:///messaging?host=/nonexistent-msg-unit&port=5999", 5, 10000, "5", "-c statement_timeout=10000",
           "messaging");
    /* Its own options are kept, ours added after them. */
    expect("postgresql:///messaging?host=/nonexistent-msg-unit&options=-c%20search_path%3Dapp", 5, 2500, "5",
           "-c search_path=app -c statement_timeout=2500", "messaging");
    /* Its own connect_timeout wins. */
    expect("postgresql:///messaging?host=/nonexistent-msg-unit&connect_timeout=2", 7, 10000, "2",
           "-c statement_timeout=10000", "messaging");
    /* key=value form. */
    snprintf(kv, sizeof kv, "%s dbname=m options='-c work_mem=4MB'", h);
    expect(kv, 3, 500, "3", "-c work_mem=4MB -c statement_timeout=500", "m");
    snprintf(kv, sizeof kv, "%s dbname=m connect_timeout=9", h);
    expect(kv, 3, 500, "9", "-c statement_timeout=500", "m");
    /* statement_timeout 0: none set (the server's default applies). */
    snprintf(kv, sizeof kv, "%s dbname=m", h);
    expect(kv, 4, 0, "4", NULL, "m");
    /* A bare database name. */
    expect("messaging", 6, 100, "6", "-c statement_timeout=100", "messaging");
    return check_report("db");
}
