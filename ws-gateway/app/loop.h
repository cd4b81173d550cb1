/* The gateway's event loop, one of two:
 *   GW_LOOP_UV    libuv (epoll) as a foreign loop of lws: a turn costs what
 *                 is active. Signals are libuv signal watchers.
 *   GW_LOOP_POLL  lws's own loop on poll(): every turn polls every
 *                 descriptor. Signals through sigaction.
 * Ownership: gw_loop_init fills a struct the caller keeps until
 * gw_loop_close. */
#ifndef GW_LOOP_H
#define GW_LOOP_H

#include <uv.h>

struct lws_context;

enum gw_loop_kind { GW_LOOP_UV, GW_LOOP_POLL };

struct gw_loop {
    enum gw_loop_kind kind;
    uv_loop_t uv;
    uv_signal_t sig[3]; /* TERM, INT, HUP */
    uv_timer_t drain;
    struct lws_context *ctx;
    void (*on_reload)(void *arg);
    void *arg;
    int stopping, settled;
};

/* kind from the configuration ("uv" or "poll"). Returns 0 or -1. */
int gw_loop_init(struct gw_loop *l, const char *kind);
/* What to give lws as info.foreign_loops[0] (NULL for poll). */
void *gw_loop_foreign(struct gw_loop *l);
/* Runs until SIGTERM or SIGINT; on SIGHUP calls on_reload(arg). */
void gw_loop_run(struct gw_loop *l, struct lws_context *ctx, void (*on_reload)(void *arg), void *arg);
/* Runs the loop while done(arg) is 0, for at most ms. */
void gw_loop_drain(struct gw_loop *l, int (*done)(void *arg), void *arg, unsigned ms);
/* Once the lws context is being destroyed (eio_host_free_with's settle):
 * closes the loop's own handles and runs it until lws has closed its. */
void gw_loop_settle(void *loop);
/* Closes the loop (settling it first if needed). */
void gw_loop_close(struct gw_loop *l);

#endif
