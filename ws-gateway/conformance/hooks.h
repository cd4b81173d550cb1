/*
 * Extra behaviour of the conformance server for the project's own protocol
 * tests (t/protocol/), enabled by --test-hooks only: asynchronous connect
 * decisions on "/auth", rooms, server-to-client acks, namespace disconnect
 * by the server, a flood that overflows the send queue, and the handshake
 * data a socket kept (query and captured headers). The official suites
 * never see any of it.
 */
#ifndef CONFORMANCE_HOOKS_H
#define CONFORMANCE_HOOKS_H

#include "socketio/sio.h"

struct lws_context;

extern int test_hooks;

void hooks_init(sio_server *srv, struct lws_context *ctx);
void hooks_fini(void);
int hooks_auth(sio_socket *s, json_object *auth, const char **refusal);
void hooks_event(sio_socket *s, const char *event, json_object *args, int64_t ack_id, const sio_bin *bins,
                 size_t nbins);
void hooks_disconnect(sio_socket *s, const char *reason);

#endif
