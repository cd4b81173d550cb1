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
    char opts[160];
    msg_db_session_options(opts, sizeof opts, NULL, "rest", strcmp(cfg->audit_log, "off") != 0);
    return msg_db_set_options(db, opts);
}

int worker_run(int listen_fd, int bell_fd, const struct msg_config *cfg)
{
    bool ring = strcmp(cfg->notify_mode, "doorbell") == 0;
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    struct sigaction sa = {.sa_handler = on_term};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    signal(SIGINT, SIG_IGN);
    signal(SIGPIPE, SIG_IGN);

    /* Signals are taken only while waiting (ppoll), never inside a request. */
    sigset_t blocked, waiting;
    sigemptyset(&blocked);
    sigaddset(&blocked, SIGTERM);
    sigaddset(&blocked, SIGHUP);
    sigprocmask(SIG_BLOCK, &blocked, &waiting);
    sigdelset(&waiting, SIGTERM);
    sigdelset(&waiting, SIGHUP);

    struct msg_db db;
    if (msg_db_init(&db, cfg) < 0 || api_db_options(&db, cfg) < 0)
        return 1;
    size_t max = (size_t)cfg->api_max_connections;
    struct conn *conns = calloc(max, sizeof *conns);
    struct pollfd *pfds = calloc(max + 1, sizeof *pfds);
    size_t *slot_of = calloc(max + 1, sizeof *slot_of);
    if (!conns || !pfds || !slot_of)
        return 1;

    while (!stopping) {
        size_t n = 0, used = 0;
        for (size_t i = 0; i < max; i++)
            if (conns[i].used) {
                pfds[n] = (struct pollfd){.fd = conns[i].req.ipcFd, .events = POLLIN};
                slot_of[n++] = i;
                used++;
            }
        size_t listen_at = n;
        if (used < max)
            pfds[n++] = (struct pollfd){.fd = listen_fd, .events = POLLIN};
        int r = ppoll(pfds, n, NULL, &waiting);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            msg_err("worker_poll_failed", "errno=%d", errno);
            break;
        }
        for (size_t k = 0; k < listen_at && !stopping; k++) {
            if (!pfds[k].revents)
                continue;
            struct conn *c = &conns[slot_of[k]];
            /* The connection nginx kept: read its next request, or find it closed. */
            if (FCGX_Accept_r(&c->req) < 0 || c->req.ipcFd < 0) {
                FCGX_Free(&c->req, 1);
                c->used = false;
                continue;
            }
            int conv = serve(&c->req, cfg, &db);
            if (conv && ring)
                doorbell_ring(bell_fd, conv);
            if (c->req.ipcFd < 0)
                c->used = false;
        }
        if (listen_at < n && pfds[listen_at].revents && !stopping) {
            size_t i = 0;
            while (i < max && conns[i].used)
                i++;
            struct conn *c = &conns[i];
            FCGX_InitRequest(&c->req, listen_fd, 0);
            /* The listening socket is non-blocking: another worker may have
             * taken the connection (EAGAIN), which is fine. */
            if (FCGX_Accept_r(&c->req) < 0) {
                FCGX_Free(&c->req, 1);
                continue;
            }
            int conv = serve(&c->req, cfg, &db);
            if (conv && ring)
                doorbell_ring(bell_fd, conv);
            c->used = c->req.ipcFd >= 0;
        }
    }
    for (size_t i = 0; i < max; i++)
        if (conns[i].used)
            FCGX_Free(&conns[i].req, 1);
    free(conns);
    free(pfds);
    free(slot_of);
    msg_db_close(&db);
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
