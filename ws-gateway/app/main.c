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

int main(int argc, char **argv)
{
    static const struct option opts[] = {{"config", required_argument, NULL, 'c'},
                                         {"port", required_argument, NULL, 'p'},
                                         {"host", required_argument, NULL, 'H'},
                                         {"check-config", no_argument, NULL, 'k'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    const char *config_path = NULL, *host_addr = NULL;
    long port = 0;
    int check = 0, o;
    while ((o = getopt_long(argc, argv, "c:p:H:kh", opts, NULL)) != -1) {
        switch (o) {
        case 'c': config_path = optarg; break;
        case 'p': {
            char *end;
            port = strtol(optarg, &end, 10);
            if (*end || port < 1 || port > 65535) {
                fprintf(stderr, "messaging-gateway: --port must be between 1 and 65535\n");
                return 2;
            }
            break;
        }
        case 'H': host_addr = optarg; break;
        case 'k': check = 1; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    struct msg_config cfg;
    int started = msg_config_start(&cfg, "messaging-gateway", config_path, check);
    if (started != 0) {
        msg_config_free(&cfg);
        return started < 0 ? 1 : 0;
    }
    if (port)
        cfg.ws_port = port;
    /* As many connections as the process may have descriptors. */
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    lws_set_log_level(LLL_ERR, NULL);

    struct gateway g;
    memset(&g, 0, sizeof g);
    g.cfg = &cfg;
    imap_init(&g.convs);
    imap_init(&g.users);
    gw_bus_init(&g.bus);
    /* The instance id tells this process's own bells apart: unique, from
     * the one source of randomness (no randomness: no start). */
    char rnd[13];
    if (msg_random_hex(rnd, sizeof rnd, 6) < 0) {
        fprintf(stderr, "messaging-gateway: no randomness for the instance id\n");
        msg_config_free(&cfg);
        return 1;
    }
    snprintf(g.instance, sizeof g.instance, "%d-%s", (int)getpid(), rnd);

    const char **origins = split_origins(cfg.ws_cors_origins);
    static const char *const capture[] = {"authorization", NULL};
    static const char *const namespaces[] = {GW_NS, NULL};
    sio_config scfg = {
        .eio = {.path = "/socket.io/",
                .ping_interval_ms = (unsigned)cfg.ws_ping_interval_ms,
                .ping_timeout_ms = (unsigned)cfg.ws_ping_timeout_ms,
                .max_payload = (size_t)cfg.ws_max_payload,
                .send_queue_max = (size_t)cfg.ws_send_queue_bytes,
                .cors_origins = origins,
                .capture_headers = capture},
        .connect_timeout_ms = (unsigned)cfg.ws_connect_timeout_ms,
        .namespaces = namespaces,
    };
    sio_handlers h = {.on_connect = gw_on_connect,
                      .on_connected = gw_on_connected,
                      .on_event = gw_on_event,
                      .on_disconnect = gw_on_disconnect};
    g.srv = sio_server_new(&scfg, &h, &g);
    if (!g.srv) {
        fprintf(stderr, "messaging-gateway: cannot create the Socket.IO server\n");
        return 1;
    }
    struct lws_protocols protocols[3] = {gw_http_protocol, pgc_lws_protocol, {0}};
    protocols[0].user = &g;
    struct gw_loop loop;
    if (gw_loop_init(&loop, cfg.ws_event_loop) < 0) {
        fprintf(stderr, "messaging-gateway: cannot start the event loop\n");
        return 1;
    }
    eio_host_config hcfg = {.foreign_uv_loop = gw_loop_foreign(&loop),
                            .iface = host_addr,
                            .port = (int)cfg.ws_port,
                            .app_protocols = protocols,
                            .app_mounts = gw_mounts,
                            .max_fds = 0};
    eio_server *servers[] = {sio_server_engine(g.srv)};
    g.host = eio_host_new(&hcfg, servers, 1);
    if (!g.host) {
        fprintf(stderr, "messaging-gateway: cannot listen on port %ld\n", cfg.ws_port);
        sio_server_free(g.srv);
        free(origins);
        msg_config_free(&cfg);
        return 1;
    }
    g.ctx = eio_host_context(g.host);
    g.vh = eio_host_vhost(g.host);
    if (gw_lifetime_init(&g) < 0) {
        fprintf(stderr, "messaging-gateway: out of memory\n");
        return 1;
    }

    struct pgc_hooks lh = {.on_ready = gw_on_listen_ready, .on_down = gw_on_listen_down,
                           .on_notify = gw_on_notify, .arg = &g};
    g.listen = pgc_new(g.ctx, g.vh, cfg.database_url, "messaging-gateway-listen", 100000, GW_DB_QUEUE_BYTES,
                       MSG_BUS_CHANNEL, &lh);
    int pooled = pgpool_init(&g.pool, (int)cfg.ws_db_connections);
    for (int k = 0; pooled == 0 && k < g.pool.n; k++)
        if (!(g.pool.c[k] = pgc_new(g.ctx, g.vh, cfg.database_url, "messaging-gateway", 4096, GW_DB_QUEUE_BYTES,
                                    NULL, NULL)))
            pooled = -1;
    /* The access log's session settings (sql/040_audit.sql): via socket. */
    char dbopts[160];
    msg_db_session_options(dbopts, sizeof dbopts, NULL, "socket", strcmp(cfg.audit_log, "off") != 0);
    if (g.listen)
        pgc_set_timeouts(g.listen, cfg.db_connect_timeout_s, cfg.db_statement_timeout_ms);
    for (int k = 0; pooled == 0 && k < g.pool.n; k++)
        if (g.pool.c[k])
            pgc_set_timeouts(g.pool.c[k], cfg.db_connect_timeout_s, cfg.db_statement_timeout_ms);
    if (g.listen && pgc_set_options(g.listen, dbopts) < 0)
        pooled = -1;
    for (int k = 0; pooled == 0 && k < g.pool.n; k++)
        if (pgc_set_options(g.pool.c[k], dbopts) < 0)
            pooled = -1;
    if (!g.listen || pooled < 0) {
        fprintf(stderr, "messaging-gateway: out of memory\n");
        return 1;
    }
    gw_receipts_init(&g);
    gw_timers_start(&g);

    msg_info("gateway_listening", "port=%d instance=%s loop=%s", eio_host_port(g.host), g.instance,
             cfg.ws_event_loop);
    struct reload_ctx rc = {&g, config_path, &cfg, &origins};
    gw_loop_run(&loop, g.ctx, on_reload, &rc);

    msg_info("gateway_stopping", "sockets=%zu", sio_socket_count(g.srv));
    gw_timers_stop(&g);
    eio_wheel_stop(g.lifetimes);
    eio_wheel_bind(g.lifetimes, NULL); /* closing sockets only cancel from here on */
    gw_receipts_free(&g);
    /* Record every session's rooms and cursors, so that its client can
     * recover on another instance or after the restart (at most 3 s). */
    sio_foreach_socket(g.srv, close_session, &g);
    gw_loop_drain(&loop, ops_done, &g.pool, 3000);
    /* The database first (its callbacks may still look sockets up), then
     * every client is closed, then the rest. */
    pgc_free(g.listen);
    g.listen = NULL;
    pgpool_free(&g.pool);
    eio_host_free_with(g.host, gw_loop_settle, &loop);
    gw_loop_close(&loop);
    sio_server_free(g.srv);
    gw_rooms_free(&g);
    gw_lifetime_free(&g);
    imap_free(&g.users);
    gw_bus_free(&g.bus);
    free(origins);
    msg_config_free(&cfg);
    msg_info("gateway_stopped", "%s", "");
    return 0;
}
