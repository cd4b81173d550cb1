/* The doorbell and LISTEN: how events committed by anyone (the REST API,
 * another gateway, this one) reach the rooms held here, in each
 * conversation's order, once. NOTIFY is only a doorbell (shared/bus.h):
 * a bell names conversations, and only those of them held here are read
 * (messaging.events_since_each from their cursors). Nothing is read for a
 * conversation that did not ring, so the cost follows the messages, not the
 * rooms held. Everything is read again only after the LISTEN connection
 * came back (notifications were lost meanwhile) or for a bell that names
 * nothing. A safety net (gw_safety_net, from the timer) covers a writer
 * that committed and never rang: one primary-key probe when nothing
 * changed. */
#include <libwebsockets.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <stdint.h>

#include "bus.h"
#include "gateway.h"
#include "log.h"
#include "sbuf.h"

#define CATCHUP_LIMIT 2000 /* events per read; more: read again */
#define NET_LIMIT 20000    /* ids per safety-net read */

/* ---------------------------------------------------------------- holding */
/* Where a room starts: its conversation's newest event id, read on the
 * delivery connection before any later read of its events. */

struct cursor_ctx {
    struct gateway *g;
    int conv;
};

static void cursor_read(void *arg, PGresult *res)
{
    struct cursor_ctx *x = arg;
    struct gateway *g = x->g;
    int x_conv = x->conv;
    struct gw_conv *cv = gw_conv_get(g, x_conv);
    free(x);
    if (!cv)
        return;
    cv->cursor_inflight = 0;
    /* No answer: still pending, the timer asks again. Already ready: a
     * restore's replay knew the cursor first (recovery.c). */
    if (!res || PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1 || cv->state != CONV_PENDING)
        return;
    gw_conv_ready(g, cv, atoll(PQgetvalue(res, 0, 0)));
}

void gw_conv_ready(struct gateway *g, struct gw_conv *cv, long long cursor)
{
    int conv = cv->id;
    cv->cursor = cursor;
    cv->state = CONV_READY;
    /* The joins that waited for it, in their order. */
    struct gw_joiner *j = cv->joiners;
    int nj = cv->njoiners;
    cv->joiners = NULL;
    cv->njoiners = cv->capjoiners = 0;
    for (int k = 0; k < nj; k++) {
        sio_socket *s = sio_socket_find(g->srv, j[k].socket_id);
        if (s && sio_socket_user(s))
            gw_join_now(g, s, conv, j[k].ack_id, j[k].presence);
    }
    free(j);
    if (!(cv = gw_conv_get(g, conv)))
        return;
    /* Anything that rang while we did not know where to start. */
    if (cv->missed) {
        cv->missed = 0;
        gw_catch_up_conv(g, cv->id);
    }
}

void gw_ask_cursor(struct gateway *g, struct gw_conv *cv)
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
        free(x); /* retried by the timer */
        return;
    }
    cv->cursor_inflight = 1;
}

void gw_hold(struct gateway *g, int conv)
{
    if (gw_conv_get(g, conv))
        return;
    struct gw_conv *cv = calloc(1, sizeof *cv);
    if (!cv || imap_put(&g->convs, conv, (intptr_t)cv) < 0) {
        free(cv);
        return;
    }
    cv->id = conv;
    cv->state = CONV_PENDING;
    gw_ask_cursor(g, cv);
}

void gw_join_now(struct gateway *g, sio_socket *s, int conv, int64_t ack_id, const char *presence)
{
    char room[32];
    gw_room_name(conv, room, sizeof room);
    sio_join(s, room);
    gw_session_joined(g, sio_socket_user(s), conv);
    json_object *d = gw_conv_object(conv);
    gw_emit(g, s, "room_joined", d);
    /* The other participant's presence, right after (sql/043). */
    if (presence && presence[0] && strcmp(g->cfg->presence, "off") != 0) {
        char arr[GW_PRESENCE_MAX + 16];
        int n = snprintf(arr, sizeof arr, "[\"presence\",%s]", presence);
        if (n > 0 && (size_t)n < sizeof arr && sio_emit_text(s, arr, (size_t)n) == 0)
            g->stats.events_out[gw_event_index("presence")]++;
    }
    gw_ack_conv(s, ack_id, conv);
    json_object_put(d);
}

void gw_join(struct gateway *g, sio_socket *s, int conv, int64_t ack_id, const char *presence)
{
    gw_hold(g, conv);
    struct gw_conv *cv = gw_conv_get(g, conv);
    if (cv && cv->state == CONV_PENDING) {
        if (cv->njoiners == cv->capjoiners) {
            int cap = cv->capjoiners ? cv->capjoiners * 2 : 4;
            struct gw_joiner *j = realloc(cv->joiners, (size_t)cap * sizeof *j);
            if (!j) {
                gw_fail(g, s, "join_room", ack_id, MSG_UNAVAILABLE, "Out of memory");
                return;
            }
            cv->joiners = j;
            cv->capjoiners = cap;
        }
        struct gw_joiner *nj = &cv->joiners[cv->njoiners++];
        nj->socket_id = sio_socket_id(s);
        nj->ack_id = ack_id;
        snprintf(nj->presence, sizeof nj->presence, "%s",
                 presence && strlen(presence) < sizeof nj->presence ? presence : "");
        return;
    }
    /* Ready (or not held: out of memory): the room's sends start from its
     * cursor, which every later event is after. */
    gw_join_now(g, s, conv, ack_id, presence);
}

void gw_ask_pending_cursors(struct gateway *g)
{
    size_t i = 0;
    int id;
    intptr_t v;
    while (imap_next(&g->convs, &i, &id, &v)) {
        struct gw_conv *cv = (struct gw_conv *)v;
        if (cv->state == CONV_PENDING && !cv->cursor_inflight)
            gw_ask_cursor(g, cv);
    }
}

void gw_deliver_next(struct gateway *g, long long id, long long prev, int conv, const char *kind, const char *data)
{
    struct gw_conv *cv = gw_conv_get(g, conv);
    if (!cv)
        return;
    if (cv->state == CONV_READY && cv->cursor == prev)
        gw_deliver(g, id, conv, kind, data);
    else
        gw_catch_up_conv(g, conv);
}

/* ---------------------------------------------------------------- reading */

static void start_catch_up(struct gateway *g);

static void caught_up(void *arg, PGresult *res)
{
    struct gateway *g = arg;
    struct gw_bus *b = &g->bus;
    b->catchup_inflight = 0;
    if (res && PQresultStatus(res) == PGRES_TUPLES_OK) {
        int n = PQntuples(res);
        for (int i = 0; i < n; i++)
            gw_deliver(g, atoll(PQgetvalue(res, i, 0)), atoi(PQgetvalue(res, i, 1)), PQgetvalue(res, i, 2),
                       PQgetisnull(res, i, 3) ? NULL : PQgetvalue(res, i, 3));
        if (n >= CATCHUP_LIMIT) {
            /* A prefix per conversation was read: go on from the cursors. */
            b->catchup_again = 1;
            b->catchup_full = 1;
        }
    } else {
        /* The connection is down: everything again once it is back. */
        b->catchup_full = 1;
        return;
    }
    if (b->catchup_again)
        start_catch_up(g);
}

/* Reads, for the conversations asked (all held when catchup_full), what is
 * newer than their cursors: one query in flight at a time, the rest
 * coalesced into the next. */
static void start_catch_up(struct gateway *g)
{
    struct gw_bus *b = &g->bus;
    if (b->catchup_inflight) {
        b->catchup_again = 1;
        return;
    }
    b->catchup_again = 0;
    int full = b->catchup_full;
    struct sbuf convs, curs;
    sbuf_init(&convs);
    sbuf_init(&curs);
    sbuf_puts(&convs, "{");
    sbuf_puts(&curs, "{");
    size_t i = 0;
    int id, count = 0;
    intptr_t v;
    const struct imap *which = full ? &g->convs : &b->catchup_convs;
    while (imap_next(which, &i, &id, &v)) {
        struct gw_conv *cv = gw_conv_get(g, id);
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
    b->catchup_full = 0;
    imap_free(&b->catchup_convs);
    if (count > 0 && sbuf_ok(&convs) && sbuf_ok(&curs)) {
        char lim[16];
        snprintf(lim, sizeof lim, "%d", CATCHUP_LIMIT);
        const char *params[] = {convs.p, curs.p, lim};
        if (pgc_op(g->listen, MSG_OP_EVENTS_FOR, params, caught_up, g) == 0) {
            b->catchup_inflight = 1;
            g->stats.catchups++;
            g->stats.catchup_rooms += (unsigned long long)count;
        } else {
            b->catchup_full = 1; /* down or full: the timer tries again */
        }
    }
    sbuf_free(&convs);
    sbuf_free(&curs);
}

void gw_catch_up(struct gateway *g)
{
    g->bus.catchup_full = 1;
    start_catch_up(g);
}

void gw_catch_up_conv(struct gateway *g, int conv)
{
    if (!imap_has(&g->convs, conv))
        return;
    if (!g->bus.catchup_full)
        imap_put(&g->bus.catchup_convs, conv, 1);
    start_catch_up(g);
}

/* ---------------------------------------------------------------- safety net */

static void net_read(void *arg, PGresult *res)
{
    struct gateway *g = arg;
    struct gw_bus *b = &g->bus;
    b->net_inflight = 0;
    if (!res || PQresultStatus(res) != PGRES_TUPLES_OK)
        return;
    int n = PQntuples(res);
    if (b->net_after < 0) {
        /* The first probe: where the table ends now. */
        long long top = n == 1 ? atoll(PQgetvalue(res, 0, 0)) : 0;
        b->net_after = b->net_top = top;
        return;
    }
    long long top = b->net_top;
    for (int i = 0; i < n; i++) {
        long long id = atoll(PQgetvalue(res, i, 0));
        struct gw_conv *cv = gw_conv_get(g, atoi(PQgetvalue(res, i, 1)));
        if (cv && cv->state == CONV_READY && id > cv->cursor) {
            gw_catch_up_conv(g, cv->id);
            g->stats.net_catches++;
        }
        if (id > top)
            top = id;
    }
    if (n >= NET_LIMIT) {
        /* Behind by more than a read: everything held, from the cursors. */
        gw_catch_up(g);
        b->net_after = b->net_top = top;
        return;
    }
    /* The next probe starts where the one before this ended: an event that
     * took its id before a newer one was seen but committed after it (ids
     * are ordered per conversation only) is still found once. */
    b->net_after = b->net_top;
    b->net_top = top;
}

void gw_safety_net(struct gateway *g)
{
    struct gw_bus *b = &g->bus;
    if (b->net_inflight || !pgc_is_ready(g->listen))
        return;
    char after[24], lim[16];
    snprintf(after, sizeof after, "%lld", b->net_after);
    snprintf(lim, sizeof lim, "%d", NET_LIMIT);
    const char *params[] = {b->net_after < 0 ? NULL : after, lim};
    if (pgc_op(g->listen, MSG_OP_EVENTS_AFTER, params, net_read, g) == 0)
        b->net_inflight = 1;
}

/* ---------------------------------------------------------------- ringing */

static void ring_now(struct gateway *g);

static void rang(void *arg, PGresult *res)
{
    struct gateway *g = arg;
    g->bus.bell_inflight = 0;
    if (g->bus.bell_again)
        ring_now(g);
}

static void ring_now(struct gateway *g)
{
    struct gw_bus *b = &g->bus;
    b->bell_again = 0;
    struct pgc *db = pgpool_any(&g->pool);
    if (!db) {
        imap_free(&b->bell_convs);
        return;
    }
    int convs[MSG_BUS_MAX_NAMED];
    size_t n = 0, i = 0;
    int id;
    intptr_t v;
    while (n < MSG_BUS_MAX_NAMED && imap_next(&b->bell_convs, &i, &id, &v))
        convs[n++] = id;
    struct sbuf p;
    sbuf_init(&p);
    msg_bus_bell(&p, g->instance, convs, b->bell_convs.len > MSG_BUS_MAX_NAMED ? 0 : n);
    imap_free(&b->bell_convs);
    const char *params[] = {p.p};
    if (sbuf_ok(&p) && pgc_op(db, MSG_OP_NOTIFY, params, rang, g) == 0) {
        b->bell_inflight = 1;
        g->stats.doorbells_sent++;
    }
    sbuf_free(&p);
}

void gw_ring(struct gateway *g, int conv)
{
    imap_put(&g->bus.bell_convs, conv, 1);
    if (g->bus.bell_inflight) {
        g->bus.bell_again = 1;
        return;
    }
    ring_now(g);
}

void gw_notify_typing(struct gateway *g, uint64_t socket_id, int conv, int user, int start)
{
    struct sbuf p;
    sbuf_init(&p);
    msg_bus_typing(&p, g->instance, conv, user, start);
    /* On this socket's connection: its typing_start and typing_stop reach
     * the other gateways in the order it sent them. */
    struct pgc *db = pgpool_for(&g->pool, socket_id);
    const char *params[] = {p.p};
    sio_socket *s = sio_socket_find(g->srv, socket_id);
    struct gw_client *c = s ? sio_socket_user(s) : NULL;
    /* In the socket's share of the queue; a typing_start over it is not
     * sent, a typing_stop always is (the other side would show typing). */
    if (db && sbuf_ok(&p)) {
        if (c)
            gw_op_counted(g, c, db, MSG_OP_NOTIFY, params, start);
        else
            pgc_op(db, MSG_OP_NOTIFY, params, NULL, NULL);
    }
    sbuf_free(&p);
}

/* ---------------------------------------------------------------- LISTEN */

static void typing_elsewhere(struct gateway *g, const struct msg_bus_msg *m)
{
    if (!gw_conv_get(g, m->conversation_id))
        return;
    const char *event = m->typing ? "typing_start" : "typing_stop";
    char room[32], arr[128];
    gw_room_name(m->conversation_id, room, sizeof room);
    int len = snprintf(arr, sizeof arr, "[\"%s\",{\"conversationId\":%d,\"userId\":%d}]", event, m->conversation_id,
                       m->user_id);
    gw_lifetime_gate(g);
    int n = sio_emit_room_text(g->srv, GW_NS, room, NULL, arr, (size_t)len);
    if (n > 0)
        g->stats.events_out[gw_event_index(event)] += (unsigned long long)n;
}

void gw_presence(struct gateway *g, struct gw_client *c, int connected)
{
    if (strcmp(g->cfg->presence, "off") == 0 || c->present == connected)
        return;
    c->present = connected;
    intptr_t n = imap_get(&g->present, c->user_id) + (connected ? 1 : -1);
    if (n <= 0) {
        imap_del(&g->present, c->user_id);
    } else if (imap_put(&g->present, c->user_id, n) < 0) {
        c->present = 0; /* out of memory: this socket is not counted */
        return;
    }
    /* The user's other sockets here keep them online: nothing to write
     * (messaging.presence_sockets holds 1 per user and gateway). */
    if (n != (connected ? 1 : 0))
        return;
    /* The user's own connection: a close never overtakes its connect. */
    struct pgc *db = gw_db_for(g, (uint64_t)c->user_id);
    char uid[16];
    snprintf(uid, sizeof uid, "%d", c->user_id);
    const char *params[] = {g->instance, uid};
    if (db)
        pgc_op(db, connected ? MSG_OP_PRESENCE_CONNECT : MSG_OP_PRESENCE_DISCONNECT, params, NULL, NULL);
}

/* A user went online or offline: `presence` to the rooms of their
 * conversations that we hold (members are participants: join checked). */
static void presence_elsewhere(struct gateway *g, const struct msg_bus_msg *m)
{
    char arr[160];
    int len;
    if (m->last_seen[0])
        len = snprintf(arr, sizeof arr, "[\"presence\",{\"userId\":%d,\"online\":%s,\"lastSeenAt\":\"%s\"}]",
                       m->user_id, m->online ? "true" : "false", m->last_seen);
    else
        len = snprintf(arr, sizeof arr, "[\"presence\",{\"userId\":%d,\"online\":%s,\"lastSeenAt\":null}]", m->user_id,
                       m->online ? "true" : "false");
    for (size_t i = 0; i < m->nconvs; i++) {
        if (!gw_conv_get(g, m->convs[i]))
            continue;
        char room[32];
        gw_room_name(m->convs[i], room, sizeof room);
        int n = sio_emit_room_text(g->srv, GW_NS, room, NULL, arr, (size_t)len);
        if (n > 0)
            g->stats.events_out[gw_event_index("presence")] += (unsigned long long)n;
    }
}

void gw_on_notify(struct pgc *c, const char *channel, const char *payload, void *arg)
{
    struct gateway *g = arg;
    g->stats.notifications++;
    struct msg_bus_msg *m = malloc(sizeof *m);
    if (!m) {
        gw_catch_up(g);
        return;
    }
    int ours = 0;
    switch (msg_bus_parse(payload, m)) {
    case MSG_BUS_BELL:
        ours = strcmp(m->origin, g->instance) == 0;
        if (ours)
            break; /* our rooms were served when we wrote */
        if (m->all)
            gw_catch_up(g);
        else
            for (size_t i = 0; i < m->nconvs; i++)
                gw_catch_up_conv(g, m->convs[i]);
        break;
    case MSG_BUS_TYPING:
        if (strcmp(m->origin, g->instance) != 0)
            typing_elsewhere(g, m);
        break;
    case MSG_BUS_REVOKE:
        /* Recorded as now(): tokens issued up to this second are refused. */
        gw_revoke_user(g, m->user_id, (long long)time(NULL) + 1);
        break;
    case MSG_BUS_PRESENCE:
        presence_elsewhere(g, m);
        break;
    case MSG_BUS_UNKNOWN:
        g->stats.bad_notifications++;
        gw_catch_up(g); /* a writer we do not understand: read everything */
        break;
    }
    free(m);
}

void gw_on_listen_ready(struct pgc *c, void *arg)
{
    struct gateway *g = arg;
    /* LISTEN again: what was committed meanwhile is read now. */
    g->bus.catchup_inflight = 0;
    g->bus.net_inflight = 0;
    /* Revocations whose NOTIFY was missed while LISTEN was down. */
    if (g->bus.listen_lost_at > 0)
        gw_revocations_since(g, g->bus.listen_lost_at - 1);
    gw_ask_pending_cursors(g);
    gw_catch_up(g);
}

void gw_on_listen_down(struct pgc *c, void *arg)
{
    struct gateway *g = arg;
    g->bus.listen_lost_at = (long long)time(NULL);
}

void gw_bus_init(struct gw_bus *b)
{
    memset(b, 0, sizeof *b);
    imap_init(&b->catchup_convs);
    imap_init(&b->bell_convs);
    b->net_after = -1;
}

void gw_bus_free(struct gw_bus *b)
{
    imap_free(&b->catchup_convs);
    imap_free(&b->bell_convs);
}
