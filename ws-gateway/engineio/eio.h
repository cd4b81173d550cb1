/*
 * Engine.IO v4 server on libwebsockets 4.1: sessions over HTTP long-polling
 * and WebSocket, the upgrade between them, heartbeat, and the protocol's
 * error answers.
 *
 * Model: one lws context, one thread, one event loop. An eio_server serves
 * one path (e.g. "/engine.io/"); an eio_host owns the lws context and vhost
 * and routes requests to its servers. Nothing here blocks and nothing is
 * written to a socket outside lws's WRITEABLE callbacks: sends are queued
 * per session (bounded by send_queue_max bytes) and flushed when lws says
 * the connection can take them.
 *
 * Ownership and lifetime:
 * - eio_server_new() copies the config (strings included); eio_server_free()
 *   frees the server. Free servers after the host that serves them.
 * - An eio_session belongs to its server. The pointer passed to on_open is
 *   valid until on_close returns; after that it is freed. Calls on a closed
 *   session are harmless no-ops that return EIO_ECLOSED.
 * - Callbacks are never called from inside an API call of this header
 *   (except eio_host_free(), which closes every session and calls on_close).
 *   A close asked for by the application, or caused by an overflowing send
 *   queue, takes effect at once for the peer but on_close runs from the
 *   event loop shortly after.
 */
#ifndef EIO_H
#define EIO_H

#include <stddef.h>
#include <stdint.h>

struct lws_context;
struct lws_vhost;
struct lws_protocols;
struct lws_http_mount;

typedef struct eio_server eio_server;
typedef struct eio_session eio_session;
typedef struct eio_buf eio_buf;
typedef struct eio_host eio_host;

#define EIO_TRANSPORT_POLLING 1
#define EIO_TRANSPORT_WEBSOCKET 2

#define EIO_ECLOSED (-10) /* the session is closed */
#define EIO_EFULL (-11)   /* send queue over its cap: the session is closing */
#define EIO_EINVAL (-12)

typedef struct eio_config {
    const char *path;            /* default "/engine.io/" */
    unsigned ping_interval_ms;   /* default 25000 */
    unsigned ping_timeout_ms;    /* default 20000 */
    unsigned upgrade_timeout_ms; /* probe WebSocket must send "5" within; default 10000 */
    size_t max_payload;          /* bytes per message / polling body; default 1000000 */
    size_t send_queue_max;       /* queued bytes per session before it is closed; default 1 MiB */
    int transports;              /* EIO_TRANSPORT_* bits; 0 = both */
    /* Origins allowed besides the server's own, NULL-terminated; "*"
	 * allows any. NULL: same origin only, and no CORS headers at all. A
	 * request (polling or WebSocket) whose Origin header is present, is
	 * not the origin of its Host header and is not allowed gets 403
	 * {"code":4,"message":"Forbidden"} (cross-site WebSocket hijacking). */
    const char *const *cors_origins;
    /* Request headers (lower case) copied at the handshake so that the
	 * application can read them later (eio_session_header()). NULL-terminated. */
    const char *const *capture_headers;
} eio_config;

typedef struct eio_handlers {
    /* A session was opened (the open packet is already queued). Return 0
	 * to keep it, nonzero to close it. */
    int (*on_open)(eio_session *s, void *user);
    /* One message packet. data is valid only during the call. */
    void (*on_message)(eio_session *s, const uint8_t *data, size_t len, int binary, void *user);
    /* The session is gone; reason is a static string ("transport close",
	 * "ping timeout", "parse error", "forced close", "transport error",
	 * "send queue full", "server shutdown", or the application's own
	 * from eio_close_reason()). Called exactly once per
	 * session that on_open was called for. */
    void (*on_close)(eio_session *s, const char *reason, void *user);
} eio_handlers;

/* Creates a server; NULL on bad config or out of memory. */
eio_server *eio_server_new(const eio_config *cfg, const eio_handlers *h, void *user);
void eio_server_free(eio_server *srv);
const eio_config *eio_server_config(const eio_server *srv);
/* Applies what can change while sessions are open (a reload): the CORS
 * origins (copied), max_payload and send_queue_max (0: unchanged). The ping
 * timings and paths stay: clients were told them at their handshake. */
int eio_server_reconfigure(eio_server *srv, const eio_config *cfg);
/* The lws context serving this server (NULL until a host binds it): for
 * timers (lws_sul_schedule) on the same loop. */
struct lws_context *eio_server_context(const eio_server *srv);

/* --- sessions ---------------------------------------------------------- */

/* Queues one message (copied). Returns 0, EIO_ECLOSED or EIO_EFULL. */
int eio_send(eio_session *s, const void *data, size_t len, int binary);
/* Queues several prepared messages atomically (all or none), taking a
 * reference on each buffer (the caller keeps its own). */
int eio_send_bufs(eio_session *s, eio_buf *const *bufs, size_t n);
/* Closes the session (server side: a pending poll gets the close packet,
 * a WebSocket a close frame). on_close follows from the event loop. */
void eio_close(eio_session *s);
/* The same with a reason for on_close (a string that outlives the session,
 * normally a literal). */
void eio_close_reason(eio_session *s, const char *reason);

const char *eio_session_sid(const eio_session *s);
int eio_session_transport(const eio_session *s); /* EIO_TRANSPORT_* */
int eio_session_is_open(const eio_session *s);
void eio_session_set_user(eio_session *s, void *p);
void *eio_session_user(const eio_session *s);
eio_server *eio_session_server(const eio_session *s);
/* Captured at the handshake: a header from capture_headers (name in lower
 * case), a query parameter, the peer's address. NULL when absent. The
 * strings live as long as the session. */
const char *eio_session_header(const eio_session *s, const char *name);
const char *eio_session_query(const eio_session *s, const char *name);
const char *eio_session_peer(const eio_session *s);

/* --- prepared messages (shared between sessions, reference counted) ---- */

/* A message buffer of `len` payload bytes for the caller to fill through
 * *payload; one reference, owned by the caller. NULL when out of memory. */
eio_buf *eio_buf_new(size_t len, int binary, uint8_t **payload);
void eio_buf_unref(eio_buf *b);

/* --- the host: lws context, vhost, routing ------------------------------ */

typedef struct eio_host_config {
    const char *iface; /* address to bind, e.g. "127.0.0.1"; NULL = any */
    int port;          /* 0: a free port, see eio_host_port() */
    /* The application's own lws protocols (e.g. for /stats), terminated
	 * by a zeroed entry; copied. Serve them with app_mounts
	 * (origin_protocol LWSMPRO_CALLBACK, origin = protocol name). */
    const struct lws_protocols *app_protocols;
    const struct lws_http_mount *app_mounts; /* borrowed: must outlive the host */
    unsigned http_timeout_s;                 /* headers/body must arrive within; default 10 */
    unsigned keepalive_timeout_s;            /* idle keep-alive HTTP; default 30 */
    unsigned max_header_bytes;               /* all request headers; default 4096 */
    unsigned max_fds;                        /* 0: the process limit */
    unsigned tcp_keepalive_s;                /* half-open detection; default 60, 0 off */
    /* A libuv loop (uv_loop_t *) to serve on, through lws's libuv event
	 * library (epoll), run by the caller; NULL: lws's own poll() loop,
	 * run with lws_service(). */
    void *foreign_uv_loop;
} eio_host_config;

/* Creates the lws context and one vhost serving the given servers (the
 * array is copied; the servers must outlive the host). NULL on failure. */
eio_host *eio_host_new(const eio_host_config *cfg, eio_server *const *servers, size_t n);
struct lws_context *eio_host_context(const eio_host *h);
struct lws_vhost *eio_host_vhost(const eio_host *h);
int eio_host_port(const eio_host *h);
/* Closes every session of every server (on_close is called), then destroys
 * the lws context and frees the host. */
void eio_host_free(eio_host *h);
/* The same for a host on a foreign loop: settle(arg) must run that loop
 * until lws has closed its handles (the caller's own handles closed). */
void eio_host_free_with(eio_host *h, void (*settle)(void *arg), void *arg);

#endif
