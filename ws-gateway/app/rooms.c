/* Rooms and their cursors: the conversations this gateway holds a room
 * for, the id of the last event each was sent (events are ordered per
 * conversation), and the sending itself. An event's data arrives as JSON
 * text from PostgreSQL and is spliced into one Socket.IO packet shared by
 * every socket of the room: never parsed, never encoded again. */
#include <libwebsockets.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gateway.h"
#include "log.h"
#include "sbuf.h"

struct gw_conv *gw_conv_get(struct gateway *g, int id) { return (struct gw_conv *)imap_get(&g->convs, id); }

/* ---------------------------------------------------------------- holding */

static void conv_free(struct gw_conv *cv)
{
    free(cv->joiners);
    free(cv->ring);
    free(cv);
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
        struct gw_conv *cv = (struct gw_conv *)v;
        if (sio_room_size(g->srv, GW_NS, room) == 0 && !cv->njoiners && !cv->restores && n < 256)
            drop[n++] = id;
    }
    for (int k = 0; k < n; k++) {
        conv_free((struct gw_conv *)imap_get(&g->convs, drop[k]));
        imap_del(&g->convs, drop[k]);
    }
}

void gw_rooms_free(struct gateway *g)
{
    size_t i = 0;
    int id;
    intptr_t v;
    while (imap_next(&g->convs, &i, &id, &v))
        conv_free((struct gw_conv *)v);
    imap_free(&g->convs);
}

/* ---------------------------------------------------------------- sending */

/* Seconds since an ISO timestamp "2026-11-24T09:30:00.123Z", or -1. */
static double age_of(const char *iso)
{
    struct tm tm = {0};
    int ms = 0;
    if (!iso || sscanf(iso, "%4d-%2d-%2dT%2d:%2d:%2d.%3dZ", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour,
                       &tm.tm_min, &tm.tm_sec, &ms) != 7)
        return -1;
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    return (double)now.tv_sec + now.tv_nsec / 1e9 - ((double)timegm(&tm) + ms / 1000.0);
}

/* The message's sentAt in a new_message's data, found without parsing:
 * the data is SQL's message_json, whose first "sentAt" key is the message's
 * (content comes as an escaped string and cannot hold an unescaped quote). */
static void record_lag(struct gateway *g, const char *data)
{
    const char *p = strstr(data, "\"sentAt\"");
    if (!p || !(p = strchr(p + 8, '"')))
        return;
    double lag = age_of(p + 1);
    if (lag < 0)
        lag = 0;
    gw_stats_lag(&g->stats, lag);
}

int gw_event_array(struct sbuf *b, const char *kind, const char *data, long long id)
{
    sbuf_puts(b, "[\"");
    sbuf_puts(b, kind); /* one of ours: no escaping needed */
    sbuf_puts(b, "\",");
    sbuf_puts(b, data);
    /* The event id is the offset of connection state recovery, as the stock
     * client expects it: the last argument, a string. */
    sbuf_printf(b, ",\"%lld\"]", id);
    return sbuf_ok(b) ? 0 : -1;
}

/* Remembers a delivery for recovery. Without memory for it the entry is
 * not kept: a recovering socket is then replayed from its room's cursor
 * instead (docs/recovery.md: duplicates possible, never a loss). */
static void ring_record(struct gateway *g, struct gw_conv *cv, long long id)
{
    unsigned slot = (unsigned)(cv->ring_n % GW_RING);
    if (slot >= cv->ring_cap) {
        unsigned cap = cv->ring_cap ? cv->ring_cap * 2 : 2;
        if (cap > GW_RING)
            cap = GW_RING;
        struct gw_ring_ent *r = realloc(cv->ring, cap * sizeof *r);
        if (!r) {
            msg_warn("gw_ring_full", "conversation=%d", cv->id);
            return;
        }
        cv->ring = r;
        cv->ring_cap = cap;
    }
    cv->ring[slot] = (struct gw_ring_ent){++g->deliver_seq, id};
    cv->ring_n++;
}

void gw_deliver(struct gateway *g, long long id, int conv, const char *kind, const char *data)
{
    struct gw_conv *cv = gw_conv_get(g, conv);
    if (!cv || !data)
        return;
    if (cv->state != CONV_READY) {
        cv->missed = 1;
        return;
    }
    if (id <= cv->cursor)
        return; /* already sent */
    cv->cursor = id;
    ring_record(g, cv, id);
    /* Spliced into JSON unescaped: only the kinds we know. */
    if (strcmp(kind, "new_message") != 0 && strcmp(kind, "messages_read") != 0 &&
        strcmp(kind, "messages_delivered") != 0)
        return;
    struct sbuf b;
    sbuf_init(&b);
    if (gw_event_array(&b, kind, data, id) == 0) {
        char room[32];
        gw_room_name(conv, room, sizeof room);
        gw_lifetime_gate(g);
        int n = sio_emit_room_text(g->srv, GW_NS, room, NULL, b.p, b.len);
        if (n > 0) {
            g->stats.events_out[gw_event_index(kind)] += (unsigned long long)n;
            g->stats.deliveries++;
            if (strcmp(kind, "new_message") == 0) {
                record_lag(g, data);
                if (g->on_room_written)
                    g->on_room_written(g, conv, data);
            }
        }
    }
    sbuf_free(&b);
}
