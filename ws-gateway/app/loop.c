#include "loop.h"

#include <libwebsockets.h>
#include <signal.h>
#include <string.h>
#include <time.h>

#include "log.h"

/* For the poll() loop only: sigaction handlers can do no more than set
 * these and wake lws. */
static volatile sig_atomic_t poll_stop, poll_reload;
static struct lws_context *poll_ctx;

static void on_poll_signal(int sig)
{
    if (sig == SIGHUP)
        poll_reload = 1;
    else
        poll_stop = 1;
    if (poll_ctx)
        lws_cancel_service(poll_ctx);
}

static void on_uv_signal(uv_signal_t *w, int signum)
{
    struct gw_loop *l = w->data;
    if (signum == SIGHUP) {
        if (l->on_reload)
            l->on_reload(l->arg);
        return;
    }
    l->stopping = 1;
    uv_stop(&l->uv);
}

int gw_loop_init(struct gw_loop *l, const char *kind)
{
    memset(l, 0, sizeof *l);
    l->kind = kind && strcmp(kind, "poll") == 0 ? GW_LOOP_POLL : GW_LOOP_UV;
    signal(SIGPIPE, SIG_IGN);
    if (l->kind == GW_LOOP_POLL) {
        struct sigaction sa = {.sa_handler = on_poll_signal};
        sigemptyset(&sa.sa_mask);
        sigaction(SIGTERM, &sa, NULL);
        sigaction(SIGINT, &sa, NULL);
        sigaction(SIGHUP, &sa, NULL);
        return 0;
    }
    if (uv_loop_init(&l->uv) != 0)
        return -1;
    static const int sigs[3] = {SIGTERM, SIGINT, SIGHUP};
    for (int i = 0; i < 3; i++) {
        uv_signal_init(&l->uv, &l->sig[i]);
        l->sig[i].data = l;
        uv_signal_start(&l->sig[i], on_uv_signal, sigs[i]);
    }
    uv_timer_init(&l->uv, &l->drain);
    l->drain.data = l;
    return 0;
}

void *gw_loop_foreign(struct gw_loop *l) { return l->kind == GW_LOOP_UV ? &l->uv : NULL; }

void gw_loop_run(struct gw_loop *l, struct lws_context *ctx, void (*on_reload)(void *arg), void *arg)
{
    l->ctx = ctx;
    l->on_reload = on_reload;
    l->arg = arg;
    if (l->kind == GW_LOOP_UV) {
        uv_run(&l->uv, UV_RUN_DEFAULT);
        return;
    }
    poll_ctx = ctx;
    while (!poll_stop) {
        if (lws_service(ctx, 0) < 0)
            break;
        if (poll_reload) {
            poll_reload = 0;
            if (on_reload)
                on_reload(arg);
        }
    }
}

static long long now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (long long)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

static void drain_tick(uv_timer_t *t) { (void)t; }

void gw_loop_drain(struct gw_loop *l, int (*done)(void *arg), void *arg, unsigned ms)
{
    long long end = now_ms() + ms;
    if (l->kind == GW_LOOP_UV)
        uv_timer_start(&l->drain, drain_tick, 10, 10); /* RUN_ONCE returns at least this often */
    while (!done(arg) && now_ms() < end) {
        if (l->kind == GW_LOOP_UV)
            uv_run(&l->uv, UV_RUN_ONCE);
        else
            lws_service(l->ctx, 10);
    }
    if (l->kind == GW_LOOP_UV)
        uv_timer_stop(&l->drain);
}

static void closed(uv_handle_t *h) { (void)h; }

void gw_loop_settle(void *arg)
{
    struct gw_loop *l = arg;
    if (l->kind != GW_LOOP_UV || l->settled)
        return;
    l->settled = 1;
    for (int i = 0; i < 3; i++)
        uv_close((uv_handle_t *)&l->sig[i], closed);
    uv_close((uv_handle_t *)&l->drain, closed);
    /* lws closes the handles of the context being destroyed: run until
     * every handle is gone. */
    while (uv_run(&l->uv, UV_RUN_DEFAULT) != 0)
        ;
}

void gw_loop_close(struct gw_loop *l)
{
    if (l->kind != GW_LOOP_UV)
        return;
    gw_loop_settle(l);
    if (uv_loop_close(&l->uv) != 0)
        msg_warn("loop_close", "%s", "handles still open");
}
