/* The client events of API.md section 5: one table from event name to
 * handler. Each check is the same SQL operation the REST side calls. */
#include <libwebsockets.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gateway.h"
#include "log.h"
#include "sbuf.h"
#include "validate.h"

/* An operation in flight for a socket's event. */
struct op {
    struct gateway *g;
    uint64_t socket_id;
    int64_t ack_id;
    int event; /* index in gw_event_names */
    int conv;
    size_t bytes; /* its parameters, in the socket's share (limits.c) */
};

static struct op *op_new(struct gateway *g, sio_socket *s, int event, int64_t ack_id, int conv)
{
    struct op *o = malloc(sizeof *o);
    if (o) {
        o->g = g;
        o->socket_id = sio_socket_id(s);
        o->ack_id = ack_id;
        o->event = event;
        o->conv = conv;
        o->bytes = 0;
    }
    return o;
}

/* Ends an operation: the socket (NULL when it has gone), and the reply's
 * status and parsed body (*body is a new reference or NULL). */
static sio_socket *op_end(struct op *o, PGresult *res, int *status, json_object **body)
{
    sio_socket *s = sio_socket_find(o->g->srv, o->socket_id);
    struct gw_client *c = s ? sio_socket_user(s) : NULL;
    if (c)
        gw_share_put(c, o->bytes);
    *status = 0;
    *body = NULL;
    if (res && PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1 && PQnfields(res) >= 2) {
        *status = atoi(PQgetvalue(res, 0, 0));
        *body = json_tokener_parse(PQgetvalue(res, 0, 1));
    }
    return c ? s : NULL;
}

/* Relays a failed reply (the SQL side's error object) or unavailability. */
static void op_fail(struct op *o, sio_socket *s, int status, json_object *body)
{
    const char *event = gw_event_names[o->event];
    json_object *e, *code, *msg;
    if (status && body && json_object_object_get_ex(body, "error", &e) && json_object_object_get_ex(e, "code", &code) &&
        json_object_object_get_ex(e, "message", &msg))
        gw_fail(o->g, s, event, o->ack_id, msg_code_from_name(json_object_get_string(code)),
                json_object_get_string(msg));
    else if (status)
        gw_fail(o->g, s, event, o->ack_id, MSG_INTERNAL, "Internal error");
    else
        gw_fail(o->g, s, event, o->ack_id, MSG_UNAVAILABLE, "The database is unavailable");
}

/* Queues op for the socket, or answers why not. Takes ownership of o.
 * Writes go through pgc_write: committed with the others of the loop turn
 * (group commit), ordered by conversation. */
static void submit(struct gateway *g, sio_socket *s, struct gw_client *c, struct op *o, enum msg_op op,
                   const char *const *params, pgc_result_cb cb)
{
    const char *event = gw_event_names[o->event];
    int64_t ack_id = o->ack_id;
    struct pgc *db = gw_db_for(g, o->socket_id);
    if (!db) {
        free(o);
        gw_fail(g, s, event, ack_id, MSG_UNAVAILABLE, "The database is unavailable");
        return;
    }
    o->bytes = gw_params_bytes(op, params);
    if (!gw_share_fits(c, o->bytes)) {
        free(o);
        gw_fail_retry(g, s, event, ack_id, MSG_RATE_LIMITED, "Too many operations in flight", GW_INFLIGHT_RETRY_MS);
        return;
    }
    int r = msg_ops[op].batch ? pgc_write(db, op, o->conv, params, cb, o) : pgc_op(db, op, params, cb, o);
    if (r < 0) {
        free(o);
        gw_fail_retry(g, s, event, ack_id, MSG_RATE_LIMITED, "Too many operations in flight", GW_INFLIGHT_RETRY_MS);
        return;
    }
    gw_share_take(c, o->bytes);
}

/* ---------------------------------------------------------------- rooms */

static void joined(void *arg, PGresult *res)
{
    struct op *o = arg;
    int status;
    json_object *body;
    sio_socket *s = op_end(o, res, &status, &body);
    if (s && status == 200) {
        json_object *pr;
        const char *presence =
            body && json_object_object_get_ex(body, "presence", &pr) && json_object_is_type(pr, json_type_object)
                ? json_object_to_json_string_ext(pr, JSON_C_TO_STRING_PLAIN)
                : NULL;
        gw_join(o->g, s, o->conv, o->ack_id, presence);
    } else if (s) {
        op_fail(o, s, status, body);
    }
    json_object_put(body);
    free(o);
}

static void on_join(struct gateway *g, sio_socket *s, struct gw_client *c, int ev, int conv, json_object *data,
                    int64_t ack_id)
{
    char uid[16], cid[16];
    snprintf(uid, sizeof uid, "%d", c->user_id);
    snprintf(cid, sizeof cid, "%d", conv);
    const char *params[] = {uid, c->role, cid};
    submit(g, s, c, op_new(g, s, ev, ack_id, conv), MSG_OP_JOIN_ROOM, params, joined);
}

static void on_leave(struct gateway *g, sio_socket *s, struct gw_client *c, int ev, int conv, json_object *data,
                     int64_t ack_id)
{
    char room[32];
    gw_room_name(conv, room, sizeof room);
    struct gw_conv *cv = gw_conv_get(g, conv);
    for (int k = 0; cv && k < cv->njoiners; k++)
        if (cv->joiners[k].socket_id == c->socket_id) /* a join still waiting for the cursor: not to happen */
            cv->joiners[k--] = cv->joiners[--cv->njoiners];
    sio_leave(s, room);
    gw_session_left(g, c, conv);
    json_object *d = gw_conv_object(conv);
    gw_emit(g, s, "room_left", d);
    gw_ack_conv(s, ack_id, conv);
    json_object_put(d);
    gw_release_empty(g);
}

/* ---------------------------------------------------------------- writes */

/* {"ok":true, ...the reply's keys}: the reply's JSON text spliced in. */
static void ack_reply(sio_socket *s, int64_t ack_id, const char *body)
{
    if (ack_id == SIO_NO_ACK)
        return;
    struct sbuf b;
    sbuf_init(&b);
    sbuf_puts(&b, "[{\"ok\":true");
    if (body[0] == '{' && body[1] && body[1] != '}') {
        sbuf_puts(&b, ",");
        sbuf_puts(&b, body + 1);
    } else {
        sbuf_puts(&b, "}");
    }
    sbuf_puts(&b, "]");
    if (sbuf_ok(&b))
        sio_ack_text(s, ack_id, b.p, b.len);
    sbuf_free(&b);
}

/* A write's answer (status, body, event id, previous id, data), after its
 * transaction committed. */
static void written(void *arg, PGresult *res)
{
    struct op *o = arg;
    struct gateway *g = o->g;
    sio_socket *s = sio_socket_find(g->srv, o->socket_id);
    struct gw_client *c = s ? sio_socket_user(s) : NULL;
    if (c)
        gw_share_put(c, o->bytes);
    int well = res && PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1 && PQnfields(res) == 5 &&
               !PQgetisnull(res, 0, 0) && !PQgetisnull(res, 0, 1);
    int status = well ? atoi(PQgetvalue(res, 0, 0)) : 0;
    if (well && !PQgetisnull(res, 0, 2) && !PQgetisnull(res, 0, 4)) {
        /* Committed: to our room at once when it is the next event there,
         * and a bell for the other gateways. */
        const char *kind = o->event == gw_event_index("send_message") ? "new_message" : "messages_read";
        gw_deliver_next(g, atoll(PQgetvalue(res, 0, 2)), atoll(PQgetvalue(res, 0, 3)), o->conv, kind,
                        PQgetvalue(res, 0, 4));
        gw_ring(g, o->conv);
    }
    if (c && (status == 200 || status == 201) && o->event == gw_event_index("send_message")) {
        ack_reply(s, o->ack_id, PQgetvalue(res, 0, 1)); /* {ok, message}: the message spliced */
    } else if (c && status == 200) {
        /* {ok, updatedCount}: small, built here. */
        json_object *body = json_tokener_parse(PQgetvalue(res, 0, 1)), *v;
        json_object *a = json_object_new_object();
        json_object_object_add(a, "ok", json_object_new_boolean(1));
        if (body && json_object_object_get_ex(body, "updatedCount", &v))
            json_object_object_add(a, "updatedCount", json_object_get(v));
        gw_ack(s, o->ack_id, a);
        json_object_put(a);
        json_object_put(body);
    } else if (c) {
        json_object *body = well ? json_tokener_parse(PQgetvalue(res, 0, 1)) : NULL;
        op_fail(o, s, well ? status : (res ? 500 : 0), body);
        json_object_put(body);
    }
    free(o);
}

static void on_send(struct gateway *g, sio_socket *s, struct gw_client *c, int ev, int conv, json_object *data,
                    int64_t ack_id)
{
    const char *event = gw_event_names[ev];
    json_object *v;
    const char *content = NULL, *client_id = NULL;
    if (!json_object_object_get_ex(data, "content", &v) || !json_object_is_type(v, json_type_string)) {
        gw_fail(g, s, event, ack_id, MSG_INVALID_REQUEST, "content must be a string");
        return;
    }
    if (!(content = msg_json_text(v))) {
        gw_fail(g, s, event, ack_id, MSG_INVALID_REQUEST, "content must be valid UTF-8 text without NUL characters");
        return;
    }
    if (json_object_object_get_ex(data, "clientId", &v) && v && !(client_id = msg_json_text(v))) {
        gw_fail(g, s, event, ack_id, MSG_INVALID_REQUEST, "clientId must be a string of 1 to 64 characters");
        return;
    }
    char uid[16], cid[16], maxlen[24];
    snprintf(uid, sizeof uid, "%d", c->user_id);
    snprintf(cid, sizeof cid, "%d", conv);
    snprintf(maxlen, sizeof maxlen, "%ld", g->cfg->max_message_length);
    const char *params[] = {uid, c->role, cid, content, client_id, maxlen, "false"};
    submit(g, s, c, op_new(g, s, ev, ack_id, conv), MSG_OP_SEND_MESSAGE, params, written);
}

static void on_read(struct gateway *g, sio_socket *s, struct gw_client *c, int ev, int conv, json_object *data,
                    int64_t ack_id)
{
    char uid[16], cid[16];
    snprintf(uid, sizeof uid, "%d", c->user_id);
    snprintf(cid, sizeof cid, "%d", conv);
    const char *params[] = {uid, c->role, cid, "false"};
    submit(g, s, c, op_new(g, s, ev, ack_id, conv), MSG_OP_MARK_READ, params, written);
}

/* ---------------------------------------------------------------- typing */

/* Tells the room here (but the sender) and the other gateways; a
 * typing_start of a socket already typing there, or a typing_stop of one
 * that is not, is not sent again (API.md section 8). */
static void typing_change(struct gateway *g, sio_socket *s, struct gw_client *c, const char *event, int conv)
{
    int start = strcmp(event, "typing_start") == 0, at = -1;
    for (int i = 0; i < c->ntyping; i++)
        if (c->typing[i] == conv)
            at = i;
    if (start == (at >= 0))
        return;
    if (start && c->ntyping >= GW_MAX_TYPING)
        return; /* typing in too many conversations at once: the rest stays quiet */
    if (start)
        c->typing[c->ntyping++] = conv;
    else
        c->typing[at] = c->typing[--c->ntyping];
    char room[32], arr[128];
    gw_room_name(conv, room, sizeof room);
    int len = snprintf(arr, sizeof arr, "[\"%s\",{\"conversationId\":%d,\"userId\":%d}]", event, conv, c->user_id);
    gw_lifetime_gate(g);
    int n = sio_emit_room_text(g->srv, GW_NS, room, s, arr, (size_t)len);
    if (n > 0)
        g->stats.events_out[gw_event_index(event)] += (unsigned long long)n;
    gw_notify_typing(g, c->socket_id, conv, c->user_id, start);
}

static void typing_checked(void *arg, PGresult *res)
{
    struct op *o = arg;
    int status;
    json_object *body;
    sio_socket *s = op_end(o, res, &status, &body);
    if (s && status == 200) {
        typing_change(o->g, s, sio_socket_user(s), gw_event_names[o->event], o->conv);
        gw_ack_conv(s, o->ack_id, o->conv);
    } else if (s) {
        op_fail(o, s, status, body);
    }
    json_object_put(body);
    free(o);
}

static void on_typing(struct gateway *g, sio_socket *s, struct gw_client *c, int ev, int conv, json_object *data,
                      int64_t ack_id)
{
    char room[32];
    gw_room_name(conv, room, sizeof room);
    if (sio_in_room(s, room)) {
        /* Joining checked participation already. */
        typing_change(g, s, c, gw_event_names[ev], conv);
        gw_ack_conv(s, ack_id, conv);
        return;
    }
    char uid[16], cid[16];
    snprintf(uid, sizeof uid, "%d", c->user_id);
    snprintf(cid, sizeof cid, "%d", conv);
    const char *params[] = {uid, c->role, cid};
    submit(g, s, c, op_new(g, s, ev, ack_id, conv), MSG_OP_CHECK_PARTICIPANT, params, typing_checked);
}

void gw_typing_cleanup(struct gateway *g, sio_socket *s, struct gw_client *c)
{
    while (c->ntyping > 0)
        typing_change(g, s, c, "typing_stop", c->typing[c->ntyping - 1]);
}

/* ---------------------------------------------------------------- routes */

typedef void (*handler)(struct gateway *g, sio_socket *s, struct gw_client *c, int ev, int conv, json_object *data,
                        int64_t ack_id);

static const struct {
    const char *name;
    handler fn;
} routes[] = {
    {"join_room", on_join},      {"leave_room", on_leave},   {"send_message", on_send}, {"mark_as_read", on_read},
    {"typing_start", on_typing}, {"typing_stop", on_typing}, {"refresh_token", NULL},
};

void gw_on_event(sio_socket *s, const char *event, json_object *args, int64_t ack_id, const sio_bin *bins, size_t nbins,
                 void *user)
{
    struct gateway *g = user;
    struct gw_client *c = sio_socket_user(s);
    int ev = gw_event_index(event);
    g->stats.events_in[ev]++;
    if (!c || !c->authenticated)
        return;
    /* Counted before anything else, unknown events too (API.md section 8). */
    long long retry_ms = 0;
    switch (gw_limit_take(g, c, event, &retry_ms)) {
    case GW_LIMIT_OK:
        break;
    case GW_LIMIT_REFUSED:
        gw_fail_retry(g, s, msg_utf8_valid(event, strlen(event)) && strlen(event) <= 64 ? event : "unknown", ack_id,
                      MSG_RATE_LIMITED, "Too many events: slow down", retry_ms);
        return;
    case GW_LIMIT_FLOOD: {
        static const char arr[] =
            "[\"error\",{\"code\":\"rate_limited\",\"message\":\"Too many events for too long\",\"event\":null}]";
        g->stats.errors[MSG_RATE_LIMITED]++;
        sio_emit_text(s, arr, sizeof arr - 1);
        msg_info("flood_disconnect", "user=%d sid=%s", c->user_id, sio_socket_sid(s));
        sio_disconnect(s);
        return;
    }
    }
    size_t r = 0;
    while (r < sizeof routes / sizeof routes[0] && strcmp(routes[r].name, event) != 0)
        r++;
    /* Unknown events get an error; its `event` field names what was sent
     * (cut to keep the answer small). */
    if (r == sizeof routes / sizeof routes[0]) {
        char name[65];
        snprintf(name, sizeof name, "%s", event);
        gw_fail(g, s, msg_utf8_valid(name, strlen(name)) ? name : "unknown", ack_id, MSG_INVALID_REQUEST,
                "Unknown event");
        return;
    }
    json_object *data = args ? json_object_array_get_idx(args, 0) : NULL, *v;
    int conv;
    if (!routes[r].fn) {
        gw_on_refresh(g, s, c, data, ack_id);
        return;
    }
    if (!data || !json_object_is_type(data, json_type_object)) {
        gw_fail(g, s, event, ack_id, MSG_INVALID_REQUEST, "The event's data must be an object");
        return;
    }
    if (!json_object_object_get_ex(data, "conversationId", &v) || !msg_json_id(v, &conv)) {
        gw_fail(g, s, event, ack_id, MSG_INVALID_REQUEST, "conversationId must be a positive 32-bit integer");
        return;
    }
    if (c->inflight >= GW_MAX_INFLIGHT) {
        gw_fail_retry(g, s, event, ack_id, MSG_RATE_LIMITED, "Too many operations in flight", GW_INFLIGHT_RETRY_MS);
        return;
    }
    routes[r].fn(g, s, c, ev, conv, data, ack_id);
}
