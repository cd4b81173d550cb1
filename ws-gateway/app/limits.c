/* Limits that protect everyone else (API.md section 8): a token bucket per
 * socket and client event, with the figures of messaging.conf for its class;
 * and the flood rule: a socket that sends more than GW_FLOOD_FACTOR times a
 * rate in each of GW_FLOOD_SECONDS one-second windows in a row is
 * disconnected. All O(1) per event. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "gateway.h"
#include "log.h"

static enum gw_limit_event event_of(const char *name)
{
    static const char *const names[LIM_COUNT - 1] = {"join_room",    "leave_room",  "send_message", "mark_as_read",
                                                     "typing_start", "typing_stop", "refresh_token"};
    for (int i = 0; i < LIM_COUNT - 1; i++)
        if (strcmp(names[i], name) == 0)
            return (enum gw_limit_event)i;
    return LIM_OTHER;
}

static void figures(const struct msg_config *cfg, enum gw_limit_event e, double *rate, double *burst)
{
    switch (e) {
    case LIM_JOIN:
    case LIM_LEAVE:
        *rate = (double)cfg->ws_rate_rooms, *burst = (double)cfg->ws_burst_rooms;
        break;
    case LIM_TYPING_START:
    case LIM_TYPING_STOP:
        *rate = (double)cfg->ws_rate_typing, *burst = (double)cfg->ws_burst_typing;
        break;
    case LIM_REFRESH:
        *rate = (double)cfg->ws_rate_refresh, *burst = (double)cfg->ws_burst_refresh;
        break;
    default:
        *rate = (double)cfg->ws_rate_messages, *burst = (double)cfg->ws_burst_messages;
    }
}

/* The flood rule's window: one second; a gap of a whole window or more
 * starts the count again. */
static int flooding(const struct msg_config *cfg, struct gw_limits *l, enum gw_limit_event e, long long now)
{
    if (now - l->win_ms >= 1000) {
        int over = 0;
        for (int i = 0; i < LIM_COUNT; i++) {
            double rate, burst;
            figures(cfg, (enum gw_limit_event)i, &rate, &burst);
            if ((double)l->win_n[i] > GW_FLOOD_FACTOR * rate)
                over = 1;
        }
        l->over = over && now - l->win_ms < 2000 ? l->over + 1 : 0;
        memset(l->win_n, 0, sizeof l->win_n);
        l->win_ms = now;
    }
    l->win_n[e]++;
    /* GW_FLOOD_SECONDS whole windows over in a row. */
    return l->over >= GW_FLOOD_SECONDS;
}

enum gw_limit_verdict gw_limit_take(struct gateway *g, struct gw_client *c, const char *event, long long *retry_ms)
{
    struct gw_limits *l = &c->lim;
    enum gw_limit_event e = event_of(event);
    long long now = msg_now_ms();
    if (flooding(g->cfg, l, e, now))
        return GW_LIMIT_FLOOD;
    double rate, burst;
    figures(g->cfg, e, &rate, &burst);
    if (!l->at_ms[e]) {
        l->tokens[e] = burst;
    } else {
        l->tokens[e] += (double)(now - l->at_ms[e]) * rate / 1000.0;
        if (l->tokens[e] > burst)
            l->tokens[e] = burst;
    }
    l->at_ms[e] = now ? now : 1;
    if (l->tokens[e] >= 1.0) {
        l->tokens[e] -= 1.0;
        return GW_LIMIT_OK;
    }
    *retry_ms = (long long)ceil((1.0 - l->tokens[e]) * 1000.0 / rate);
    if (*retry_ms < 1)
        *retry_ms = 1;
    return GW_LIMIT_REFUSED;
}

/* ---------------------------------------------------------------- shares */

size_t gw_params_bytes(enum msg_op op, const char *const *params)
{
    size_t n = 0;
    for (int i = 0; i < msg_ops[op].nparams; i++)
        if (params[i])
            n += strlen(params[i]);
    return n;
}

int gw_share_fits(const struct gw_client *c, size_t bytes)
{
    return c->inflight < GW_MAX_INFLIGHT && c->inflight_bytes + bytes <= GW_INFLIGHT_BYTES;
}

void gw_share_take(struct gw_client *c, size_t bytes)
{
    c->inflight++;
    c->inflight_bytes += bytes;
}

void gw_share_put(struct gw_client *c, size_t bytes)
{
    if (c->inflight > 0)
        c->inflight--;
    c->inflight_bytes = c->inflight_bytes > bytes ? c->inflight_bytes - bytes : 0;
}

struct counted {
    struct gateway *g;
    uint64_t socket_id;
    size_t bytes;
};

static void counted_done(void *arg, PGresult *res)
{
    struct counted *k = arg;
    (void)res;
    sio_socket *s = sio_socket_find(k->g->srv, k->socket_id);
    struct gw_client *c = s ? sio_socket_user(s) : NULL;
    if (c)
        gw_share_put(c, k->bytes);
    free(k);
}

int gw_op_counted(struct gateway *g, struct gw_client *c, struct pgc *db, enum msg_op op, const char *const *params,
                  int optional)
{
    size_t bytes = gw_params_bytes(op, params);
    if (!db || (optional && !gw_share_fits(c, bytes)))
        return -1;
    struct counted *k = malloc(sizeof *k);
    if (!k)
        return -1;
    *k = (struct counted){g, c->socket_id, bytes};
    if (pgc_op(db, op, params, counted_done, k) < 0) {
        free(k);
        return -1;
    }
    gw_share_take(c, bytes);
    return 0;
}
