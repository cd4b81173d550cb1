/*
 * Socket.IO server: one sio_client per Engine.IO session, one sio_socket
 * per namespace it joined. Decodes packets, runs the connect handshake
 * (with the application's decision, possibly asynchronous), events and
 * acknowledgements both ways, binary attachment reassembly, and the
 * connect timeout. Rooms are in sio_rooms.c.
 */
#include "sio_internal.h"

#include <stdlib.h>
#include <string.h>

/* --- helpers ------------------------------------------------------------- */

static const char b64url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/* 0, or -1 when there is no randomness (the caller refuses the connect:
 * no predictable ids). */
static int random_sid(char *out)
{
    uint8_t rnd[SIO_SID_LEN];

    if (msg_random_bytes(rnd, sizeof(rnd)) < 0)
        return -1;
    for (int i = 0; i < SIO_SID_LEN; i++)
        out[i] = b64url[rnd[i] & 63];
    out[SIO_SID_LEN] = '\0';
    return 0;
}

struct sio_nsp *sio_nsp_find(sio_server *srv, const char *name, size_t len)
{
    for (size_t i = 0; i < srv->n_nsps; i++)
        if (strlen(srv->nsps[i].name) == len && !memcmp(srv->nsps[i].name, name, len))
            return &srv->nsps[i];
    return NULL;
}

/* Sends one text packet (no attachments) to a connection. */
static int send_packet(eio_session *es, int type, const char *nsp, int64_t id, json_object *data)
{
    size_t len;
    char *txt = sio_packet_encode(type, nsp, id, 0, data, &len);
    uint8_t *p;
    eio_buf *b;
    int r;

    if (!txt)
        return SIO_ENOMEM;
    b = eio_buf_new(len, 0, &p);
    if (!b) {
        free(txt);
        return SIO_ENOMEM;
    }
    memcpy(p, txt, len);
    free(txt);
    r = eio_send_bufs(es, &b, 1);
    eio_buf_unref(b);
    return r;
}

static int send_message_obj(eio_session *es, int type, const char *nsp, const char *message)
{
    json_object *o = json_object_new_object();
    int r;

    if (!o)
        return SIO_ENOMEM;
    json_object_object_add(o, "message", json_object_new_string(message));
    r = send_packet(es, type, nsp, SIO_NO_ACK, o);
    json_object_put(o);
    return r;
}

/* [event, ...args] → one text buffer plus one per attachment. */
static int encode(int type, const char *nsp, json_object *data, int64_t id, const sio_bin *bins, size_t nbins,
                  eio_buf **bufs)
{
    size_t len, i;
    char *txt = sio_packet_encode(type, nsp, id, (unsigned)nbins, data, &len);
    uint8_t *p;

    if (!txt)
        return SIO_ENOMEM;
    bufs[0] = eio_buf_new(len, 0, &p);
    if (bufs[0])
        memcpy(p, txt, len);
    free(txt);
    if (!bufs[0])
        return SIO_ENOMEM;
    for (i = 0; i < nbins; i++) {
        bufs[i + 1] = eio_buf_new(bins[i].len, 1, &p);
        if (!bufs[i + 1])
            break;
        if (bins[i].len)
            memcpy(p, bins[i].data, bins[i].len);
    }
    if (i < nbins) {
        for (size_t k = 0; k <= i; k++)
            eio_buf_unref(bufs[k]);
        return SIO_ENOMEM;
    }
    return 0;
}

int sio_encode_event(const char *nsp, const char *event, json_object *args, const sio_bin *bins, size_t nbins,
                     int64_t ack_id, eio_buf **bufs)
{
    size_t n = args && json_object_is_type(args, json_type_array) ? json_object_array_length(args) : 0;
    json_object *arr = json_object_new_array_ext((int)n + 1);
    int r;

    if (!arr)
        return SIO_ENOMEM;
    json_object_array_add(arr, json_object_new_string(event));
    for (size_t i = 0; i < n; i++)
        json_object_array_add(arr, json_object_get(json_object_array_get_idx(args, i)));
    r = encode(nbins ? SIO_BINARY_EVENT : SIO_EVENT, nsp, arr, ack_id, bins, nbins, bufs);
    json_object_put(arr);
    return r;
}

int sio_socket_send(sio_socket *s, eio_buf *const *bufs, size_t n)
{
    if (!s || s->state != SK_CONNECTED || !s->cl)
        return SIO_ECLOSED;
    return eio_send_bufs(s->cl->es, bufs, n);
}

/* --- sockets ------------------------------------------------------------- */

static sio_socket *socket_new(struct sio_client *cl, struct sio_nsp *nsp, const char *sid)
{
    sio_server *srv = cl->srv;
    sio_socket *s = calloc(1, sizeof(*s));

    if (!s)
        return NULL;
    s->id = ++srv->next_id;
    s->srv = srv;
    s->cl = cl;
    s->nsp = nsp;
    s->state = SK_PENDING;
    memcpy(s->sid, sid, sizeof(s->sid));
    s->idnode.key = &s->id;
    s->idnode.klen = sizeof(s->id);
    eio_htab_insert(&srv->by_id, &s->idnode);
    s->cnext = cl->sockets;
    cl->sockets = s;
    return s;
}

static void unlink_from_client(sio_socket *s)
{
    if (!s->cl)
        return;
    for (sio_socket **pp = &s->cl->sockets; *pp; pp = &(*pp)->cnext)
        if (*pp == s) {
            *pp = s->cnext;
            break;
        }
    s->cl = NULL;
}

/* Fails pending acks, tells the application (if owed), leaves the rooms and
 * frees. The socket is already off its client's list. */
static void socket_teardown(sio_socket *s, const char *reason, int notify)
{
    sio_server *srv = s->srv;

    s->state = SK_GONE; /* API calls from the callbacks below are no-ops */
    while (s->acks) {
        struct sio_pending_ack *a = s->acks;

        s->acks = a->next;
        lws_sul_cancel(&a->sul);
        a->cb(s, SIO_ACK_DISCONNECTED, NULL, NULL, 0, a->arg);
        free(a);
    }
    if (notify && srv->h.on_disconnect)
        srv->h.on_disconnect(s, reason, srv->user);
    sio_rooms_leave_all(s);
    if (s->listed) {
        if (s->prev)
            s->prev->next = s->next;
        else
            srv->connected = s->next;
        if (s->next)
            s->next->prev = s->prev;
        srv->count--;
    }
    eio_htab_remove(&srv->by_id, &s->idnode);
    free(s);
}

static void socket_accept(sio_socket *s, const char *pid)
{
    sio_server *srv = s->srv;
    json_object *o = json_object_new_object();

    s->state = SK_CONNECTED;
    s->listed = 1;
    s->prev = NULL;
    s->next = srv->connected;
    if (srv->connected)
        srv->connected->prev = s;
    srv->connected = s;
    srv->count++;
    lws_sul_cancel(&s->cl->connect_sul);
    if (o) {
        json_object_object_add(o, "sid", json_object_new_string(s->sid));
        if (pid)
            json_object_object_add(o, "pid", json_object_new_string(pid));
        send_packet(s->cl->es, SIO_CONNECT, s->nsp->name, SIO_NO_ACK, o);
        json_object_put(o);
    }
    if (srv->h.on_connected)
        srv->h.on_connected(s, srv->user);
}

static void socket_refuse(sio_socket *s, const char *msg)
{
    if (s->cl)
        send_message_obj(s->cl->es, SIO_CONNECT_ERROR, s->nsp->name, msg ? msg : "Not authorized");
    unlink_from_client(s);
    socket_teardown(s, NULL, 0);
}

int sio_accept(sio_socket *s)
{
    if (!s || s->state != SK_PENDING || !s->cl)
        return SIO_EINVAL;
    socket_accept(s, NULL);
    return 0;
}

int sio_accept_pid(sio_socket *s, const char *pid)
{
    if (!s || s->state != SK_PENDING || !s->cl)
        return SIO_EINVAL;
    socket_accept(s, pid);
    return 0;
}

int sio_refuse(sio_socket *s, const char *message)
{
    if (!s || s->state != SK_PENDING)
        return SIO_EINVAL;
    socket_refuse(s, message);
    return 0;
}

static void reap_cb(lws_sorted_usec_list_t *sul)
{
    sio_server *srv = lws_container_of(sul, sio_server, reap_sul);

    while (srv->reap) {
        sio_socket *s = srv->reap;

        srv->reap = s->rnext;
        socket_teardown(s, s->gone_reason, 1);
    }
}

void sio_disconnect(sio_socket *s)
{
    struct lws_context *ctx;

    if (!s || !s->cl || (s->state != SK_CONNECTED && s->state != SK_PENDING))
        return;
    if (s->state == SK_CONNECTED)
        send_packet(s->cl->es, SIO_DISCONNECT, s->nsp->name, SIO_NO_ACK, NULL);
    unlink_from_client(s);
    s->state = SK_GONE;
    s->gone_reason = "server namespace disconnect";
    s->rnext = s->srv->reap;
    s->srv->reap = s;
    ctx = eio_server_context(s->srv->eio);
    if (ctx)
        lws_sul_schedule(ctx, 0, &s->srv->reap_sul, reap_cb, 1);
}

void sio_close(sio_socket *s)
{
    if (s && s->cl)
        eio_close_reason(s->cl->es, "forced close");
}

/* --- emitting ------------------------------------------------------------ */

/* Sends the 1 + nbins buffers of one packet when its encoding succeeded
 * (r == 0), then drops their references and frees the array; returns r or
 * the send's result. */
static int send_encoded(sio_socket *s, eio_buf **bufs, size_t nbins, int r)
{
    if (r == 0) {
        r = eio_send_bufs(s->cl->es, bufs, 1 + nbins);
        for (size_t i = 0; i <= nbins; i++)
            eio_buf_unref(bufs[i]);
    }
    free(bufs);
    return r;
}

static int emit_bufs(sio_socket *s, const char *event, json_object *args, const sio_bin *bins, size_t nbins, int64_t id)
{
    eio_buf **bufs;
    int r;

    if (!s || !event)
        return SIO_EINVAL;
    if (s->state != SK_CONNECTED || !s->cl)
        return SIO_ECLOSED;
    bufs = calloc(1 + nbins, sizeof(*bufs));
    if (!bufs)
        return SIO_ENOMEM;
    r = sio_encode_event(s->nsp->name, event, args, bins, nbins, id, bufs);
    return send_encoded(s, bufs, nbins, r);
}

int sio_emit(sio_socket *s, const char *event, json_object *args, const sio_bin *bins, size_t nbins)
{
    return emit_bufs(s, event, args, bins, nbins, SIO_NO_ACK);
}

static void ack_timeout_cb(lws_sorted_usec_list_t *sul)
{
    struct sio_pending_ack *a = lws_container_of(sul, struct sio_pending_ack, sul);
    sio_socket *s = a->s;

    for (struct sio_pending_ack **pp = &s->acks; *pp; pp = &(*pp)->next)
        if (*pp == a) {
            *pp = a->next;
            break;
        }
    a->cb(s, SIO_ACK_TIMEOUT, NULL, NULL, 0, a->arg);
    free(a);
}

int sio_emit_ack(sio_socket *s, const char *event, json_object *args, const sio_bin *bins, size_t nbins,
                 unsigned timeout_ms, sio_ack_cb cb, void *arg)
{
    struct sio_pending_ack *a;
    int r;

    if (!cb)
        return SIO_EINVAL;
    if (!s || s->state != SK_CONNECTED)
        return SIO_ECLOSED;
    a = calloc(1, sizeof(*a));
    if (!a)
        return SIO_ENOMEM;
    a->id = s->next_ack;
    r = emit_bufs(s, event, args, bins, nbins, a->id);
    if (r) {
        free(a);
        return r;
    }
    s->next_ack = (s->next_ack + 1) % MSG_SIO_ACK_ID_LIMIT;
    a->s = s;
    a->cb = cb;
    a->arg = arg;
    a->next = s->acks;
    s->acks = a;
    if (timeout_ms)
        lws_sul_schedule(eio_server_context(s->srv->eio), 0, &a->sul, ack_timeout_cb, (lws_usec_t)timeout_ms * 1000);
    return 0;
}

int sio_ack(sio_socket *s, int64_t ack_id, json_object *args, const sio_bin *bins, size_t nbins)
{
    json_object *data = args ? json_object_get(args) : json_object_new_array();
    eio_buf **bufs;
    int r;

    if (!s || ack_id < 0 || (args && !json_object_is_type(args, json_type_array))) {
        json_object_put(data);
        return SIO_EINVAL;
    }
    if (s->state != SK_CONNECTED || !s->cl) {
        json_object_put(data);
        return SIO_ECLOSED;
    }
    bufs = calloc(1 + nbins, sizeof(*bufs));
    if (!bufs || !data) {
        free(bufs);
        json_object_put(data);
        return SIO_ENOMEM;
    }
    r = encode(nbins ? SIO_BINARY_ACK : SIO_ACK, s->nsp->name, data, ack_id, bins, nbins, bufs);
    json_object_put(data);
    return send_encoded(s, bufs, nbins, r);
}

/* --- incoming packets ---------------------------------------------------- */

static sio_socket *client_socket(struct sio_client *cl, const char *nsp, size_t len)
{
    for (sio_socket *s = cl->sockets; s; s = s->cnext)
        if (strlen(s->nsp->name) == len && !memcmp(s->nsp->name, nsp, len))
            return s;
    return NULL;
}

static void on_connect_packet(struct sio_client *cl, sio_packet *p)
{
    sio_server *srv = cl->srv;
    struct sio_nsp *nsp = sio_nsp_find(srv, p->nsp, p->nsp_len);
    const char *refusal = NULL;
    char sid[SIO_SID_LEN + 1];
    sio_socket *s;
    int r;

    if (!nsp) {
        char *name = strndup(p->nsp, p->nsp_len);

        if (name)
            send_message_obj(cl->es, SIO_CONNECT_ERROR, name, "Invalid namespace");
        free(name);
        return;
    }
    if (random_sid(sid) < 0) {
        char *name = strndup(p->nsp, p->nsp_len);

        if (name)
            send_message_obj(cl->es, SIO_CONNECT_ERROR, name, "Internal error");
        free(name);
        return;
    }
    s = socket_new(cl, nsp, sid);
    if (!s) {
        eio_close_reason(cl->es, "transport error");
        return;
    }
    r = srv->h.on_connect ? srv->h.on_connect(s, p->data, &refusal, srv->user) : SIO_ACCEPT;
    if (r == SIO_ACCEPT)
        socket_accept(s, NULL);
    else if (r == SIO_REFUSE)
        socket_refuse(s, refusal);
    /* SIO_PENDING: the application calls sio_accept()/sio_refuse() */
}

static void on_event_packet(sio_socket *s, sio_packet *p, const sio_bin *bins, size_t nbins)
{
    sio_server *srv = s->srv;
    json_object *name = json_object_get(json_object_array_get_idx(p->data, 0));

    json_object_array_del_idx(p->data, 0, 1);
    if (srv->h.on_event)
        srv->h.on_event(s, json_object_get_string(name), p->data, p->id, bins, nbins, srv->user);
    json_object_put(name);
}

static void on_ack_packet(sio_socket *s, sio_packet *p, const sio_bin *bins, size_t nbins)
{
    for (struct sio_pending_ack **pp = &s->acks; *pp; pp = &(*pp)->next) {
        struct sio_pending_ack *a = *pp;

        if (a->id != p->id)
            continue;
        *pp = a->next;
        lws_sul_cancel(&a->sul);
        a->cb(s, SIO_ACK_OK, p->data, bins, nbins, a->arg);
        free(a);
        return;
    }
    /* an ack nobody waits for (late, or made up): ignored, as the
	 * reference server does */
}

static void dispatch(struct sio_client *cl, sio_packet *p, const sio_bin *bins, size_t nbins)
{
    sio_socket *s = client_socket(cl, p->nsp, p->nsp_len);

    if (p->type == SIO_CONNECT) {
        if (s) {
            eio_close_reason(cl->es, "parse error");
            return;
        }
        on_connect_packet(cl, p);
        return;
    }
    /* anything else needs a connected socket in that namespace */
    if (!s || s->state != SK_CONNECTED) {
        eio_close_reason(cl->es, "parse error");
        return;
    }
    switch (p->type) {
    case SIO_DISCONNECT:
        unlink_from_client(s);
        socket_teardown(s, "client namespace disconnect", 1);
        break;
    case SIO_EVENT:
    case SIO_BINARY_EVENT:
        on_event_packet(s, p, bins, nbins);
        break;
    case SIO_ACK:
    case SIO_BINARY_ACK:
        on_ack_packet(s, p, bins, nbins);
        break;
    default: /* CONNECT_ERROR from a client */
        eio_close_reason(cl->es, "parse error");
        break;
    }
}

static void pending_clear(struct sio_client *cl)
{
    for (size_t i = 0; i < cl->nbins; i++)
        free((void *)cl->bins[i].data);
    free(cl->bins);
    cl->bins = NULL;
    cl->nbins = cl->bin_bytes = 0;
    sio_packet_clear(&cl->pend);
    free(cl->pend_nsp);
    cl->pend_nsp = NULL;
    cl->pending = 0;
}

static void on_binary(struct sio_client *cl, const uint8_t *data, size_t len)
{
    uint8_t *copy;

    if (!cl->pending || len > cl->srv->cfg.eio.max_payload - cl->bin_bytes) {
        /* binary with nothing waiting for it, or too much of it */
        eio_close_reason(cl->es, "parse error");
        return;
    }
    copy = malloc(len ? len : 1);
    if (!copy) {
        eio_close_reason(cl->es, "transport error");
        return;
    }
    if (len)
        memcpy(copy, data, len);
    cl->bins[cl->nbins].data = copy;
    cl->bins[cl->nbins].len = len;
    cl->nbins++;
    cl->bin_bytes += len;
    if (cl->nbins == cl->pend.attachments) {
        dispatch(cl, &cl->pend, cl->bins, cl->nbins);
        pending_clear(cl);
    }
}

static void cl_message(eio_session *es, const uint8_t *data, size_t len, int binary, void *user)
{
    struct sio_client *cl = eio_session_user(es);
    sio_server *srv = user;
    sio_packet p;

    if (!cl)
        return;
    if (binary) {
        on_binary(cl, data, len);
        return;
    }
    if (cl->pending || sio_packet_decode((const char *)data, len, &srv->limits, &p)) {
        /* text while attachments are due, or not a packet */
        eio_close_reason(es, "parse error");
        return;
    }
    if ((p.type == SIO_BINARY_EVENT || p.type == SIO_BINARY_ACK) && p.attachments > 0) {
        /* the frame goes away after this call: keep the namespace */
        cl->pend_nsp = strndup(p.nsp, p.nsp_len);
        cl->bins = calloc(p.attachments, sizeof(*cl->bins));
        if (!cl->pend_nsp || !cl->bins) {
            free(cl->pend_nsp);
            free(cl->bins);
            cl->pend_nsp = NULL;
            cl->bins = NULL;
            sio_packet_clear(&p);
            eio_close_reason(es, "transport error");
            return;
        }
        cl->pend = p;
        cl->pend.nsp = cl->pend_nsp;
        cl->pending = 1;
        return;
    }
    dispatch(cl, &p, NULL, 0);
    sio_packet_clear(&p);
}

/* --- Engine.IO sessions -------------------------------------------------- */

static void connect_timeout_cb(lws_sorted_usec_list_t *sul)
{
    struct sio_client *cl = lws_container_of(sul, struct sio_client, connect_sul);

    for (sio_socket *s = cl->sockets; s; s = s->cnext)
        if (s->state == SK_CONNECTED)
            return;
    eio_close_reason(cl->es, "connect timeout");
}

static int cl_open(eio_session *es, void *user)
{
    sio_server *srv = user;
    struct sio_client *cl = calloc(1, sizeof(*cl));

    if (!cl)
        return -1;
    cl->srv = srv;
    cl->es = es;
    eio_session_set_user(es, cl);
    lws_sul_schedule(eio_server_context(srv->eio), 0, &cl->connect_sul, connect_timeout_cb,
                     (lws_usec_t)srv->cfg.connect_timeout_ms * 1000);
    return 0;
}

static void cl_close(eio_session *es, const char *reason, void *user)
{
    struct sio_client *cl = eio_session_user(es);

    if (!cl)
        return;
    lws_sul_cancel(&cl->connect_sul);
    pending_clear(cl);
    while (cl->sockets) {
        sio_socket *s = cl->sockets;

        cl->sockets = s->cnext;
        s->cl = NULL;
        /* a pending socket is owed on_disconnect too: the application
		 * may be waiting on a lookup for it */
        socket_teardown(s, reason, 1);
    }
    eio_session_set_user(es, NULL);
    free(cl);
}

/* --- server -------------------------------------------------------------- */

sio_server *sio_server_new(const sio_config *cfg, const sio_handlers *h, void *user)
{
    static const char *const main_only[] = {"/", NULL};
    const char *const *names = cfg && cfg->namespaces ? cfg->namespaces : main_only;
    eio_handlers eh = {.on_open = cl_open, .on_message = cl_message, .on_close = cl_close};
    sio_server *srv = calloc(1, sizeof(*srv));
    eio_config ecfg;
    size_t n = 0;

    if (!srv)
        return NULL;
    if (cfg)
        srv->cfg = *cfg;
    if (h)
        srv->h = *h;
    srv->user = user;
    if (!srv->cfg.connect_timeout_ms)
        srv->cfg.connect_timeout_ms = 45000;
    if (!srv->cfg.max_attachments)
        srv->cfg.max_attachments = MSG_SIO_ATTACHMENTS_DEFAULT;
    ecfg = srv->cfg.eio;
    if (!ecfg.path)
        ecfg.path = "/socket.io/";
    srv->eio = eio_server_new(&ecfg, &eh, srv);
    if (!srv->eio || eio_htab_init(&srv->by_id))
        goto fail;
    srv->cfg.eio = *eio_server_config(srv->eio); /* defaults filled, strings owned */
    srv->cfg.namespaces = NULL;
    srv->limits.max_len = srv->cfg.eio.max_payload;
    srv->limits.max_attachments = srv->cfg.max_attachments;
    srv->limits.max_nsp_len = MSG_SIO_NSP_MAX;

    while (names[n])
        n++;
    srv->nsps = calloc(n ? n : 1, sizeof(*srv->nsps));
    if (!srv->nsps)
        goto fail;
    for (size_t i = 0; i < n; i++) {
        if (names[i][0] != '/' || !(srv->nsps[i].name = strdup(names[i])) || eio_htab_init(&srv->nsps[i].rooms)) {
            free(srv->nsps[i].name);
            goto fail;
        }
        srv->n_nsps++;
    }
    return srv;
fail:
    sio_server_free(srv);
    return NULL;
}

void sio_server_free(sio_server *srv)
{
    if (!srv)
        return;
    /* the host is gone (its teardown closed every session): only sockets
	 * disconnected by the server and not yet reaped remain */
    while (srv->reap) {
        sio_socket *s = srv->reap;

        srv->reap = s->rnext;
        socket_teardown(s, "server shutdown", 1);
    }
    eio_server_free(srv->eio);
    for (size_t i = 0; i < srv->n_nsps; i++) {
        sio_nsp_rooms_free(&srv->nsps[i]);
        free(srv->nsps[i].name);
    }
    free(srv->nsps);
    eio_htab_free(&srv->by_id);
    free(srv);
}

eio_server *sio_server_engine(sio_server *srv) { return srv->eio; }

size_t sio_socket_count(const sio_server *srv) { return srv->count; }

void sio_foreach_socket(sio_server *srv, void (*fn)(sio_socket *s, void *arg), void *arg)
{
    /* disconnects are deferred, so the list cannot lose a node under us */
    for (sio_socket *s = srv->connected; s; s = s->next)
        if (s->state == SK_CONNECTED)
            fn(s, arg);
}

sio_socket *sio_socket_find(sio_server *srv, uint64_t id)
{
    eio_hnode *n = eio_htab_find(&srv->by_id, &id, sizeof(id));
    sio_socket *s = n ? lws_container_of(n, sio_socket, idnode) : NULL;

    return s && s->state != SK_GONE ? s : NULL;
}

/* --- accessors ----------------------------------------------------------- */

uint64_t sio_socket_id(const sio_socket *s) { return s->id; }

const char *sio_socket_sid(const sio_socket *s) { return s->sid; }

const char *sio_socket_nsp(const sio_socket *s) { return s->nsp->name; }

int sio_socket_is_connected(const sio_socket *s) { return s && s->state == SK_CONNECTED && s->cl; }

void sio_socket_set_user(sio_socket *s, void *p) { s->user = p; }

void *sio_socket_user(const sio_socket *s) { return s->user; }

const char *sio_socket_header(const sio_socket *s, const char *name)
{
    return s->cl ? eio_session_header(s->cl->es, name) : NULL;
}

const char *sio_socket_query(const sio_socket *s, const char *name)
{
    return s->cl ? eio_session_query(s->cl->es, name) : NULL;
}

const char *sio_socket_peer(const sio_socket *s) { return s->cl ? eio_session_peer(s->cl->es) : NULL; }
