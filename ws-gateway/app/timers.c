/* The gateway's periodic work, in one place: one timer a second, and the
 * cadence of each task counted here (no state hidden in the tasks). */
#include <libwebsockets.h>

#include "gateway.h"

#define NET_EVERY 5        /* s: the safety-net read */
#define HEARTBEAT_EVERY 10 /* s: the gateway's heartbeat row */

static void tick(lws_sorted_usec_list_t *sul)
{
    struct gw_timers *t = lws_container_of(sul, struct gw_timers, sul);
    struct gateway *g = t->g;
    t->ticks++;
    gw_release_empty(g);
    gw_ask_pending_cursors(g);
    if (t->ticks % NET_EVERY == 0)
        gw_safety_net(g);
    if (t->ticks % HEARTBEAT_EVERY == 1)
        gw_heartbeat(g);
    lws_sul_schedule(g->ctx, 0, &t->sul, tick, LWS_US_PER_SEC);
}

void gw_timers_start(struct gateway *g)
{
    g->timers.g = g;
    g->timers.ticks = 0;
    lws_sul_schedule(g->ctx, 0, &g->timers.sul, tick, LWS_US_PER_SEC);
}

void gw_timers_stop(struct gateway *g) { lws_sul_cancel(&g->timers.sul); }
