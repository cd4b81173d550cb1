/* PostgreSQL without blocking the gateway's loop: libpq in non-blocking
 * pipeline mode, its socket watched by the lws loop. Queries are queued and
 * pipelined; each one's result comes back to its callback, in order. The
 * connection re-establishes itself with backoff; while it is down, queued
 * and in-flight queries get their callback with res == NULL.
 *
 * Ownership: pgc_new() returns a connection the caller frees with
 * pgc_free() (callbacks of pending queries then run with NULL). A result
 * passed to a callback is owned by pgconn and cleared after the call. */
#ifndef GW_PGCONN_H
#define GW_PGCONN_H

#include <libpq-fe.h>
#include <stddef.h>

#include "ops.h"

struct lws_context;
struct lws_vhost;
struct lws_protocols;
struct pgc;

/* res: the result (PGRES_TUPLES_OK, or an error status), or NULL when the
 * connection was lost or closed before the answer. */
typedef void (*pgc_result_cb)(void *arg, PGresult *res);

struct pgc_hooks {
    void (*on_ready)(struct pgc *c, void *arg);  /* connected, statements prepared */
    void (*on_down)(struct pgc *c, void *arg);   /* lost; reconnecting */
    void (*on_notify)(struct pgc *c, const char *channel, const char *payload, void *arg);
    void *arg;
};

/* The lws protocol that watches the connections' sockets: add it to the
 * vhost's protocols before any pgc_new(). */
extern const struct lws_protocols pgc_lws_protocol;

/* name: for logs and application_name. max_queue: queries waiting or in
 * flight beyond which pgc_* refuse (back-pressure). `listen`: a channel to
 * LISTEN on after each (re)connect, or NULL. Connecting starts at once. */
struct pgc *pgc_new(struct lws_context *ctx, struct lws_vhost *vh, const char *url,
                    const char *name, size_t max_queue, const char *listen,
                    const struct pgc_hooks *hooks);
void pgc_free(struct pgc *c);

/* Queues an operation of shared/ops.h (prepared on connect) or a query.
 * Params are copied. Returns 0, or -1 when the connection is down or the
 * queue is full (cb is then not called). */
int pgc_op(struct pgc *c, enum msg_op op, const char *const *params, pgc_result_cb cb, void *arg);
int pgc_query(struct pgc *c, const char *sql, int nparams, const char *const *params,
              pgc_result_cb cb, void *arg);

int pgc_is_ready(const struct pgc *c);
size_t pgc_pending(const struct pgc *c);
unsigned long pgc_reconnects(const struct pgc *c);

#endif
