/* The gateway's periodic work, in one place: one timer a second, and the
 * cadence of each task counted here (no state hidden in the tasks). */
#include <libwebsockets.h>
#include <stdio.h>
#include <string.h>

#include "gateway.h"

#define NET_EVERY 5        /* s: the safety-net read */
#define HEARTBEAT_EVERY 10 /* s: the gateway's heartbeat row */
#define PURGE_EVERY 86400  /* s: the access log's retention purge */

/* A periodic operation whose one parameter is a number of the config;
 * its answer is not awaited. */
static void run_op(struct gateway *g, enum msg_op op, long arg)
{
    struct pgc *db = gw_db(g);
    char num[24];
    snprintf(num, sizeof num, "%ld", arg);
    const char *params[] = {num};
    if (db)
        pgc_op(db, op, params, NULL, NULL);
}

/* Rows of the access log older than audit_retention_days (sql/040_audit.sql);
 * every gateway runs it, which costs a second one nothing. */
static void audit_purge(struct gateway *g) { run_op(g, MSG_OP_AUDIT_PURGE, g->cfg->audit_retention_days); }

/* Users whose last socket closed presence_grace_s ago, or whose gateway
 * died, go offline (sql/043_presence.sql); every second, from every gateway. */
static void presence_sweep(struct gateway *g)
{
    if (strcmp(g->cfg->presence, "off") != 0)
        run_op(g, MSG_OP_PRESENCE_SWEEP, g->cfg->presence_grace_s);
}

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
    if (t->ticks % PURGE_EVERY == 30)
        audit_purge(g);
    presence_sweep(g);
    lws_sul_schedule(g->ctx, 0, &t->sul, tick, LWS_US_PER_SEC);
}

void gw_timers_start(struct gateway *g)
{
    g->timers.g = g;
    g->timers.ticks = 0;
    lws_sul_schedule(g->ctx, 0, &g->timers.sul, tick, LWS_US_PER_SEC);
}

void gw_timers_stop(struct gateway *g) { lws_sul_cancel(&g->timers.sul); }
