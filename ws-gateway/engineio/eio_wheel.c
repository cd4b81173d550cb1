#include "eio_wheel.h"

#include <string.h>
#include <time.h>

static uint64_t now_ms(void)
{
    struct timespec t;

    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000 + (uint64_t)t.tv_nsec / 1000000;
}

void eio_wheel_init(struct eio_wheel *w)
{
    memset(w, 0, sizeof(*w));
    for (size_t i = 0; i < EIO_WHEEL_SLOTS; i++)
        w->slot[i].next = w->slot[i].prev = &w->slot[i];
    w->done_tick = now_ms() / EIO_WHEEL_TICK_MS;
}

void eio_wheel_bind(struct eio_wheel *w, struct lws_context *ctx) { w->ctx = ctx; }

static void unlink_ent(struct eio_wheel_ent *e)
{
    e->prev->next = e->next;
    e->next->prev = e->prev;
    e->next = e->prev = NULL;
}

static void link_ent(struct eio_wheel *w, struct eio_wheel_ent *e)
{
    struct eio_wheel_ent *h = &w->slot[(e->due_ms / EIO_WHEEL_TICK_MS) % EIO_WHEEL_SLOTS];

    e->next = h;
    e->prev = h->prev;
    h->prev->next = e;
    h->prev = e;
}

static void tick_cb(lws_sorted_usec_list_t *sul);

static void arm(struct eio_wheel *w)
{
    if (w->armed || !w->ctx || !w->count)
        return;
    w->armed = 1;
    lws_sul_schedule(w->ctx, 0, &w->sul, tick_cb, EIO_WHEEL_TICK_MS * 1000);
}

/* Runs what is due in tick t (a tick wholly past), keeps later rounds. */
static void run_slot(struct eio_wheel *w, uint64_t t)
{
    struct eio_wheel_ent tmp, *h = &w->slot[t % EIO_WHEEL_SLOTS];

    if (h->next == h)
        return;
    /* Detach the slot: callbacks may schedule or cancel anything. */
    tmp.next = h->next;
    tmp.prev = h->prev;
    tmp.next->prev = &tmp;
    tmp.prev->next = &tmp;
    h->next = h->prev = h;
    while (tmp.next != &tmp) {
        struct eio_wheel_ent *e = tmp.next;

        unlink_ent(e);
        if (e->due_ms / EIO_WHEEL_TICK_MS > t) {
            link_ent(w, e); /* a later round */
            continue;
        }
        w->count--;
        e->cb(e);
    }
}

void eio_wheel_run(struct eio_wheel *w)
{
    uint64_t cur = now_ms() / EIO_WHEEL_TICK_MS;

    if (!w->count)
        return;
    /* Every tick wholly past since the last run, at most one turn. */
    if (cur - w->done_tick > EIO_WHEEL_SLOTS)
        w->done_tick = cur - EIO_WHEEL_SLOTS;
    while (w->done_tick + 1 < cur) {
        w->done_tick++;
        run_slot(w, w->done_tick);
    }
}

static void tick_cb(lws_sorted_usec_list_t *sul)
{
    struct eio_wheel *w = lws_container_of(sul, struct eio_wheel, sul);

    w->armed = 0;
    eio_wheel_run(w);
    arm(w);
}

void eio_wheel_schedule(struct eio_wheel *w, struct eio_wheel_ent *e, unsigned ms, void (*cb)(struct eio_wheel_ent *e))
{
    if (e->next) {
        unlink_ent(e);
    } else {
        /* An empty wheel has nothing to catch up on. */
        if (!w->count)
            w->done_tick = now_ms() / EIO_WHEEL_TICK_MS;
        w->count++;
    }
    e->cb = cb;
    /* At least one tick later: the slot being run is never the target. */
    e->due_ms = now_ms() + (ms < EIO_WHEEL_TICK_MS ? EIO_WHEEL_TICK_MS : ms);
    link_ent(w, e);
    arm(w);
}

void eio_wheel_cancel(struct eio_wheel *w, struct eio_wheel_ent *e)
{
    if (!e->next)
        return;
    unlink_ent(e);
    w->count--;
}

void eio_wheel_stop(struct eio_wheel *w)
{
    lws_sul_cancel(&w->sul);
    w->armed = 0;
}
