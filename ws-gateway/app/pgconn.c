#include "pgconn.h"

#include <libwebsockets.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "db.h"
#include "log.h"

#define MAX_IN_FLIGHT 256
#define MAX_BATCH 64 /* writes committed together, at most */

enum state { ST_DOWN, ST_CONNECTING, ST_SETUP, ST_READY };

struct item {
    struct item *next;
    enum msg_op op; /* MSG_OP_COUNT: a set-up query (sent by start_setup) */
    int nparams;
    char **params; /* owned copies */
    pgc_result_cb cb;
    void *arg;
    PGresult *res;          /* last result received for it */
    int setup;              /* part of the connection's own set-up */
    int ended;              /* its results ended (NULL seen) */
    int batch;              /* may share a transaction (msg_ops[op].batch) */
    int alone;              /* failed in a batch: its own transaction now */
    int sync;               /* the last query of its transaction */
    int write_tx;           /* (on the last one) a transaction of writes */
    int key;                /* order inside a batch (the conversation) */
    unsigned long long seq; /* order of submission: callbacks run in it */
    size_t bytes;           /* its parameters' size */
};

struct pgc {
    struct lws_context *ctx;
    struct lws_vhost *vh;
    char *url, *name, *listen;
    char *options;                                /* extra libpq options (-c settings), or NULL */
    long connect_timeout_s, statement_timeout_ms; /* of every (re)connection */
    struct pgc_hooks hooks;
    size_t max_queue, queued; /* waiting + in flight */
    size_t max_bytes, bytes;  /* their parameters' bytes */
    unsigned long long seq;
    struct pgc_stats stats;
    enum state st;
    PGconn *conn;
    struct lws *wsi;
    int watched_fd;                     /* PQsocket() the wsi watches (via a dup) */
    struct item *wait_head, *wait_tail; /* not sent yet */
    struct item *fly_head, *fly_tail;   /* sent, awaiting their sync */
    struct item *rd;                    /* the one whose results come next */
    size_t in_flight;
    int writes_in_flight; /* transactions of writes sent, not ended */
    lws_sorted_usec_list_t sul;
    unsigned backoff_ms;
    unsigned long reconnects;
};

static void item_free(struct item *it)
{
    if (it->params)
        for (int i = 0; i < it->nparams; i++)
            free(it->params[i]);
    free(it->params);
    PQclear(it->res);
    free(it);
}

/* Runs the callback (res owned by the item, cleared after) and frees it. */
static void complete(struct pgc *c, struct item *it, PGresult *res)
{
    if (!it->setup) {
        c->queued--;
        c->bytes -= it->bytes;
    }
    if (it->cb)
        it->cb(it->arg, res);
    item_free(it);
}

/* Fails every query: in flight and waiting (res == NULL). */
static void fail_all(struct pgc *c)
{
    struct item *lists[2] = {c->fly_head, c->wait_head};
    c->fly_head = c->fly_tail = c->wait_head = c->wait_tail = c->rd = NULL;
    c->in_flight = 0;
    c->writes_in_flight = 0;
    for (int k = 0; k < 2; k++)
        while (lists[k]) {
            struct item *it = lists[k];
            lists[k] = it->next;
            PQclear(it->res);
            it->res = NULL;
            complete(c, it, NULL);
        }
}

static void unwatch(struct pgc *c)
{
    if (c->wsi) {
        lws_set_opaque_user_data(c->wsi, NULL);
        lws_set_timeout(c->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
        c->wsi = NULL;
    }
    c->watched_fd = -1;
}

static int watch(struct pgc *c)
{
    int fd = PQsocket(c->conn);
    if (fd < 0)
        return -1;
    if (c->wsi && c->watched_fd == fd)
        return 0;
    unwatch(c);
    /* lws closes what it adopted: give it a duplicate, libpq keeps its own. */
    lws_sock_file_fd_type u;
    u.filefd = dup(fd);
    if (u.filefd < 0)
        return -1;
    c->wsi = lws_adopt_descriptor_vhost(c->vh, LWS_ADOPT_RAW_FILE_DESC, u, pgc_lws_protocol.name, NULL);
    if (!c->wsi) {
        close(u.filefd);
        return -1;
    }
    lws_set_opaque_user_data(c->wsi, c);
    c->watched_fd = fd;
    return 0;
}

/* Closes the connection and fails every query waiting on it. */
static void close_conn(struct pgc *c)
{
    unwatch(c);
    if (c->conn)
        PQfinish(c->conn);
    c->conn = NULL;
    c->st = ST_DOWN;
    fail_all(c);
}

static void schedule_reconnect(struct pgc *c);

static void go_down(struct pgc *c, const char *why)
{
    int was_ready = c->st == ST_READY || c->st == ST_SETUP;
    msg_warn("db_down", "conn=%s reason=%s", c->name, why);
    close_conn(c);
    if (was_ready && c->hooks.on_down)
        c->hooks.on_down(c, c->hooks.arg);
    schedule_reconnect(c);
}

static void send_waiting(struct pgc *c);

static void flush(struct pgc *c)
{
    int r = PQflush(c->conn);
    if (r < 0)
        go_down(c, "flush");
    else if (r > 0 && c->wsi)
        lws_callback_on_writable(c->wsi);
}

static int send_query(struct pgc *c, struct item *it)
{
    return PQsendQueryPrepared(c->conn, msg_ops[it->op].name, it->nparams, (const char *const *)it->params, NULL, NULL,
                               0);
}

static void push(struct item **head, struct item **tail, struct item *it)
{
    it->next = NULL;
    if (*tail)
        (*tail)->next = it;
    else
        *head = it;
    *tail = it;
}

static struct item *pop_waiting(struct pgc *c)
{
    struct item *it = c->wait_head;
    c->wait_head = it->next;
    if (!c->wait_head)
        c->wait_tail = NULL;
    return it;
}

static int batchable(const struct item *it) { return it->batch && !it->alone; }

/* Sends the waiting queries. A run of batchable writes goes as one
 * transaction: no sync between them (libpq's pipeline then runs them in one
 * implicit transaction that commits at the sync: group commit), sorted by
 * key so that two connections' batches take conversation locks in the same
 * order. Anything else has a sync of its own. */
static void send_waiting(struct pgc *c)
{
    while (c->wait_head && c->in_flight < MAX_IN_FLIGHT && c->st == ST_READY) {
        struct item *run[MAX_BATCH];
        size_t n = 0;
        /* One transaction of writes at a time: what comes meanwhile waits
         * for it and commits with the next one. */
        if (batchable(c->wait_head) && c->writes_in_flight > 0)
            break;
        if (!batchable(c->wait_head))
            run[n++] = pop_waiting(c);
        else
            while (c->wait_head && batchable(c->wait_head) && n < MAX_BATCH && c->in_flight + n < MAX_IN_FLIGHT)
                run[n++] = pop_waiting(c);
        /* Insertion sort: stable, and n is small. */
        for (size_t i = 1; i < n; i++)
            for (size_t j = i; j > 0 && run[j - 1]->key > run[j]->key; j--) {
                struct item *t = run[j];
                run[j] = run[j - 1];
                run[j - 1] = t;
            }
        int ok = 1;
        for (size_t i = 0; i < n; i++) {
            run[i]->sync = i + 1 == n;
            push(&c->fly_head, &c->fly_tail, run[i]);
            c->in_flight++;
            if (!c->rd)
                c->rd = run[i];
            ok = ok && send_query(c, run[i]);
        }
        if (!ok || !PQpipelineSync(c->conn)) {
            go_down(c, "send");
            return;
        }
        run[n - 1]->write_tx = batchable(run[0]);
        c->writes_in_flight += run[n - 1]->write_tx;
        c->stats.transactions++;
        if (n > 1) {
            c->stats.batches++;
            c->stats.batched += n;
        }
    }
    flush(c);
}

static void ready(struct pgc *c)
{
    c->st = ST_READY;
    c->backoff_ms = 0;
    msg_info("db_ready", "conn=%s reconnects=%lu", c->name, c->reconnects);
    if (c->hooks.on_ready)
        c->hooks.on_ready(c, c->hooks.arg);
    if (c->st == ST_READY)
        send_waiting(c);
}

static int result_ok(const PGresult *r)
{
    return r && (PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK);
}

static void setup_done(struct pgc *c, struct item *it)
{
    int ok = result_ok(it->res);
    if (!ok) {
        const char *state = it->res ? PQresultErrorField(it->res, PG_DIAG_SQLSTATE) : NULL;
        msg_err("db_setup_failed", "conn=%s sqlstate=%s", c->name, state ? state : "-");
    }
    item_free(it);
    if (!ok)
        go_down(c, "setup");
    else if (!c->fly_head && c->st == ST_SETUP)
        ready(c);
}

/* A transaction ended at its sync: fly_head up to `last`. Committed (or a
 * query of its own that failed alone): every callback, in submission
 * order. Rolled back with several in it: the one that failed goes again
 * alone, the others together, first in the queue and in their order. */
static void transaction_done(struct pgc *c, struct item *last)
{
    struct item *list = c->fly_head;
    c->fly_head = last->next;
    if (!c->fly_head)
        c->fly_tail = NULL;
    last->next = NULL;
    c->rd = c->fly_head;
    c->writes_in_flight -= last->write_tx;
    size_t n = 0;
    int failed = 0;
    for (struct item *x = list; x; x = x->next) {
        n++;
        if (!result_ok(x->res))
            failed = 1;
    }
    c->in_flight -= n;
    if (n == 1 && list->setup) {
        setup_done(c, list);
        return;
    }
    /* Back into submission order (insertion sort on seq). */
    struct item *sorted = NULL;
    while (list) {
        struct item *x = list, **at = &sorted;
        list = list->next;
        while (*at && (*at)->seq < x->seq)
            at = &(*at)->next;
        x->next = *at;
        *at = x;
    }
    if (failed && n > 1) {
        c->stats.rollbacks++;
        struct item *tail = sorted;
        for (struct item *x = sorted; x; x = x->next) {
            if (x->res && PQresultStatus(x->res) != PGRES_PIPELINE_ABORTED && !result_ok(x->res))
                x->alone = 1;
            PQclear(x->res);
            x->res = NULL;
            x->ended = x->sync = x->write_tx = 0;
            tail = x;
        }
        tail->next = c->wait_head;
        c->wait_head = sorted;
        if (!c->wait_tail)
            c->wait_tail = tail;
        return;
    }
    while (sorted) {
        struct item *x = sorted;
        sorted = sorted->next;
        complete(c, x, x->res);
    }
}

/* Reads every result available; a transaction's callbacks run at its sync,
 * once it has committed. */
static void read_results(struct pgc *c)
{
    while (c->conn && c->rd && !PQisBusy(c->conn)) {
        struct item *it = c->rd;
        PGresult *r = PQgetResult(c->conn);
        if (!r) {
            /* The end of this query's results. Nothing at all yet, or a
             * second end: wait for more input. */
            if (!it->res || it->ended)
                break;
            it->ended = 1;
            if (!it->sync)
                c->rd = it->next;
            continue;
        }
        if (PQresultStatus(r) == PGRES_PIPELINE_SYNC) {
            PQclear(r);
            transaction_done(c, it);
            continue;
        }
        PQclear(it->res);
        it->res = r;
        it->ended = 0;
    }
}

static void notifies(struct pgc *c)
{
    PGnotify *n;
    while (c->conn && (n = PQnotifies(c->conn))) {
        if (c->hooks.on_notify)
            c->hooks.on_notify(c, n->relname, n->extra, c->hooks.arg);
        PQfreemem(n);
    }
}

static struct item *setup_item(void)
{
    struct item *it = calloc(1, sizeof *it);
    if (it) {
        it->op = MSG_OP_COUNT;
        it->setup = 1;
    }
    return it;
}

/* Prepares the operations (and LISTENs) in one pipelined batch. */
static void start_setup(struct pgc *c)
{
    c->st = ST_SETUP;
    if (PQsetnonblocking(c->conn, 1) != 0 || !PQenterPipelineMode(c->conn)) {
        go_down(c, "pipeline");
        return;
    }
    for (int i = 0; i <= MSG_OP_COUNT; i++) {
        struct item *it = setup_item();
        if (!it) {
            go_down(c, "memory");
            return;
        }
        push(&c->fly_head, &c->fly_tail, it);
        c->in_flight++;
        it->sync = 1;
        if (!c->rd)
            c->rd = it;
        int ok;
        if (i < MSG_OP_COUNT) {
            ok = PQsendPrepare(c->conn, msg_ops[i].name, msg_ops[i].sql, msg_ops[i].nparams, NULL);
        } else {
            char sql[128];
            snprintf(sql, sizeof sql, "LISTEN %s", c->listen ? c->listen : "messaging_unused");
            ok = c->listen ? PQsendQueryParams(c->conn, sql, 0, NULL, NULL, NULL, NULL, 0)
                           : PQsendQueryParams(c->conn, "SELECT 1", 0, NULL, NULL, NULL, NULL, 0);
        }
        if (!ok || !PQpipelineSync(c->conn)) {
            go_down(c, "setup send");
            return;
        }
    }
    flush(c);
}

static void connect_poll(struct pgc *c)
{
    PostgresPollingStatusType st = PQconnectPoll(c->conn);
    if (st == PGRES_POLLING_FAILED) {
        go_down(c, "connect");
        return;
    }
    if (watch(c) < 0) {
        go_down(c, "watch");
        return;
    }
    if (st == PGRES_POLLING_OK) {
        c->reconnects++;
        start_setup(c);
    } else if (st == PGRES_POLLING_WRITING) {
        lws_callback_on_writable(c->wsi);
    }
}

static void start_connect(lws_sorted_usec_list_t *sul)
{
    struct pgc *c = lws_container_of(sul, struct pgc, sul);
    /* The configured timeouts (shared/db.c, as the API's): a database that
     * hangs fails a statement rather than holding its callers for ever. */
    struct msg_db_params p;
    if (msg_db_params_init(&p, c->url, c->name, c->connect_timeout_s, c->statement_timeout_ms) < 0 ||
        (c->options && msg_db_params_add_options(&p, c->options) < 0)) {
        msg_db_params_free(&p);
        go_down(c, "memory");
        return;
    }
    c->conn = PQconnectStartParams(p.keys, p.vals, 1);
    msg_db_params_free(&p); /* libpq copied them */
    if (!c->conn || PQstatus(c->conn) == CONNECTION_BAD) {
        go_down(c, "connect start");
        return;
    }
    c->st = ST_CONNECTING;
    connect_poll(c);
}

static void schedule_reconnect(struct pgc *c)
{
    c->backoff_ms = c->backoff_ms ? c->backoff_ms * 2 : 100;
    if (c->backoff_ms > 5000)
        c->backoff_ms = 5000;
    lws_sul_schedule(c->ctx, 0, &c->sul, start_connect, (lws_usec_t)c->backoff_ms * 1000);
}

static void on_readable(struct pgc *c)
{
    if (c->st == ST_CONNECTING) {
        connect_poll(c);
        return;
    }
    if (!c->conn)
        return;
    if (!PQconsumeInput(c->conn)) {
        go_down(c, "read");
        return;
    }
    read_results(c);
    if (c->conn)
        notifies(c);
    if (c->st == ST_READY)
        send_waiting(c);
}

static void on_writable(struct pgc *c)
{
    if (c->st == ST_CONNECTING)
        connect_poll(c);
    else if (c->st == ST_READY)
        send_waiting(c);
    else if (c->conn)
        flush(c);
}

static int callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in, size_t len)
{
    struct pgc *c = lws_get_opaque_user_data(wsi);
    switch (reason) {
    case LWS_CALLBACK_RAW_RX_FILE:
        if (c)
            on_readable(c);
        break;
    case LWS_CALLBACK_RAW_WRITEABLE_FILE:
        if (c)
            on_writable(c);
        break;
    case LWS_CALLBACK_RAW_CLOSE_FILE:
        if (c && c->wsi == wsi) {
            c->wsi = NULL;
            go_down(c, "socket closed");
        }
        break;
    default:
        break;
    }
    return 0;
}

const struct lws_protocols pgc_lws_protocol = {"messaging-pg", callback, 0, 0, 0, NULL, 0};

struct pgc *pgc_new(struct lws_context *ctx, struct lws_vhost *vh, const char *url, const char *name, size_t max_queue,
                    size_t max_bytes, const char *listen, const struct pgc_hooks *hooks)
{
    struct pgc *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->ctx = ctx;
    c->vh = vh;
    c->url = strdup(url);
    c->name = strdup(name);
    c->listen = listen ? strdup(listen) : NULL;
    c->max_queue = max_queue;
    c->max_bytes = max_bytes;
    c->connect_timeout_s = 5;
    c->statement_timeout_ms = 10000;
    c->watched_fd = -1;
    if (hooks)
        c->hooks = *hooks;
    if (!c->url || !c->name || (listen && !c->listen)) {
        pgc_free(c);
        return NULL;
    }
    lws_sul_schedule(ctx, 0, &c->sul, start_connect, 1);
    return c;
}

int pgc_set_options(struct pgc *c, const char *options)
{
    char *o = strdup(options);
    if (!o)
        return -1;
    free(c->options);
    c->options = o;
    return 0;
}

void pgc_set_timeouts(struct pgc *c, long connect_timeout_s, long statement_timeout_ms)
{
    c->connect_timeout_s = connect_timeout_s;
    c->statement_timeout_ms = statement_timeout_ms;
}

void pgc_free(struct pgc *c)
{
    if (!c)
        return;
    lws_sul_cancel(&c->sul);
    close_conn(c);
    free(c->url);
    free(c->name);
    free(c->options);
    free(c->listen);
    free(c);
}

static int enqueue(struct pgc *c, enum msg_op op, const char *const *params, int key, pgc_result_cb cb, void *arg)
{
    int nparams = msg_ops[op].nparams;
    size_t bytes = 0;
    for (int i = 0; i < nparams; i++)
        bytes += params[i] ? strlen(params[i]) + 1 : 0;
    if (c->st != ST_READY || c->queued >= c->max_queue || c->bytes + bytes > c->max_bytes)
        return -1;
    struct item *it = calloc(1, sizeof *it);
    if (!it)
        return -1;
    it->op = op;
    it->nparams = nparams;
    it->cb = cb;
    it->arg = arg;
    it->batch = msg_ops[op].batch;
    it->key = key;
    it->seq = ++c->seq;
    it->bytes = bytes;
    if (nparams > 0) {
        it->params = calloc((size_t)nparams, sizeof *it->params);
        if (!it->params)
            goto oom;
        for (int i = 0; i < nparams; i++)
            if (params[i] && !(it->params[i] = strdup(params[i])))
                goto oom;
    }
    push(&c->wait_head, &c->wait_tail, it);
    c->queued++;
    c->bytes += bytes;
    /* Sent from the writable callback, so that no callback ever runs
     * inside pgc_op(), and so that what the loop turn queued goes together. */
    if (c->wsi)
        lws_callback_on_writable(c->wsi);
    return 0;
oom:
    item_free(it);
    return -1;
}

int pgc_op(struct pgc *c, enum msg_op op, const char *const *params, pgc_result_cb cb, void *arg)
{
    return enqueue(c, op, params, INT_MAX, cb, arg);
}

int pgc_write(struct pgc *c, enum msg_op op, int conversation, const char *const *params, pgc_result_cb cb, void *arg)
{
    return enqueue(c, op, params, conversation, cb, arg);
}

int pgc_is_ready(const struct pgc *c) { return c->st == ST_READY; }
size_t pgc_pending(const struct pgc *c) { return c->queued; }
size_t pgc_pending_bytes(const struct pgc *c) { return c->bytes; }
unsigned long pgc_reconnects(const struct pgc *c) { return c->reconnects; }
const struct pgc_stats *pgc_stats(const struct pgc *c) { return &c->stats; }
