/* Delivery through the database: events committed by anyone (the REST API,
 * another gateway, this one) reach the rooms this gateway holds, in each
 * conversation's order, once. NOTIFY is only a doorbell: on each ring, after
 * a write of ours, after reconnecting and on a timer, the events newer than
 * each held conversation's cursor are read (messaging.events_since_each) and
 * sent. Whole events carried by a NOTIFY are treated as doorbells too, since
 * an earlier event of the same conversation may not have been read yet. */
#include <libwebsockets.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include "gateway.h"
#include "log.h"
#include "sbuf.h"

#define CATCHUP_LIMIT 2000

void gw_room_name(int conv, char *buf, size_t cap) { snprintf(buf, cap, "conversation_%d", conv); }

static struct gw_conv *conv_get(struct gateway *g, int id)
{
    return (struct gw_conv *)imap_get(&g->convs, id);
}

/* ---------------------------------------------------------------- holding */

static void cursor_read(void *arg, PGresult *res);

struct cursor_ctx {
    struct gateway *g;
    int conv;
};

static void ask_cursor(struct gateway *g, struct gw_conv *cv)
{
    struct cursor_ctx *x = malloc(sizeof *x);
    if (!x)
        return;
    x->g = g;
    x->conv = cv->id;
    char id[16];
    snprintf(id, sizeof id, "%d", cv->id);
    const char *params[] = {id};
    if (pgc_op(g->listen, MSG_OP_CONVERSATION_CURSOR, params, cursor_read, x) < 0) {
        free(x); /* retried by the tick */
        return;
    }
    cv->cursor_inflight = 1;
}

static void cursor_read(void *arg, PGresult *res)
{
    struct cursor_ctx *x = arg;
    struct gateway *g = x->g;
    struct gw_conv *cv = conv_get(g, x->conv);
    free(x);
    if (!cv)
        return;
    cv->cursor_inflight = 0;
    if (!res || PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1)
        return; /* still pending: the tick asks again */
    cv->cursor = atoll(PQgetvalue(res, 0, 0));
    cv->state = CONV_READY;
    /* Anything that rang while we did not know where to start. */
    if (cv->missed) {
        cv->missed = 0;
        gw_catch_up(g);
    }
}

void gw_hold(struct gateway *g, int conv)
{
    if (conv_get(g, conv))
        return;
    struct gw_conv *cv = calloc(1, sizeof *cv);
    if (!cv || imap_put(&g->convs, conv, (intptr_t)cv) < 0) {
        free(cv);
        return;
    }
    cv->id = conv;
    cv->state = CONV_PENDING;
    ask_cursor(g, cv);
}

void gw_release_empty(struct gateway *g)
{
    size_t i = 0;
    int id;
    intptr_t v;
    int drop[256], n = 0;
    while (imap_next(&g->convs, &i, &id, &v)) {
        char room[32];
        gw_room_name(id, room, sizeof room);
        if (sio_room_size(g->srv, GW_NS, room) == 0 && n < 256)
            drop[n++] = id;
    }
    for (int k = 0; k < n; k++) {
        free((void *)imap_get(&g->convs, drop[k]));
        imap_del(&g->convs, drop[k]);
    }
}

/* ---------------------------------------------------------------- sending */

static double now_s(void)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (double)tv.tv_sec + tv.tv_usec / 1e6;
}

/* Seconds since an ISO timestamp "2026-11-24T09:30:00.123Z", or -1. */
static double age_of(const char *iso)
{
    struct tm tm = {0};
    int ms = 0;
    if (!iso || sscanf(iso, "%4d-%2d-%2dT%2d:%2d:%2d.%3dZ", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
                       &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &ms) != 7)
        return -1;
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    return now_s() - ((double)timegm(&tm) + ms / 1000.0);
}

static void record_lag(struct gateway *g, json_object *data)
{
    json_object *m, *t;
    if (!json_object_object_get_ex(data, "message", &m) || !json_object_object_get_ex(m, "sentAt", &t))
        return;
    double lag = age_of(json_object_get_string(t));
    if (lag < 0)
        lag = 0;
    g->stats.lag_sum += lag;
    g->stats.lag_count++;
    if (lag > g->stats.lag_max)
        g->stats.lag_max = lag;
    static const double bounds[] = {0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 1, 1e300};
    for (int b = 0; b < 8; b++)
        if (lag <= bounds[b]) {
            g->stats.lag_buckets[b]++;
            break;
        }
}

/* Sends one stored event to its room if it is the next one there. */
void gw_deliver(struct gateway *g, long long id, int conv, const char *kind, const char *payload)
{
    struct gw_conv *cv = conv_get(g, conv);
    if (!cv)
        return;
    if (cv->state != CONV_READY) {
        cv->missed = 1;
        return;
    }
    if (id <= cv->cursor)
        return; /* already sent */
    cv->cursor = id;
    unsigned slot = (unsigned)(cv->ring_n++ % GW_RING);
    cv->ring_seq[slot] = ++g->deliver_seq;
    cv->ring_id[slot] = id;
    json_object *data = json_tokener_parse(payload);
    if (!data)
        return;
    json_object *args = json_object_new_array();
    json_object_array_add(args, data);
    /* The event id is the offset of connection state recovery, as the
     * stock client expects it: the last argument, a string. */
    char offset[24];
    snprintf(offset, sizeof offset, "%lld", id);
    json_object_array_add(args, json_object_new_string(offset));
    char room[32];
    gw_room_name(conv, room, sizeof room);
    int n = sio_emit_room(g->srv, GW_NS, room, NULL, kind, args, NULL, 0);
    if (n > 0) {
        g->stats.events_out[gw_event_index(kind)] += (unsigned long long)n;
        g->stats.deliveries++;
        if (strcmp(kind, "new_message") == 0)
            record_lag(g, data);
    }
    json_object_put(args);
}

/* ---------------------------------------------------------------- reading */

static void start_catch_up(struct gateway *g);
static void ring_now(struct gateway *g);

static void caught_up(void *arg, PGresult *res)
{
    struct gateway *g = arg;
    g->catchup_inflight = 0;
    if (res && PQresultStatus(res) == PGRES_TUPLES_OK) {
        int n = PQntuples(res);
        for (int i = 0; i < n; i++)
            gw_deliver(g, atoll(PQgetvalue(res, i, 0)), atoi(PQgetvalue(res, i, 1)), PQgetvalue(res, i, 2),
                       PQgetvalue(res, i, 3));
        if (n >= CATCHUP_LIMIT) {
            g->catchup_again = 1;
            g->catchup_full = 1;
        }
    } else {
        /* The connection is down: everything again once it is back. */
        g->catchup_again = 1;
        g->catchup_full = 1;
        return;
    }
    if (g->catchup_again)
        start_catch_up(g);
}

/* Reads, for the conversations asked (all when catchup_full), what is newer
 * than their cursors: one query in flight at a time, the rest coalesced. */
static void start_catch_up(struct gateway *g)
{
    if (g->catchup_inflight) {
        g->catchup_again = 1;
        return;
    }
    g->catchup_again = 0;
    int full = g->catchup_full;
    struct sbuf convs, curs;
    sbuf_init(&convs);
    sbuf_init(&curs);
    sbuf_puts(&convs, "{");
    sbuf_puts(&curs, "{");
    size_t i = 0;
    int id, count = 0;
    intptr_t v;
    const struct imap *which = full ? &g->convs : &g->catchup_convs;
    while (imap_next(which, &i, &id, &v)) {
        struct gw_conv *cv = (struct gw_conv *)imap_get(&g->convs, id);
        if (!cv)
            continue;
        if (cv->state != CONV_READY) {
            cv->missed = 1;
            continue;
        }
        sbuf_printf(&convs, "%s%d", count ? "," : "", id);
        sbuf_printf(&curs, "%s%lld", count ? "," : "", cv->cursor);
        count++;
    }
    sbuf_puts(&convs, "}");
    sbuf_puts(&curs, "}");
    g->catchup_full = 0;
    imap_free(&g->catchup_convs);
    if (count > 0 && sbuf_ok(&convs) && sbuf_ok(&curs)) {
        char lim[16];
        snprintf(lim, sizeof lim, "%d", CATCHUP_LIMIT);
        const char *params[] = {convs.p, curs.p, lim};
        if (pgc_op(g->listen, MSG_OP_EVENTS_FOR, params, caught_up, g) == 0) {
            g->catchup_inflight = 1;
            g->stats.catchups++;
        } else {
            g->catchup_again = 1;
            g->catchup_full = 1;
        }
    }
    sbuf_free(&convs);
    sbuf_free(&curs);
}

void gw_catch_up(struct gateway *g)
{
    g->catchup_full = 1;
    start_catch_up(g);
}

void gw_catch_up_conv(struct gateway *g, int conv)
{
    if (!imap_has(&g->convs, conv))
        return;
    if (!g->catchup_full)
        imap_put(&g->catchup_convs, conv, 1);
    start_catch_up(g);
}

void gw_deliver_next(struct gateway *g, long long id, long long prev, int conv, const char *kind,
                     const char *payload)
{
    struct gw_conv *cv = (struct gw_conv *)imap_get(&g->convs, conv);
    if (!cv)
        return;
    if (cv->state == CONV_READY && cv->cursor == prev)
        gw_deliver(g, id, conv, kind, payload);
    else
        gw_catch_up_conv(g, conv);
}

/* ---------------------------------------------------------------- doorbell */

static void rang(void *arg, PGresult *res)
{
    struct gateway *g = arg;
    g->bell_inflight = 0;
    if (g->bell_again)
        ring_now(g);
}

/* {"upTo":0,"origin":"<us>","conversations":[...]}: the other gateways read
 * only those conversations; too many for NOTIFY's 8000 bytes: all. */
static void ring_now(struct gateway *g)
{
    g->bell_again = 0;
    struct pgc *db = gw_db(g);
    if (!db) {
        imap_free(&g->bell_convs);
        return;
    }
    struct sbuf p;
    sbuf_init(&p);
    sbuf_printf(&p, "{\"upTo\":0,\"origin\":\"%s\"", g->instance);
    if (g->bell_convs.len <= 600) {
        sbuf_puts(&p, ",\"conversations\":[");
        size_t i = 0;
        int id, n = 0;
        intptr_t v;
        while (imap_next(&g->bell_convs, &i, &id, &v))
            sbuf_printf(&p, "%s%d", n++ ? "," : "", id);
        sbuf_puts(&p, "]");
    }
    sbuf_puts(&p, "}");
    imap_free(&g->bell_convs);
    const char *params[] = {p.p};
    if (sbuf_ok(&p) && pgc_op(db, MSG_OP_NOTIFY, params, rang, g) == 0) {
        g->bell_inflight = 1;
        g->stats.doorbells_sent++;
    }
    sbuf_free(&p);
}

void gw_ring(struct gateway *g, int conv)
{
    imap_put(&g->bell_convs, conv, 1);
    if (g->bell_inflight) {
        g->bell_again = 1;
        return;
    }
    ring_now(g);
}

/* ---------------------------------------------------------------- LISTEN */

static void ephemeral(struct gateway *g, json_object *o)
{
    json_object *k, *c, *u, *origin;
    if (!json_object_object_get_ex(o, "kind", &k) || !json_object_object_get_ex(o, "conversationId", &c) ||
        !json_object_object_get_ex(o, "userId", &u) || !json_object_object_get_ex(o, "origin", &origin))
        return;
    /* Our own: the room here was told already. */
    if (strcmp(json_object_get_string(origin), g->instance) == 0)
        return;
    const char *kind = json_object_get_string(k);
    if (strcmp(kind, "typing_start") != 0 && strcmp(kind, "typing_stop") != 0)
        return;
    int conv = json_object_get_int(c);
    if (!conv_get(g, conv))
        return;
    char room[32];
    gw_room_name(conv, room, sizeof room);
    json_object *d = json_object_new_object();
    json_object_object_add(d, "conversationId", json_object_new_int(conv));
    json_object_object_add(d, "userId", json_object_new_int(json_object_get_int(u)));
    json_object *args = json_object_new_array();
    json_object_array_add(args, d);
    int n = sio_emit_room(g->srv, GW_NS, room, NULL, kind, args, NULL, 0);
    if (n > 0)
        g->stats.events_out[gw_event_index(kind)] += (unsigned long long)n;
    json_object_put(args);
}

void gw_on_notify(struct pgc *c, const char *channel, const char *payload, void *arg)
{
    struct gateway *g = arg;
    g->stats.notifications++;
    json_object *o = json_tokener_parse(payload), *v, *origin;
    if (!o || !json_object_is_type(o, json_type_object)) {
        gw_catch_up(g);
    } else if (json_object_object_get_ex(o, "kind", &v) && json_object_object_get_ex(o, "origin", &origin) &&
               !json_object_object_get_ex(o, "id", NULL)) {
        ephemeral(g, o); /* typing */
    } else if (json_object_object_get_ex(o, "origin", &origin) &&
               strcmp(json_object_get_string(origin), g->instance) == 0) {
        /* Our own doorbell: our rooms were served when we wrote. */
    } else if (json_object_object_get_ex(o, "conversations", &v) && json_object_is_type(v, json_type_array)) {
        size_t n = json_object_array_length(v);
        for (size_t i = 0; i < n; i++)
            gw_catch_up_conv(g, json_object_get_int(json_object_array_get_idx(v, i)));
    } else if (json_object_object_get_ex(o, "conversationId", &v) && json_object_object_get_ex(o, "id", NULL)) {
        gw_catch_up_conv(g, json_object_get_int(v)); /* an event, whole or by id: read in order */
    } else {
        gw_catch_up(g); /* a doorbell for everything (the API's) */
    }
    json_object_put(o);
}

void gw_on_listen_ready(struct pgc *c, void *arg)
{
    struct gateway *g = arg;
    /* LISTEN again: what was committed meanwhile is read now. */
    g->catchup_inflight = 0;
    size_t i = 0;
    int id;
    intptr_t v;
    while (imap_next(&g->convs, &i, &id, &v)) {
        struct gw_conv *cv = (struct gw_conv *)v;
        if (cv->state == CONV_PENDING && !cv->cursor_inflight)
            ask_cursor(g, cv);
    }
    gw_catch_up(g);
}

/* Every second: rooms that emptied, cursors still unknown, and a read as a
 * safety net for a lost doorbell. */
static void tick(lws_sorted_usec_list_t *sul)
{
    struct gateway *g = lws_container_of(sul, struct gateway, tick);
    gw_release_empty(g);
    size_t i = 0;
    int id;
    intptr_t v;
    while (imap_next(&g->convs, &i, &id, &v)) {
        struct gw_conv *cv = (struct gw_conv *)v;
        if (cv->state == CONV_PENDING && !cv->cursor_inflight)
            ask_cursor(g, cv);
    }
    static unsigned n;
    if (++n % 5 == 0)
        gw_catch_up(g);
    if (n % 10 == 1)
        gw_heartbeat(g);
    lws_sul_schedule(g->ctx, 0, &g->tick, tick, LWS_US_PER_SEC);
}

void gw_delivery_start(struct gateway *g)
{
    lws_sul_schedule(g->ctx, 0, &g->tick, tick, LWS_US_PER_SEC);
}
