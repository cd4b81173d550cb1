/* Connection state recovery as the stock socket.io-client speaks it: the
 * CONNECT reply carries a private session id (pid), every event sent to a
 * room carries its event id as a last string argument (the offset), and a
 * reconnecting client sends {pid, offset} with its token. The session (user,
 * rooms with the event id each had when joined, and at disconnection what
 * each room had been sent and the ids last sent to the socket in sending
 * order) lives in messaging.sessions, so any gateway can restore it, after a
 * restart too. The client's offset is looked up in that send log: what was
 * sent after it was not received. The missed events are read from
 * messaging.events on the delivery connection, so that they are ordered with
 * the rooms' own deliveries. */
#include <libwebsockets.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gateway.h"
#include "log.h"
#include "msg_limits.h"
#include "random.h"
#include "replay.h"
#include "sbuf.h"

#define RESTORE_LIMIT MSG_RECOVERY_REPLAY_MAX

/* 128 random bits in hex; -1 (and "") without randomness: a pid is the
 * key to a session's rooms and missed events, never guessable. */
static int new_pid(char *buf, size_t cap) { return msg_random_hex(buf, cap, 16) < 0 ? -1 : 0; }

static int enabled(const struct gateway *g) { return g->cfg->recovery_max_disconnection_ms > 0; }

struct sent_entry {
    unsigned long long seq;
    long long id;
};

static int by_seq(const void *a, const void *b)
{
    const struct sent_entry *x = a, *y = b;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

void gw_session_closed(struct gateway *g, struct gw_client *c)
{
    if (!c->pid[0] || !c->authenticated)
        return;
    /* {"conv": last event id sent to the room}, and the send log: the
     * rooms' recent deliveries since this socket joined them, in order. */
    struct sbuf sent, log;
    sbuf_init(&sent);
    sbuf_init(&log);
    struct sent_entry *all = calloc((size_t)c->nrooms * GW_RING + 1, sizeof *all);
    size_t n = 0;
    sbuf_puts(&sent, "{");
    int first = 1;
    for (int i = 0; i < c->nrooms; i++) {
        struct gw_conv *cv = (struct gw_conv *)imap_get(&g->convs, c->rooms[i]);
        if (!cv || cv->state != CONV_READY)
            continue;
        sbuf_printf(&sent, "%s\"%d\":%lld", first ? "" : ",", c->rooms[i], cv->cursor);
        first = 0;
        unsigned long long k0 = cv->ring_n > GW_RING ? cv->ring_n - GW_RING : 0;
        for (unsigned long long k = k0; all && k < cv->ring_n; k++) {
            unsigned slot = (unsigned)(k % GW_RING);
            if (cv->ring[slot].seq > c->room_seq[i])
                all[n++] = (struct sent_entry){cv->ring[slot].seq, cv->ring[slot].id};
        }
    }
    sbuf_puts(&sent, "}");
    if (all)
        qsort(all, n, sizeof *all, by_seq);
    sbuf_puts(&log, "{");
    for (size_t k = n > GW_RING ? n - GW_RING : 0; k < n; k++)
        sbuf_printf(&log, "%s%lld", log.len > 1 ? "," : "", all[k].id);
    sbuf_puts(&log, "}");
    free(all);
    if (sbuf_ok(&sent) && sbuf_ok(&log)) {
        const char *params[] = {c->pid, sent.p, log.p};
        gw_session_write(g, c, MSG_OP_SESSION_CLOSE, params);
    }
    sbuf_free(&sent);
    sbuf_free(&log);
}

/* ---------------------------------------------------------------- fresh */

/* A CONNECT refused after authentication (auth.c counted the user in). */
static void refuse_connect(struct gateway *g, sio_socket *s, struct gw_client *c, const char *message,
                           const char *reason)
{
    gw_user_add(g, c->user_id, -1);
    g->stats.accepted_connects--;
    g->stats.refused_connects++;
    msg_warn("connect_refused", "user=%d reason=%s", c->user_id, reason);
    sio_socket_set_user(s, NULL);
    gw_client_free(c); /* its token deadlines and its place among the connections go with it */
    sio_refuse(s, message);
}

struct opening {
    struct gateway *g;
    uint64_t socket_id;
    char pid[sizeof((struct gw_client *)0)->pid];
};

/* session_open answered (sql/022: it refuses a pid of another user). The
 * socket is accepted with its pid only now: the pid it is given is one the
 * database holds for this user. */
static void session_opened(void *arg, PGresult *res)
{
    struct opening *o = arg;
    struct gateway *g = o->g;
    sio_socket *s = sio_socket_find(g->srv, o->socket_id);
    struct gw_client *c = s ? sio_socket_user(s) : NULL;
    int ok = res && PQresultStatus(res) == PGRES_TUPLES_OK;
    const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;

    if (!c) {
        /* gone meanwhile: its on_disconnect had no pid to close */
        if (ok) {
            const char *params[] = {o->pid, "{}", "{}"};
            struct pgc *db = gw_db_for(g, gw_session_key(o->pid));
            if (db)
                pgc_op(db, MSG_OP_SESSION_CLOSE, params, NULL, NULL);
        }
        free(o);
        return;
    }
    if (!ok) {
        int foreign = state && !strcmp(state, "23505");
        refuse_connect(g, s, c, foreign ? "Internal error" : "Service unavailable",
                       foreign ? "session_pid_of_another_user" : "database");
        free(o);
        return;
    }
    snprintf(c->pid, sizeof c->pid, "%s", o->pid);
    free(o);
    sio_accept_pid(s, c->pid); /* on_connected: connection_established */
}

static void start_fresh(struct gateway *g, sio_socket *s, struct gw_client *c)
{
    if (!enabled(g)) {
        sio_accept(s);
        return;
    }
    c->pid[0] = '\0';
    struct opening *o = calloc(1, sizeof *o);
    if (!o) {
        refuse_connect(g, s, c, "Internal error", "out_of_memory");
        return;
    }
    if (new_pid(o->pid, sizeof o->pid) < 0) {
        free(o);
        refuse_connect(g, s, c, "Internal error", "no_randomness");
        return;
    }
    o->g = g;
    o->socket_id = c->socket_id;
    char uid[16];
    snprintf(uid, sizeof uid, "%d", c->user_id);
    const char *params[] = {o->pid, uid, g->instance};
    struct pgc *db = gw_db_for(g, gw_session_key(o->pid));
    if (!db || pgc_op(db, MSG_OP_SESSION_OPEN, params, session_opened, o) < 0) {
        free(o);
        refuse_connect(g, s, c, "Service unavailable", "database");
    }
}

/* ---------------------------------------------------------------- restore */

struct restore {
    struct gateway *g;
    uint64_t socket_id;
    int n;
    int *rooms;        /* each held, and kept (gw_conv.restores) until r is freed */
    long long *afters; /* the event id after which each is replayed */
};

/* Of the n events missed (res), what the rooms here were sent before this
 * socket came back: to it alone. */
static void send_missed(struct gateway *g, sio_socket *s, PGresult *res, int n)
{
    for (int i = 0; i < n; i++) {
        long long id = atoll(PQgetvalue(res, i, 0));
        struct gw_conv *cv = (struct gw_conv *)imap_get(&g->convs, atoi(PQgetvalue(res, i, 1)));
        const char *kind = PQgetvalue(res, i, 2);
        if (!cv || cv->state != CONV_READY || id > cv->cursor || PQgetisnull(res, i, 3) ||
            (strcmp(kind, "new_message") != 0 && strcmp(kind, "messages_read") != 0 &&
             strcmp(kind, "messages_delivered") != 0))
            continue;
        struct sbuf b;
        sbuf_init(&b);
        if (gw_event_array(&b, kind, PQgetvalue(res, i, 3), id) == 0 && sio_emit_text(s, b.p, b.len) == 0)
            g->stats.events_out[gw_event_index(kind)]++;
        sbuf_free(&b);
    }
}

static void restore_free(struct restore *r)
{
    for (int i = 0; i < r->n; i++) {
        struct gw_conv *cv = gw_conv_get(r->g, r->rooms[i]);
        if (cv && cv->restores > 0)
            cv->restores--;
    }
    free(r->rooms);
    free(r->afters);
    free(r);
}

/* A room still waiting for its cursor (its read failed and waits for the
 * timer) when the replay came: the replay read all of it after its mark, so
 * its newest event is known, and it starts from there. */
static void ready_from_replay(struct gateway *g, const struct restore *r, PGresult *res, int n)
{
    for (int k = 0; k < r->n; k++) {
        struct gw_conv *cv = gw_conv_get(g, r->rooms[k]);
        if (!cv || cv->state != CONV_PENDING)
            continue;
        long long newest = r->afters[k];
        for (int i = 0; i < n; i++)
            if (atoi(PQgetvalue(res, i, 1)) == r->rooms[k] && atoll(PQgetvalue(res, i, 0)) > newest)
                newest = atoll(PQgetvalue(res, i, 0));
        gw_conv_ready(g, cv, newest);
    }
}

/* The client a restore is for, or NULL (and r freed) when its socket went
 * meanwhile. */
static struct gw_client *restore_client(struct restore *r, sio_socket **s)
{
    *s = sio_socket_find(r->g->srv, r->socket_id);
    struct gw_client *c = *s ? sio_socket_user(*s) : NULL;
    if (!c)
        restore_free(r);
    return c;
}

static void restored_events(void *arg, PGresult *res)
{
    struct restore *r = arg;
    struct gateway *g = r->g;
    sio_socket *s;
    struct gw_client *c = restore_client(r, &s);
    if (!c)
        return;
    int n = res && PQresultStatus(res) == PGRES_TUPLES_OK ? PQntuples(res) : -1;
    if (n < 0 || n >= RESTORE_LIMIT) {
        /* Too much missed (or no answer): a fresh session; the client
         * catches up through REST. */
        msg_info("recovery_refused", "user=%d reason=%s", c->user_id, n < 0 ? "database" : "too_many_events");
        start_fresh(g, s, c);
        restore_free(r);
        return;
    }
    ready_from_replay(g, r, res, n);
    snprintf(c->pid, sizeof c->pid, "%s", c->restore_pid);
    sio_accept_pid(s, c->pid); /* on_connected: connection_established */
    send_missed(g, s, res, n);
    /* Back in its rooms; what the rooms have not been sent yet goes to the
     * room as usual, this socket included. */
    for (int i = 0; i < r->n; i++) {
        char room[32];
        gw_room_name(r->rooms[i], room, sizeof room);
        sio_join(s, room);
        gw_client_room_add(g, c, r->rooms[i]);
    }
    for (int i = 0; i < n; i++)
        gw_deliver(g, atoll(PQgetvalue(res, i, 0)), atoi(PQgetvalue(res, i, 1)), PQgetvalue(res, i, 2),
                   PQgetisnull(res, i, 3) ? NULL : PQgetvalue(res, i, 3));
    g->stats.recovered++;
    msg_info("recovered", "user=%d rooms=%d missed=%d", c->user_id, r->n, n);
    restore_free(r);
}

static long long json_ll(json_object *o, int key)
{
    char k[16];
    json_object *v;
    snprintf(k, sizeof k, "%d", key);
    return o && json_object_object_get_ex(o, k, &v) ? (long long)json_object_get_int64(v) : -1;
}

/* The rooms of the session's record into r->rooms (each held: its cursor
 * is read before the events replayed), and for each the event id after
 * which it is replayed, as PostgreSQL arrays. -1 when the record is bad or
 * out of memory. */
static int plan_rooms(struct gateway *g, struct restore *r, json_object *joined, json_object *sent, long long offset,
                      bool in_log, struct sbuf *convs, struct sbuf *afters)
{
    int nr = joined && json_object_is_type(joined, json_type_object) ? json_object_object_length(joined) : -1;
    if (nr < 0 || !(r->rooms = calloc((size_t)(nr > 0 ? nr : 1), sizeof *r->rooms)) ||
        !(r->afters = calloc((size_t)(nr > 0 ? nr : 1), sizeof *r->afters)))
        return -1;
    sbuf_puts(convs, "{");
    sbuf_puts(afters, "{");
    r->n = 0;
    json_object_object_foreach(joined, key, val)
    {
        int conv = atoi(key);
        long long j = (long long)json_object_get_int64(val); /* the room when joined */
        long long d = json_object_is_type(sent, json_type_object) ? json_ll(sent, conv) : -1;
        gw_hold(g, conv);
        struct gw_conv *cv = gw_conv_get(g, conv);
        if (!cv)
            return -1; /* out of memory: a fresh session */
        cv->restores++;
        r->afters[r->n] = gw_replay_after(offset, in_log, j, d);
        r->rooms[r->n++] = conv;
        sbuf_printf(convs, "%s%d", r->n > 1 ? "," : "", conv);
        sbuf_printf(afters, "%s%lld", r->n > 1 ? "," : "", r->afters[r->n - 1]);
    }
    sbuf_puts(convs, "}");
    sbuf_puts(afters, "}");
    return 0;
}

/* Asks for the events missed, from the session's record (res): the ones
 * the send log names after the offset, and each room's after its mark.
 * Returns -1 when nothing was sent (r stays the caller's). */
static int ask_replay(struct gateway *g, struct restore *r, PGresult *res, long long offset)
{
    json_object *joined = json_tokener_parse(PQgetvalue(res, 0, 0));
    json_object *sent = PQgetisnull(res, 0, 1) ? NULL : json_tokener_parse(PQgetvalue(res, 0, 1));
    long long log[GW_RING];
    int nlog = PQgetisnull(res, 0, 2) ? -1 : gw_replay_parse_array(PQgetvalue(res, 0, 2), log, GW_RING);
    int at = gw_replay_log_index(log, nlog, offset);
    struct sbuf convs, afters, ids;
    sbuf_init(&convs);
    sbuf_init(&afters);
    sbuf_init(&ids);
    int rc = plan_rooms(g, r, joined, sent, offset, at >= 0, &convs, &afters);
    if (rc == 0) {
        sbuf_puts(&ids, "{");
        for (int i = at + 1; at >= 0 && i < nlog; i++)
            sbuf_printf(&ids, "%s%lld", ids.len > 1 ? "," : "", log[i]);
        sbuf_puts(&ids, "}");
        char lim[16];
        snprintf(lim, sizeof lim, "%d", RESTORE_LIMIT);
        const char *params[] = {ids.p, convs.p, afters.p, lim};
        if (!sbuf_ok(&convs) || !sbuf_ok(&afters) || !sbuf_ok(&ids) ||
            pgc_op(g->listen, MSG_OP_SESSION_REPLAY, params, restored_events, r) < 0)
            rc = -1;
    }
    json_object_put(joined);
    json_object_put(sent);
    sbuf_free(&convs);
    sbuf_free(&afters);
    sbuf_free(&ids);
    return rc;
}

/* The session's record (messaging.sessions), or nothing: a fresh session. */
static void session_found(void *arg, PGresult *res)
{
    struct restore *r = arg;
    struct gateway *g = r->g;
    sio_socket *s;
    struct gw_client *c = restore_client(r, &s);
    if (!c)
        return;
    if (!res || PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1) {
        msg_info("recovery_refused", "user=%d reason=%s", c->user_id, res ? "unknown_or_expired" : "database");
        start_fresh(g, s, c);
        restore_free(r);
        return;
    }
    if (ask_replay(g, r, res, c->restore_offset) < 0) {
        restore_free(r);
        start_fresh(g, s, c);
    }
}

void gw_session_start(struct gateway *g, sio_socket *s, struct gw_client *c)
{
    if (!enabled(g) || !c->restore_pid) {
        start_fresh(g, s, c);
        return;
    }
    struct restore *r = calloc(1, sizeof *r);
    struct pgc *db = gw_db_for(g, gw_session_key(c->restore_pid));
    if (!r || !db) {
        free(r);
        start_fresh(g, s, c);
        return;
    }
    r->g = g;
    r->socket_id = c->socket_id;
    char uid[16], max[24];
    snprintf(uid, sizeof uid, "%d", c->user_id);
    snprintf(max, sizeof max, "%ld", g->cfg->recovery_max_disconnection_ms);
    const char *params[] = {c->restore_pid, uid, max, g->instance};
    if (pgc_op(db, MSG_OP_SESSION_RESTORE, params, session_found, r) < 0) {
        free(r);
        start_fresh(g, s, c);
    }
}

void gw_heartbeat(struct gateway *g)
{
    char max[24];
    snprintf(max, sizeof max, "%ld", g->cfg->recovery_max_disconnection_ms);
    const char *params[] = {g->instance, max};
    struct pgc *db = gw_db(g);
    if (db)
        pgc_op(db, MSG_OP_GATEWAY_HEARTBEAT, params, NULL, NULL);
}
