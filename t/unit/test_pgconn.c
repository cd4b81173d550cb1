/* The gateway's non-blocking PostgreSQL connection (ws-gateway/app/pgconn.c
 * and pgpool.c) against a real, migrated database (MSG_UNIT_DB_URL, which
 * scripts/run-unit.sh provides; without it this test fails): results in
 * order, errors as results, group commit sorted by conversation and rolled
 * back around a failing write, back-pressure, timeouts, loss and reconnect,
 * and every pending callback run once when the connection goes. */
#include <libwebsockets.h>
#include <stdlib.h>

#include "bus.h"
#include "check.h"
#include "clock.h"
#include "log.h"
#include "pgconn.h"

/* The operations table, this test's own: defined here, it takes the place of
 * shared/ops.c's (the linker then takes nothing from ops.o), so the queries
 * can probe the connection itself. pgconn prepares every entry on connect;
 * the unused ones are the unnamed statement, which may be prepared again. */
#define T_MUL MSG_OP_AUTHENTICATE
#define T_TEXT MSG_OP_TOKEN_CHECK
#define T_DIV0 MSG_OP_CREATE_CONVERSATION
#define T_SETTING MSG_OP_LIST_CONVERSATIONS
#define T_SLEEP MSG_OP_GET_CONVERSATION
#define T_KILL MSG_OP_SEND_MESSAGE
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Woverride-init"
const struct msg_op_def msg_ops[MSG_OP_COUNT] = {
    [0 ... MSG_OP_COUNT - 1] = {"", "SELECT 1", 0, 0, 0, 0},
    [T_MUL] = {"t_mul", "SELECT $1::int * 10", 1, 0, 0, 0},
    [T_TEXT] = {"t_text", "SELECT coalesce($1::text, 'was null')", 1, 0, 0, 0},
    [T_DIV0] = {"t_div0", "SELECT 1/0", 0, 0, 0, 0},
    [T_SETTING] = {"t_setting", "SELECT current_setting($1::text)", 1, 0, 0, 0},
    [T_SLEEP] = {"t_sleep", "SELECT pg_sleep($1::float8)", 1, 0, 0, 0},
    [T_KILL] = {"t_kill",
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = $1::text", 1, 0,
                0, 0},
    [MSG_OP_HEALTH] = {"health", "SELECT 200, '{\"status\":\"ok\"}'", 0, 0, 0, 0},
    [MSG_OP_NOTIFY] = {"notify", "SELECT pg_notify('messaging_events', $1::text)", 1, 0, 0, 1},
};
#pragma GCC diagnostic pop

static struct lws_context *ctx;
static struct lws_vhost *vh;
static const char *url;

/* What the callbacks saw, copied (the result is cleared after the call). */
struct seen {
    int n, nulls;
    int status[64];
    char val[64][64];
    char sqlstate[64][6];
};

static void record(void *arg, PGresult *res)
{
    struct seen *s = arg;
    int i = s->n++;
    if (i >= 64)
        return;
    if (!res) {
        s->nulls++;
        s->status[i] = -1;
        return;
    }
    s->status[i] = PQresultStatus(res);
    const char *st = PQresultErrorField(res, PG_DIAG_SQLSTATE);
    snprintf(s->sqlstate[i], sizeof s->sqlstate[i], "%s", st ? st : "");
    int col = PQnfields(res) - 1; /* an operation's body is its last column */
    snprintf(s->val[i], sizeof s->val[i], "%s", PQntuples(res) > 0 && col >= 0 ? PQgetvalue(res, 0, col) : "");
}

struct hooks_seen {
    int ready, down, notified;
    char notes[16][16];
};
static void on_ready(struct pgc *c, void *arg) { ((struct hooks_seen *)arg)->ready++; }
static void on_down(struct pgc *c, void *arg) { ((struct hooks_seen *)arg)->down++; }
static void on_notify(struct pgc *c, const char *channel, const char *payload, void *arg)
{
    struct hooks_seen *h = arg;
    if (strcmp(channel, MSG_BUS_CHANNEL) == 0 && h->notified < 16)
        snprintf(h->notes[h->notified++], sizeof h->notes[0], "%.15s", payload);
}

/* lws_service() waits for its next event whatever its timeout says: a
 * timer every 10 ms keeps the waits below on time. */
static lws_sorted_usec_list_t tick;
static void tick_cb(lws_sorted_usec_list_t *sul) { lws_sul_schedule(ctx, 0, sul, tick_cb, 10 * LWS_US_PER_MS); }

/* Runs the loop until *counter reaches want or ms pass; says if it did. */
static int run_until(const int *counter, int want, int ms)
{
    long long end = msg_now_ms() + ms;
    while (*counter < want && msg_now_ms() < end)
        lws_service(ctx, 0);
    return *counter >= want;
}

static void run_for(int ms)
{
    long long end = msg_now_ms() + ms;
    while (msg_now_ms() < end)
        lws_service(ctx, 0);
}

static struct pgc *connect_as(const char *name, size_t max_queue, size_t max_bytes, const char *listen,
                              struct hooks_seen *h)
{
    struct pgc_hooks hooks = {on_ready, on_down, on_notify, h};
    return pgc_new(ctx, vh, url, name, max_queue, max_bytes, listen, &hooks);
}

static void queries_in_order(struct pgc *c)
{
    struct seen s = {0};
    const char *p[1];
    char v[8][16];
    for (int i = 0; i < 8; i++) {
        snprintf(v[i], sizeof v[i], "%d", i);
        p[0] = v[i];
        CHECK_INT(pgc_op(c, T_MUL, p, record, &s), 0);
    }
    CHECK_INT(pgc_pending(c), 8);
    CHECK(s.n == 0); /* never inside pgc_op */
    CHECK(run_until(&s.n, 8, 5000));
    int wrong = 0;
    for (int i = 0; i < 8; i++) {
        char want[16];
        snprintf(want, sizeof want, "%d", i * 10);
        wrong += s.status[i] != PGRES_TUPLES_OK || strcmp(s.val[i], want) != 0;
    }
    CHECK_INT(wrong, 0);
    CHECK(pgc_pending(c) == 0 && pgc_pending_bytes(c) == 0);

    /* A prepared operation, and NULL parameters. */
    struct seen h = {0};
    CHECK_INT(pgc_op(c, MSG_OP_HEALTH, NULL, record, &h), 0);
    const char *null_param[1] = {NULL};
    CHECK_INT(pgc_op(c, T_TEXT, null_param, record, &h), 0);
    CHECK(run_until(&h.n, 2, 5000));
    CHECK_STR(h.val[0], "{\"status\":\"ok\"}");
    CHECK_STR(h.val[1], "was null");

    /* An error is a result, and the connection carries on. */
    struct seen e = {0};
    CHECK_INT(pgc_op(c, T_DIV0, NULL, record, &e), 0);
    const char *after[1] = {"after"};
    CHECK_INT(pgc_op(c, T_TEXT, after, record, &e), 0);
    CHECK(run_until(&e.n, 2, 5000));
    CHECK_INT(e.status[0], PGRES_FATAL_ERROR);
    CHECK_STR(e.sqlstate[0], "22012");
    CHECK_STR(e.val[1], "after");
    CHECK(pgc_is_ready(c));
}

/* Writes queued in one turn commit together, sorted by conversation; their
 * callbacks run in the order queued. One that fails is rolled back with the
 * others, then goes alone; the others commit. */
static void group_commit(struct pgc *c, struct hooks_seen *listener)
{
    static const char *const conv[] = {"5", "3", "1", "4", "2"};
    struct seen s = {0};
    const struct pgc_stats before = *pgc_stats(c);
    listener->notified = 0;
    for (int i = 0; i < 5; i++) {
        char payload[16];
        snprintf(payload, sizeof payload, "unit-%s", conv[i]);
        const char *p[1] = {payload};
        CHECK_INT(pgc_write(c, MSG_OP_NOTIFY, atoi(conv[i]), p, record, &s), 0);
    }
    CHECK(run_until(&s.n, 5, 5000));
    CHECK(run_until(&listener->notified, 5, 5000));
    const struct pgc_stats *after = pgc_stats(c);
    CHECK_INT(after->batches - before.batches, 1);
    CHECK_INT(after->batched - before.batched, 5);
    CHECK_INT(after->transactions - before.transactions, 1);
    /* Committed in the conversations' order. */
    for (int i = 0; i < 5; i++) {
        char want[24];
        snprintf(want, sizeof want, "unit-%d", i + 1);
        CHECK_STR(listener->notes[i], want);
    }
    int bad = 0;
    for (int i = 0; i < 5; i++)
        bad += s.status[i] != PGRES_TUPLES_OK;
    CHECK_INT(bad, 0);

    /* NOTIFY refuses a payload of 8000 bytes or more. */
    static char huge[8100];
    memset(huge, 'h', sizeof huge - 1);
    struct seen r = {0};
    listener->notified = 0;
    const char *p1[1] = {"unit-a"}, *p2[1] = {huge}, *p3[1] = {"unit-c"};
    CHECK_INT(pgc_write(c, MSG_OP_NOTIFY, 1, p1, record, &r), 0);
    CHECK_INT(pgc_write(c, MSG_OP_NOTIFY, 2, p2, record, &r), 0);
    CHECK_INT(pgc_write(c, MSG_OP_NOTIFY, 3, p3, record, &r), 0);
    CHECK(run_until(&r.n, 3, 5000));
    CHECK(run_until(&listener->notified, 2, 5000));
    run_for(100); /* nothing more comes */
    CHECK_INT(listener->notified, 2);
    CHECK_STR(listener->notes[0], "unit-a");
    CHECK_STR(listener->notes[1], "unit-c");
    CHECK(r.status[0] == PGRES_TUPLES_OK && r.status[1] == PGRES_FATAL_ERROR && r.status[2] == PGRES_TUPLES_OK);
    CHECK_INT(pgc_stats(c)->rollbacks - before.rollbacks, 1);
}

static void back_pressure(void)
{
    struct hooks_seen h = {0};
    struct pgc *c = connect_as("unit-small", 2, 64, NULL, &h);
    struct seen s = {0};
    /* Down until connected: refused, and the callback never runs. */
    CHECK_INT(pgc_op(c, MSG_OP_HEALTH, NULL, record, &s), -1);
    CHECK(!pgc_is_ready(c));
    CHECK(run_until(&h.ready, 1, 10000));
    CHECK_INT(pgc_op(c, MSG_OP_HEALTH, NULL, record, &s), 0);
    CHECK_INT(pgc_op(c, MSG_OP_HEALTH, NULL, record, &s), 0);
    CHECK_INT(pgc_op(c, MSG_OP_HEALTH, NULL, record, &s), -1); /* max_queue */
    CHECK_INT(pgc_pending(c), 2);
    CHECK(run_until(&s.n, 2, 5000));
    /* max_bytes counts the parameters' bytes. */
    char big[80];
    memset(big, 'b', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    const char *p[1] = {big};
    CHECK_INT(pgc_op(c, T_TEXT, p, record, &s), -1);
    p[0] = "small";
    CHECK_INT(pgc_op(c, T_TEXT, p, record, &s), 0);
    CHECK_INT(pgc_pending_bytes(c), strlen("small") + 1);
    /* Freed with a query pending: its callback runs, with NULL, once. */
    int before = s.n;
    pgc_free(c);
    CHECK_INT(s.n, before + 1);
    CHECK_INT(s.nulls, 1);
    CHECK_INT(h.down, 0);
}

/* Timeouts and options apply from the first connection when set at once. */
static void settings(void)
{
    struct hooks_seen h = {0};
    struct pgc *c = connect_as("unit-settings", 16, 1 << 20, NULL, &h);
    pgc_set_timeouts(c, 3, 200);
    CHECK_INT(pgc_set_options(c, "-c work_mem=5MB"), 0);
    CHECK(run_until(&h.ready, 1, 10000));
    struct seen s = {0};
    const char *wm[1] = {"work_mem"}, *st[1] = {"statement_timeout"}, *two[1] = {"2"};
    pgc_op(c, T_SETTING, wm, record, &s);
    pgc_op(c, T_SETTING, st, record, &s);
    pgc_op(c, T_SLEEP, two, record, &s);
    CHECK(run_until(&s.n, 3, 5000));
    CHECK_STR(s.val[0], "5MB");
    CHECK_STR(s.val[1], "200ms");
    CHECK_STR(s.sqlstate[2], "57014"); /* canceled by statement_timeout */
    pgc_free(c);
}

/* A connection whose server process dies: what was in flight ends (an
 * error or NULL), on_down runs, then it is back by itself, ready again. */
static void loss(struct pgc *killer)
{
    struct hooks_seen h = {0};
    struct pgc *c = connect_as("unit-victim", 16, 1 << 20, NULL, &h);
    CHECK(run_until(&h.ready, 1, 10000));
    CHECK_INT(pgc_reconnects(c), 1);
    struct seen v = {0}, k = {0};
    const char *three[1] = {"3"}, *victim[1] = {"unit-victim"};
    pgc_op(c, T_SLEEP, three, record, &v);
    run_for(100);
    pgc_op(killer, T_KILL, victim, record, &k);
    /* Either may be seen first: the victim's end or the killer's answer. */
    CHECK(run_until(&k.n, 1, 5000));
    CHECK_STR(k.val[0], "1");
    CHECK(run_until(&v.n, 1, 5000));
    /* The server's last word (57P01), or nothing when the socket went first. */
    CHECK(v.nulls == 1 || strcmp(v.sqlstate[0], "57P01") == 0);
    CHECK(run_until(&h.down, 1, 5000));
    CHECK(!pgc_is_ready(c));
    CHECK_INT(pgc_op(c, MSG_OP_HEALTH, NULL, record, &v), -1);
    CHECK(run_until(&h.ready, 2, 10000));
    CHECK_INT(pgc_reconnects(c), 2);
    const char *back[1] = {"back"};
    pgc_op(c, T_TEXT, back, record, &v);
    CHECK(run_until(&v.n, 2, 5000));
    CHECK_STR(v.val[1], "back");
    pgc_free(c);
}

/* The pool picks a connection that is up; one that never connects is
 * never picked. */
static void pool(struct pgc *up)
{
    struct pgpool p;
    CHECK_INT(pgpool_init(&p, 2), 0);
    struct hooks_seen h = {0};
    struct pgc_hooks hooks = {on_ready, on_down, NULL, &h};
    p.c[0] = pgc_new(ctx, vh, "postgresql:///none?host=/nonexistent-msg-unit", "unit-nowhere", 4, 1024, NULL, &hooks);
    CHECK(pgpool_any(&p) == NULL && pgpool_for(&p, 7) == NULL);
    p.c[1] = up;
    run_for(200);
    CHECK_INT(h.ready, 0);
    CHECK(pgpool_any(&p) == up && pgpool_any(&p) == up);
    CHECK(pgpool_for(&p, 1) == up && pgpool_for(&p, 0) == up); /* 0 is down: any */
    CHECK_INT(pgpool_pending(&p), 0);
    CHECK(pgpool_reconnects(&p) == pgc_reconnects(up));
    struct pgc_stats sum;
    pgpool_stats(&p, &sum);
    CHECK(sum.transactions == pgc_stats(up)->transactions);
    p.c[1] = NULL; /* still the caller's */
    pgpool_free(&p);
    CHECK(p.c == NULL && p.n == 0);
    CHECK(pgpool_any(&p) == NULL);
}

int main(void)
{
    url = getenv("MSG_UNIT_DB_URL");
    if (!url || !*url) {
        fprintf(stderr, "FAIL test_pgconn: MSG_UNIT_DB_URL is not set (scripts/run-unit.sh starts a database)\n");
        CHECK(url != NULL);
        return check_report("pgconn");
    }
    msg_log_set_level(MSG_LOG_ERROR);
    lws_set_log_level(LLL_ERR, NULL);
    struct lws_protocols protocols[2] = {pgc_lws_protocol, {0}};
    struct lws_context_creation_info info;
    memset(&info, 0, sizeof info);
    info.port = CONTEXT_PORT_NO_LISTEN;
    info.protocols = protocols;
    info.vhost_name = "unit";
    info.gid = -1;
    info.uid = -1;
    ctx = lws_create_context(&info);
    vh = ctx ? lws_get_vhost_by_name(ctx, "unit") : NULL;
    CHECK(ctx != NULL && vh != NULL);
    if (!vh)
        return check_report("pgconn");
    tick_cb(&tick);

    struct hooks_seen main_h = {0}, listen_h = {0};
    struct pgc *c = connect_as("unit-main", 256, 1 << 20, NULL, &main_h);
    struct pgc *l = connect_as("unit-listen", 16, 1 << 20, MSG_BUS_CHANNEL, &listen_h);
    CHECK(run_until(&main_h.ready, 1, 10000));
    CHECK(run_until(&listen_h.ready, 1, 10000));
    if (main_h.ready && listen_h.ready) {
        queries_in_order(c);
        group_commit(c, &listen_h);
        back_pressure();
        settings();
        loss(c);
        pool(c);
    }
    pgc_free(l);
    pgc_free(c);
    lws_sul_cancel(&tick);
    lws_context_destroy(ctx);
    return check_report("pgconn");
}
