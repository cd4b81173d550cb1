/* Revocation (API.md section 7): every socket of a user here is told and
 * disconnected, when messaging.revoke_user's NOTIFY arrives (bus.c). */
#include <stdio.h>
#include <stdlib.h>

#include "gateway.h"
#include "log.h"

struct revoke_walk {
    struct gateway *g;
    int user_id;
    long long before;
};

static void revoke_one(sio_socket *s, void *arg)
{
    struct revoke_walk *w = arg;
    struct gw_client *c = sio_socket_user(s);
    if (!c || !c->authenticated || c->user_id != w->user_id || (c->iat >= 0 && c->iat >= w->before))
        return;
    /* API.md section 7: told why, then the server's DISCONNECT, so that the
     * client does not come back by itself with the revoked token. */
    char arr[] = "[\"error\",{\"code\":\"unauthorized\",\"message\":\"token revoked\",\"event\":null}]";
    sio_emit_text(s, arr, sizeof arr - 1);
    w->g->stats.errors[MSG_UNAUTHORIZED]++;
    w->g->stats.revoked++;
    sio_disconnect(s);
}

void gw_revoke_user(struct gateway *g, int user_id, long long before)
{
    struct revoke_walk w = {g, user_id, before};
    sio_foreach_socket(g->srv, revoke_one, &w);
    msg_info("revoked", "user=%d", user_id);
}

static void revocations_read(void *arg, PGresult *res)
{
    struct gateway *g = arg;
    if (!res || PQresultStatus(res) != PGRES_TUPLES_OK)
        return; /* the connection went down again: read when it is back */
    for (int i = 0; i < PQntuples(res); i++)
        gw_revoke_user(g, atoi(PQgetvalue(res, i, 0)), atoll(PQgetvalue(res, i, 1)));
}

void gw_revocations_since(struct gateway *g, long long since)
{
    char at[24];
    snprintf(at, sizeof at, "%lld", since);
    const char *params[] = {at};
    pgc_op(g->listen, MSG_OP_REVOCATIONS_SINCE, params, revocations_read, g);
}
