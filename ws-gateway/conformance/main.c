/*
 * conformance-server: the protocol layers as the official compliance suites
 * expect them (see ../../shared/DESIGN.md, "Conformance"):
 *   /engine.io/  bare Engine.IO server echoing every message;
 *   /socket.io/  Socket.IO echo server (namespaces "/" and "/custom").
 * pingInterval 300, pingTimeout 200, maxPayload 1000000, connectTimeout
 * 1000, CORS for any origin (set here: the library's default is same
 * origin only). --port N (default 3000). SIGTERM/SIGINT stop it.
 *
 * With --test-hooks (the project's own tests only), two more Engine.IO echo
 * servers show the origin rules: /same-origin/ (no CORS origins: same
 * origin only) and /listed-origin/ (http://allowed.example only).
 */
#include <libwebsockets.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "socketio/sio.h"

#include "hooks.h"

static volatile sig_atomic_t stop;
static struct lws_context *g_ctx;

static void on_signal(int sig)
{
    (void)sig;
    stop = 1;
    if (g_ctx)
        lws_cancel_service(g_ctx);
}

/* --- /socket.io/: echo server of the socket.io-protocol README --------- */

static int sio_on_connect(sio_socket *s, json_object *auth, const char **refusal, void *user)
{
    /* kept until on_connected emits it back as the "auth" event */
    sio_socket_set_user(s, auth ? json_object_get(auth) : json_object_new_object());
    if (!strcmp(sio_socket_nsp(s), "/auth"))
        return hooks_auth(s, auth, refusal);
    return SIO_ACCEPT;
}

static void sio_on_connected(sio_socket *s, void *user)
{
    json_object *auth = sio_socket_user(s), *args = json_object_new_array();

    json_object_array_add(args, auth);
    sio_socket_set_user(s, NULL);
    sio_emit(s, "auth", args, NULL, 0);
    json_object_put(args);
}

static void sio_on_event(sio_socket *s, const char *event, json_object *args, int64_t ack_id, const sio_bin *bins,
                         size_t nbins, void *user)
{
    if (!strcmp(event, "message"))
        sio_emit(s, "message-back", args, bins, nbins);
    else if (!strcmp(event, "message-with-ack") && ack_id != SIO_NO_ACK)
        sio_ack(s, ack_id, args, bins, nbins);
    else if (test_hooks)
        hooks_event(s, event, args, ack_id, bins, nbins);
}

static void sio_on_disconnect(sio_socket *s, const char *reason, void *user)
{
    json_object_put(sio_socket_user(s)); /* auth of a never-connected one */
    if (test_hooks)
        hooks_disconnect(s, reason);
}

/* --- /engine.io/: bare echo ------------------------------------------- */

static void eio_echo(eio_session *s, const uint8_t *data, size_t len, int binary, void *user)
{
    eio_send(s, data, len, binary);
}

/* The suites' READMEs' values, not caps of ours. */
#define SUITE_MAX_PAYLOAD 1000000
/* --test-hooks: small, so that tests can overflow it. */
#define HOOKS_SEND_QUEUE (256 * 1024)

int main(int argc, char **argv)
{
    static const char *const any[] = {"*", NULL};
    static const char *const listed[] = {"http://allowed.example", NULL};
    static const char *const captured[] = {"authorization", "x-test", NULL};
    int port = 3000;
    unsigned ping_interval = 300;

    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--port") && i + 1 < argc) {
            port = atoi(argv[++i]);
        } else if (!strcmp(argv[i], "--ping-interval") && i + 1 < argc) {
            /* for the benchmark's idle sessions only */
            ping_interval = (unsigned)atoi(argv[++i]);
        } else if (!strcmp(argv[i], "--test-hooks")) {
            test_hooks = 1;
        } else {
            fprintf(stderr, "usage: %s [--port N] [--test-hooks] [--ping-interval MS]\n", argv[0]);
            return 2;
        }
    }
    /* CONF_LWS_LOG=<lws log bitmask> for debugging */
    lws_set_log_level(getenv("CONF_LWS_LOG") ? atoi(getenv("CONF_LWS_LOG")) : LLL_ERR, NULL);

    eio_config ecfg = {
        .path = "/engine.io/",
        .ping_interval_ms = ping_interval,
        .ping_timeout_ms = 200,
        .max_payload = SUITE_MAX_PAYLOAD,
        .cors_origins = any,
    };
    eio_handlers eh = {.on_message = eio_echo};
    eio_server *e = eio_server_new(&ecfg, &eh, NULL);
    eio_config same_cfg = ecfg, listed_cfg = ecfg;

    same_cfg.path = "/same-origin/";
    same_cfg.cors_origins = NULL;
    listed_cfg.path = "/listed-origin/";
    listed_cfg.cors_origins = listed;
    eio_server *same = test_hooks ? eio_server_new(&same_cfg, &eh, NULL) : NULL;
    eio_server *lst = test_hooks ? eio_server_new(&listed_cfg, &eh, NULL) : NULL;

    /* "/auth" (asynchronous accept/refuse) only with --test-hooks */
    const char *nsps[] = {"/", "/custom", test_hooks ? "/auth" : NULL, NULL};
    sio_config scfg = {
        .eio = ecfg,
        .connect_timeout_ms = 1000,
        .namespaces = nsps,
    };
    scfg.eio.path = "/socket.io/";
    if (test_hooks) {
        scfg.eio.send_queue_max = HOOKS_SEND_QUEUE;
        scfg.eio.capture_headers = captured;
    }
    sio_handlers sh = {
        .on_connect = sio_on_connect,
        .on_connected = sio_on_connected,
        .on_event = sio_on_event,
        .on_disconnect = sio_on_disconnect,
    };
    sio_server *sio = sio_server_new(&scfg, &sh, NULL);
    eio_server *servers[] = {e, sio ? sio_server_engine(sio) : NULL, same, lst};
    eio_host_config hcfg = {.port = port};
    eio_host *h = e && sio && (!test_hooks || (same && lst)) ? eio_host_new(&hcfg, servers, test_hooks ? 4 : 2) : NULL;

    if (!h) {
        fprintf(stderr, "level=error msg=\"cannot start\" port=%d\n", port);
        sio_server_free(sio);
        eio_server_free(e);
        eio_server_free(same);
        eio_server_free(lst);
        return 1;
    }
    hooks_init(sio, eio_host_context(h));
    g_ctx = eio_host_context(h);
    signal(SIGTERM, on_signal);
    signal(SIGINT, on_signal);
    fprintf(stderr, "level=info msg=listening port=%d\n", eio_host_port(h));
    while (!stop && lws_service(g_ctx, 0) >= 0)
        ;
    hooks_fini();
    eio_host_free(h);
    sio_server_free(sio);
    eio_server_free(e);
    eio_server_free(same);
    eio_server_free(lst);
    return 0;
}
