/* A socket's own state: its rooms (with the delivery sequence at which it
 * joined each, for recovery's send log) and its session record's writes,
 * and its end. Below the handlers, the bus and recovery, which all keep it. */
#include <libwebsockets.h>
#include <stdio.h>
#include <stdlib.h>

#include "gateway.h"

void gw_client_free(struct gw_client *c)
{
    if (!c)
        return;
    if (c->g) {
        /* Its deadlines go with it, and its place among the connections. */
        gw_lifetime_drop(c->g, c);
        c->g->nclients--;
    }
    free(c->rooms);
    free(c->room_seq);
    free(c->restore_pid);
    free(c);
}

void gw_client_room_add(struct gateway *g, struct gw_client *c, int conv)
{
    for (int i = 0; i < c->nrooms; i++)
        if (c->rooms[i] == conv)
            return;
    if (c->nrooms == c->caprooms) {
        int cap = c->caprooms ? c->caprooms * 2 : 4;
        int *r = realloc(c->rooms, (size_t)cap * sizeof *r);
        if (!r)
            return;
        c->rooms = r;
        unsigned long long *q = realloc(c->room_seq, (size_t)cap * sizeof *q);
        if (!q)
            return;
        c->room_seq = q;
        c->caprooms = cap;
    }
    c->room_seq[c->nrooms] = g->deliver_seq;
    c->rooms[c->nrooms++] = conv;
}

/* A session's writes all go through one connection, whichever socket
 * carries it (a reconnected client's restore must follow its old socket's
 * close): chosen by the pid. */
uint64_t gw_session_key(const char *pid)
{
    uint64_t h = 1469598103934665603ULL;
    for (; *pid; pid++)
        h = (h ^ (unsigned char)*pid) * 1099511628211ULL;
    return h;
}

void gw_session_write(struct gateway *g, struct gw_client *c, enum msg_op op, const char *const *params)
{
    struct pgc *db = c->pid[0] ? gw_db_for(g, gw_session_key(c->pid)) : gw_db_for(g, c->socket_id);
    gw_op_counted(g, c, db, op, params, 0); /* in its share, never refused */
}

/* A room joined or left, recorded in the session of a client that has one
 * (recovery, messaging.sessions). */
static void session_room_write(struct gateway *g, struct gw_client *c, enum msg_op op, int conv)
{
    if (!c->pid[0])
        return;
    char id[16];
    snprintf(id, sizeof id, "%d", conv);
    const char *params[] = {c->pid, id};
    gw_session_write(g, c, op, params);
}

void gw_session_joined(struct gateway *g, struct gw_client *c, int conv)
{
    gw_client_room_add(g, c, conv);
    session_room_write(g, c, MSG_OP_SESSION_JOIN, conv);
}

void gw_session_left(struct gateway *g, struct gw_client *c, int conv)
{
    for (int i = 0; i < c->nrooms; i++)
        if (c->rooms[i] == conv) {
            c->nrooms--;
            c->rooms[i] = c->rooms[c->nrooms];
            c->room_seq[i] = c->room_seq[c->nrooms];
            break;
        }
    session_room_write(g, c, MSG_OP_SESSION_LEAVE, conv);
}
