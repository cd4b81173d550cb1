#include "worker.h"

#include <errno.h>
#include <fcgiapp.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>

#include "db.h"
#include "doorbell.h"
#include "handlers.h"
#include "log.h"
#include "request.h"

static volatile sig_atomic_t stopping;

static void on_term(int sig)
{
    (void)sig;
    stopping = 1;
}

struct conn {
    FCGX_Request req;
    bool used;
};

/* Answers one request (fr NULL: plain CGI); returns the conversation it
 * emitted an event in, or 0. */
static int answer(FCGX_Request *fr, const struct msg_config *cfg, struct msg_db *db)
{
    struct http_req req;
    struct api_ctx ctx = {.req = &req, .cfg = cfg, .db = db};
    if (http_req_init(&req, fr) < 0) {
        struct msg_error e = msg_error_make(MSG_NOT_FOUND, "Not found");
        http_send_error(&req, &e, NULL);
    } else {
        api_dispatch(&ctx);
    }
    http_req_free(&req);
    return ctx.bell_conversation;
}

/* Returns the conversation the request emitted an event in, or 0. */
static int serve(FCGX_Request *fr, const struct msg_config *cfg, struct msg_db *db)
{
    int events = answer(fr, cfg, db);
    /* Whatever the handler left unread must not be taken for the next
     * request on a kept-alive connection. */
    char sink[4096];
    while (FCGX_GetStr(sink, sizeof sink, fr->in) > 0)
        ;
    FCGX_Finish_r(fr);
    return events;
}

/* The access log's session settings on the worker's connection: via rest. */
static int api_db_options(struct msg_db *db, const struct msg_config *cfg)
{
    char opts[200];
    msg_db_session_options(opts, sizeof opts, NULL, "rest", cfg);
    return msg_db_set_options(db, opts);
}

/* One worker's state: the FastCGI connections it holds and its database. */
struct worker {
    int listen_fd, bell_fd;
    const struct msg_config *cfg;
    bool ring; /* notify_mode doorbell: ring after an event */
    struct msg_db db;
    size_t max;          /* api_max_connections */
    struct conn *conns;  /* max slots */
    struct pollfd *pfds; /* max + 1: the connections, the listening socket */
    size_t *slot_of;     /* pfds[k] is conns[slot_of[k]] */
};

/* Signals are taken only while waiting (ppoll with *waiting), never inside
 * a request. */
static void catch_signals(sigset_t *waiting)
{
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    struct sigaction sa = {.sa_handler = on_term};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    signal(SIGINT, SIG_IGN);
    signal(SIGPIPE, SIG_IGN);
    sigset_t blocked;
    sigemptyset(&blocked);
    sigaddset(&blocked, SIGTERM);
    sigaddset(&blocked, SIGHUP);
    sigprocmask(SIG_BLOCK, &blocked, waiting);
    sigdelset(waiting, SIGTERM);
    sigdelset(waiting, SIGHUP);
}

static int worker_init(struct worker *w, int listen_fd, int bell_fd, const struct msg_config *cfg)
{
    *w = (struct worker){.listen_fd = listen_fd,
                         .bell_fd = bell_fd,
                         .cfg = cfg,
                         .ring = strcmp(cfg->notify_mode, "doorbell") == 0,
                         .max = (size_t)cfg->api_max_connections};
    if (msg_db_init(&w->db, cfg) < 0 || api_db_options(&w->db, cfg) < 0)
        return -1;
    w->conns = calloc(w->max, sizeof *w->conns);
    w->pfds = calloc(w->max + 1, sizeof *w->pfds);
    w->slot_of = calloc(w->max + 1, sizeof *w->slot_of);
    return w->conns && w->pfds && w->slot_of ? 0 : -1;
}

static void worker_free(struct worker *w)
{
    for (size_t i = 0; w->conns && i < w->max; i++)
        if (w->conns[i].used)
            FCGX_Free(&w->conns[i].req, 1);
    free(w->conns);
    free(w->pfds);
    free(w->slot_of);
    msg_db_close(&w->db);
}

/* Fills pfds: the connections held, then the listening socket while a slot
 * is free. Returns how many; *listen_at is the listening socket's index
 * (== the count when it is not polled). */
static size_t poll_set(struct worker *w, size_t *listen_at)
{
    size_t n = 0;
    for (size_t i = 0; i < w->max; i++)
        if (w->conns[i].used) {
            w->pfds[n] = (struct pollfd){.fd = w->conns[i].req.ipcFd, .events = POLLIN};
            w->slot_of[n++] = i;
        }
    *listen_at = n;
    if (n < w->max)
        w->pfds[n++] = (struct pollfd){.fd = w->listen_fd, .events = POLLIN};
    return n;
}

/* Serves the request accepted on c; the slot stays used while nginx keeps
 * the connection. */
static void serve_conn(struct worker *w, struct conn *c)
{
    int conv = serve(&c->req, w->cfg, &w->db);
    if (conv && w->ring)
        doorbell_ring(w->bell_fd, conv);
    c->used = c->req.ipcFd >= 0;
}

/* A connection nginx kept: its next request, or it is found closed. */
static void serve_kept(struct worker *w, struct conn *c)
{
    if (FCGX_Accept_r(&c->req) < 0 || c->req.ipcFd < 0) {
        FCGX_Free(&c->req, 1);
        c->used = false;
        return;
    }
    serve_conn(w, c);
}

/* A new connection on the listening socket, into a free slot. */
static void serve_new(struct worker *w)
{
    size_t i = 0;
    while (i < w->max && w->conns[i].used)
        i++;
    struct conn *c = &w->conns[i];
    FCGX_InitRequest(&c->req, w->listen_fd, 0);
    /* The listening socket is non-blocking: another worker may have taken
     * the connection (EAGAIN), which is fine. */
    if (FCGX_Accept_r(&c->req) < 0) {
        FCGX_Free(&c->req, 1);
        return;
    }
    serve_conn(w, c);
}

int worker_run(int listen_fd, int bell_fd, const struct msg_config *cfg)
{
    sigset_t waiting;
    catch_signals(&waiting);
    struct worker w;
    if (worker_init(&w, listen_fd, bell_fd, cfg) < 0) {
        worker_free(&w);
        return 1;
    }
    while (!stopping) {
        size_t listen_at, n = poll_set(&w, &listen_at);
        if (ppoll(w.pfds, n, NULL, &waiting) < 0) {
            if (errno == EINTR)
                continue;
            msg_err("worker_poll_failed", "errno=%d", errno);
            break;
        }
        for (size_t k = 0; k < listen_at && !stopping; k++)
            if (w.pfds[k].revents)
                serve_kept(&w, &w.conns[w.slot_of[k]]);
        if (listen_at < n && w.pfds[listen_at].revents && !stopping)
            serve_new(&w);
    }
    worker_free(&w);
    return 0;
}

int cgi_run(const struct msg_config *cfg)
{
    struct msg_db db;
    if (msg_db_init(&db, cfg) < 0 || api_db_options(&db, cfg) < 0)
        return 1;
    /* No master here: ring the doorbell on this connection, after commit. */
    int conv = answer(NULL, cfg, &db);
    if (conv && strcmp(cfg->notify_mode, "doorbell") == 0) {
        struct msg_reply r;
        struct msg_error e;
        char convs[24];
        snprintf(convs, sizeof convs, "{%d}", conv);
        const char *params[] = {convs};
        if (msg_db_call(&db, MSG_OP_DOORBELL, params, &r, &e) == 0)
            msg_reply_clear(&r);
    }
    msg_db_close(&db);
    return 0;
}
