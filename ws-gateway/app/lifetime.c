/* Sessions that follow their token (API.md section 7): each socket keeps
 * its token's exp; ws_token_warning_s before it the socket is sent
 * token_expiring {expiresAt}; refresh_token {token} moves it; at exp (plus
 * jwt_leeway) a socket that did not refresh leaves its rooms, is sent
 * `error {code: "unauthorized", message: "token expired"}` and the server's
 * DISCONNECT.
 *
 * The deadlines live on a timer wheel of their own (O(1) per socket; lws
 * 4.1's sorted timer list is O(n) per insert). The wheel runs an entry once
 * its tick is wholly past, so an end is scheduled END_EARLY_MS before the
 * deadline, and every send to a room first runs the wheel
 * (gw_lifetime_gate): whenever a room event goes out at or after a socket's
 * deadline, that socket's entry has already run and it is in no room. A
 * socket may so end up to END_EARLY_MS (plus a tick) before its exp, never
 * after it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "auth.h"
#include "gateway.h"
#include "log.h"

#define END_EARLY_MS (3 * EIO_WHEEL_TICK_MS)

static long long realtime_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_REALTIME, &t);
    return (long long)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

static void iso_of(long long secs, char *buf, size_t cap)
{
    time_t t = (time_t)secs;
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(buf, cap, "%Y-%m-%dT%H:%M:%S.000Z", &tm);
}

int gw_lifetime_init(struct gateway *g)
{
    g->lifetimes = malloc(sizeof *g->lifetimes);
    if (!g->lifetimes)
        return -1;
    eio_wheel_init(g->lifetimes);
    eio_wheel_bind(g->lifetimes, g->ctx);
    return 0;
}

void gw_lifetime_free(struct gateway *g)
{
    if (!g->lifetimes)
        return;
    eio_wheel_stop(g->lifetimes);
    free(g->lifetimes);
    g->lifetimes = NULL;
}

static void send_warning(struct gateway *g, sio_socket *s, struct gw_client *c)
{
    char at[40];
    iso_of(c->exp, at, sizeof at);
    json_object *d = json_object_new_object();
    json_object_object_add(d, "expiresAt", json_object_new_string(at));
    gw_emit(g, s, "token_expiring", d);
    json_object_put(d);
}

static void warn_cb(struct eio_wheel_ent *e)
{
    struct gw_client *c = lws_container_of(e, struct gw_client, warn_ent);
    sio_socket *s = sio_socket_find(c->g->srv, c->socket_id);
    if (s && sio_socket_user(s) == c && sio_socket_is_connected(s))
        send_warning(c->g, s, c);
}

static void end_cb(struct eio_wheel_ent *e)
{
    struct gw_client *c = lws_container_of(e, struct gw_client, exp_ent);
    struct gateway *g = c->g;
    sio_socket *s = sio_socket_find(g->srv, c->socket_id);
    if (!s || sio_socket_user(s) != c)
        return;
    /* Out of every room first: nothing of a room reaches it from here on. */
    for (int i = 0; i < c->nrooms; i++) {
        char room[32];
        gw_room_name(c->rooms[i], room, sizeof room);
        sio_leave(s, room);
    }
    eio_wheel_cancel(g->lifetimes, &c->warn_ent);
    static const char arr[] = "[\"error\",{\"code\":\"unauthorized\",\"message\":\"token expired\",\"event\":null}]";
    if (sio_socket_is_connected(s))
        sio_emit_text(s, arr, sizeof arr - 1);
    g->stats.errors[MSG_UNAUTHORIZED]++;
    msg_info("token_expired", "user=%d sid=%s", c->user_id, sio_socket_sid(s));
    sio_disconnect(s); /* on_disconnect frees c */
}

void gw_lifetime_arm(struct gateway *g, struct gw_client *c)
{
    c->g = g;
    long long now = realtime_ms();
    long long end = (c->exp + g->cfg->jwt_leeway) * 1000 - END_EARLY_MS - now;
    long long warn = (c->exp - g->cfg->ws_token_warning_s) * 1000 - now;
    if (end < 0)
        end = 0;
    if (end > 0x7fffffffLL)
        end = 0x7fffffffLL; /* 24 days: a longer token ends early (jwt_max_ttl bounds it anyway) */
    eio_wheel_schedule(g->lifetimes, &c->exp_ent, (unsigned)end, end_cb);
    c->warn_now = 0;
    if (warn <= 0) {
        eio_wheel_cancel(g->lifetimes, &c->warn_ent);
        c->warn_now = 1;
    } else {
        eio_wheel_schedule(g->lifetimes, &c->warn_ent, warn > 0x7fffffffLL ? 0x7fffffffU : (unsigned)warn, warn_cb);
    }
}

void gw_lifetime_drop(struct gateway *g, struct gw_client *c)
{
    if (!g->lifetimes)
        return;
    eio_wheel_cancel(g->lifetimes, &c->warn_ent);
    eio_wheel_cancel(g->lifetimes, &c->exp_ent);
}

void gw_lifetime_gate(struct gateway *g)
{
    if (!g->lifetimes || g->lifetimes_running)
        return;
    g->lifetimes_running = 1;
    eio_wheel_run(g->lifetimes);
    g->lifetimes_running = 0;
}

void gw_lifetime_connected(struct gateway *g, sio_socket *s, struct gw_client *c)
{
    if (c->warn_now) {
        c->warn_now = 0;
        send_warning(g, s, c);
    }
}

/* ---------------------------------------------------------------- refresh */

struct refresh {
    struct gateway *g;
    uint64_t socket_id;
    int64_t ack_id;
    long long exp, iat; /* iat: -1 when the token has none */
};

static void refreshed(void *arg, PGresult *res)
{
    struct refresh *r = arg;
    struct gateway *g = r->g;
    sio_socket *s = sio_socket_find(g->srv, r->socket_id);
    struct gw_client *c = s ? sio_socket_user(s) : NULL;
    int status = res && PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1 ? atoi(PQgetvalue(res, 0, 0)) : 0;
    if (c)
        gw_share_put(c, 0);
    if (!c) {
        free(r);
        return;
    }
    if (status == 200) {
        c->exp = r->exp;
        c->iat = r->iat;
        gw_lifetime_arm(g, c);
        c->warn_now = 0; /* a token that is short already: the ack says when */
        char at[40];
        iso_of(c->exp, at, sizeof at);
        json_object *a = json_object_new_object();
        json_object_object_add(a, "ok", json_object_new_boolean(1));
        json_object_object_add(a, "expiresAt", json_object_new_string(at));
        gw_ack(s, r->ack_id, a);
        json_object_put(a);
        msg_info("token_refreshed", "user=%d sid=%s", c->user_id, sio_socket_sid(s));
    } else if (status) {
        gw_fail(g, s, "refresh_token", r->ack_id, MSG_UNAUTHORIZED, "Invalid token");
    } else {
        gw_fail(g, s, "refresh_token", r->ack_id, MSG_UNAVAILABLE, "The database is unavailable");
    }
    free(r);
}

/* The same checks as the CONNECT: the token (shared/auth.c), then the
 * `authenticate` operation (the user, its role, what SQL refuses). */
void gw_on_refresh(struct gateway *g, sio_socket *s, struct gw_client *c, json_object *data, int64_t ack_id)
{
    json_object *v;
    if (!data || !json_object_is_type(data, json_type_object) || !json_object_object_get_ex(data, "token", &v) ||
        !json_object_is_type(v, json_type_string) || json_object_get_string_len(v) > MSG_TOKEN_MAX) {
        gw_fail(g, s, "refresh_token", ack_id, MSG_UNAUTHORIZED, "Authentication required");
        return;
    }
    struct msg_identity id;
    struct msg_error e;
    if (msg_auth_verify(g->cfg, json_object_get_string(v), (long)time(NULL), &id, &e) < 0) {
        gw_fail(g, s, "refresh_token", ack_id, MSG_UNAUTHORIZED, e.message);
        return;
    }
    if (id.user_id != c->user_id) {
        gw_fail(g, s, "refresh_token", ack_id, MSG_UNAUTHORIZED, "The token is for another user");
        return;
    }
    struct pgc *db = gw_db_for(g, c->socket_id);
    struct refresh *r = malloc(sizeof *r);
    if (!db || !r) {
        free(r);
        gw_fail(g, s, "refresh_token", ack_id, MSG_UNAVAILABLE, "The database is unavailable");
        return;
    }
    *r = (struct refresh){g, c->socket_id, ack_id, id.exp, id.has_iat ? id.iat : -1};
    char uid[16], iat[24];
    snprintf(uid, sizeof uid, "%d", id.user_id);
    snprintf(iat, sizeof iat, "%lld", id.iat);
    /* The CONNECT's operation: it refuses a revoked token by its iat. */
    const char *params[3] = {uid, id.has_role ? id.role : NULL, id.has_iat ? iat : NULL};
    if (pgc_op(db, MSG_OP_AUTHENTICATE, params, refreshed, r) < 0) {
        free(r);
        gw_fail_retry(g, s, "refresh_token", ack_id, MSG_RATE_LIMITED, "Too many operations in flight",
                      GW_INFLIGHT_RETRY_MS);
        return;
    }
    gw_share_take(c, 0);
}
