/* Delivery receipts from the gateway (API.md section 9): a new_message
 * written to a socket of its recipient delivers it. Coalesced: the
 * deliveries of GW_RECEIPT_MS go as one mark per conversation and
 * recipient, and a conversation marked less than GW_RECEIPT_GAP_MS ago
 * waits for that gap (API.md: at most one per 100 ms, within 1 s). A flush
 * moves its markers in set-based statements (messaging.mark_delivered_many)
 * of GW_RECEIPT_MARKS markers at most, each its own transaction, spread over
 * the pool; their messages_delivered events go to the room like any other.
 * A conversation at chat pace gets its receipt within GW_RECEIPT_MS; a busy
 * one gets one mark for several messages. The designs measured:
 * docs/events.md. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "sbuf.h"
#include "gateway.h"

#define GW_RECEIPT_MS 100
#define GW_RECEIPT_GAP_MS 700
/* Markers per statement: a statement holds its conversations' row locks and
 * its pool connection until it commits, and sends of those conversations
 * (or on that connection) wait for it; small ones keep that wait short. */
#define GW_RECEIPT_MARKS 16
_Static_assert(GW_RECEIPT_GAP_MS + GW_RECEIPT_MS < 1000, "API.md: a receipt within 1 s of the delivery");
_Static_assert(GW_RECEIPT_GAP_MS >= 100, "API.md: at most one per conversation and recipient per 100 ms");

/* What waits for the next flush in one conversation: up to two recipients. */
struct pending {
    int user[2];
    long long up_to[2];
};

/* The integer after "key" in JSON text, or -1. The first occurrence: a key
 * inside a string is escaped (\"key\") and never matches. */
static long long json_int_after(const char *json, const char *key)
{
    char pat[32];
    snprintf(pat, sizeof pat, "\"%s\"", key);
    const char *p = strstr(json, pat);
    if (!p)
        return -1;
    p += strlen(pat);
    while (*p == ' ' || *p == ':')
        p++;
    char *end;
    long long v = strtoll(p, &end, 10);
    return end == p ? -1 : v;
}

struct walk {
    int sender;
    int recipient;
};

static void find_recipient(sio_socket *s, void *arg)
{
    struct walk *w = arg;
    struct gw_client *c = sio_socket_user(s);
    if (c && c->authenticated && c->user_id != w->sender && !w->recipient)
        w->recipient = c->user_id;
}

static void flush(lws_sorted_usec_list_t *sul);

static void schedule(struct gateway *g)
{
    struct gw_receipts *r = &g->receipts;
    if (!r->scheduled) {
        r->scheduled = 1;
        lws_sul_schedule(g->ctx, 0, &r->sul, flush, (lws_usec_t)GW_RECEIPT_MS * 1000);
    }
}

/* A mark waiting for the next flush: user got conv's messages up to id. */
static void pend(struct gateway *g, int conv, int user, long long id)
{
    struct gw_receipts *r = &g->receipts;
    struct pending *p = (struct pending *)imap_get(&r->pending, conv);
    if (!p) {
        if (!(p = calloc(1, sizeof *p)))
            return;
        if (imap_put(&r->pending, conv, (intptr_t)p) < 0) {
            free(p);
            return;
        }
    }
    int k = p->user[0] == user || !p->user[0] ? 0 : 1;
    if (p->user[k] && p->user[k] != user)
        return; /* a third user: not a participant's conversation as we know it */
    p->user[k] = user;
    if (id > p->up_to[k])
        p->up_to[k] = id;
    schedule(g);
}

/* One row per marker that moved: its messages_delivered event, in
 * conversation and event order (messaging.mark_delivered_many). */
static void marked(void *arg, PGresult *res)
{
    struct gateway *g = arg;
    if (!res || PQresultStatus(res) != PGRES_TUPLES_OK || PQnfields(res) != 5)
        return; /* the database is away: the next fetch or write delivers */
    for (int i = 0; i < PQntuples(res); i++) {
        if (PQgetisnull(res, i, 4))
            continue;
        const char *data = PQgetvalue(res, i, 4);
        if (atoi(PQgetvalue(res, i, 0)) == 409) { /* its conversation was locked: the next flush */
            long long c = json_int_after(data, "conversationId"), u = json_int_after(data, "userId");
            long long up = json_int_after(data, "upToId");
            struct gw_conv *cv = c > 0 ? gw_conv_get(g, (int)c) : NULL;
            if (cv)
                cv->receipt_ms = 0; /* nothing was marked: no gap to wait for */
            if (c > 0 && u > 0 && up > 0)
                pend(g, (int)c, (int)u, up);
            continue;
        }
        if (PQgetisnull(res, i, 2))
            continue;
        long long ev = atoll(PQgetvalue(res, i, 2));
        long long prev = PQgetisnull(res, i, 3) ? 0 : atoll(PQgetvalue(res, i, 3));
        int conv = (int)json_int_after(data, "conversationId");
        if (ev <= 0 || conv <= 0)
            continue;
        gw_deliver_next(g, ev, prev, conv, "messages_delivered", data);
        gw_ring(g, conv);
    }
}

/* The marks of a flush as three PostgreSQL arrays: one statement and one
 * commit per GW_RECEIPT_MARKS markers (measured against one mark_delivered
 * per marker in the batches of sends: docs/events.md). */
struct marks {
    struct sbuf users, convs, up_to;
    int n;
};

static void marks_start(struct marks *m)
{
    m->n = 0;
    sbuf_init(&m->users);
    sbuf_init(&m->convs);
    sbuf_init(&m->up_to);
    sbuf_puts(&m->users, "{");
    sbuf_puts(&m->convs, "{");
    sbuf_puts(&m->up_to, "{");
}

static void marks_add(struct marks *m, int user, int conv, long long up_to)
{
    const char *sep = m->n++ ? "," : "";
    sbuf_printf(&m->users, "%s%d", sep, user);
    sbuf_printf(&m->convs, "%s%d", sep, conv);
    sbuf_printf(&m->up_to, "%s%lld", sep, up_to);
}

static void marks_send(struct gateway *g, struct marks *m)
{
    sbuf_puts(&m->users, "}");
    sbuf_puts(&m->convs, "}");
    sbuf_puts(&m->up_to, "}");
    struct pgc *db = gw_db(g);
    if (m->n && db && sbuf_ok(&m->users) && sbuf_ok(&m->convs) && sbuf_ok(&m->up_to)) {
        const char *params[] = {m->users.p, m->convs.p, m->up_to.p};
        pgc_op(db, MSG_OP_MARK_DELIVERED_MANY, params, marked, g); /* never batched: no sort key */
    }
    sbuf_free(&m->users);
    sbuf_free(&m->convs);
    sbuf_free(&m->up_to);
}

static void flush(lws_sorted_usec_list_t *sul)
{
    struct gw_receipts *r = lws_container_of(sul, struct gw_receipts, sul);
    struct gateway *g = r->g;
    r->scheduled = 0;
    long long now = msg_now_ms();
    struct imap later;
    imap_init(&later);
    struct marks m;
    marks_start(&m);
    size_t i = 0;
    int conv;
    intptr_t v;
    while (imap_next(&r->pending, &i, &conv, &v)) {
        struct pending *p = (struct pending *)v;
        struct gw_conv *cv = gw_conv_get(g, conv);
        if (cv && now - cv->receipt_ms < GW_RECEIPT_GAP_MS && imap_put(&later, conv, v) == 0)
            continue; /* marked lately: this one waits for the gap */
        if (cv)
            cv->receipt_ms = now;
        for (int k = 0; k < 2; k++)
            if (p->user[k])
                marks_add(&m, p->user[k], conv, p->up_to[k]);
        free(p);
        if (m.n >= GW_RECEIPT_MARKS - 1) {
            marks_send(g, &m);
            marks_start(&m);
        }
    }
    marks_send(g, &m);
    imap_free(&r->pending);
    r->pending = later;
    if (later.len)
        schedule(g);
}

void gw_receipts_init(struct gateway *g)
{
    g->receipts.g = g;
    g->receipts.scheduled = 0;
    /* delivery_receipts = off: nothing observes the rooms' writes. */
    g->on_room_written = strcmp(g->cfg->delivery_receipts, "off") != 0 ? gw_receipt_written : NULL;
    imap_init(&g->receipts.pending);
}

void gw_receipts_free(struct gateway *g)
{
    lws_sul_cancel(&g->receipts.sul);
    size_t i = 0;
    int conv;
    intptr_t v;
    while (imap_next(&g->receipts.pending, &i, &conv, &v))
        free((void *)v);
    imap_free(&g->receipts.pending);
}

void gw_receipt_written(struct gateway *g, int conv, const char *data)
{
    long long id = json_int_after(data, "id");
    long long sender = json_int_after(data, "senderId");
    if (id <= 0 || sender <= 0)
        return;
    char room[32];
    gw_room_name(conv, room, sizeof room);
    struct walk w = {(int)sender, 0};
    sio_room_foreach(g->srv, GW_NS, room, find_recipient, &w);
    if (!w.recipient)
        return; /* only the sender's own sockets: nothing delivered */
    pend(g, conv, w.recipient, id);
}
