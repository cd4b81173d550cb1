/*
 * Rooms: per namespace, a set of sockets; created on the first join and
 * deleted when the last socket leaves. A membership is one node on two
 * lists (the room's and the socket's), so leaving is O(1) once found and
 * a socket's rooms are a short walk.
 */
#include "sio_internal.h"

#include <stdlib.h>
#include <string.h>

static struct sio_member *membership(const sio_socket *s, const char *room)
{
    for (struct sio_member *m = s->rooms; m; m = m->snext)
        if (!strcmp(m->room->name, room))
            return m;
    return NULL;
}

static struct sio_room *room_find(struct sio_nsp *nsp, const char *room)
{
    eio_hnode *n = eio_htab_find(&nsp->rooms, room, strlen(room));

    return n ? lws_container_of(n, struct sio_room, node) : NULL;
}

int sio_join(sio_socket *s, const char *room)
{
    struct sio_room *r;
    struct sio_member *m;
    size_t len;

    if (!s || !room || s->state != SK_CONNECTED)
        return SIO_ECLOSED;
    len = strlen(room);
    if (len > SIO_ROOM_NAME_MAX)
        return SIO_EINVAL;
    if (membership(s, room))
        return 0;
    m = calloc(1, sizeof(*m));
    if (!m)
        return SIO_ENOMEM;
    r = room_find(s->nsp, room);
    if (!r) {
        r = calloc(1, sizeof(*r) + len + 1);
        if (!r) {
            free(m);
            return SIO_ENOMEM;
        }
        memcpy(r->name, room, len + 1);
        r->node.key = r->name;
        r->node.klen = len;
        eio_htab_insert(&s->nsp->rooms, &r->node);
    }
    m->room = r;
    m->s = s;
    m->rnext = r->head;
    if (r->head)
        r->head->rprev = m;
    r->head = m;
    r->count++;
    m->snext = s->rooms;
    s->rooms = m;
    return 0;
}

static void member_free(sio_socket *s, struct sio_member *m)
{
    struct sio_room *r = m->room;

    if (m->rprev)
        m->rprev->rnext = m->rnext;
    else
        r->head = m->rnext;
    if (m->rnext)
        m->rnext->rprev = m->rprev;
    if (--r->count == 0) {
        eio_htab_remove(&s->nsp->rooms, &r->node);
        free(r);
    }
    free(m);
}

int sio_leave(sio_socket *s, const char *room)
{
    struct sio_member **pp;

    if (!s || !room)
        return SIO_EINVAL;
    for (pp = &s->rooms; *pp; pp = &(*pp)->snext)
        if (!strcmp((*pp)->room->name, room)) {
            struct sio_member *m = *pp;

            *pp = m->snext;
            member_free(s, m);
            return 0;
        }
    return 0;
}

void sio_rooms_leave_all(sio_socket *s)
{
    while (s->rooms) {
        struct sio_member *m = s->rooms;

        s->rooms = m->snext;
        member_free(s, m);
    }
}

int sio_in_room(const sio_socket *s, const char *room) { return s && room && membership(s, room) != NULL; }

size_t sio_room_size(sio_server *srv, const char *nsp, const char *room)
{
    struct sio_nsp *n = sio_nsp_find(srv, nsp ? nsp : "/", strlen(nsp ? nsp : "/"));
    struct sio_room *r = n && room ? room_find(n, room) : NULL;

    return r ? r->count : 0;
}

size_t sio_room_count(sio_server *srv, const char *nsp)
{
    struct sio_nsp *n = sio_nsp_find(srv, nsp ? nsp : "/", strlen(nsp ? nsp : "/"));

    return n ? n->rooms.n : 0;
}

int sio_emit_room(sio_server *srv, const char *nsp, const char *room, const sio_socket *except, const char *event,
                  json_object *args, const sio_bin *bins, size_t nbins)
{
    struct sio_nsp *n;
    struct sio_room *r;
    eio_buf **bufs;
    int sent = 0, rc;

    if (!nsp)
        nsp = "/";
    n = sio_nsp_find(srv, nsp, strlen(nsp));
    if (!n || !room || !event)
        return SIO_EINVAL;
    r = room_find(n, room);
    if (!r)
        return 0;
    bufs = calloc(1 + nbins, sizeof(*bufs));
    if (!bufs)
        return SIO_ENOMEM;
    /* encoded once, shared by every member's queue */
    rc = sio_encode_event(nsp, event, args, bins, nbins, SIO_NO_ACK, bufs);
    if (rc == 0) {
        /* sending never frees a socket synchronously (closes are
		 * deferred), so the list stays intact while we walk it */
        for (struct sio_member *m = r->head; m; m = m->rnext) {
            if (m->s == except || m->s->state != SK_CONNECTED)
                continue;
            if (sio_socket_send(m->s, bufs, 1 + nbins) == 0)
                sent++;
        }
        for (size_t i = 0; i <= nbins; i++)
            eio_buf_unref(bufs[i]);
    }
    free(bufs);
    return rc ? rc : sent;
}

void sio_nsp_rooms_free(struct sio_nsp *nsp)
{
    /* sockets left their rooms before this; any remains are a bug, but
	 * free them rather than leak */
    for (size_t i = 0; i < nsp->rooms.nb; i++) {
        eio_hnode *node = nsp->rooms.b[i];

        while (node) {
            eio_hnode *next = node->next;
            struct sio_room *r = lws_container_of(node, struct sio_room, node);

            while (r->head) {
                struct sio_member *m = r->head;

                r->head = m->rnext;
                free(m);
            }
            free(r);
            node = next;
        }
    }
    eio_htab_free(&nsp->rooms);
}

/* One Engine.IO message for a text packet of type with array spliced in. */
static eio_buf *text_buf(int type, const char *nsp, int64_t id, const char *array, size_t len)
{
    size_t n;
    char *txt = sio_packet_encode_text(type, nsp, id, 0, array, len, &n);
    uint8_t *p;
    eio_buf *b;

    if (!txt)
        return NULL;
    b = eio_buf_new(n, 0, &p);
    if (b)
        memcpy(p, txt, n);
    free(txt);
    return b;
}

static int send_text(sio_socket *s, int type, int64_t id, const char *array, size_t len)
{
    eio_buf *b;
    int r;

    if (!s || !array)
        return SIO_EINVAL;
    if (s->state != SK_CONNECTED || !s->cl)
        return SIO_ECLOSED;
    b = text_buf(type, s->nsp->name, id, array, len);
    if (!b)
        return SIO_ENOMEM;
    r = sio_socket_send(s, &b, 1);
    eio_buf_unref(b);
    return r;
}

int sio_emit_text(sio_socket *s, const char *array, size_t len)
{
    return send_text(s, SIO_EVENT, SIO_NO_ACK, array, len);
}

int sio_ack_text(sio_socket *s, int64_t ack_id, const char *array, size_t len)
{
    if (ack_id < 0)
        return SIO_EINVAL;
    return send_text(s, SIO_ACK, ack_id, array, len);
}

int sio_emit_room_text(sio_server *srv, const char *nsp, const char *room, const sio_socket *except, const char *array,
                       size_t len)
{
    struct sio_nsp *n;
    struct sio_room *r;
    eio_buf *b;
    int sent = 0;

    if (!nsp)
        nsp = "/";
    n = sio_nsp_find(srv, nsp, strlen(nsp));
    if (!n || !room || !array)
        return SIO_EINVAL;
    r = room_find(n, room);
    if (!r)
        return 0;
    b = text_buf(SIO_EVENT, nsp, SIO_NO_ACK, array, len);
    if (!b)
        return SIO_ENOMEM;
    for (struct sio_member *m = r->head; m; m = m->rnext) {
        if (m->s == except || m->s->state != SK_CONNECTED)
            continue;
        if (sio_socket_send(m->s, &b, 1) == 0)
            sent++;
    }
    eio_buf_unref(b);
    return sent;
}

void sio_room_foreach(sio_server *srv, const char *nsp, const char *room, void (*fn)(sio_socket *s, void *arg),
                      void *arg)
{
    struct sio_nsp *n;
    struct sio_room *r;

    if (!nsp)
        nsp = "/";
    n = sio_nsp_find(srv, nsp, strlen(nsp));
    if (!n || !room || !fn)
        return;
    r = room_find(n, room);
    if (!r)
        return;
    for (struct sio_member *m = r->head; m; m = m->rnext)
        if (m->s->state == SK_CONNECTED)
            fn(m->s, arg);
}
