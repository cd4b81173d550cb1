/*
 * HTTP long-polling transport: the handshake GET, parked GETs that wait for
 * packets, POSTs that carry packets in, and the protocol's 400 answers.
 */
#include "eio_internal.h"

#include <stdlib.h>
#include <string.h>

#define POLL_CTYPE "text/plain; charset=UTF-8"

/* Slack over pingInterval + pingTimeout before lws drops a parked GET on
 * its own: the heartbeat always answers it sooner. */
#define PARK_SLACK_S 5

static int method_of(struct lws *wsi)
{
    char *uri;
    int len;

    return lws_http_get_uri_and_method(wsi, &uri, &len);
}

static void park_get(eio_session *s, struct eio_conn *c, struct lws *wsi)
{
    const eio_config *cfg = &s->srv->cfg;

    c->kind = C_HTTP_GET;
    c->sess = s;
    s->get = wsi;
    lws_set_timeout(wsi, PENDING_TIMEOUT_HTTP_CONTENT,
                    (int)((cfg->ping_interval_ms + cfg->ping_timeout_ms) / 1000 + PARK_SLACK_S));
    if (s->qhead || s->probed)
        lws_callback_on_writable(wsi);
}

static void start_post(eio_server *srv, eio_session *s, struct eio_conn *c, struct lws *wsi)
{
    char cl[32];

    if (lws_hdr_copy(wsi, cl, sizeof(cl), WSI_TOKEN_HTTP_CONTENT_LENGTH) > 0 &&
        strtoull(cl, NULL, 10) > srv->cfg.max_payload) {
        /* refuse before reading a byte of it */
        eio_session_close_reason(s, "transport error", 0);
        c->flags |= CF_CLOSE_AFTER;
        eio_http_respond_text(c, wsi, 413, POLL_CTYPE, "payload too large");
        return;
    }
    c->kind = C_HTTP_POST;
    c->sess = s;
    s->post = wsi;
}

int eio_polling_request(eio_server *srv, struct eio_conn *c, struct lws *wsi)
{
    char arg[64];
    int meth = method_of(wsi), have_sid;
    eio_session *s;

    c->srv = srv;
    if (meth == LWSHUMETH_OPTIONS) {
        /* CORS preflight: the headers come from eio_http_writeable()
		 * (none for an origin that is not allowed: the browser stops) */
        eio_http_respond(c, wsi, 204, NULL, NULL, 0);
        return 0;
    }
    if (!eio_http_origin_allowed(srv, wsi)) {
        /* a page of another origin: as the reference server answers a
		 * request its allowRequest refused */
        eio_http_error(c, wsi, EIO_ERR_FORBIDDEN);
        return 0;
    }
    if (eio_http_arg(wsi, "transport", arg, sizeof(arg)) < 0 || (strcmp(arg, "polling") && strcmp(arg, "websocket")) ||
        !(srv->cfg.transports & (!strcmp(arg, "polling") ? EIO_TRANSPORT_POLLING : EIO_TRANSPORT_WEBSOCKET))) {
        eio_http_error(c, wsi, EIO_ERR_TRANSPORT_UNKNOWN);
        return 0;
    }
    /* transport=websocket without an Upgrade: no such thing over plain HTTP */
    if (strcmp(arg, "polling")) {
        eio_http_error(c, wsi, EIO_ERR_BAD_REQUEST);
        return 0;
    }
    have_sid = eio_http_arg(wsi, "sid", arg, sizeof(arg));
    if (have_sid == -2) { /* longer than any sid we hand out */
        eio_http_error(c, wsi, EIO_ERR_UNKNOWN_SID);
        return 0;
    }
    if (have_sid < 0) {
        /* a new session: only a GET with EIO=4 */
        if (meth != LWSHUMETH_GET) {
            eio_http_error(c, wsi, EIO_ERR_BAD_HANDSHAKE_METHOD);
            return 0;
        }
        if (eio_http_arg(wsi, "EIO", arg, sizeof(arg)) < 0 || strcmp(arg, "4")) {
            eio_http_error(c, wsi, EIO_ERR_UNSUPPORTED_PROTOCOL_VERSION);
            return 0;
        }
        char *info = eio_http_capture(srv, wsi);

        s = info ? eio_session_create(srv, EIO_TRANSPORT_POLLING, info) : NULL;
        if (!s) {
            free(info);
            c->flags |= CF_CLOSE_AFTER;
            eio_http_respond_text(c, wsi, 503, POLL_CTYPE, "unavailable");
            return 0;
        }
        park_get(s, c, wsi);
        eio_session_notify_open(s);
        return 0;
    }

    s = eio_session_find(srv, arg, (size_t)have_sid);
    if (!s) {
        eio_http_error(c, wsi, EIO_ERR_UNKNOWN_SID);
        return 0;
    }
    if (s->transport != EIO_TRANSPORT_POLLING) {
        /* upgraded: the polling side is gone for good */
        eio_http_error(c, wsi, EIO_ERR_BAD_REQUEST);
        return 0;
    }
    switch (meth) {
    case LWSHUMETH_GET:
        if (s->get) {
            /* two polls at once break ordering: end the session;
			 * the first poll gets the close packet */
            eio_session_close_reason(s, "transport error", 0);
            eio_http_error(c, wsi, EIO_ERR_BAD_REQUEST);
            return 0;
        }
        park_get(s, c, wsi);
        return 0;
    case LWSHUMETH_POST:
        if (s->post) {
            eio_session_close_reason(s, "transport error", 0);
            eio_http_error(c, wsi, EIO_ERR_BAD_REQUEST);
            return 0;
        }
        start_post(srv, s, c, wsi);
        return 0;
    default:
        eio_http_error(c, wsi, EIO_ERR_BAD_REQUEST);
        return 0;
    }
}

int eio_polling_body(struct eio_conn *c, struct lws *wsi, const void *in, size_t len)
{
    size_t max;

    if (c->kind != C_HTTP_POST || !c->sess)
        return 0; /* a body nobody wants (error answered, session gone) */
    max = c->srv->cfg.max_payload;
    if (len > max - c->len) {
        /* no Content-Length (or a lying one): cut at maxPayload */
        eio_session *s = c->sess;

        eio_conn_release(c, wsi);
        eio_session_close_reason(s, "transport error", 0);
        c->flags |= CF_CLOSE_AFTER;
        eio_http_respond_text(c, wsi, 413, POLL_CTYPE, "payload too large");
        return 0;
    }
    if (eio_grow(&c->buf, &c->cap, c->len + len, 1024, max) < 0)
        return -1;
    if (len)
        memcpy(c->buf + c->len, in, len);
    c->len += len;
    return 0;
}

int eio_polling_body_done(struct eio_conn *c, struct lws *wsi)
{
    eio_session *s = c->sess;
    eio_packet *pkts;
    size_t n;
    int r;

    if (c->kind != C_HTTP_POST)
        return 0;
    if (s)
        s->post = NULL;
    c->sess = NULL;
    if (!s || s->state != S_OPEN) {
        eio_http_error(c, wsi, EIO_ERR_UNKNOWN_SID);
        return 0;
    }
    r = eio_payload_decode(c->buf, c->len, s->srv->cfg.max_payload, s->srv->cfg.max_payload, &pkts, &n);
    if (r != EIO_OK) {
        eio_session_close_reason(s, "parse error", 0);
        eio_http_error(c, wsi, EIO_ERR_BAD_REQUEST);
        return 0;
    }
    /* the packets point into c->buf, which lives until we respond */
    for (size_t i = 0; i < n && s->state == S_OPEN; i++)
        eio_session_on_packet(s, &pkts[i]);
    free(pkts);
    eio_http_respond_text(c, wsi, 200, "text/html", "ok");
    return 0;
}

void eio_polling_answer(eio_session *s, int type)
{
    struct lws *wsi = s->get;
    struct eio_conn *c = lws_wsi_user(wsi);
    uint8_t *b = malloc(LWS_PRE + 1);

    s->get = NULL;
    if (!c)
        return;
    c->sess = NULL;
    if (!b) {
        c->flags |= CF_CLOSE_AFTER;
        eio_http_respond(c, wsi, 500, POLL_CTYPE, NULL, 0);
        return;
    }
    b[LWS_PRE] = (uint8_t)('0' + type);
    eio_http_respond(c, wsi, 200, POLL_CTYPE, b, 1);
}

void eio_polling_flush(eio_session *s)
{
    size_t max = s->srv->cfg.max_payload, total = 0, n = 0, size;
    struct lws *wsi = s->get;
    struct eio_conn *c;
    struct eio_qent *e;
    eio_packet *pk;
    uint8_t *body;

    if (!wsi)
        return;
    if (!s->qhead) {
        /* upgrading: end this poll so that the client can pause */
        if (s->probed)
            eio_polling_answer(s, EIO_NOOP);
        return;
    }
    /* as many queued packets as fit in maxPayload (at least one) */
    for (e = s->qhead; e; e = e->next) {
        size_t l = e->buf->binary ? 1 + eio_base64_encoded_len(e->buf->len) : e->buf->len;

        if (n && total + 1 + l > max)
            break;
        total += l + (n ? 1 : 0);
        n++;
    }
    pk = malloc(n * sizeof(*pk));
    if (!pk) {
        eio_session_close_reason(s, "transport error", 0);
        return;
    }
    e = s->qhead;
    for (size_t i = 0; i < n; i++, e = e->next) {
        eio_buf *b = e->buf;

        pk[i].binary = b->binary;
        pk[i].type = b->binary ? EIO_MESSAGE : b->data[0] - '0';
        pk[i].data = b->binary ? b->data : b->data + 1;
        pk[i].len = b->binary ? b->len : b->len - 1;
    }
    size = eio_payload_size(pk, n);
    body = malloc(LWS_PRE + size + 1);
    if (!body) {
        free(pk);
        eio_session_close_reason(s, "transport error", 0);
        return;
    }
    eio_payload_write(pk, n, body + LWS_PRE);
    free(pk);
    for (size_t i = 0; i < n; i++) {
        eio_buf *b = eio_session_pop(s);

        if (!b->binary && b->len == 1 && b->data[0] == '0' + EIO_PING)
            eio_session_ping_sent(s);
        eio_buf_unref(b);
    }

    c = lws_wsi_user(wsi);
    s->get = NULL;
    if (!c) {
        free(body);
        return;
    }
    c->sess = NULL;
    eio_http_respond(c, wsi, 200, POLL_CTYPE, body, size);
}
