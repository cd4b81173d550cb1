/* Test hooks of the conformance server: see hooks.h. */
#include "hooks.h"

#include <libwebsockets.h>
#include <stdlib.h>
#include <string.h>

int test_hooks;

static sio_server *g_srv;
static struct lws_context *g_ctx;

/* An asynchronous connect decision, as the gateway makes after a database
 * lookup: only the socket id is kept across the wait. */
struct decision {
    lws_sorted_usec_list_t sul;
    struct decision *next;
    uint64_t id;
    int ok;
};
static struct decision *g_decisions;

void hooks_init(sio_server *srv, struct lws_context *ctx)
{
    g_srv = srv;
    g_ctx = ctx;
}

void hooks_fini(void)
{
    while (g_decisions) {
        struct decision *d = g_decisions;

        g_decisions = d->next;
        lws_sul_cancel(&d->sul);
        free(d);
    }
}

static void decide_cb(lws_sorted_usec_list_t *sul)
{
    struct decision *d = lws_container_of(sul, struct decision, sul);
    sio_socket *s = sio_socket_find(g_srv, d->id);

    for (struct decision **pp = &g_decisions; *pp; pp = &(*pp)->next)
        if (*pp == d) {
            *pp = d->next;
            break;
        }
    if (s) {
        if (d->ok) {
            sio_accept(s);
        } else {
            json_object_put(sio_socket_user(s));
            sio_refuse(s, "bad token");
        }
    }
    free(d);
}

int hooks_auth(sio_socket *s, json_object *auth, const char **refusal)
{
    json_object *tok = NULL;
    const char *t = auth && json_object_object_get_ex(auth, "token", &tok) ? json_object_get_string(tok) : "";
    struct decision *d;

    if (!strcmp(t, "refuse-now")) {
        json_object_put(sio_socket_user(s));
        sio_socket_set_user(s, NULL);
        *refusal = "refused now";
        return SIO_REFUSE;
    }
    d = calloc(1, sizeof(*d));
    if (!d)
        return SIO_REFUSE;
    d->id = sio_socket_id(s);
    d->ok = !strcmp(t, "good");
    d->next = g_decisions;
    g_decisions = d;
    lws_sul_schedule(g_ctx, 0, &d->sul, decide_cb, 50 * 1000);
    return SIO_PENDING;
}

static json_object *one(json_object *v)
{
    json_object *a = json_object_new_array();

    json_object_array_add(a, v);
    return a;
}

static void reply(sio_socket *s, int64_t ack_id, json_object *args)
{
    if (ack_id != SIO_NO_ACK)
        sio_ack(s, ack_id, args, NULL, 0);
    json_object_put(args);
}

static void answer_cb(sio_socket *s, int status, json_object *args, const sio_bin *bins, size_t nbins, void *arg)
{
    json_object *a;

    if (status == SIO_ACK_DISCONNECTED)
        return;
    a = json_object_new_array();
    json_object_array_add(a, json_object_new_int(status));
    json_object_array_add(a, args ? json_object_get(args) : NULL);
    sio_emit(s, "answer", a, bins, nbins);
    json_object_put(a);
}

void hooks_event(sio_socket *s, const char *event, json_object *args, int64_t ack_id, const sio_bin *bins, size_t nbins)
{
    json_object *a0 = json_object_array_get_idx(args, 0);
    json_object *a1 = json_object_array_get_idx(args, 1);
    const char *room = a0 ? json_object_get_string(a0) : "";

    if (!strcmp(event, "join")) {
        reply(s, ack_id, one(json_object_new_int(sio_join(s, room))));
    } else if (!strcmp(event, "leave")) {
        reply(s, ack_id, one(json_object_new_int(sio_leave(s, room))));
    } else if (!strcmp(event, "to-room")) {
        json_object *payload = one(json_object_get(a1));
        int n = sio_emit_room(g_srv, sio_socket_nsp(s), room, s, "room-message", payload, NULL, 0);

        json_object_put(payload);
        reply(s, ack_id, one(json_object_new_int(n)));
    } else if (!strcmp(event, "room-size")) {
        json_object *r = json_object_new_array();

        json_object_array_add(r, json_object_new_int64((int64_t)sio_room_size(g_srv, sio_socket_nsp(s), room)));
        json_object_array_add(r, json_object_new_int64((int64_t)sio_room_count(g_srv, sio_socket_nsp(s))));
        json_object_array_add(r, json_object_new_int64((int64_t)sio_socket_count(g_srv)));
        reply(s, ack_id, r);
    } else if (!strcmp(event, "ask")) {
        int timeout = a1 ? json_object_get_int(a1) : 1000;
        json_object *q = one(json_object_get(a0));

        sio_emit_ack(s, "question", q, bins, nbins, (unsigned)timeout, answer_cb, NULL);
        json_object_put(q);
    } else if (!strcmp(event, "handshake-data")) {
        /* [query name, header name] -> [its query value, its header value] */
        json_object *r = json_object_new_array();
        const char *q = a0 ? sio_socket_query(s, json_object_get_string(a0)) : NULL;
        const char *h = a1 ? sio_socket_header(s, json_object_get_string(a1)) : NULL;

        json_object_array_add(r, q ? json_object_new_string(q) : NULL);
        json_object_array_add(r, h ? json_object_new_string(h) : NULL);
        reply(s, ack_id, r);
    } else if (!strcmp(event, "disconnect-me")) {
        sio_disconnect(s);
    } else if (!strcmp(event, "flood")) {
        int n = a0 ? json_object_get_int(a0) : 0;
        int size = a1 ? json_object_get_int(a1) : 0;
        char *blob = size > 0 && size < 1000000 ? malloc((size_t)size + 1) : NULL;

        if (!blob)
            return;
        memset(blob, 'x', (size_t)size);
        blob[size] = '\0';
        json_object *payload = one(json_object_new_string(blob));

        free(blob);
        for (int i = 0; i < n && n < 100000; i++)
            if (sio_emit(s, "flood", payload, NULL, 0))
                break; /* queue full: the connection is closing */
        json_object_put(payload);
    }
}

void hooks_disconnect(sio_socket *s, const char *reason)
{
    lwsl_user("disconnect sid=%s nsp=%s reason=\"%s\"\n", sio_socket_sid(s), sio_socket_nsp(s), reason);
}
