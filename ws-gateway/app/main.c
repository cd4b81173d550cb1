/* messaging-gateway: the realtime server of API.md section 5. Socket.IO v5
 * over Engine.IO v4 (ws-gateway/socketio, ws-gateway/engineio), rooms per
 * conversation, the operations of shared/ops.h run on PostgreSQL without
 * blocking, and delivery of stored events through LISTEN/NOTIFY. */
#include <fcntl.h>
#include <getopt.h>
#include <libwebsockets.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "bus.h"
#include "db.h"
#include "gateway.h"
#include "loop.h"
#include "log.h"
#include "random.h"

static void close_session(sio_socket *s, void *arg)
{
    struct gw_client *c = sio_socket_user(s);
    if (c) {
        gw_session_closed(arg, c);
        c->pid[0] = '\0'; /* recorded: not again from on_disconnect */
    }
}

/* "a, b" -> {"a", "b", NULL}; NULL when empty. Owned by the caller (one block). */
static const char **split_origins(const char *s)
{
    if (!s || !*s)
        return NULL;
    size_t n = 1;
    for (const char *p = s; *p; p++)
        n += *p == ',';
    const char **v = calloc(n + 1, sizeof *v + strlen(s) + 1);
    if (!v)
        return NULL;
    char *buf = (char *)(v + n + 1);
    strcpy(buf, s);
    size_t k = 0;
    for (char *tok = strtok(buf, ", "); tok; tok = strtok(NULL, ", "))
        v[k++] = tok;
    v[k] = NULL;
    return v;
}

/* SIGHUP: what can change without dropping anyone (log level, origins,
 * payload and queue limits for what comes next, message length, admin
 * token, recovery window). Ports, database and secrets need a restart. */
static void reload(struct gateway *g, const char *path, struct msg_config *cfg, const char ***origins)
{
    struct msg_config fresh;
    char err[512];
    if (msg_config_load(&fresh, path, 0, err, sizeof err) < 0) {
        msg_err("reload_refused", "reason=\"%s\"", err);
        msg_config_free(&fresh);
        return;
    }
    const char **o = split_origins(fresh.ws_cors_origins);
    eio_config e = {.cors_origins = o,
                    .max_payload = (size_t)fresh.ws_max_payload,
                    .send_queue_max = (size_t)fresh.ws_send_queue_bytes};
    eio_server_reconfigure(sio_server_engine(g->srv), &e);
    free(*origins);
    *origins = o;
    msg_log_set_level((enum msg_log_level)msg_log_level_parse(fresh.log_level));
    cfg->max_message_length = fresh.max_message_length;
    cfg->recovery_max_disconnection_ms = fresh.recovery_max_disconnection_ms;
    cfg->ws_max_payload = fresh.ws_max_payload;
    cfg->ws_send_queue_bytes = fresh.ws_send_queue_bytes;
    char *tmp;
    tmp = cfg->ws_cors_origins, cfg->ws_cors_origins = fresh.ws_cors_origins, fresh.ws_cors_origins = tmp;
    tmp = cfg->admin_token, cfg->admin_token = fresh.admin_token, fresh.admin_token = tmp;
    tmp = cfg->log_level, cfg->log_level = fresh.log_level, fresh.log_level = tmp;
    msg_config_free(&fresh);
    msg_info("reloaded", "log_level=%s", cfg->log_level);
}

struct reload_ctx {
    struct gateway *g;
    const char *path;
    struct msg_config *cfg;
    const char ***origins;
};

static void on_reload(void *arg)
{
    struct reload_ctx *r = arg;
    reload(r->g, r->path, r->cfg, r->origins);
}

static int ops_done(void *arg) { return pgpool_pending(arg) == 0; }

static void usage(FILE *f)
{
    fprintf(f, "usage: messaging-gateway [--config FILE] [--port N] [--host ADDR] [--check-config]\n"
               "  --config FILE   configuration file (default: $MESSAGING_CONFIG)\n"
               "  --port N        port to listen on (default: ws_port, or MESSAGING_WS_PORT)\n"
               "  --host ADDR     address to bind (default: all)\n"
               "  --check-config  validate the configuration, print it (secrets hidden), exit\n"
               "  --help          this text\n"
               "Serves Socket.IO at /socket.io/, and /stats, /metrics, /health (loopback or\n"
               "admin token). Environment: MESSAGING_CONFIG, MESSAGING_DATABASE_URL,\n"
               "MESSAGING_JWT_SECRET, MESSAGING_WS_PORT. SIGTERM closes every client and exits;\n"
               "SIGHUP re-reads the configuration and applies log_level, ws_cors_origins,\n"
               "ws_max_payload, ws_send_queue_bytes, max_message_length, admin_token and\n"
               "recovery_max_disconnection_ms without dropping clients.\n");
}

/* Everything main holds, for the steps below. */
struct app {
    struct gateway g;
    struct msg_config cfg;
    const char *config_path, *host_addr;
    long port;            /* --port, or 0 */
    int check;            /* --check-config */
    const char **origins; /* owned (split_origins) */
    struct lws_protocols protocols[3];
    struct gw_loop loop;
};

/* Returns -1 to go on, or the exit status. */
static int parse_args(struct app *a, int argc, char **argv)
{
    static const struct option opts[] = {
        {"config", required_argument, NULL, 'c'}, {"port", required_argument, NULL, 'p'},
        {"host", required_argument, NULL, 'H'},   {"check-config", no_argument, NULL, 'k'},
        {"help", no_argument, NULL, 'h'},         {NULL, 0, NULL, 0}};
    int o;
    while ((o = getopt_long(argc, argv, "c:p:H:kh", opts, NULL)) != -1) {
        switch (o) {
        case 'c':
            a->config_path = optarg;
            break;
        case 'p': {
            char *end;
            a->port = strtol(optarg, &end, 10);
            if (*end || a->port < 1 || a->port > 65535) {
                fprintf(stderr, "messaging-gateway: --port must be between 1 and 65535\n");
                return 2;
            }
            break;
        }
        case 'H':
            a->host_addr = optarg;
            break;
        case 'k':
            a->check = 1;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    return -1;
}

/* As many connections as the process may have descriptors. */
static void raise_fd_limit(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

/* The registries, and the instance id that tells this process's own bells
 * apart: unique, from the one source of randomness (no randomness: no
 * start). */
static int gateway_init(struct app *a)
{
    struct gateway *g = &a->g;
    memset(g, 0, sizeof *g);
    g->cfg = &a->cfg;
    imap_init(&g->convs);
    imap_init(&g->users);
    imap_init(&g->present);
    gw_bus_init(&g->bus);
    char rnd[13];
    if (msg_random_hex(rnd, sizeof rnd, 6) < 0) {
        fprintf(stderr, "messaging-gateway: no randomness for the instance id\n");
        return -1;
    }
    snprintf(g->instance, sizeof g->instance, "%d-%s", (int)getpid(), rnd);
    return 0;
}

static int start_socketio(struct app *a)
{
    const struct msg_config *cfg = &a->cfg;
    a->origins = split_origins(cfg->ws_cors_origins);
    static const char *const capture[] = {"authorization", NULL};
    static const char *const namespaces[] = {GW_NS, NULL};
    sio_config scfg = {
        .eio = {.path = "/socket.io/",
                .ping_interval_ms = (unsigned)cfg->ws_ping_interval_ms,
                .ping_timeout_ms = (unsigned)cfg->ws_ping_timeout_ms,
                .max_payload = (size_t)cfg->ws_max_payload,
                .send_queue_max = (size_t)cfg->ws_send_queue_bytes,
                .cors_origins = a->origins,
                .capture_headers = capture},
        .connect_timeout_ms = (unsigned)cfg->ws_connect_timeout_ms,
        .namespaces = namespaces,
    };
    sio_handlers h = {.on_connect = gw_on_connect,
                      .on_connected = gw_on_connected,
                      .on_event = gw_on_event,
                      .on_disconnect = gw_on_disconnect};
    a->g.srv = sio_server_new(&scfg, &h, &a->g);
    if (!a->g.srv) {
        fprintf(stderr, "messaging-gateway: cannot create the Socket.IO server\n");
        return -1;
    }
    return 0;
}

/* The event loop, the listening socket with the monitoring and database
 * protocols beside Engine.IO's, and the token lifetimes on that loop. */
static int start_host(struct app *a)
{
    struct gateway *g = &a->g;
    a->protocols[0] = gw_http_protocol;
    a->protocols[0].user = g;
    a->protocols[1] = pgc_lws_protocol;
    if (gw_loop_init(&a->loop, a->cfg.ws_event_loop) < 0) {
        fprintf(stderr, "messaging-gateway: cannot start the event loop\n");
        return -1;
    }
    eio_host_config hcfg = {.foreign_uv_loop = gw_loop_foreign(&a->loop),
                            .iface = a->host_addr,
                            .port = (int)a->cfg.ws_port,
                            .app_protocols = a->protocols,
                            .app_mounts = gw_mounts,
                            .max_fds = 0};
    eio_server *servers[] = {sio_server_engine(g->srv)};
    g->host = eio_host_new(&hcfg, servers, 1);
    if (!g->host) {
        fprintf(stderr, "messaging-gateway: cannot listen on port %ld\n", a->cfg.ws_port);
        sio_server_free(g->srv);
        free(a->origins);
        msg_config_free(&a->cfg);
        return -1;
    }
    g->ctx = eio_host_context(g->host);
    g->vh = eio_host_vhost(g->host);
    if (gw_lifetime_init(g) < 0) {
        fprintf(stderr, "messaging-gateway: out of memory\n");
        return -1;
    }
    return 0;
}

/* One database connection with the configured timeouts and the access
 * log's session settings (sql/040_audit.sql: via socket); NULL when out of
 * memory. Connecting starts once the loop runs. */
static struct pgc *new_pgc(struct app *a, const char *name, size_t max_queue, const char *listen,
                           const struct pgc_hooks *hooks)
{
    const struct msg_config *cfg = &a->cfg;
    struct pgc *c = pgc_new(a->g.ctx, a->g.vh, cfg->database_url, name, max_queue, GW_DB_QUEUE_BYTES, listen, hooks);
    if (!c)
        return NULL;
    char dbopts[200];
    msg_db_session_options(dbopts, sizeof dbopts, NULL, "socket", cfg);
    pgc_set_timeouts(c, cfg->db_connect_timeout_s, cfg->db_statement_timeout_ms);
    if (pgc_set_options(c, dbopts) < 0) {
        pgc_free(c);
        return NULL;
    }
    return c;
}

/* The delivery (LISTEN) connection and the pool for operations. */
static int start_db(struct app *a)
{
    struct gateway *g = &a->g;
    struct pgc_hooks lh = {
        .on_ready = gw_on_listen_ready, .on_down = gw_on_listen_down, .on_notify = gw_on_notify, .arg = g};
    g->listen = new_pgc(a, "messaging-gateway-listen", 100000, MSG_BUS_CHANNEL, &lh);
    int pooled = pgpool_init(&g->pool, (int)a->cfg.ws_db_connections);
    for (int k = 0; pooled == 0 && k < g->pool.n; k++)
        if (!(g->pool.c[k] = new_pgc(a, "messaging-gateway", 4096, NULL, NULL)))
            pooled = -1;
    if (!g->listen || pooled < 0) {
        fprintf(stderr, "messaging-gateway: out of memory\n");
        return -1;
    }
    return 0;
}

/* SIGTERM: every session recorded for recovery, then everything closed. */
static void stop(struct app *a)
{
    struct gateway *g = &a->g;
    msg_info("gateway_stopping", "sockets=%zu", sio_socket_count(g->srv));
    gw_timers_stop(g);
    eio_wheel_stop(g->lifetimes);
    eio_wheel_bind(g->lifetimes, NULL); /* closing sockets only cancel from here on */
    gw_receipts_free(g);
    /* Record every session's rooms and cursors, so that its client can
     * recover on another instance or after the restart (at most 3 s). */
    sio_foreach_socket(g->srv, close_session, g);
    gw_loop_drain(&a->loop, ops_done, &g->pool, 3000);
    /* The database first (its callbacks may still look sockets up), then
     * every client is closed, then the rest. */
    pgc_free(g->listen);
    g->listen = NULL;
    pgpool_free(&g->pool);
    eio_host_free_with(g->host, gw_loop_settle, &a->loop);
    gw_loop_close(&a->loop);
    sio_server_free(g->srv);
    gw_rooms_free(g);
    gw_lifetime_free(g);
    imap_free(&g->users);
    imap_free(&g->present);
    gw_bus_free(&g->bus);
    free(a->origins);
    msg_config_free(&a->cfg);
    msg_info("gateway_stopped", "%s", "");
}

int main(int argc, char **argv)
{
    struct app a = {0};
    int rc = parse_args(&a, argc, argv);
    if (rc >= 0)
        return rc;
    int started = msg_config_start(&a.cfg, "messaging-gateway", a.config_path, a.check);
    if (started != 0) {
        msg_config_free(&a.cfg);
        return started < 0 ? 1 : 0;
    }
    if (a.port)
        a.cfg.ws_port = a.port;
    raise_fd_limit();
    lws_set_log_level(LLL_ERR, NULL);
    if (gateway_init(&a) < 0) {
        msg_config_free(&a.cfg);
        return 1;
    }
    if (start_socketio(&a) < 0 || start_host(&a) < 0 || start_db(&a) < 0)
        return 1;
    gw_receipts_init(&a.g);
    gw_timers_start(&a.g);
    msg_info("gateway_listening", "port=%d instance=%s loop=%s", eio_host_port(a.g.host), a.g.instance,
             a.cfg.ws_event_loop);
    struct reload_ctx r = {&a.g, a.config_path, &a.cfg, &a.origins};
    gw_loop_run(&a.loop, a.g.ctx, on_reload, &r);
    stop(&a);
    return 0;
}
