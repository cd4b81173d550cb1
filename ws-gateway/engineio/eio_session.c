/*
 * Engine.IO sessions: the sid table, open/close lifecycle, heartbeat, send
 * queue, and the upgrade state. Transports (eio_polling.c, eio_websocket.c)
 * feed packets in and drain the queue; this file decides what they mean.
 */
#include "eio_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* --- server ------------------------------------------------------------ */

/* The bytes strv_copy() takes from a pool for v (0 for NULL): the pointer
 * array, its NULL, and the strings. */
static size_t strv_size(const char *const *v)
{
    size_t n = 0, sz = sizeof(char *);

    if (!v)
        return 0;
    for (; v[n]; n++)
        sz += sizeof(char *) + strlen(v[n]) + 1;
    return sz;
}

/* Copies a NULL-terminated string array into *pool (sized with
 * strv_size()) and moves *pool past it. Returns the copy, or NULL for NULL. */
static const char *const *strv_copy(const char *const *v, char **pool)
{
    size_t n = 0;
    char **out = (char **)(void *)*pool;
    char *p;

    if (!v)
        return NULL;
    while (v[n])
        n++;
    p = *pool + (n + 1) * sizeof(char *);
    for (size_t i = 0; i < n; i++) {
        size_t l = strlen(v[i]) + 1;

        memcpy(p, v[i], l);
        out[i] = p;
        p += l;
    }
    out[n] = NULL;
    *pool = p;
    return (const char *const *)out;
}

eio_server *eio_server_new(const eio_config *cfg, const eio_handlers *h, void *user)
{
    eio_server *srv;
    const char *path = cfg && cfg->path ? cfg->path : "/engine.io/";
    size_t plen = strlen(path), sz;
    char *pool;

    if (!plen || path[0] != '/' || plen > 200)
        return NULL;
    srv = calloc(1, sizeof(*srv));
    if (srv)
        eio_wheel_init(&srv->wheel);
    if (!srv)
        return NULL;
    if (cfg)
        srv->cfg = *cfg;
    if (h)
        srv->h = *h;
    srv->user = user;
    if (!srv->cfg.ping_interval_ms)
        srv->cfg.ping_interval_ms = 25000;
    if (!srv->cfg.ping_timeout_ms)
        srv->cfg.ping_timeout_ms = 20000;
    if (!srv->cfg.upgrade_timeout_ms)
        srv->cfg.upgrade_timeout_ms = 10000;
    if (!srv->cfg.max_payload)
        srv->cfg.max_payload = MSG_WS_MAX_PAYLOAD_DEFAULT;
    if (!srv->cfg.send_queue_max)
        srv->cfg.send_queue_max = MSG_WS_SEND_QUEUE_DEFAULT;
    if (!srv->cfg.transports)
        srv->cfg.transports = EIO_TRANSPORT_POLLING | EIO_TRANSPORT_WEBSOCKET;

    /* one allocation for every copied string; the path always ends in '/' */
    sz = plen + 2 + strv_size(cfg ? cfg->cors_origins : NULL) + strv_size(cfg ? cfg->capture_headers : NULL) +
         sizeof(char *);
    srv->strs = malloc(sz);
    if (!srv->strs || eio_htab_init(&srv->sessions)) {
        free(srv->strs);
        free(srv);
        return NULL;
    }
    pool = srv->strs;
    /* pointer arrays first (aligned), then the path */
    srv->cfg.cors_origins = strv_copy(cfg ? cfg->cors_origins : NULL, &pool);
    pool = srv->strs + ((size_t)(pool - srv->strs) + sizeof(char *) - 1) / sizeof(char *) * sizeof(char *);
    srv->cfg.capture_headers = strv_copy(cfg ? cfg->capture_headers : NULL, &pool);
    memcpy(pool, path, plen + 1);
    if (pool[plen - 1] != '/') {
        pool[plen++] = '/';
        pool[plen] = '\0';
    }
    srv->cfg.path = pool;
    srv->path_len = plen;
    return srv;
}

void eio_server_free(eio_server *srv)
{
    if (!srv)
        return;
    /* sessions are gone if the host was freed; free any never served */
    while (srv->all) {
        eio_session *s = srv->all;

        srv->all = s->next;
        free(s->info);
        free(s);
    }
    eio_htab_free(&srv->sessions);
    free(srv->strs);
    free(srv->cors_strs);
    free(srv);
}

int eio_server_reconfigure(eio_server *srv, const eio_config *cfg)
{
    char *strs = NULL, *pool;

    if (!srv || !cfg)
        return EIO_EINVAL;
    if (cfg->cors_origins) {
        strs = malloc(strv_size(cfg->cors_origins));
        if (!strs)
            return EIO_EINVAL;
        pool = strs;
        srv->cfg.cors_origins = strv_copy(cfg->cors_origins, &pool);
    } else {
        srv->cfg.cors_origins = NULL;
    }
    free(srv->cors_strs);
    srv->cors_strs = strs;
    if (cfg->max_payload)
        srv->cfg.max_payload = cfg->max_payload;
    if (cfg->send_queue_max)
        srv->cfg.send_queue_max = cfg->send_queue_max;
    return 0;
}

const eio_config *eio_server_config(const eio_server *srv) { return &srv->cfg; }

struct lws_context *eio_server_context(const eio_server *srv) { return srv->ctx; }

void eio_server_bind(eio_server *srv, eio_host *h, struct lws_context *ctx)
{
    srv->host = h;
    srv->ctx = ctx;
    eio_wheel_bind(&srv->wheel, ctx);
}

/* --- reaping: on_close runs from the loop, never inside an API call ----- */

static void reap_run(eio_server *srv)
{
    while (srv->reap) {
        eio_session *s = srv->reap;

        srv->reap = s->next;
        if (s->opened && srv->h.on_close)
            srv->h.on_close(s, s->close_reason, srv->user);
        free(s->info);
        free(s);
    }
}

static void reap_cb(lws_sorted_usec_list_t *sul) { reap_run(lws_container_of(sul, eio_server, reap_sul)); }

void eio_server_shutdown(eio_server *srv)
{
    while (srv->all)
        eio_session_close_reason(srv->all, "server shutdown", 0);
    lws_sul_cancel(&srv->reap_sul);
    eio_wheel_stop(&srv->wheel);
    reap_run(srv);
}

/* --- heartbeat --------------------------------------------------------- */

static void heartbeat_cb(struct eio_wheel_ent *e)
{
    eio_session *s = lws_container_of(e, eio_session, hb);
    eio_buf *b;

    if (s->awaiting_pong) {
        eio_session_close_reason(s, "ping timeout", 0);
        return;
    }
    b = eio_buf_packet(EIO_PING, NULL, 0);
    if (!b) {
        eio_session_close_reason(s, "transport error", 0);
        return;
    }
    s->awaiting_pong = 1;
    /* arm the deadline before queueing: queueing may flush at once */
    eio_wheel_schedule(&s->srv->wheel, &s->hb, s->srv->cfg.ping_timeout_ms, heartbeat_cb);
    eio_session_queue(s, b, 1);
    eio_buf_unref(b);
}

void eio_session_ping_sent(eio_session *s)
{
    /* the pong deadline counts from when the ping left, not from when it
	 * was queued: our own loop latency is not the client's fault */
    if (s->state == S_OPEN && s->awaiting_pong)
        eio_wheel_schedule(&s->srv->wheel, &s->hb, s->srv->cfg.ping_timeout_ms, heartbeat_cb);
}

/* --- lifecycle ---------------------------------------------------------- */

static const char b64url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

eio_session *eio_session_create(eio_server *srv, int transport, char *info)
{
    eio_session *s = calloc(1, sizeof(*s));
    uint8_t rnd[15];
    char open[256];
    eio_buf *b;
    int n;

    /* no randomness, no session: a guessable sid is never handed out */
    if (!s || msg_random_bytes(rnd, sizeof(rnd)) < 0) {
        free(s);
        return NULL;
    }
    /* 120 random bits, URL-safe: the sid is the only credential of a
	 * polling session */
    for (int i = 0; i < 5; i++) {
        uint32_t v = (uint32_t)rnd[3 * i] << 16 | (uint32_t)rnd[3 * i + 1] << 8 | rnd[3 * i + 2];

        for (int k = 0; k < 4; k++)
            s->sid[4 * i + k] = b64url[(v >> (18 - 6 * k)) & 63];
    }
    s->sid[EIO_SID_LEN] = '\0';
    s->srv = srv;
    s->transport = (uint8_t)transport;
    s->qtail = &s->qhead;
    s->info = info;
    s->hnode.key = s->sid;
    s->hnode.klen = EIO_SID_LEN;

    n = snprintf(open, sizeof(open),
                 "{\"sid\":\"%s\",\"upgrades\":[%s],\"pingInterval\":%u,"
                 "\"pingTimeout\":%u,\"maxPayload\":%zu}",
                 s->sid,
                 transport == EIO_TRANSPORT_POLLING && (srv->cfg.transports & EIO_TRANSPORT_WEBSOCKET) ? "\"websocket\""
                                                                                                       : "",
                 srv->cfg.ping_interval_ms, srv->cfg.ping_timeout_ms, srv->cfg.max_payload);
    b = eio_buf_packet(EIO_OPEN, open, (size_t)n);
    if (!b) {
        free(s);
        return NULL;
    }
    eio_htab_insert(&srv->sessions, &s->hnode);
    s->next = srv->all;
    if (srv->all)
        srv->all->prev = s;
    srv->all = s;
    *s->qtail = NULL;
    eio_session_queue(s, b, 1);
    eio_buf_unref(b);
    eio_wheel_schedule(&srv->wheel, &s->hb, srv->cfg.ping_interval_ms, heartbeat_cb);
    return s;
}

int eio_session_notify_open(eio_session *s)
{
    s->opened = 1;
    if (s->srv->h.on_open && s->srv->h.on_open(s, s->srv->user)) {
        eio_session_close_reason(s, "forced close", 0);
        return -1;
    }
    return 0;
}

eio_session *eio_session_find(eio_server *srv, const char *sid, size_t len)
{
    eio_hnode *n = eio_htab_find(&srv->sessions, sid, len);

    return n ? lws_container_of(n, eio_session, hnode) : NULL;
}

static void queue_clear(eio_session *s)
{
    while (s->qhead) {
        struct eio_qent *e = s->qhead;

        s->qhead = e->next;
        eio_buf_unref(e->buf);
        free(e);
    }
    s->qtail = &s->qhead;
    s->qbytes = 0;
}

static void detach_ws(struct lws *wsi)
{
    struct eio_conn *c = lws_wsi_user(wsi);

    if (c)
        c->sess = NULL;
    eio_ws_doom(wsi);
}

void eio_session_close_reason(eio_session *s, const char *reason, int by_client)
{
    eio_server *srv = s->srv;

    if (s->state == S_CLOSED)
        return;
    s->state = S_CLOSED;
    s->close_reason = reason;
    eio_wheel_cancel(&s->srv->wheel, &s->hb);
    eio_htab_remove(&srv->sessions, &s->hnode);
    if (s->prev)
        s->prev->next = s->next;
    else
        srv->all = s->next;
    if (s->next)
        s->next->prev = s->prev;
    s->prev = NULL;
    s->next = srv->reap;
    srv->reap = s;
    lws_sul_schedule(srv->ctx, 0, &srv->reap_sul, reap_cb, 1);

    /* a client-initiated close ends the pending poll with noop, a server
	 * one with the close packet (as the reference server does) */
    if (s->get)
        eio_polling_answer(s, by_client ? EIO_NOOP : EIO_CLOSE);
    if (s->post) {
        struct eio_conn *c = lws_wsi_user(s->post);

        if (c)
            c->sess = NULL;
        s->post = NULL;
    }
    if (s->ws) {
        detach_ws(s->ws);
        s->ws = NULL;
    }
    if (s->probe) {
        detach_ws(s->probe);
        s->probe = NULL;
    }
    queue_clear(s);
}

void eio_close(eio_session *s)
{
    if (s)
        eio_session_close_reason(s, "forced close", 0);
}

void eio_close_reason(eio_session *s, const char *reason)
{
    if (s)
        eio_session_close_reason(s, reason ? reason : "forced close", 0);
}

void eio_session_on_packet(eio_session *s, const eio_packet *p)
{
    eio_server *srv = s->srv;

    if (s->state != S_OPEN)
        return;
    switch (p->type) {
    case EIO_PONG:
        if (s->awaiting_pong) {
            s->awaiting_pong = 0;
            eio_wheel_schedule(&srv->wheel, &s->hb, srv->cfg.ping_interval_ms, heartbeat_cb);
        }
        break;
    case EIO_MESSAGE:
        if (srv->h.on_message)
            srv->h.on_message(s, p->data, p->len, p->binary, srv->user);
        break;
    case EIO_CLOSE:
        eio_session_close_reason(s, "transport close", 1);
        break;
    default:
        /* open, ping, upgrade and noop mean nothing here (v4) */
        break;
    }
}

/* --- queue --------------------------------------------------------------- */

void eio_session_kick(eio_session *s)
{
    if (s->state != S_OPEN)
        return;
    if (s->transport == EIO_TRANSPORT_WEBSOCKET) {
        if (s->ws)
            lws_callback_on_writable(s->ws);
    } else if (s->get && (s->qhead || s->probed)) {
        lws_callback_on_writable(s->get);
    }
}

int eio_session_queue(eio_session *s, eio_buf *b, int control)
{
    struct eio_qent *e;

    if (s->state != S_OPEN)
        return EIO_ECLOSED;
    if (!control && s->qbytes + b->len > s->srv->cfg.send_queue_max) {
        /* a slow or stuck client is cut off, never buffered without end */
        eio_session_close_reason(s, "send queue full", 0);
        return EIO_EFULL;
    }
    e = malloc(sizeof(*e));
    if (!e) {
        eio_session_close_reason(s, "transport error", 0);
        return EIO_EFULL;
    }
    e->next = NULL;
    e->buf = eio_buf_ref(b);
    *s->qtail = e;
    s->qtail = &e->next;
    s->qbytes += b->len;
    eio_session_kick(s);
    return 0;
}

eio_buf *eio_session_pop(eio_session *s)
{
    struct eio_qent *e = s->qhead;
    eio_buf *b;

    if (!e)
        return NULL;
    s->qhead = e->next;
    if (!s->qhead)
        s->qtail = &s->qhead;
    b = e->buf;
    s->qbytes -= b->len;
    free(e);
    return b;
}

int eio_send_bufs(eio_session *s, eio_buf *const *bufs, size_t n)
{
    size_t total = 0;

    if (!s || s->state != S_OPEN)
        return EIO_ECLOSED;
    for (size_t i = 0; i < n; i++)
        total += bufs[i]->len;
    if (s->qbytes + total > s->srv->cfg.send_queue_max) {
        eio_session_close_reason(s, "send queue full", 0);
        return EIO_EFULL;
    }
    for (size_t i = 0; i < n; i++) {
        int r = eio_session_queue(s, bufs[i], 1);

        if (r)
            return r;
    }
    return 0;
}

int eio_send(eio_session *s, const void *data, size_t len, int binary)
{
    uint8_t *p;
    eio_buf *b;
    int r;

    if (!s || s->state != S_OPEN)
        return EIO_ECLOSED;
    b = eio_buf_new(len, binary, &p);
    if (!b)
        return EIO_EFULL;
    if (len)
        memcpy(p, data, len);
    r = eio_send_bufs(s, &b, 1);
    eio_buf_unref(b);
    return r;
}

void eio_session_upgraded(eio_session *s)
{
    struct eio_conn *c = lws_wsi_user(s->probe);

    s->transport = EIO_TRANSPORT_WEBSOCKET;
    s->ws = s->probe;
    s->probe = NULL;
    s->probed = 0;
    if (c)
        c->kind = C_WS;
    /* the old transport is done: a poll still parked ends with noop */
    if (s->get)
        eio_polling_answer(s, EIO_NOOP);
    eio_session_kick(s);
}

/* --- accessors ----------------------------------------------------------- */

const char *eio_session_sid(const eio_session *s) { return s->sid; }

int eio_session_transport(const eio_session *s) { return s->transport; }

int eio_session_is_open(const eio_session *s) { return s && s->state == S_OPEN; }

void eio_session_set_user(eio_session *s, void *p) { s->user = p; }

void *eio_session_user(const eio_session *s) { return s->user; }

eio_server *eio_session_server(const eio_session *s) { return s->srv; }

const char *eio_session_peer(const eio_session *s) { return eio_info_get(s->info, 0, NULL); }

const char *eio_session_query(const eio_session *s, const char *name) { return eio_info_get(s->info, 1, name); }

const char *eio_session_header(const eio_session *s, const char *name) { return eio_info_get(s->info, 2, name); }
