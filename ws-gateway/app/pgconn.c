#include "pgconn.h"

#include <libwebsockets.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"

#define MAX_IN_FLIGHT 256

enum state { ST_DOWN, ST_CONNECTING, ST_SETUP, ST_READY };

struct item {
    struct item *next;
    enum msg_op op;        /* MSG_OP_COUNT: a plain query */
    char *sql;             /* plain query text, owned */
    int nparams;
    char **params;         /* owned copies */
    pgc_result_cb cb;
    void *arg;
    PGresult *res;         /* last result received for it */
    int setup;             /* part of the connection's own set-up */
    int ended;             /* its results ended (NULL seen), sync pending */
};

struct pgc {
    struct lws_context *ctx;
    struct lws_vhost *vh;
    char *url, *name, *listen;
    struct pgc_hooks hooks;
    size_t max_queue, queued;   /* waiting + in flight */
    enum state st;
    PGconn *conn;
    struct lws *wsi;
    int watched_fd;             /* PQsocket() the wsi watches (via a dup) */
    struct item *wait_head, *wait_tail;   /* not sent yet */
    struct item *fly_head, *fly_tail;     /* sent, awaiting their sync */
    size_t in_flight;
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
    free(it->sql);
    PQclear(it->res);
    free(it);
}

/* Runs the callback (res owned by the item, cleared after) and frees it. */
static void complete(struct pgc *c, struct item *it, PGresult *res)
{
    if (!it->setup)
        c->queued--;
    if (it->cb)
        it->cb(it->arg, res);
    item_free(it);
}

/* Fails every query: in flight and waiting (res == NULL). */
static void fail_all(struct pgc *c)
{
    struct item *lists[2] = {c->fly_head, c->wait_head};
    c->fly_head = c->fly_tail = c->wait_head = c->wait_tail = NULL;
    c->in_flight = 0;
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

static void schedule_reconnect(struct pgc *c);

static void go_down(struct pgc *c, const char *why)
{
    int was_ready = c->st == ST_READY || c->st == ST_SETUP;
    msg_warn("db_down", "conn=%s reason=%s", c->name, why);
    unwatch(c);
    if (c->conn)
        PQfinish(c->conn);
    c->conn = NULL;
    c->st = ST_DOWN;
    fail_all(c);
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

static int send_item(struct pgc *c, struct item *it)
{
    int ok;
    if (it->op < MSG_OP_COUNT)
        ok = PQsendQueryPrepared(c->conn, msg_ops[it->op].name, it->nparams,
                                 (const char *const *)it->params, NULL, NULL, 0);
    else
        ok = PQsendQueryParams(c->conn, it->sql, it->nparams, NULL,
                               (const char *const *)it->params, NULL, NULL, 0);
    /* One sync per query: each is its own transaction and an error in one
     * never aborts the next. */
    return ok && PQpipelineSync(c->conn) ? 0 : -1;
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

static void send_waiting(struct pgc *c)
{
    while (c->wait_head && c->in_flight < MAX_IN_FLIGHT && c->st == ST_READY) {
        struct item *it = c->wait_head;
        c->wait_head = it->next;
        if (!c->wait_head)
            c->wait_tail = NULL;
        push(&c->fly_head, &c->fly_tail, it);
        c->in_flight++;
        if (send_item(c, it) < 0) {
            go_down(c, "send");
            return;
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

/* Reads every result available; completes queries at their sync. */
static void read_results(struct pgc *c)
{
    while (c->conn && c->fly_head && !PQisBusy(c->conn)) {
        struct item *it = c->fly_head;
        PGresult *r = PQgetResult(c->conn);
        if (!r) {
            /* The end of one query's results; its sync follows. A second
             * NULL in a row: nothing more has arrived yet. */
            if (it->ended)
                break;
            it->ended = 1;
            continue;
        }
        if (PQresultStatus(r) != PGRES_PIPELINE_SYNC) {
            PQclear(it->res);
            it->res = r;
            it->ended = 0;
            continue;
        }
        PQclear(r);
        c->fly_head = it->next;
        if (!c->fly_head)
            c->fly_tail = NULL;
        c->in_flight--;
        if (!it->setup) {
            complete(c, it, it->res);
            continue;
        }
        int ok = it->res && (PQresultStatus(it->res) == PGRES_COMMAND_OK ||
                             PQresultStatus(it->res) == PGRES_TUPLES_OK);
        if (!ok) {
            const char *state = it->res ? PQresultErrorField(it->res, PG_DIAG_SQLSTATE) : NULL;
            msg_err("db_setup_failed", "conn=%s sqlstate=%s", c->name, state ? state : "-");
        }
        item_free(it);
        if (!ok) {
            go_down(c, "setup");
            return;
        }
        if (!c->fly_head && c->st == ST_SETUP)
            ready(c);
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
    const char *keys[] = {"dbname", "application_name", "connect_timeout", NULL};
    const char *vals[] = {c->url, c->name, "5", NULL};
    c->conn = PQconnectStartParams(keys, vals, 1);
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

struct pgc *pgc_new(struct lws_context *ctx, struct lws_vhost *vh, const char *url,
                    const char *name, size_t max_queue, const char *listen,
                    const struct pgc_hooks *hooks)
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

void pgc_free(struct pgc *c)
{
    if (!c)
        return;
    lws_sul_cancel(&c->sul);
    unwatch(c);
    if (c->conn)
        PQfinish(c->conn);
    c->conn = NULL;
    c->st = ST_DOWN;
    fail_all(c);
    free(c->url);
    free(c->name);
    free(c->listen);
    free(c);
}

static int enqueue(struct pgc *c, enum msg_op op, const char *sql, int nparams,
                   const char *const *params, pgc_result_cb cb, void *arg)
{
    if (c->st != ST_READY || c->queued >= c->max_queue)
        return -1;
    struct item *it = calloc(1, sizeof *it);
    if (!it)
        return -1;
    it->op = op;
    it->nparams = nparams;
    it->cb = cb;
    it->arg = arg;
    if (sql && !(it->sql = strdup(sql)))
        goto oom;
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
    /* Sent from the writable callback, so that no callback ever runs
     * inside pgc_op(). */
    if (c->wsi)
        lws_callback_on_writable(c->wsi);
    return 0;
oom:
    item_free(it);
    return -1;
}

int pgc_op(struct pgc *c, enum msg_op op, const char *const *params, pgc_result_cb cb, void *arg)
{
    return enqueue(c, op, NULL, msg_ops[op].nparams, params, cb, arg);
}

int pgc_query(struct pgc *c, const char *sql, int nparams, const char *const *params,
              pgc_result_cb cb, void *arg)
{
    return enqueue(c, MSG_OP_COUNT, sql, nparams, params, cb, arg);
}

int pgc_is_ready(const struct pgc *c) { return c->st == ST_READY; }
size_t pgc_pending(const struct pgc *c) { return c->queued; }
unsigned long pgc_reconnects(const struct pgc *c) { return c->reconnects; }
