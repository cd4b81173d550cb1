/*
 * HTTP plumbing for the Engine.IO transports: query parameters, CORS, the
 * handshake data a session keeps, and responses written from
 * LWS_CALLBACK_HTTP_WRITEABLE only.
 */
#include "eio_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define INFO_MAX MSG_EIO_HANDSHAKE_MAX        /* captured handshake data per session */
#define VALUE_MAX MSG_EIO_HANDSHAKE_VALUE_MAX /* one captured header or query value */
#define QUERY_ARGS_MAX MSG_EIO_QUERY_ARGS_MAX
#define ORIGIN_MAX MSG_EIO_ORIGIN_MAX

int eio_http_arg(struct lws *wsi, const char *name, char *buf, size_t len)
{
    size_t nl = strlen(name);
    /* no fragment is longer than all the headers together */
    char frag[MSG_HTTP_HEADERS_MAX];

    for (int i = 0; i < QUERY_ARGS_MAX; i++) {
        int n = lws_hdr_copy_fragment(wsi, frag, sizeof(frag), WSI_TOKEN_HTTP_URI_ARGS, i);

        if (n < 0)
            break;
        if ((size_t)n > nl && !strncmp(frag, name, nl) && frag[nl] == '=') {
            size_t vl = (size_t)n - nl - 1;

            if (vl + 1 > len)
                return -2;
            memcpy(buf, frag + nl + 1, vl);
            buf[vl] = '\0';
            return (int)vl;
        }
    }
    return -1;
}

static int origin_in_list(const eio_server *srv, const char *origin, int *any)
{
    *any = 0;
    for (const char *const *o = srv->cfg.cors_origins; o && *o; o++) {
        if (!strcmp(*o, "*"))
            *any = 1;
        else if (origin && !strcasecmp(*o, origin))
            return 1;
    }
    return 0;
}

/* Splits "host[:port]" (host may be "[v6]") in place: *port is NULL when
 * absent. Returns -1 when the shape is wrong. */
static int split_authority(char *a, char **host, char **port)
{
    char *colon;

    *host = a;
    *port = NULL;
    if (*a == '[') {
        char *end = strchr(a, ']');

        if (!end || (end[1] && end[1] != ':'))
            return -1;
        colon = end[1] ? end + 1 : NULL;
    } else {
        colon = strchr(a, ':');
        if (colon && strchr(colon + 1, ':'))
            return -1;
    }
    if (colon) {
        *colon = '\0';
        *port = colon + 1;
        if (!**port)
            *port = NULL;
    }
    return **host ? 0 : -1;
}

/*
 * Whether an Origin ("scheme://host[:port]", as browsers send it) is the
 * origin of the request itself, told by its Host header. When the Host
 * carries no port (a proxy passing nginx's $host, or a default port), the
 * host names alone decide; otherwise the ports must match too, the
 * Origin's port defaulting to its scheme's (80 or 443).
 */
int eio_http_same_origin(const char *origin, const char *host_header)
{
    char o[ORIGIN_MAX], h[ORIGIN_MAX], *oh, *op, *hh, *hp;
    const char *def, *rest;

    if (!origin || !host_header)
        return 0;
    if (!strncasecmp(origin, "http://", 7)) {
        def = "80";
        rest = origin + 7;
    } else if (!strncasecmp(origin, "https://", 8)) {
        def = "443";
        rest = origin + 8;
    } else {
        return 0; /* "null", file:, other schemes: never ours */
    }
    if (strlen(rest) >= sizeof(o) || strlen(host_header) >= sizeof(h) || strpbrk(rest, "/?#@ ") ||
        strpbrk(host_header, "/?#@ "))
        return 0;
    strcpy(o, rest);
    strcpy(h, host_header);
    if (split_authority(o, &oh, &op) || split_authority(h, &hh, &hp) || strcasecmp(oh, hh))
        return 0;
    if (!hp)
        return 1;
    return !strcmp(op ? op : def, hp);
}

int eio_http_origin_allowed(const eio_server *srv, struct lws *wsi)
{
    char origin[ORIGIN_MAX], host[ORIGIN_MAX];
    int any;

    if (lws_hdr_total_length(wsi, WSI_TOKEN_ORIGIN) <= 0)
        return 1; /* not from a browser's cross-origin context */
    origin_in_list(srv, NULL, &any);
    if (any)
        return 1;
    if (lws_hdr_copy(wsi, origin, sizeof(origin), WSI_TOKEN_ORIGIN) <= 0)
        return 0; /* too long to be one we allow */
    if (lws_hdr_copy(wsi, host, sizeof(host), WSI_TOKEN_HOST) > 0 && eio_http_same_origin(origin, host))
        return 1;
    return origin_in_list(srv, origin, &any);
}

static int add_cors(const eio_server *srv, struct lws *wsi, unsigned char **p, unsigned char *end)
{
    char origin[ORIGIN_MAX];
    int n, any, hit;

    if (!srv || !srv->cfg.cors_origins)
        return 0;
    n = lws_hdr_copy(wsi, origin, sizeof(origin), WSI_TOKEN_ORIGIN);
    hit = origin_in_list(srv, n > 0 ? origin : NULL, &any);
    if (hit) {
        /* a listed origin may send credentials (cookies) */
        if (lws_add_http_header_by_name(
                wsi, (const unsigned char *)"access-control-allow-origin:", (const unsigned char *)origin, n, p, end) ||
            lws_add_http_header_by_name(wsi, (const unsigned char *)"access-control-allow-credentials:",
                                        (const unsigned char *)"true", 4, p, end) ||
            lws_add_http_header_by_name(wsi, (const unsigned char *)"vary:", (const unsigned char *)"Origin", 6, p,
                                        end))
            return -1;
    } else if (any) {
        if (lws_add_http_header_by_name(
                wsi, (const unsigned char *)"access-control-allow-origin:", (const unsigned char *)"*", 1, p, end))
            return -1;
    }
    return 0;
}

/*
 * Captured handshake data, one allocation of NUL-separated strings:
 *   peer \0  (qname \0 qvalue \0)* \0  (hname \0 hvalue \0)* \0
 */
static int info_put(char *info, size_t *o, const char *s, size_t n)
{
    /* two bytes stay free for the section terminators */
    if (*o + n + 1 > INFO_MAX - 2)
        return -1;
    memcpy(info + *o, s, n);
    info[*o + n] = '\0';
    *o += n + 1;
    return 0;
}

/* A name/value pair, both or neither. */
static int info_pair(char *info, size_t *o, const char *a, size_t na, const char *b, size_t nb)
{
    if (*o + na + nb + 2 > INFO_MAX - 2)
        return -1;
    info_put(info, o, a, na);
    info_put(info, o, b, nb);
    return 0;
}

static int header_token(const char *name)
{
    size_t nl = strlen(name);

    for (int t = 0; t < WSI_TOKEN_COUNT; t++) {
        const unsigned char *ts = lws_token_to_string((enum lws_token_indexes)t);

        if (ts && strlen((const char *)ts) == nl + 1 && ts[nl] == ':' && !strncasecmp((const char *)ts, name, nl))
            return t;
    }
    return -1;
}

char *eio_http_capture(const eio_server *srv, struct lws *wsi)
{
    char *info = malloc(INFO_MAX), val[VALUE_MAX];
    size_t o = 0;

    if (!info)
        return NULL;
    lws_get_peer_simple(wsi, val, sizeof(val));
    val[sizeof(val) - 1] = '\0';
    info_put(info, &o, val, strlen(val));

    for (int i = 0; i < QUERY_ARGS_MAX; i++) {
        int n = lws_hdr_copy_fragment(wsi, val, sizeof(val), WSI_TOKEN_HTTP_URI_ARGS, i);
        char *eq;

        if (n < 0)
            break;
        eq = memchr(val, '=', (size_t)n);
        /* an empty name would read as the end of the section, and a NUL
		 * inside would shift every pair after it: neither is kept */
        if (!eq || eq == val || memchr(val, '\0', (size_t)n))
            continue;
        if (info_pair(info, &o, val, (size_t)(eq - val), eq + 1, (size_t)(n - (eq - val) - 1)))
            break; /* out of room: keep what fits */
    }
    info[o++] = '\0';

    for (const char *const *h = srv->cfg.capture_headers; h && *h; h++) {
        int t = header_token(*h), n;

        if (t >= 0) {
            if (lws_hdr_total_length(wsi, (enum lws_token_indexes)t) <= 0)
                continue;
            n = lws_hdr_copy(wsi, val, sizeof(val), (enum lws_token_indexes)t);
        } else {
            char cname[128];
            int cl = snprintf(cname, sizeof(cname), "%s:", *h);

            if (cl <= 0 || (size_t)cl >= sizeof(cname))
                continue;
            n = lws_hdr_custom_copy(wsi, val, sizeof(val), cname, cl);
        }
        if (n < 0 || memchr(val, '\0', (size_t)n))
            continue;
        if (info_pair(info, &o, *h, strlen(*h), val, (size_t)n))
            break;
    }
    info[o++] = '\0';
    /* keep only what was used: idle sessions must stay small */
    {
        char *shrunk = realloc(info, o);

        return shrunk ? shrunk : info;
    }
}

const char *eio_info_get(const char *info, int section, const char *name)
{
    const char *p = info;

    if (!info)
        return NULL;
    if (section == 0)
        return *p ? p : NULL;
    p += strlen(p) + 1; /* past the peer */
    if (section == 2) {
        while (*p) { /* skip the query pairs */
            p += strlen(p) + 1;
            p += strlen(p) + 1;
        }
        p++;
    }
    while (*p) {
        const char *v = p + strlen(p) + 1;

        if (section == 1 ? !strcmp(p, name) : !strcasecmp(p, name))
            return v;
        p = v + strlen(v) + 1;
    }
    return NULL;
}

/* --- responses --------------------------------------------------------- */

int eio_http_forbid_upgrade(struct lws *wsi)
{
    static const char body[] = "{\"code\":4,\"message\":\"Forbidden\"}";
    unsigned char hb[LWS_PRE + 512], *start = hb + LWS_PRE, *p = start, *end = hb + sizeof(hb) - 1;
    unsigned char bb[LWS_PRE + sizeof(body)];
    size_t n = sizeof(body) - 1;

    if (lws_add_http_common_headers(wsi, HTTP_STATUS_FORBIDDEN, "application/json", n, &p, end) ||
        lws_finalize_write_http_header(wsi, start, &p, end))
        return -1;
    memcpy(bb + LWS_PRE, body, n);
    return lws_write(wsi, bb + LWS_PRE, n, LWS_WRITE_HTTP_FINAL) == (int)n ? 0 : -1;
}

void eio_http_respond(struct eio_conn *c, struct lws *wsi, int status, const char *ctype, uint8_t *body, size_t len)
{
    free(c->buf);
    c->kind = C_HTTP_RESP;
    c->status = (uint16_t)status;
    c->ctype = ctype;
    c->buf = body;
    c->len = body ? len : 0;
    c->off = 0;
    c->flags &= (uint8_t)~CF_HDR_SENT;
    lws_callback_on_writable(wsi);
}

void eio_http_respond_text(struct eio_conn *c, struct lws *wsi, int status, const char *ctype, const char *text)
{
    size_t n = strlen(text);
    uint8_t *b = malloc(LWS_PRE + n + 1);

    if (!b) {
        c->flags |= CF_CLOSE_AFTER;
        eio_http_respond(c, wsi, 500, ctype, NULL, 0);
        return;
    }
    memcpy(b + LWS_PRE, text, n);
    eio_http_respond(c, wsi, status, ctype, b, n);
}

void eio_http_error(struct eio_conn *c, struct lws *wsi, enum eio_err code)
{
    static const char *const msg[] = {
        "Transport unknown", "Session ID unknown", "Bad handshake method",
        "Bad request",       "Forbidden",          "Unsupported protocol version",
    };
    char body[96];

    snprintf(body, sizeof(body), "{\"code\":%d,\"message\":\"%s\"}", (int)code, msg[code]);
    /* the request body (if any) is not read: close rather than drain it */
    c->flags |= CF_CLOSE_AFTER;
    eio_http_respond_text(c, wsi, code == EIO_ERR_FORBIDDEN ? 403 : 400, "application/json; charset=utf-8", body);
}

static int request_wants_close(struct lws *wsi)
{
    char v[64], ver[16];

    if (lws_hdr_copy(wsi, v, sizeof(v), WSI_TOKEN_CONNECTION) > 0 && strcasestr(v, "close"))
        return 1;
    /* HTTP/1.0 without keep-alive closes too */
    if (lws_hdr_copy(wsi, ver, sizeof(ver), WSI_TOKEN_HTTP) > 0 && !strcmp(ver, "HTTP/1.0") &&
        !(lws_hdr_copy(wsi, v, sizeof(v), WSI_TOKEN_CONNECTION) > 0 && strcasestr(v, "keep-alive")))
        return 1;
    return 0;
}

int eio_http_writeable(struct eio_conn *c, struct lws *wsi)
{
    if (c->kind == C_HTTP_GET) {
        /* a parked poll: the session has packets (or an upgrade noop) */
        if (c->sess)
            eio_polling_flush(c->sess);
        if (c->kind != C_HTTP_RESP)
            return 0;
    }
    if (c->kind != C_HTTP_RESP)
        return 0;

    if (!(c->flags & CF_HDR_SENT)) {
        unsigned char hb[LWS_PRE + 1024], *start = hb + LWS_PRE, *p = start, *end = hb + sizeof(hb) - 1;

        if (lws_add_http_common_headers(wsi, c->status, c->ctype, c->len, &p, end) || add_cors(c->srv, wsi, &p, end))
            return -1;
        /* a client that asked for close must be told we close, or it
		 * may reuse the connection and see it hang up */
        if (!(c->flags & CF_CLOSE_AFTER) && request_wants_close(wsi))
            c->flags |= CF_CLOSE_AFTER;
        if ((c->flags & CF_CLOSE_AFTER) &&
            lws_add_http_header_by_token(wsi, WSI_TOKEN_CONNECTION, (const unsigned char *)"close", 5, &p, end))
            return -1;
        if (lws_finalize_write_http_header(wsi, start, &p, end))
            return -1;
        c->flags |= CF_HDR_SENT;
    }
    if (c->off < c->len) {
        size_t n = c->len - c->off;
        int final;

        if (n > EIO_WRITE_CHUNK)
            n = EIO_WRITE_CHUNK;
        final = c->off + n == c->len;
        if (lws_write(wsi, c->buf + LWS_PRE + c->off, n, final ? LWS_WRITE_HTTP_FINAL : LWS_WRITE_HTTP) < (int)n)
            return -1;
        c->off += n;
        if (!final) {
            lws_callback_on_writable(wsi);
            return 0;
        }
    }
    /* response complete */
    free(c->buf);
    c->buf = NULL;
    c->len = c->off = 0;
    c->kind = C_NONE;
    if (c->flags & CF_CLOSE_AFTER)
        return -1;
    c->flags = 0;
    if (lws_http_transaction_completed(wsi))
        return -1;
    return 0;
}

void eio_conn_release(struct eio_conn *c, struct lws *wsi)
{
    if (!c)
        return;
    if (c->sess) {
        eio_session *s = c->sess;

        if (s->get == wsi)
            s->get = NULL;
        if (s->post == wsi)
            s->post = NULL;
        c->sess = NULL;
    }
    free(c->buf);
    c->buf = NULL;
    c->len = c->off = c->cap = 0;
    c->kind = C_NONE;
}
