/*
 * Socket.IO v5 server for the application: namespaces, connect with an auth
 * payload (accepted, refused, or decided later), events and
 * acknowledgements both ways, binary attachments, rooms. The wire (Engine.IO
 * sessions, packets, placeholders) stays below this header.
 *
 * Model: one lws event loop, no threads (see engineio/eio.h). Everything
 * sent is queued on the connection and written when lws says it can be; a
 * connection whose queue passes send_queue_max bytes is closed.
 *
 * Lifetime and ownership:
 * - A sio_socket is one client in one namespace. It exists from on_connect
 *   until on_disconnect returns (or until sio_refuse() returns for a
 *   refused one); then it is freed. To refer to a socket from a later,
 *   asynchronous context (a database reply), keep sio_socket_id() and look
 *   it up with sio_socket_find(): NULL means it is gone.
 * - json_object arguments given to the library are borrowed: the caller
 *   keeps its reference. json_object values handed to callbacks are owned
 *   by the library and valid during the call; json_object_get() them to
 *   keep them longer.
 * - Binary attachments appear in arguments as placeholder objects
 *   {"_placeholder":true,"num":N}; their bytes come in `bins[N]`. To send
 *   binary, put sio_placeholder_new(N) in the arguments and the bytes in
 *   bins[N]. bins are borrowed (copied when queued).
 * - on_disconnect is called exactly once for every socket for which
 *   on_connect did not return SIO_REFUSE and sio_refuse() was not called.
 *   The socket is still in its rooms during the call (so the application
 *   can tell them); they are left right after.
 * - Callbacks are not called from inside API calls, except sio_accept()
 *   (calls on_connected) and sio_server_free()/eio_host_free() teardown.
 */
#ifndef SIO_H
#define SIO_H

#include <json-c/json.h>
#include <stddef.h>
#include <stdint.h>

#include "../engineio/eio.h"
#include "sio_codec.h"

typedef struct sio_server sio_server;
typedef struct sio_socket sio_socket;

typedef struct sio_bin {
    const uint8_t *data;
    size_t len;
} sio_bin;

enum sio_connect_result {
    SIO_ACCEPT = 0,
    SIO_REFUSE = 1,  /* set *refusal to the message for the client */
    SIO_PENDING = 2, /* decide later with sio_accept() / sio_refuse() */
};

enum sio_ack_status {
    SIO_ACK_OK = 0,
    SIO_ACK_TIMEOUT = 1,
    SIO_ACK_DISCONNECTED = 2,
};

#define SIO_ECLOSED (-20) /* socket not connected (or gone) */
#define SIO_EINVAL (-21)

typedef struct sio_config {
    /* Engine.IO settings; path defaults to "/socket.io/". */
    eio_config eio;
    /* A client must connect to a namespace within this; default 45000. */
    unsigned connect_timeout_ms;
    /* Namespaces served, NULL-terminated; default { "/" }. Others get
	 * CONNECT_ERROR {"message":"Invalid namespace"}. */
    const char *const *namespaces;
    unsigned max_attachments; /* per packet; default 10 */
                              /* JSON nesting is not configurable: one limit for every input,
	 * MSG_JSON_MAX_DEPTH (shared/msg_limits.h). */
} sio_config;

typedef void (*sio_ack_cb)(sio_socket *s, int status, json_object *args, const sio_bin *bins, size_t nbins, void *arg);

typedef struct sio_handlers {
    /* A client asks to join a namespace. auth is the CONNECT payload (an
	 * object) or NULL. Return SIO_ACCEPT, SIO_REFUSE (with *refusal set to
	 * a message, copied), or SIO_PENDING. The handshake data is available
	 * through sio_socket_header()/query()/peer(). */
    int (*on_connect)(sio_socket *s, json_object *auth, const char **refusal, void *user);
    /* The CONNECT reply was queued: the socket can emit and join rooms. */
    void (*on_connected)(sio_socket *s, void *user);
    /* An event. args is an array without the event name; ack_id is
	 * SIO_NO_ACK or an id to answer with sio_ack(). */
    void (*on_event)(sio_socket *s, const char *event, json_object *args, int64_t ack_id, const sio_bin *bins,
                     size_t nbins, void *user);
    /* reason: "client namespace disconnect", "server namespace
	 * disconnect", "transport close", "ping timeout", "parse error",
	 * "transport error", "send queue full", "forced close",
	 * "server shutdown". */
    void (*on_disconnect)(sio_socket *s, const char *reason, void *user);
} sio_handlers;

/* Creates a server (config copied); NULL on failure. Give
 * sio_server_engine() to eio_host_new() to serve it. Free it after the
 * host. */
sio_server *sio_server_new(const sio_config *cfg, const sio_handlers *h, void *user);
void sio_server_free(sio_server *srv);
eio_server *sio_server_engine(sio_server *srv);

/* Connected sockets (all namespaces), and a walk over them. fn may emit,
 * join, leave, disconnect; it must not free anything. */
size_t sio_socket_count(const sio_server *srv);
void sio_foreach_socket(sio_server *srv, void (*fn)(sio_socket *s, void *arg), void *arg);
sio_socket *sio_socket_find(sio_server *srv, uint64_t id);

/* --- one socket --------------------------------------------------------- */

uint64_t sio_socket_id(const sio_socket *s);     /* unique in the process */
const char *sio_socket_sid(const sio_socket *s); /* the sid the client sees */
const char *sio_socket_nsp(const sio_socket *s);
int sio_socket_is_connected(const sio_socket *s);
void sio_socket_set_user(sio_socket *s, void *p);
void *sio_socket_user(const sio_socket *s);
/* Handshake data of the underlying connection (see eio_session_*()). */
const char *sio_socket_header(const sio_socket *s, const char *name);
const char *sio_socket_query(const sio_socket *s, const char *name);
const char *sio_socket_peer(const sio_socket *s);

/* Completes a SIO_PENDING connect. sio_accept() calls on_connected before
 * it returns. sio_refuse() sends CONNECT_ERROR {"message": message} and
 * frees the socket: do not use it afterwards. */
int sio_accept(sio_socket *s);
int sio_refuse(sio_socket *s, const char *message);
/* sio_accept() whose CONNECT reply also carries `pid`, the private session
 * id of Socket.IO's connection state recovery (copied). */
int sio_accept_pid(sio_socket *s, const char *pid);

/* Emits event with args (array or NULL). Returns 0 or a SIO_E / EIO_E code. */
int sio_emit(sio_socket *s, const char *event, json_object *args, const sio_bin *bins, size_t nbins);
/* Emits and waits for the client's acknowledgement: cb runs exactly once,
 * with SIO_ACK_OK and the client's args, SIO_ACK_TIMEOUT after timeout_ms
 * (0: no timeout), or SIO_ACK_DISCONNECTED. Not called if this returns
 * an error. */
int sio_emit_ack(sio_socket *s, const char *event, json_object *args, const sio_bin *bins, size_t nbins,
                 unsigned timeout_ms, sio_ack_cb cb, void *arg);
/* Answers a client's event that carried ack_id. */
int sio_ack(sio_socket *s, int64_t ack_id, json_object *args, const sio_bin *bins, size_t nbins);

/* Rooms are per namespace, sets of sockets; a room is deleted when its
 * last socket leaves. Names are at most 256 bytes. */
int sio_join(sio_socket *s, const char *room);
int sio_leave(sio_socket *s, const char *room);
int sio_in_room(const sio_socket *s, const char *room);
size_t sio_room_size(sio_server *srv, const char *nsp, const char *room);
/* Calls fn for each connected socket of a room (fn must not join or leave). */
void sio_room_foreach(sio_server *srv, const char *nsp, const char *room, void (*fn)(sio_socket *s, void *arg),
                      void *arg);
size_t sio_room_count(sio_server *srv, const char *nsp);
/* Emits to every socket of a room but `except` (NULL: none), encoding
 * once. Returns the number of sockets it was queued for, or < 0. */
int sio_emit_room(sio_server *srv, const char *nsp, const char *room, const sio_socket *except, const char *event,
                  json_object *args, const sio_bin *bins, size_t nbins);

/* The same three with the packet's array already encoded: `array` is the
 * JSON text ["event", args...] (for an ack: [args...]), trusted to be valid
 * JSON, spliced as it is (no parse, no re-encoding). A room gets one
 * Engine.IO message shared by every member. */
int sio_emit_text(sio_socket *s, const char *array, size_t len);
int sio_ack_text(sio_socket *s, int64_t ack_id, const char *array, size_t len);
int sio_emit_room_text(sio_server *srv, const char *nsp, const char *room, const sio_socket *except, const char *array,
                       size_t len);

/* Server-side namespace disconnect: the client gets DISCONNECT, then
 * on_disconnect("server namespace disconnect") runs from the loop. */
void sio_disconnect(sio_socket *s);
/* Closes the whole connection (all its namespaces). */
void sio_close(sio_socket *s);

#endif
