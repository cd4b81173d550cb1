/*
 * Socket.IO internals shared by sio_server.c (clients, sockets, packets,
 * acks) and sio_rooms.c (namespaces' rooms). Not for the application.
 */
#ifndef SIO_INTERNAL_H
#define SIO_INTERNAL_H

#include <libwebsockets.h>

#include "../engineio/eio_hash.h"
#include "msg_limits.h"
#include "random.h"
#include "sio.h"

#define SIO_SID_LEN 20
#define SIO_ROOM_NAME_MAX MSG_SIO_ROOM_NAME_MAX

struct sio_member;

struct sio_room {
    eio_hnode node; /* key: name */
    struct sio_member *head;
    size_t count;
    char name[];
};

/* One socket in one room: on the room's list and on the socket's list. */
struct sio_member {
    struct sio_room *room;
    sio_socket *s;
    struct sio_member *rprev, *rnext; /* room's members */
    struct sio_member *snext;         /* socket's rooms */
};

struct sio_nsp {
    char *name;
    eio_htab rooms;
};

struct sio_pending_ack {
    struct sio_pending_ack *next;
    sio_socket *s;
    int64_t id;
    sio_ack_cb cb;
    void *arg;
    lws_sorted_usec_list_t sul;
};

enum { SK_PENDING = 0, SK_CONNECTED = 1, SK_GONE = 2 };

struct sio_client;

struct sio_socket {
    eio_hnode idnode; /* key: id */
    uint64_t id;
    sio_server *srv;
    struct sio_client *cl;
    struct sio_nsp *nsp;
    sio_socket *cnext;       /* client's sockets */
    sio_socket *prev, *next; /* server's connected sockets / reap list */
    sio_socket *rnext;       /* server's reap list */
    uint8_t state;
    uint8_t listed; /* on srv->connected */
    char sid[SIO_SID_LEN + 1];
    void *user;
    struct sio_member *rooms;
    struct sio_pending_ack *acks;
    int64_t next_ack;
    const char *gone_reason;
};

/* Per Engine.IO session. */
struct sio_client {
    sio_server *srv;
    eio_session *es;
    sio_socket *sockets;
    lws_sorted_usec_list_t connect_sul;
    /* a binary packet waiting for its attachments */
    sio_packet pend;
    char *pend_nsp; /* pend.nsp points here: the frame is gone by then */
    int pending;
    sio_bin *bins;
    size_t nbins, bin_bytes;
};

struct sio_server {
    sio_config cfg;
    sio_handlers h;
    void *user;
    eio_server *eio;
    struct sio_nsp *nsps;
    size_t n_nsps;
    eio_htab by_id;
    sio_socket *connected; /* list of SK_CONNECTED sockets */
    size_t count;
    sio_socket *reap; /* server-disconnected, on_disconnect owed */
    lws_sorted_usec_list_t reap_sul;
    uint64_t next_id;
    sio_limits limits;
};

struct sio_nsp *sio_nsp_find(sio_server *srv, const char *name, size_t len);
/* Leaves every room (deleting emptied ones). */
void sio_rooms_leave_all(sio_socket *s);
void sio_nsp_rooms_free(struct sio_nsp *nsp);
/* Queues prepared buffers on a socket's connection. */
int sio_socket_send(sio_socket *s, eio_buf *const *bufs, size_t n);
/* Encodes an EVENT (or BINARY_EVENT) into buffers for sio_socket_send().
 * *nbufs = 1 + nbins. Buffers are owned by the caller (unref each). */
int sio_encode_event(const char *nsp, const char *event, json_object *args, const sio_bin *bins, size_t nbins,
                     int64_t ack_id, eio_buf **bufs);

#endif
