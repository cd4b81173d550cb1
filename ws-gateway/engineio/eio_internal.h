/*
 * Engine.IO internals shared by the files of this folder; not for the
 * application (see eio.h).
 *
 * Files: eio_codec.c (wire codecs), eio_buf.c (shared message buffers and
 * buffer growth), eio_session.c (session table, lifecycle, heartbeat, the
 * per-session send queue, upgrade state), eio_http.c (request parsing,
 * CORS, HTTP responses), eio_polling.c (long-polling GET/POST),
 * eio_websocket.c (WebSocket transport and probe), eio_host.c (lws context,
 * vhost, the protocol callback and its hardening), eio_hash.c (the sid
 * table's hash), eio_wheel.c (the heartbeats' timer wheel).
 */
#ifndef EIO_INTERNAL_H
#define EIO_INTERNAL_H

#include <libwebsockets.h>

#include "eio.h"
#include "eio_codec.h"
#include "eio_hash.h"
#include "eio_wheel.h"
#include "msg_limits.h"
#include "random.h"

#define EIO_SID_LEN 20
/* Largest piece written to a socket in one go (HTTP body chunk, WebSocket
 * fragment): bounds what lws must copy when the kernel takes less. */
#define EIO_WRITE_CHUNK MSG_EIO_WRITE_CHUNK

/* --- shared message buffers -------------------------------------------- */

struct eio_buf {
    unsigned refs;
    uint8_t binary;             /* 1: binary message (raw bytes); 0: text packet */
    size_t len;                 /* bytes of data[] used */
    unsigned char pre[LWS_PRE]; /* lws writes frame headers here */
    /* text: type digit then payload; binary: the raw message */
    unsigned char data[];
};

/* A text packet of type `type` with payload (copied); one reference. */
eio_buf *eio_buf_packet(int type, const void *payload, size_t len);
eio_buf *eio_buf_ref(eio_buf *b);
/* Grows *buf (capacity *cap, doubling from `first`, never beyond max) to
 * hold need bytes; -1 when out of memory. */
int eio_grow(uint8_t **buf, size_t *cap, size_t need, size_t first, size_t max);

struct eio_qent {
    struct eio_qent *next;
    eio_buf *buf;
};

/* --- sessions ---------------------------------------------------------- */

enum { S_OPEN = 0, S_CLOSED = 1 };

struct eio_session {
    eio_hnode hnode; /* key: sid */
    eio_server *srv;
    struct eio_session *prev, *next; /* srv->all while open, srv->reap after */
    char sid[EIO_SID_LEN + 1];
    uint8_t transport; /* EIO_TRANSPORT_* */
    uint8_t state;     /* S_OPEN / S_CLOSED */
    uint8_t probed;    /* "2probe" seen on the probe: polls get noop */
    uint8_t awaiting_pong;
    uint8_t opened;    /* on_open was called: on_close is owed */
    struct lws *ws;    /* WebSocket transport */
    struct lws *probe; /* WebSocket being upgraded to */
    struct lws *get;   /* parked long-polling GET */
    struct lws *post;  /* POST whose body is arriving */
    struct eio_qent *qhead, **qtail;
    size_t qbytes;
    struct eio_wheel_ent hb; /* heartbeat: next ping, or pong deadline */
    void *user;
    char *info; /* captured handshake data, see eio_http.c */
    const char *close_reason;
};

struct eio_server {
    eio_config cfg; /* strings point into this allocation or into `strs` */
    eio_handlers h;
    void *user;
    eio_host *host;
    struct lws_context *ctx;
    eio_htab sessions;
    struct eio_session *all, *reap;
    lws_sorted_usec_list_t reap_sul;
    struct eio_wheel wheel; /* the sessions' heartbeats */
    char *strs;             /* copies of the config strings */
    char *cors_strs;        /* the CORS origins after eio_server_reconfigure() */
    size_t path_len;
};

/* Creates an open session bound to transport (sid random, table entry,
 * heartbeat armed, open packet queued); NULL on failure. */
eio_session *eio_session_create(eio_server *srv, int transport, char *info);
/* Marks the session opened and calls on_open; -1 if it was refused. */
int eio_session_notify_open(eio_session *s);
eio_session *eio_session_find(eio_server *srv, const char *sid, size_t len);
/* Closes with a reason; `by_client`: a pending poll gets noop, not close. */
void eio_session_close_reason(eio_session *s, const char *reason, int by_client);
/* A packet arrived from the client on the active transport. */
void eio_session_on_packet(eio_session *s, const eio_packet *p);
/* Queues a prepared packet (adds a reference). Control packets bypass the
 * cap. Returns 0 or EIO_*. */
int eio_session_queue(eio_session *s, eio_buf *b, int control);
/* A ping just went out on a transport: the pong deadline starts now. */
void eio_session_ping_sent(eio_session *s);
/* Pops the first queued buffer (reference passes to the caller). */
eio_buf *eio_session_pop(eio_session *s);
/* Asks lws to call back when the active transport can take the queue. */
void eio_session_kick(eio_session *s);
/* Upgrade: probe WebSocket finished with "5"; it becomes the transport. */
void eio_session_upgraded(eio_session *s);
/* Closes every session now, calling on_close (host teardown). */
void eio_server_shutdown(eio_server *srv);
/* Binds a server to a context (done by eio_host_new). */
void eio_server_bind(eio_server *srv, eio_host *h, struct lws_context *ctx);

/* --- per-connection state (lws per_session_data) ------------------------ */

enum {
    C_NONE = 0,
    C_HTTP_RESP, /* a response is prepared or being written */
    C_HTTP_GET,  /* parked long-poll GET waiting for packets */
    C_HTTP_POST, /* receiving a POST body */
    C_WS,        /* WebSocket transport of a session */
    C_WS_PROBE,  /* WebSocket probing an upgrade */
    C_WS_DOOMED, /* WebSocket to be closed at the first writeable */
};

#define CF_HDR_SENT 0x01
#define CF_CLOSE_AFTER 0x02 /* close the connection after the response */
#define CF_RX_BINARY 0x04   /* message being reassembled is binary */
#define CF_PROBE_REPLY 0x08 /* "3probe" to send */
#define CF_FRAG 0x10        /* inside a fragmented WebSocket message */

struct eio_conn {
    eio_server *srv;
    eio_session *sess;
    uint8_t kind;
    uint8_t flags;
    uint16_t status;
    const char *ctype;
    uint8_t *buf; /* response (after LWS_PRE), POST body, or ws reassembly */
    size_t len, off, cap;
};

/* --- HTTP helpers (eio_http.c) ----------------------------------------- */

enum eio_err {
    EIO_ERR_TRANSPORT_UNKNOWN = 0,
    EIO_ERR_UNKNOWN_SID = 1,
    EIO_ERR_BAD_HANDSHAKE_METHOD = 2,
    EIO_ERR_BAD_REQUEST = 3,
    EIO_ERR_FORBIDDEN = 4,
    EIO_ERR_UNSUPPORTED_PROTOCOL_VERSION = 5,
};

/* Query parameter value copied into buf (NUL-terminated); its length, -1
 * when absent, -2 when longer than buf. */
int eio_http_arg(struct lws *wsi, const char *name, char *buf, size_t len);
/* 1 when the request may go on: no Origin header (not a browser's
 * cross-origin context), or the origin of its own Host (same origin, see
 * eio_http_same_origin()), or one of cfg.cors_origins, or "*" there. */
int eio_http_origin_allowed(const eio_server *srv, struct lws *wsi);
/* 1 when Origin (scheme://host[:port]) names the origin whose Host header
 * is host_header: host names equal (case aside); ports equal when the Host
 * has one (the Origin's defaulting to 80/443 by scheme), not compared when
 * it has none (a proxy that forwards only the host name). */
int eio_http_same_origin(const char *origin, const char *host_header);
/* Answers a WebSocket handshake with 403 {"code":4,"message":"Forbidden"}
 * from LWS_CALLBACK_HTTP_CONFIRM_UPGRADE (whose caller then completes the
 * transaction). 0, or -1 when it could not be written (hang up). */
int eio_http_forbid_upgrade(struct lws *wsi);
/* Collects the handshake data kept by a session (query, headers, peer);
 * malloc'd, NULL on failure. */
char *eio_http_capture(const eio_server *srv, struct lws *wsi);
const char *eio_info_get(const char *info, int section, const char *name);
/* Prepares a response on conn (takes `body`, malloc'd with LWS_PRE
 * headroom, or NULL) and asks for a writeable callback. */
void eio_http_respond(struct eio_conn *c, struct lws *wsi, int status, const char *ctype, uint8_t *body, size_t len);
void eio_http_respond_text(struct eio_conn *c, struct lws *wsi, int status, const char *ctype, const char *text);
/* 400 (403 for EIO_ERR_FORBIDDEN) with {"code":N,"message":"..."}; the
 * connection closes after. */
void eio_http_error(struct eio_conn *c, struct lws *wsi, enum eio_err code);
int eio_http_writeable(struct eio_conn *c, struct lws *wsi);
/* Releases what conn holds and detaches it from its session. */
void eio_conn_release(struct eio_conn *c, struct lws *wsi);

/* --- transports -------------------------------------------------------- */

/* LWS_CALLBACK_HTTP for a request on srv's path. */
int eio_polling_request(eio_server *srv, struct eio_conn *c, struct lws *wsi);
int eio_polling_body(struct eio_conn *c, struct lws *wsi, const void *in, size_t len);
int eio_polling_body_done(struct eio_conn *c, struct lws *wsi);
/* The session has something for its parked GET: build the response. */
void eio_polling_flush(eio_session *s);
/* Answers a parked GET with a single packet type (close or noop). */
void eio_polling_answer(eio_session *s, int type);

int eio_ws_filter(eio_server *srv, struct eio_conn *c, struct lws *wsi);
int eio_ws_established(struct eio_conn *c, struct lws *wsi);
int eio_ws_receive(struct eio_conn *c, struct lws *wsi, const void *in, size_t len);
int eio_ws_writeable(struct eio_conn *c, struct lws *wsi);
void eio_ws_closed(struct eio_conn *c, struct lws *wsi);
/* Marks a WebSocket to be closed with a close frame at its next writeable. */
void eio_ws_doom(struct lws *wsi);

/* The server whose path matches a request URI, or NULL. */
eio_server *eio_host_route(eio_host *h, const char *uri, size_t len);

#endif
