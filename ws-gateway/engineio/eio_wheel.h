/*
 * A hashed timer wheel for the sessions' heartbeats. lws 4.1's timers
 * (lws_sul) live in one sorted linked list: scheduling one walks the list,
 * so with a timer per session every ping costs O(sessions) and holding
 * 10,000 idle sessions cost most of a core (perf: lws_dll2_add_sorted).
 * Here scheduling and cancelling are O(1); one lws timer ticks every
 * EIO_WHEEL_TICK_MS while anything is scheduled.
 */
#ifndef EIO_WHEEL_H
#define EIO_WHEEL_H

#include <libwebsockets.h>
#include <stdint.h>

#define EIO_WHEEL_TICK_MS 10
#define EIO_WHEEL_SLOTS 4096 /* 41 s of ticks; longer delays wait rounds */

struct eio_wheel_ent {
    struct eio_wheel_ent *next, *prev; /* NULL when not scheduled */
    uint64_t due_ms;
    void (*cb)(struct eio_wheel_ent *e);
};

struct eio_wheel {
    struct eio_wheel_ent slot[EIO_WHEEL_SLOTS]; /* list heads (sentinels) */
    uint64_t done_tick;                         /* every tick up to this one has run */
    size_t count;
    int armed;
    struct lws_context *ctx;
    lws_sorted_usec_list_t sul;
};

void eio_wheel_init(struct eio_wheel *w);
void eio_wheel_bind(struct eio_wheel *w, struct lws_context *ctx);
/* (Re)schedules e: cb(e) runs from the loop after ms (at tick resolution). */
void eio_wheel_schedule(struct eio_wheel *w, struct eio_wheel_ent *e, unsigned ms, void (*cb)(struct eio_wheel_ent *e));
/* Runs now what is due in every tick wholly past (the ticking does the
 * same): a caller that must not act before due entries ran calls this. */
void eio_wheel_run(struct eio_wheel *w);
void eio_wheel_cancel(struct eio_wheel *w, struct eio_wheel_ent *e);
/* Stops the ticking (entries stay unscheduled-in-effect). */
void eio_wheel_stop(struct eio_wheel *w);

#endif
