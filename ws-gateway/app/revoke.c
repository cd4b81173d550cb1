/* Revocation (API.md section 7): every socket of a user here is told and
 * disconnected, when messaging.revoke_user's NOTIFY arrives (bus.c). */
#include "gateway.h"
#include "log.h"

struct revoke_walk {
    struct gateway *g;
    int user_id;
};

static void revoke_one(sio_socket *s, void *arg)
{
    struct revoke_walk *w = arg;
    struct gw_client *c = sio_socket_user(s);
    if (!c || !c->authenticated || c->user_id != w->user_id)
        return;
    /* API.md section 7: told why, then the server's DISCONNECT, so that the
     * client does not come back by itself with the revoked token. */
    char arr[] = "[\"error\",{\"code\":\"unauthorized\",\"message\":\"token revoked\",\"event\":null}]";
    sio_emit_text(s, arr, sizeof arr - 1);
    w->g->stats.errors[MSG_UNAUTHORIZED]++;
    w->g->stats.revoked++;
    sio_disconnect(s);
}

void gw_revoke_user(struct gateway *g, int user_id)
{
    struct revoke_walk w = {g, user_id};
    sio_foreach_socket(g->srv, revoke_one, &w);
    msg_info("revoked", "user=%d", user_id);
}
