/* /stats, /metrics and /health on the gateway's own port: from loopback, or
 * with the configured admin token. */
#include <libwebsockets.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth.h"
#include "gateway.h"
#include "sbuf.h"

void gw_user_add(struct gateway *g, int user_id, int delta)
{
    intptr_t n = imap_get(&g->users, user_id) + delta;
    if (n <= 0)
        imap_del(&g->users, user_id);
    else
        imap_put(&g->users, user_id, n);
}

/* Users connected, their connections, and users with more than one. */
static void count_users(struct gateway *g, size_t *users, unsigned long long *conns, size_t *multiple)
{
    size_t i = 0;
    int id;
    intptr_t n;
    *users = *multiple = 0;
    *conns = 0;
    while (imap_next(&g->users, &i, &id, &n)) {
        (*users)++;
        *conns += (unsigned long long)n;
        *multiple += n > 1;
    }
}

static void stats_json(struct gateway *g, struct sbuf *o)
{
    size_t i, users, multiple;
    unsigned long long conns;
    int id;
    intptr_t n;
    count_users(g, &users, &conns, &multiple);
    sbuf_printf(o, "{\"connections\":%llu,\"users\":%zu,\"multipleConnections\":%zu,\"connectionDetails\":{", conns,
                users, multiple);
    i = 0;
    int first = 1;
    while (imap_next(&g->users, &i, &id, &n))
        if (n > 1) {
            sbuf_printf(o, "%s\"%d\":%ld", first ? "" : ",", id, (long)n);
            first = 0;
        }
    sbuf_printf(o, "},\"rooms\":%zu}", sio_room_count(g->srv, GW_NS));
}

static void metrics_text(struct gateway *g, struct sbuf *o)
{
    size_t users, multiple;
    unsigned long long conns;
    count_users(g, &users, &conns, &multiple);
    sbuf_printf(o,
                "# HELP messaging_connections Authenticated Socket.IO connections.\n"
                "# TYPE messaging_connections gauge\nmessaging_connections %llu\n",
                conns);
    sbuf_printf(o,
                "# HELP messaging_sockets Socket.IO sockets, authenticating ones included.\n"
                "# TYPE messaging_sockets gauge\nmessaging_sockets %zu\n",
                sio_socket_count(g->srv));
    sbuf_printf(o,
                "# HELP messaging_users Users with at least one connection.\n"
                "# TYPE messaging_users gauge\nmessaging_users %zu\n",
                users);
    sbuf_printf(o,
                "# HELP messaging_rooms Conversation rooms held.\n"
                "# TYPE messaging_rooms gauge\nmessaging_rooms %zu\n",
                sio_room_count(g->srv, GW_NS));
    sbuf_printf(o, "# HELP messaging_events_in_total Events received from clients, by name.\n"
                   "# TYPE messaging_events_in_total counter\n");
    for (int k = 0; k < gw_event_count; k++)
        sbuf_printf(o, "messaging_events_in_total{event=\"%s\"} %llu\n", gw_event_names[k], g->stats.events_in[k]);
    sbuf_printf(o, "# HELP messaging_events_out_total Events sent to sockets, by name.\n"
                   "# TYPE messaging_events_out_total counter\n");
    for (int k = 0; k < gw_event_count; k++)
        sbuf_printf(o, "messaging_events_out_total{event=\"%s\"} %llu\n", gw_event_names[k], g->stats.events_out[k]);
    sbuf_printf(o, "# HELP messaging_errors_total Errors answered to clients, by code.\n"
                   "# TYPE messaging_errors_total counter\n");
    for (int k = 1; k <= MSG_UNAVAILABLE; k++)
        if (g->stats.errors[k])
            sbuf_printf(o, "messaging_errors_total{code=\"%s\"} %llu\n", msg_code_name((enum msg_code)k),
                        g->stats.errors[k]);
    static const char *const le[GW_LAG_BUCKETS] = {"0.005", "0.01", "0.025", "0.05", "0.1", "0.5", "1", "+Inf"};
    sbuf_printf(o, "# HELP messaging_delivery_lag_seconds From a message's commit (sentAt) to its sending.\n"
                   "# TYPE messaging_delivery_lag_seconds histogram\n");
    unsigned long long cum = 0;
    for (int b = 0; b < GW_LAG_BUCKETS; b++) {
        cum += g->stats.lag_buckets[b];
        sbuf_printf(o, "messaging_delivery_lag_seconds_bucket{le=\"%s\"} %llu\n", le[b], cum);
    }
    sbuf_printf(o, "messaging_delivery_lag_seconds_sum %.6f\nmessaging_delivery_lag_seconds_count %llu\n",
                g->stats.lag_sum, g->stats.lag_count);
    unsigned long rec = pgc_reconnects(g->listen) + pgpool_reconnects(&g->pool);
    size_t pending = pgpool_pending(&g->pool);
    struct pgc_stats tx;
    pgpool_stats(&g->pool, &tx);
    sbuf_printf(o,
                "# HELP messaging_db_connects_total Database connections established (first ones included).\n"
                "# TYPE messaging_db_connects_total counter\nmessaging_db_connects_total %lu\n",
                rec);
    sbuf_printf(o,
                "# HELP messaging_db_pending Database operations waiting or in flight.\n"
                "# TYPE messaging_db_pending gauge\nmessaging_db_pending %zu\n",
                pending);
    sbuf_printf(o,
                "# HELP messaging_db_up 1 when the delivery (LISTEN) connection is up.\n"
                "# TYPE messaging_db_up gauge\nmessaging_db_up %d\n",
                pgc_is_ready(g->listen));
    sbuf_printf(o, "# TYPE messaging_catchups_total counter\nmessaging_catchups_total %llu\n", g->stats.catchups);
    sbuf_printf(o, "# TYPE messaging_notifications_total counter\nmessaging_notifications_total %llu\n",
                g->stats.notifications);
    sbuf_printf(o, "# TYPE messaging_doorbells_sent_total counter\nmessaging_doorbells_sent_total %llu\n",
                g->stats.doorbells_sent);
    sbuf_printf(o, "# TYPE messaging_connects_refused_total counter\nmessaging_connects_refused_total %llu\n",
                g->stats.refused_connects);
    sbuf_printf(o,
                "# HELP messaging_catchup_rooms_total Rooms read in catch-up reads (the cost of doorbells).\n"
                "# TYPE messaging_catchup_rooms_total counter\nmessaging_catchup_rooms_total %llu\n",
                g->stats.catchup_rooms);
    sbuf_printf(o,
                "# HELP messaging_db_transactions_total Transactions sent on the operation connections.\n"
                "# TYPE messaging_db_transactions_total counter\nmessaging_db_transactions_total %llu\n",
                tx.transactions);
    sbuf_printf(o,
                "# HELP messaging_db_group_commits_total Transactions that committed several writes.\n"
                "# TYPE messaging_db_group_commits_total counter\nmessaging_db_group_commits_total %llu\n",
                tx.batches);
    sbuf_printf(o,
                "# HELP messaging_db_group_commit_writes_total Writes committed in those.\n"
                "# TYPE messaging_db_group_commit_writes_total counter\nmessaging_db_group_commit_writes_total %llu\n",
                tx.batched);
    sbuf_printf(o,
                "# HELP messaging_db_group_rollbacks_total Group commits rolled back and sent again.\n"
                "# TYPE messaging_db_group_rollbacks_total counter\nmessaging_db_group_rollbacks_total %llu\n",
                tx.rollbacks);
    sbuf_printf(o, "# TYPE messaging_safety_net_catches_total counter\nmessaging_safety_net_catches_total %llu\n",
                g->stats.net_catches);
    sbuf_printf(o, "# TYPE messaging_revoked_disconnects_total counter\nmessaging_revoked_disconnects_total %llu\n",
                g->stats.revoked);
}

static int allowed(struct gateway *g, struct lws *wsi)
{
    char peer[64] = "";
    lws_get_peer_simple(wsi, peer, sizeof peer);
    if (!strncmp(peer, "127.", 4) || !strcmp(peer, "::1") || !strncmp(peer, "::ffff:127.", 11))
        return 1;
    if (!g->cfg->admin_token[0])
        return 0;
    char hdr[MSG_TOKEN_MAX + 16], tok[MSG_TOKEN_MAX + 1];
    if (lws_hdr_copy(wsi, hdr, sizeof hdr, WSI_TOKEN_HTTP_AUTHORIZATION) <= 0)
        return 0;
    const char *t = msg_auth_bearer(hdr, tok, sizeof tok);
    /* Constant time: the token is a secret. */
    size_t a = t ? strlen(t) : 0, b = strlen(g->cfg->admin_token);
    unsigned diff = (unsigned)(a ^ b);
    for (size_t i = 0; t && i < a && i < b; i++)
        diff |= (unsigned)(t[i] ^ g->cfg->admin_token[i]);
    return t && diff == 0;
}

/* Sends the body written in o after the LWS_PRE bytes it starts with. */
static int respond(struct lws *wsi, int status, const char *type, struct sbuf *o)
{
    if (!sbuf_ok(o))
        return -1; /* out of memory: the connection is closed */
    size_t len = o->len - LWS_PRE;
    unsigned char hbuf[LWS_PRE + 512], *start = hbuf + LWS_PRE, *p = start, *end = hbuf + sizeof hbuf - 1;
    if (lws_add_http_common_headers(wsi, (unsigned)status, type, len, &p, end) ||
        lws_add_http_header_by_token(wsi, WSI_TOKEN_HTTP_CACHE_CONTROL, (const unsigned char *)"no-store", 8, &p,
                                     end) ||
        lws_finalize_write_http_header(wsi, start, &p, end))
        return -1;
    if (len && lws_write(wsi, (unsigned char *)o->p + LWS_PRE, len, LWS_WRITE_HTTP_FINAL) != (int)len)
        return -1;
    return lws_http_transaction_completed(wsi) ? -1 : 0;
}

static int callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in, size_t len)
{
    switch (reason) {
    case LWS_CALLBACK_HTTP:
        break;
    case LWS_CALLBACK_HTTP_CONFIRM_UPGRADE:
    case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION:
        /* Monitoring is plain HTTP: an upgrade bound to this protocol
         * (however lws got here) is refused, never handed to the dummy
         * callback, which would let it through. The Engine.IO host
         * refuses upgrades outside its paths before this (eio_host.c). */
        return -1;
    default:
        return lws_callback_http_dummy(wsi, reason, user, in, len);
    }
    struct gateway *g = lws_get_protocol(wsi)->user;
    char uri[64] = "";
    lws_hdr_copy(wsi, uri, sizeof uri, WSI_TOKEN_GET_URI);
    /* lws_write() wants LWS_PRE bytes of its own before the body. */
    struct sbuf o;
    sbuf_init(&o);
    sbuf_printf(&o, "%*s", LWS_PRE, "");
    int rc;
    if (lws_hdr_total_length(wsi, WSI_TOKEN_GET_URI) <= 0) {
        sbuf_printf(&o, "{\"error\":{\"code\":\"method_not_allowed\",\"message\":\"Method not allowed\"}}");
        rc = respond(wsi, 405, "application/json; charset=utf-8", &o);
    } else if (!allowed(g, wsi)) {
        sbuf_printf(&o, "{\"error\":{\"code\":\"forbidden\",\"message\":\"Monitoring is available from loopback or "
                        "with the admin token\"}}");
        rc = respond(wsi, 403, "application/json; charset=utf-8", &o);
    } else if (!strcmp(uri, "/stats")) {
        stats_json(g, &o);
        rc = respond(wsi, 200, "application/json; charset=utf-8", &o);
    } else if (!strcmp(uri, "/metrics")) {
        metrics_text(g, &o);
        rc = respond(wsi, 200, "text/plain; version=0.0.4", &o);
    } else if (!strcmp(uri, "/health")) {
        int up = pgc_is_ready(g->listen) && gw_db(g) != NULL;
        sbuf_printf(&o, up ? "{\"status\":\"ok\"}"
                           : "{\"status\":\"unavailable\",\"error\":{\"code\":\"unavailable\",\"message\":\"Database "
                             "unavailable\"}}");
        rc = respond(wsi, up ? 200 : 503, "application/json; charset=utf-8", &o);
    } else {
        sbuf_printf(&o, "{\"error\":{\"code\":\"not_found\",\"message\":\"Not found\"}}");
        rc = respond(wsi, 404, "application/json; charset=utf-8", &o);
    }
    sbuf_free(&o);
    return rc;
}

/* The protocol is copied by main with its `user` set to the gateway. */
const struct lws_protocols gw_http_protocol = {"messaging-http", callback, 0, 0, 0, NULL, 0};

#define MOUNT(next, path)                                                                                        \
    {                                                                                                            \
        .mount_next = next, .mountpoint = path, .origin = "messaging-http", .origin_protocol = LWSMPRO_CALLBACK, \
        .mountpoint_len = sizeof(path) - 1,                                                                      \
    }
static const struct lws_http_mount m_health = MOUNT(NULL, "/health");
static const struct lws_http_mount m_metrics = MOUNT(&m_health, "/metrics");
const struct lws_http_mount gw_mounts[] = {MOUNT(&m_metrics, "/stats")};
