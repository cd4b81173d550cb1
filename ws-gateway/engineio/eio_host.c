/*
 * The lws context and vhost that carry the Engine.IO servers, the one lws
 * protocol callback that dispatches to the transports, and the hardening
 * that libwebsockets 4.1.6 needs (see docs/protocol.md):
 *
 * - HTTP/1.1 only: no LWS_SERVER_OPTION_H2_* option, ALPN "http/1.1", and
 *   "Upgrade: h2c" refused in LWS_CALLBACK_HTTP_CONFIRM_UPGRADE.
 * - CVE-2025-11677: in 4.1.6 an Upgrade header other than websocket/h2c
 *   gets a 403, the transaction is completed (the header table is released)
 *   and lws still calls LWS_CALLBACK_HTTP_CONFIRM_UPGRADE with `in` pointing
 *   into the released table, then strcasecmp()s it. Our protocol is
 *   protocols[0], the one that callback goes to; it never reads `in`, and
 *   it answers -1 (hang up) unless the live header table says "websocket",
 *   so lws takes its bail-out path before touching the stale pointer.
 * - Text frames UTF-8 validated by lws (LWS_SERVER_OPTION_VALIDATE_UTF8);
 *   request headers capped (max_http_header_data); a message reassembled
 *   only up to maxPayload (eio_websocket.c); POST bodies likewise
 *   (eio_polling.c); idle HTTP and header/body reception on timeouts; TCP
 *   keepalive for half-open connections; WebSocket receive buffer small so
 *   that an idle session stays small.
 */
#include "eio_internal.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* WebSocket receive chunk: lws allocates it per connection, so it is most
 * of an idle session's memory; larger messages are reassembled by us. */
#define WS_RX_BUFFER MSG_EIO_WS_RX_BUFFER

struct eio_host {
    struct lws_context *ctx;
    struct lws_vhost *vh;
    eio_server **servers;
    size_t n;
    struct lws_protocols *protocols;
    int port;
    void *loops[1]; /* the foreign loop, if any */
};

static int eio_lws_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in, size_t len);

eio_server *eio_host_route(eio_host *h, const char *uri, size_t len)
{
    for (size_t i = 0; i < h->n; i++) {
        eio_server *s = h->servers[i];

        /* "/engine.io/" and "/engine.io" both reach the server */
        if ((len == s->path_len || len + 1 == s->path_len) && !memcmp(uri, s->cfg.path, len))
            return s;
    }
    return NULL;
}

static int is_ours(struct lws *wsi)
{
    const struct lws_protocols *p = lws_get_protocol(wsi);

    return p && p->callback == eio_lws_callback;
}

/* A Sec-WebSocket-Protocol naming one of the application's protocols would
 * bind the WebSocket to that protocol's callback (an HTTP handler, the
 * database sockets' watcher), none of which speaks WebSocket. */
static int names_other_protocol(struct lws *wsi)
{
    char list[256], *save = NULL;
    int n = lws_hdr_total_length(wsi, WSI_TOKEN_PROTOCOL);

    if (n <= 0)
        return 0;
    if (n >= (int)sizeof(list) || lws_hdr_copy(wsi, list, sizeof(list), WSI_TOKEN_PROTOCOL) <= 0)
        return 1;
    for (char *t = strtok_r(list, ", \t", &save); t; t = strtok_r(NULL, ", \t", &save)) {
        const struct lws_protocols *p = lws_vhost_name_to_protocol(lws_get_vhost(wsi), t);

        if (p && p->callback != eio_lws_callback)
            return 1;
    }
    return 0;
}

/* CVE-2025-11677: see the comment at the top. Then: WebSockets only on an
 * Engine.IO path (never on the application's mounts, /stats and the like),
 * only for our protocol, and from an allowed origin (403 otherwise). */
static int confirm_upgrade(eio_host *h, struct lws *wsi)
{
    char up[16], uri[256];
    eio_server *srv;
    int n;

    if (lws_hdr_total_length(wsi, WSI_TOKEN_UPGRADE) <= 0)
        return -1;
    if (lws_hdr_copy(wsi, up, sizeof(up), WSI_TOKEN_UPGRADE) <= 0 || strcasecmp(up, "websocket"))
        return -1;
    n = lws_hdr_copy(wsi, uri, sizeof(uri), WSI_TOKEN_GET_URI);
    srv = n > 0 ? eio_host_route(h, uri, (size_t)n) : NULL;
    if (!srv || names_other_protocol(wsi))
        return -1;
    if (!eio_http_origin_allowed(srv, wsi))
        /* >0: we answered; lws completes the transaction */
        return eio_http_forbid_upgrade(wsi) ? -1 : 1;
    return 0;
}

static int ws_filter(eio_host *h, struct eio_conn *c, struct lws *wsi)
{
    char uri[256];
    int n = lws_hdr_copy(wsi, uri, sizeof(uri), WSI_TOKEN_GET_URI);
    eio_server *srv;

    if (n <= 0 || !c)
        return -1;
    srv = eio_host_route(h, uri, (size_t)n);
    if (!srv)
        return -1;
    return eio_ws_filter(srv, c, wsi);
}

static int is_ws_kind(const struct eio_conn *c)
{
    return c->kind == C_WS || c->kind == C_WS_PROBE || c->kind == C_WS_DOOMED;
}

static int eio_lws_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in, size_t len)
{
    eio_host *h = lws_context_user(lws_get_context(wsi));
    struct eio_conn *c = user;
    eio_server *srv;

    switch (reason) {
    case LWS_CALLBACK_HTTP_CONFIRM_UPGRADE:
        return confirm_upgrade(h, wsi);

    case LWS_CALLBACK_HTTP:
        if (!c)
            return -1;
        srv = eio_host_route(h, in, len);
        if (!srv) {
            c->srv = NULL;
            c->flags |= CF_CLOSE_AFTER;
            eio_http_respond_text(c, wsi, 404, "text/plain", "not found");
            return 0;
        }
        return eio_polling_request(srv, c, wsi);
    case LWS_CALLBACK_HTTP_BODY:
        return c ? eio_polling_body(c, wsi, in, len) : -1;
    case LWS_CALLBACK_HTTP_BODY_COMPLETION:
        return c ? eio_polling_body_done(c, wsi) : -1;
    case LWS_CALLBACK_HTTP_WRITEABLE:
        return c ? eio_http_writeable(c, wsi) : -1;
    case LWS_CALLBACK_CLOSED_HTTP:
    case LWS_CALLBACK_HTTP_DROP_PROTOCOL:
        if (c && !is_ws_kind(c))
            eio_conn_release(c, wsi);
        break;

    case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION:
        return ws_filter(h, c, wsi);
    case LWS_CALLBACK_ESTABLISHED:
        return c ? eio_ws_established(c, wsi) : -1;
    case LWS_CALLBACK_RECEIVE:
        return c ? eio_ws_receive(c, wsi, in, len) : -1;
    case LWS_CALLBACK_SERVER_WRITEABLE:
        return c ? eio_ws_writeable(c, wsi) : -1;
    case LWS_CALLBACK_CLOSED:
    case LWS_CALLBACK_WS_SERVER_DROP_PROTOCOL:
        if (c)
            eio_ws_closed(c, wsi);
        break;

    case LWS_CALLBACK_WSI_DESTROY:
        /* sent to protocols[0] for every wsi: only ours carry an eio_conn */
        if (c && is_ours(wsi)) {
            if (is_ws_kind(c))
                eio_ws_closed(c, wsi);
            else
                eio_conn_release(c, wsi);
        }
        break;
    default:
        break;
    }
    return 0;
}

eio_host *eio_host_new(const eio_host_config *cfg, eio_server *const *servers, size_t n)
{
    struct lws_context_creation_info info;
    eio_host_config dflt = {0};
    size_t napp = 0;
    eio_host *h;

    if (!cfg)
        cfg = &dflt;
    if (!n || !servers)
        return NULL;
    h = calloc(1, sizeof(*h));
    if (!h)
        return NULL;
    for (const struct lws_protocols *p = cfg->app_protocols; p && p->name; p++)
        napp++;
    h->servers = malloc(n * sizeof(*h->servers));
    h->protocols = calloc(napp + 2, sizeof(*h->protocols));
    if (!h->servers || !h->protocols)
        goto fail;
    memcpy(h->servers, servers, n * sizeof(*servers));
    h->n = n;

    /* ours first: the default for HTTP without a mount, for WebSockets
	 * without a subprotocol, and the one CONFIRM_UPGRADE goes to */
    h->protocols[0].name = "eio";
    h->protocols[0].callback = eio_lws_callback;
    h->protocols[0].per_session_data_size = sizeof(struct eio_conn);
    h->protocols[0].rx_buffer_size = WS_RX_BUFFER;
    h->protocols[0].tx_packet_size = EIO_WRITE_CHUNK;
    if (napp)
        memcpy(&h->protocols[1], cfg->app_protocols, napp * sizeof(*h->protocols));

    memset(&info, 0, sizeof(info));
    info.port = cfg->port;
    info.iface = cfg->iface;
    info.protocols = h->protocols;
    info.mounts = cfg->app_mounts;
    info.vhost_name = "eio";
    info.options = LWS_SERVER_OPTION_VALIDATE_UTF8;
    info.alpn = "http/1.1";
    info.user = h;
    info.count_threads = 1;
    info.timeout_secs = cfg->http_timeout_s ? cfg->http_timeout_s : 10;
    info.keepalive_timeout = (int)(cfg->keepalive_timeout_s ? cfg->keepalive_timeout_s : 30);
    info.max_http_header_data =
        (unsigned short)(cfg->max_header_bytes ? (cfg->max_header_bytes > MSG_HTTP_HEADERS_MAX ? MSG_HTTP_HEADERS_MAX
                                                                                               : cfg->max_header_bytes)
                                               : MSG_HTTP_HEADERS_DEFAULT);
    info.fd_limit_per_thread = cfg->max_fds;
    info.ka_time = (int)(cfg->tcp_keepalive_s ? cfg->tcp_keepalive_s : 60);
    info.ka_probes = 3;
    info.ka_interval = 10;
    info.gid = -1;
    info.uid = -1;
    if (cfg->foreign_uv_loop) {
        h->loops[0] = cfg->foreign_uv_loop;
        info.options |= LWS_SERVER_OPTION_LIBUV;
        info.foreign_loops = h->loops;
    }

    h->ctx = lws_create_context(&info);
    if (!h->ctx)
        goto fail;
    h->vh = lws_get_vhost_by_name(h->ctx, "eio");
    h->port = h->vh ? lws_get_vhost_listen_port(h->vh) : cfg->port;
    for (size_t i = 0; i < n; i++)
        eio_server_bind(servers[i], h, h->ctx);
    return h;
fail:
    free(h->servers);
    free(h->protocols);
    free(h);
    return NULL;
}

struct lws_context *eio_host_context(const eio_host *h) { return h->ctx; }

struct lws_vhost *eio_host_vhost(const eio_host *h) { return h->vh; }

int eio_host_port(const eio_host *h) { return h->port; }

void eio_host_free(eio_host *h) { eio_host_free_with(h, NULL, NULL); }

void eio_host_free_with(eio_host *h, void (*settle)(void *arg), void *arg)
{
    if (!h)
        return;
    for (size_t i = 0; i < h->n; i++)
        eio_server_shutdown(h->servers[i]);
    lws_context_destroy(h->ctx);
    /* On a foreign loop lws closes its handles asynchronously: the loop
	 * runs until they are closed, then a second call frees the context. */
    if (h->loops[0] && settle) {
        settle(arg);
        lws_context_destroy(h->ctx);
    }
    for (size_t i = 0; i < h->n; i++)
        eio_server_bind(h->servers[i], NULL, NULL);
    free(h->servers);
    free(h->protocols);
    free(h);
}
