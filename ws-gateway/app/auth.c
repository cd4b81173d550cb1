/* Authentication at the Socket.IO CONNECT, with the REST side's rules and
 * code: the token is verified here (shared/auth.c), the user and role by
 * the `authenticate` operation, without blocking the loop. */
#include <libwebsockets.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "auth.h"
#include "gateway.h"
#include "log.h"

struct auth_ctx {
    struct gateway *g;
    uint64_t socket_id;
};

static const char *token_of(sio_socket *s, json_object *auth, char *buf, size_t cap)
{
    json_object *t;
    if (auth && json_object_is_type(auth, json_type_object) && json_object_object_get_ex(auth, "token", &t) &&
        json_object_is_type(t, json_type_string)) {
        const char *v = json_object_get_string(t);
        if (strlen(v) < cap) {
            memcpy(buf, v, strlen(v) + 1);
            return buf;
        }
        return NULL;
    }
    return msg_auth_bearer(sio_socket_header(s, "authorization"), buf, cap);
}

/* The message of a {"error":{"message":...}} body, copied into buf. */
static const char *error_message(const char *body, char *buf, size_t cap)
{
    snprintf(buf, cap, "Unauthorized");
    json_object *o = json_tokener_parse(body), *e, *m;
    if (o && json_object_object_get_ex(o, "error", &e) && json_object_object_get_ex(e, "message", &m))
        snprintf(buf, cap, "%s", json_object_get_string(m));
    json_object_put(o);
    return buf;
}

/* A reconnecting client's {pid, offset} (socket.io-client adds them to the
 * auth payload after a disconnection). */
static void read_recovery(json_object *auth, struct gw_client *c)
{
    json_object *p, *o;
    c->restore_offset = -1;
    if (!auth || !json_object_is_type(auth, json_type_object) || !json_object_object_get_ex(auth, "pid", &p) ||
        !json_object_is_type(p, json_type_string) || json_object_get_string_len(p) < 1 ||
        json_object_get_string_len(p) >= (int)sizeof c->pid)
        return;
    c->restore_pid = strdup(json_object_get_string(p));
    if (json_object_object_get_ex(auth, "offset", &o) && json_object_is_type(o, json_type_string)) {
        const char *v = json_object_get_string(o);
        char *end;
        long long x = strtoll(v, &end, 10);
        if (*v && !*end && x >= 0)
            c->restore_offset = x;
    }
}

static void refuse(struct gateway *g, sio_socket *s, const char *message)
{
    struct gw_client *c = sio_socket_user(s);
    sio_socket_set_user(s, NULL);
    gw_client_free(c);
    g->stats.refused_connects++;
    msg_info("connect_refused", "peer=%s reason=\"%s\"", sio_socket_peer(s) ? sio_socket_peer(s) : "-", message);
    sio_refuse(s, message);
}

static void authenticated(void *arg, PGresult *res)
{
    struct auth_ctx *a = arg;
    struct gateway *g = a->g;
    sio_socket *s = sio_socket_find(g->srv, a->socket_id);
    free(a);
    if (!s)
        return;
    if (!res || PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1) {
        refuse(g, s, "Service unavailable");
        return;
    }
    int status = atoi(PQgetvalue(res, 0, 0));
    const char *body = PQgetvalue(res, 0, 1);
    if (status != 200) {
        char msg[160];
        refuse(g, s, error_message(body, msg, sizeof msg));
        return;
    }
    struct gw_client *c = sio_socket_user(s);
    if ((long)imap_get(&g->users, c->user_id) >= g->cfg->ws_max_sockets_per_user) {
        refuse(g, s, "Too many connections");
        return;
    }
    json_object *u = json_tokener_parse(body), *v;
    if (u && json_object_object_get_ex(u, "role", &v))
        snprintf(c->role, sizeof c->role, "%s", json_object_get_string(v));
    json_object_put(u);
    c->authenticated = 1;
    gw_lifetime_arm(g, c);
    gw_user_add(g, c->user_id, 1);
    g->stats.accepted_connects++;
    msg_info("connected", "user=%d sid=%s", c->user_id, sio_socket_sid(s));
    gw_session_start(g, s, c);
}

int gw_on_connect(sio_socket *s, json_object *auth, const char **refusal, void *user)
{
    struct gateway *g = user;
    char tok[MSG_TOKEN_MAX + 1];
    struct msg_identity id;
    struct msg_error e;
    const char *t = token_of(s, auth, tok, sizeof tok);
    if (g->nclients >= g->cfg->ws_max_connections) {
        *refusal = "Too many connections";
        g->stats.refused_connects++;
        return SIO_REFUSE;
    }
    if (!t) {
        *refusal = "Authentication required";
        g->stats.refused_connects++;
        return SIO_REFUSE;
    }
    if (msg_auth_verify(g->cfg, t, (long)time(NULL), &id, &e) < 0) {
        *refusal = e.message;
        g->stats.refused_connects++;
        return SIO_REFUSE;
    }
    struct pgc *db = gw_db_for(g, sio_socket_id(s));
    struct gw_client *c = calloc(1, sizeof *c);
    struct auth_ctx *a = malloc(sizeof *a);
    if (!db || !c || !a) {
        free(c);
        free(a);
        *refusal = "Service unavailable";
        g->stats.refused_connects++;
        return SIO_REFUSE;
    }
    c->socket_id = sio_socket_id(s);
    c->user_id = id.user_id;
    c->exp = id.exp;
    c->iat = id.has_iat ? id.iat : -1;
    read_recovery(auth, c);
    a->g = g;
    a->socket_id = c->socket_id;
    char uid[16], iat[24];
    snprintf(uid, sizeof uid, "%d", id.user_id);
    snprintf(iat, sizeof iat, "%lld", id.iat);
    /* The token's iat: the operation refuses a revoked one (API.md section 7). */
    const char *params[] = {uid, id.has_role ? id.role : NULL, id.has_iat ? iat : NULL};
    if (pgc_op(db, MSG_OP_AUTHENTICATE, params, authenticated, a) < 0) {
        gw_client_free(c); /* not counted yet (c->g unset) */
        free(a);
        *refusal = "Service unavailable";
        g->stats.refused_connects++;
        return SIO_REFUSE;
    }
    sio_socket_set_user(s, c);
    c->g = g; /* counted from here on; gw_client_free uncounts it */
    g->nclients++;
    return SIO_PENDING;
}

void gw_on_connected(sio_socket *s, void *user)
{
    struct gateway *g = user;
    struct gw_client *c = sio_socket_user(s);
    json_object *d = json_object_new_object();
    json_object_object_add(d, "userId", json_object_new_int(c->user_id));
    json_object_object_add(d, "userRole", json_object_new_string(c->role));
    gw_emit(g, s, "connection_established", d);
    json_object_put(d);
    gw_lifetime_connected(g, s, c);
    gw_presence(g, c, 1);
}

void gw_on_disconnect(sio_socket *s, const char *reason, void *user)
{
    struct gateway *g = user;
    struct gw_client *c = sio_socket_user(s);
    if (!c)
        return;
    gw_lifetime_drop(g, c);
    gw_typing_cleanup(g, s, c);
    gw_session_closed(g, c);
    if (c->authenticated) {
        gw_user_add(g, c->user_id, -1);
        gw_presence(g, c, 0);
        msg_info("disconnected", "user=%d sid=%s reason=\"%s\"", c->user_id, sio_socket_sid(s), reason);
    }
    sio_socket_set_user(s, NULL);
    gw_client_free(c);
}
