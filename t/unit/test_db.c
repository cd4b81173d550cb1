/* The connection parameters of shared/db.c: connect_timeout and
 * statement_timeout added to any database_url, as libpq resolves them (a
 * connection object to a folder with no server, never connected). */
#include <libpq-fe.h>
#include <stdlib.h>

#include "check.h"
#include "db.h"

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

int main(void)
{
    /* Nothing here ever reaches a server (the bare name's host too). */
    setenv("PGHOST", "/nonexistent-msg-unit", 1);
    const char *h = "host=/nonexistent-msg-unit";
    char kv[256];
    /* A URI: both added. */
    expect("postgresql:///messaging?host=/nonexistent-msg-unit&port=5999", 5, 10000, "5",
           "-c statement_timeout=10000", "messaging");
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
