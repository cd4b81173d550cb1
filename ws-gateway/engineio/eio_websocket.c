/*
 * WebSocket transport: a session opened directly over WebSocket, or a probe
 * WebSocket upgrading a polling session ("2probe" / "3probe" / "5").
 * Messages are reassembled up to maxPayload; frames larger than
 * EIO_WRITE_CHUNK go out as fragments so lws never copies more than that.
 */
#include "eio_internal.h"

#include <stdlib.h>
#include <string.h>

#define PROBE_TIMEOUT_REASON (PENDING_TIMEOUT_USER_REASON_BASE + 1)
#define WS_FRAMES_PER_WRITEABLE MSG_EIO_WS_FRAMES_PER_WRITEABLE

int eio_ws_filter(eio_server *srv, struct eio_conn *c, struct lws *wsi)
{
    char arg[64];
    int n;

    c->srv = srv;
    /* the origin was answered in CONFIRM_UPGRADE already (403); checked
	 * again in case lws ever skips that callback */
    if (!(srv->cfg.transports & EIO_TRANSPORT_WEBSOCKET) || !eio_http_origin_allowed(srv, wsi))
        return -1;
    if (eio_http_arg(wsi, "transport", arg, sizeof(arg)) < 0 || strcmp(arg, "websocket"))
        return -1;
    n = eio_http_arg(wsi, "sid", arg, sizeof(arg));
    if (n == -2)
        return -1;
    if (n < 0) {
        if (eio_http_arg(wsi, "EIO", arg, sizeof(arg)) < 0 || strcmp(arg, "4"))
            return -1;
        /* headers are at hand only now: keep them for the session */
        c->kind = C_WS;
        c->buf = (uint8_t *)eio_http_capture(srv, wsi);
        return c->buf ? 0 : -1;
    }
    if (!eio_session_find(srv, arg, (size_t)n))
        return -1;
    c->kind = C_WS_PROBE;
    c->buf = malloc((size_t)n + 1);
    if (!c->buf)
        return -1;
    memcpy(c->buf, arg, (size_t)n + 1);
    c->len = (size_t)n;
    return 0;
}

int eio_ws_established(struct eio_conn *c, struct lws *wsi)
{
    eio_session *s;

    if (c->kind == C_WS && !c->sess) {
        char *info = (char *)c->buf;

        c->buf = NULL;
        s = eio_session_create(c->srv, EIO_TRANSPORT_WEBSOCKET, info);
        if (!s) {
            free(info);
            return -1;
        }
        s->ws = wsi;
        c->sess = s;
        eio_session_kick(s);
        eio_session_notify_open(s);
        return 0;
    }
    if (c->kind == C_WS_PROBE) {
        s = eio_session_find(c->srv, (const char *)c->buf, c->len);
        free(c->buf);
        c->buf = NULL;
        c->len = 0;
        if (!s || s->transport != EIO_TRANSPORT_POLLING || s->probe) {
            /* already upgraded or upgrading: this one is closed, the
			 * first keeps working (as the reference server does) */
            eio_ws_doom(wsi);
            return 0;
        }
        s->probe = wsi;
        c->sess = s;
        lws_set_timeout(wsi, PROBE_TIMEOUT_REASON, (int)(c->srv->cfg.upgrade_timeout_ms + 999) / 1000);
        return 0;
    }
    eio_ws_doom(wsi);
    return 0;
}

static int probe_packet(struct eio_conn *c, struct lws *wsi, const eio_packet *p)
{
    eio_session *s = c->sess;

    if (p->type == EIO_PING && p->len == 5 && !memcmp(p->data, "probe", 5)) {
        c->flags |= CF_PROBE_REPLY;
        s->probed = 1;
        lws_callback_on_writable(wsi);
        /* end a parked poll with noop so that the client can pause */
        if (s->get)
            lws_callback_on_writable(s->get);
        return 0;
    }
    if (p->type == EIO_UPGRADE) {
        lws_set_timeout(wsi, NO_PENDING_TIMEOUT, 0);
        eio_session_upgraded(s);
        return 0;
    }
    return -1; /* anything else fails the upgrade: close the probe */
}

static int ws_message(struct eio_conn *c, struct lws *wsi, const uint8_t *data, size_t len, int binary)
{
    eio_session *s = c->sess;
    eio_packet p;

    if (eio_packet_decode(data, len, binary, c->srv->cfg.max_payload, &p)) {
        if (c->kind == C_WS && s)
            eio_session_close_reason(s, "parse error", 0);
        lws_close_reason(wsi, LWS_CLOSE_STATUS_PROTOCOL_ERR, NULL, 0);
        return -1;
    }
    if (c->kind == C_WS_PROBE)
        return probe_packet(c, wsi, &p);
    eio_session_on_packet(s, &p);
    return 0;
}

int eio_ws_receive(struct eio_conn *c, struct lws *wsi, const void *in, size_t len)
{
    size_t max = c->srv->cfg.max_payload;
    int first = lws_is_first_fragment(wsi), final = lws_is_final_fragment(wsi);
    int r;

    if (!c->sess || (c->kind != C_WS && c->kind != C_WS_PROBE))
        return 0; /* closing: whatever comes is dropped */
    if (first && final && !(c->flags & CF_FRAG))
        return ws_message(c, wsi, in, len, lws_frame_is_binary(wsi));

    if (!(c->flags & CF_FRAG)) {
        c->flags |= CF_FRAG;
        c->flags = (uint8_t)((c->flags & ~CF_RX_BINARY) | (lws_frame_is_binary(wsi) ? CF_RX_BINARY : 0));
        c->len = 0;
    }
    if (len > max - c->len) {
        /* reassembly is capped at maxPayload */
        if (c->kind == C_WS)
            eio_session_close_reason(c->sess, "transport error", 0);
        lws_close_reason(wsi, LWS_CLOSE_STATUS_MESSAGE_TOO_LARGE, NULL, 0);
        return -1;
    }
    if (eio_grow(&c->buf, &c->cap, c->len + len, 4096, max) < 0)
        return -1;
    memcpy(c->buf + c->len, in, len);
    c->len += len;
    if (!final)
        return 0;
    c->flags &= (uint8_t)~CF_FRAG;
    r = ws_message(c, wsi, c->buf, c->len, c->flags & CF_RX_BINARY);
    /* idle sessions keep no reassembly buffer */
    free(c->buf);
    c->buf = NULL;
    c->len = c->cap = 0;
    return r;
}

/* Writes (part of) the first queued buffer; 1 when it is done. */
static int write_head(struct eio_conn *c, struct lws *wsi, eio_buf *b)
{
    size_t n = b->len - c->off;
    int more, flags;
    unsigned char *p, *scratch = NULL;
    int w;

    if (n > EIO_WRITE_CHUNK)
        n = EIO_WRITE_CHUNK;
    more = c->off + n < b->len;
    flags = c->off ? LWS_WRITE_CONTINUATION : (b->binary ? LWS_WRITE_BINARY : LWS_WRITE_TEXT);
    if (more)
        flags |= LWS_WRITE_NO_FIN;
    if (c->off == 0) {
        p = b->data; /* b->pre is the LWS_PRE headroom */
    } else {
        /* the bytes before a later fragment belong to a buffer other
		 * sessions may still be sending: copy into our own headroom */
        scratch = malloc(LWS_PRE + n);
        if (!scratch)
            return -1;
        p = scratch + LWS_PRE;
        memcpy(p, b->data + c->off, n);
    }
    w = lws_write(wsi, p, n, (enum lws_write_protocol)flags);
    free(scratch);
    if (w < (int)n)
        return -1;
    c->off += n;
    if (more)
        return 0;
    c->off = 0;
    return 1;
}

int eio_ws_writeable(struct eio_conn *c, struct lws *wsi)
{
    eio_session *s = c->sess;

    if (c->kind == C_WS_DOOMED || !s) {
        lws_close_reason(wsi, LWS_CLOSE_STATUS_NORMAL, NULL, 0);
        return -1;
    }
    if (c->kind == C_WS_PROBE) {
        if (c->flags & CF_PROBE_REPLY) {
            unsigned char buf[LWS_PRE + 8];

            c->flags &= (uint8_t)~CF_PROBE_REPLY;
            memcpy(buf + LWS_PRE, "3probe", 6);
            if (lws_write(wsi, buf + LWS_PRE, 6, LWS_WRITE_TEXT) < 6)
                return -1;
        }
        return 0;
    }
    for (int i = 0; i < WS_FRAMES_PER_WRITEABLE && s->qhead; i++) {
        int r = write_head(c, wsi, s->qhead->buf);

        if (r < 0)
            return -1;
        if (r == 0)
            break; /* a fragment went out; the rest next time */
        eio_buf *b = eio_session_pop(s);

        if (!b->binary && b->len == 1 && b->data[0] == '0' + EIO_PING)
            eio_session_ping_sent(s);
        eio_buf_unref(b);
        if (lws_send_pipe_choked(wsi))
            break;
    }
    if (s->qhead)
        lws_callback_on_writable(wsi);
    return 0;
}

void eio_ws_closed(struct eio_conn *c, struct lws *wsi)
{
    eio_session *s = c->sess;

    free(c->buf);
    c->buf = NULL;
    c->len = c->cap = c->off = 0;
    c->sess = NULL;
    c->kind = C_NONE;
    if (!s)
        return;
    if (s->ws == wsi) {
        s->ws = NULL;
        eio_session_close_reason(s, "transport close", 0);
    } else if (s->probe == wsi) {
        s->probe = NULL;
        s->probed = 0;
    }
}

void eio_ws_doom(struct lws *wsi)
{
    struct eio_conn *c = lws_wsi_user(wsi);

    if (c) {
        c->kind = C_WS_DOOMED;
        c->sess = NULL;
    }
    lws_callback_on_writable(wsi);
}
