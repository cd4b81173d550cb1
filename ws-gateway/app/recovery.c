/* Connection state recovery as the stock socket.io-client speaks it: the
 * CONNECT reply carries a private session id (pid), every event sent to a
 * room carries its event id as a last string argument (the offset), and a
 * reconnecting client sends {pid, offset} with its token. The session (user,
 * rooms, and at disconnection each room's last event id) lives in
 * messaging.sessions, so any gateway can restore it, after a restart too.
 * The missed events are read from messaging.events, on the delivery
 * connection, so that they are ordered with the rooms' own deliveries. */
#include <libwebsockets.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "gateway.h"
#include "log.h"

#define RESTORE_LIMIT 5000

void gw_client_free(struct gw_client *c)
{
    if (!c)
        return;
    free(c->rooms);
    free(c->restore_pid);
    free(c);
}

static void new_pid(char *buf, size_t cap)
{
    unsigned char r[16] = {0};
    if (getrandom(r, sizeof r, 0) != (ssize_t)sizeof r)
        for (size_t i = 0; i < sizeof r; i++)
            r[i] = (unsigned char)rand();
    for (size_t i = 0; i < sizeof r && 2 * i + 2 < cap; i++)
        snprintf(buf + 2 * i, 3, "%02x", r[i]);
}

static int enabled(const struct gateway *g) { return g->cfg->recovery_max_disconnection_ms > 0; }

static void room_add(struct gw_client *c, int conv)
{
    for (int i = 0; i < c->nrooms; i++)
        if (c->rooms[i] == conv)
            return;
    if (c->nrooms == c->caprooms) {
        int cap = c->caprooms ? c->caprooms * 2 : 4;
        int *r = realloc(c->rooms, (size_t)cap * sizeof *r);
        if (!r)
            return;
        c->rooms = r;
        c->caprooms = cap;
    }
    c->rooms[c->nrooms++] = conv;
}

static void fire(struct gateway *g, enum msg_op op, const char *const *params)
{
    struct pgc *db = gw_db(g);
    if (db)
        pgc_op(db, op, params, NULL, NULL);
}

void gw_session_joined(struct gateway *g, struct gw_client *c, int conv)
{
    room_add(c, conv);
    if (!c->pid[0])
        return;
    char id[16];
    snprintf(id, sizeof id, "%d", conv);
    const char *params[] = {c->pid, id};
    fire(g, MSG_OP_SESSION_JOIN, params);
}

void gw_session_left(struct gateway *g, struct gw_client *c, int conv)
{
    for (int i = 0; i < c->nrooms; i++)
        if (c->rooms[i] == conv) {
            c->rooms[i] = c->rooms[--c->nrooms];
            break;
        }
    if (!c->pid[0])
        return;
    char id[16];
    snprintf(id, sizeof id, "%d", conv);
    const char *params[] = {c->pid, id};
    fire(g, MSG_OP_SESSION_LEAVE, params);
}

void gw_session_closed(struct gateway *g, struct gw_client *c)
{
    if (!c->pid[0] || !c->authenticated)
        return;
    size_t cap = 8 + (size_t)c->nrooms * 24;
    char *rooms = malloc(cap), *curs = malloc(cap);
    if (!rooms || !curs) {
        free(rooms);
        free(curs);
        return;
    }
    size_t a = 0, b = 0;
    rooms[a++] = '{';
    curs[b++] = '{';
    for (int i = 0; i < c->nrooms; i++) {
        struct gw_conv *cv = (struct gw_conv *)imap_get(&g->convs, c->rooms[i]);
        /* What this room was sent up to; unknown (NULL) while pending. */
        long long cur = cv && cv->state == CONV_READY ? cv->cursor : -1;
        a += (size_t)snprintf(rooms + a, cap - a, "%s%d", i ? "," : "", c->rooms[i]);
        if (cur >= 0)
            b += (size_t)snprintf(curs + b, cap - b, "%s%lld", i ? "," : "", cur);
        else
            b += (size_t)snprintf(curs + b, cap - b, "%sNULL", i ? "," : "");
    }
    rooms[a++] = '}';
    rooms[a] = '\0';
    curs[b++] = '}';
    curs[b] = '\0';
    const char *params[] = {c->pid, rooms, curs};
    fire(g, MSG_OP_SESSION_CLOSE, params);
    free(rooms);
    free(curs);
}

/* ---------------------------------------------------------------- fresh */

static void start_fresh(struct gateway *g, sio_socket *s, struct gw_client *c)
{
    if (!enabled(g)) {
        sio_accept(s);
        return;
    }
    new_pid(c->pid, sizeof c->pid);
    char uid[16];
    snprintf(uid, sizeof uid, "%d", c->user_id);
    const char *params[] = {c->pid, uid, g->instance};
    fire(g, MSG_OP_SESSION_OPEN, params);
    sio_accept_pid(s, c->pid);
}

/* ---------------------------------------------------------------- restore */

struct restore {
    struct gateway *g;
    uint64_t sid;
    int n;
    int *rooms;
};

/* Parses "{1,2,NULL}" into at most max values (NULL -> -1). */
static int parse_array(const char *s, long long *out, int max)
{
    int n = 0;
    if (!s || *s++ != '{')
        return -1;
    while (*s && *s != '}' && n < max) {
        if (!strncmp(s, "NULL", 4)) {
            out[n++] = -1;
            s += 4;
        } else {
            char *end;
            out[n++] = strtoll(s, &end, 10);
            if (end == s)
                return -1;
            s = end;
        }
        if (*s == ',')
            s++;
    }
    return n;
}

static void restored_events(void *arg, PGresult *res)
{
    struct restore *r = arg;
    struct gateway *g = r->g;
    sio_socket *s = sio_socket_find(g->srv, r->sid);
    struct gw_client *c = s ? sio_socket_user(s) : NULL;
    if (!c) {
        free(r->rooms);
        free(r);
        return;
    }
    int n = res && PQresultStatus(res) == PGRES_TUPLES_OK ? PQntuples(res) : -1;
    if (n < 0 || n >= RESTORE_LIMIT) {
        /* Too much missed (or no answer): a fresh session; the client
         * catches up through REST. */
        msg_info("recovery_refused", "user=%d reason=%s", c->user_id, n < 0 ? "database" : "too_many_events");
        start_fresh(g, s, c);
        free(r->rooms);
        free(r);
        return;
    }
    snprintf(c->pid, sizeof c->pid, "%s", c->restore_pid);
    sio_accept_pid(s, c->pid); /* on_connected: connection_established */
    /* What the rooms here were sent before this socket came back: to it alone. */
    for (int i = 0; i < n; i++) {
        long long id = atoll(PQgetvalue(res, i, 0));
        struct gw_conv *cv = (struct gw_conv *)imap_get(&g->convs, atoi(PQgetvalue(res, i, 1)));
        if (!cv || cv->state != CONV_READY || id > cv->cursor)
            continue;
        json_object *data = json_tokener_parse(PQgetvalue(res, i, 3));
        if (!data)
            continue;
        json_object *args = json_object_new_array();
        json_object_array_add(args, data);
        json_object_array_add(args, json_object_new_string(PQgetvalue(res, i, 0)));
        const char *kind = PQgetvalue(res, i, 2);
        if (sio_emit(s, kind, args, NULL, 0) == 0)
            g->stats.events_out[gw_event_index(kind)]++;
        json_object_put(args);
    }
    /* Back in its rooms; what the rooms have not been sent yet goes to the
     * room as usual, this socket included. */
    for (int i = 0; i < r->n; i++) {
        char room[32];
        gw_room_name(r->rooms[i], room, sizeof room);
        sio_join(s, room);
        room_add(c, r->rooms[i]);
    }
    for (int i = 0; i < n; i++)
        gw_deliver(g, atoll(PQgetvalue(res, i, 0)), atoi(PQgetvalue(res, i, 1)), PQgetvalue(res, i, 2),
                   PQgetvalue(res, i, 3));
    g->stats.recovered++;
    msg_info("recovered", "user=%d rooms=%d missed=%d", c->user_id, r->n, n);
    free(r->rooms);
    free(r);
}

static void session_found(void *arg, PGresult *res)
{
    struct restore *r = arg;
    struct gateway *g = r->g;
    sio_socket *s = sio_socket_find(g->srv, r->sid);
    struct gw_client *c = s ? sio_socket_user(s) : NULL;
    if (!c) {
        free(r);
        return;
    }
    if (!res || PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1) {
        msg_info("recovery_refused", "user=%d reason=%s", c->user_id, res ? "unknown_or_expired" : "database");
        start_fresh(g, s, c);
        free(r);
        return;
    }
    long long rooms[256], curs[256];
    int nr = parse_array(PQgetvalue(res, 0, 0), rooms, 256);
    int nc = PQgetisnull(res, 0, 1) ? 0 : parse_array(PQgetvalue(res, 0, 1), curs, 256);
    if (nr < 0) {
        start_fresh(g, s, c);
        free(r);
        return;
    }
    r->n = nr;
    r->rooms = calloc((size_t)(nr ? nr : 1), sizeof *r->rooms);
    size_t cap = 8 + (size_t)nr * 24;
    char *convs = malloc(cap), *afters = malloc(cap);
    if (!r->rooms || !convs || !afters) {
        free(convs);
        free(afters);
        free(r->rooms);
        free(r);
        start_fresh(g, s, c);
        return;
    }
    size_t a = 0, b = 0;
    convs[a++] = '{';
    afters[b++] = '{';
    for (int i = 0; i < nr; i++) {
        r->rooms[i] = (int)rooms[i];
        /* From the older of what the client says it got and what the room
         * had been sent when it left (either may be unknown). */
        long long after = c->restore_offset;
        long long cur = i < nc ? curs[i] : -1;
        if (after < 0 || (cur >= 0 && cur < after))
            after = cur;
        if (after < 0)
            after = 0x7fffffffffffffffLL; /* nothing known: nothing replayed */
        a += (size_t)snprintf(convs + a, cap - a, "%s%d", i ? "," : "", r->rooms[i]);
        b += (size_t)snprintf(afters + b, cap - b, "%s%lld", i ? "," : "", after);
        gw_hold(g, r->rooms[i]); /* its cursor is read before the events below */
    }
    convs[a++] = '}';
    convs[a] = '\0';
    afters[b++] = '}';
    afters[b] = '\0';
    char lim[16];
    snprintf(lim, sizeof lim, "%d", RESTORE_LIMIT);
    const char *params[] = {convs, afters, lim};
    if (pgc_op(g->listen, MSG_OP_EVENTS_FOR, params, restored_events, r) < 0) {
        free(r->rooms);
        free(r);
        start_fresh(g, s, c);
    }
    free(convs);
    free(afters);
}

void gw_session_start(struct gateway *g, sio_socket *s, struct gw_client *c)
{
    if (!enabled(g) || !c->restore_pid) {
        start_fresh(g, s, c);
        return;
    }
    struct restore *r = calloc(1, sizeof *r);
    struct pgc *db = gw_db(g);
    if (!r || !db) {
        free(r);
        start_fresh(g, s, c);
        return;
    }
    r->g = g;
    r->sid = c->sid;
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
    fire(g, MSG_OP_GATEWAY_HEARTBEAT, params);
}
