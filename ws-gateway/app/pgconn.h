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
#include <stdint.h>

#include "ops.h"

struct lws_context;
struct lws_vhost;
struct lws_protocols;
struct pgc;

/* res: the result (PGRES_TUPLES_OK, or an error status), or NULL when the
 * connection was lost or closed before the answer. */
typedef void (*pgc_result_cb)(void *arg, PGresult *res);

struct pgc_hooks {
    void (*on_ready)(struct pgc *c, void *arg); /* connected, statements prepared */
    void (*on_down)(struct pgc *c, void *arg);  /* lost; reconnecting */
    void (*on_notify)(struct pgc *c, const char *channel, const char *payload, void *arg);
    void *arg;
};

/* The lws protocol that watches the connections' sockets: add it to the
 * vhost's protocols before any pgc_new(). */
extern const struct lws_protocols pgc_lws_protocol;

/* name: for logs and application_name. max_queue, max_bytes: queries (and
 * their parameters' bytes) waiting or in flight beyond which pgc_* refuse
 * (back-pressure). `listen`: a channel to LISTEN on after each (re)connect,
 * or NULL. Connecting starts at once. */
struct pgc *pgc_new(struct lws_context *ctx, struct lws_vhost *vh, const char *url, const char *name, size_t max_queue,
                    size_t max_bytes, const char *listen, const struct pgc_hooks *hooks);
void pgc_free(struct pgc *c);
/* Its (re)connections' connect_timeout and statement_timeout (0: none);
 * default 5 s and 10 s until set (db_connect_timeout_s,
 * db_statement_timeout_ms in messaging.conf). */
void pgc_set_timeouts(struct pgc *c, long connect_timeout_s, long statement_timeout_ms);
/* The libpq "options" of its (re)connections, after its own statement
 * timeout (e.g. msg_db_session_options()); set right after pgc_new(), before
 * the loop runs, to apply to the first connection too. */
int pgc_set_options(struct pgc *c, const char *options);

/* Queues an operation of shared/ops.h (prepared on connect). Params are
 * copied. Returns 0, or -1 when the connection is down or the queue is full
 * (cb is then not called). */
int pgc_op(struct pgc *c, enum msg_op op, const char *const *params, pgc_result_cb cb, void *arg);
/* Group commit: the operations with msg_ops[op].batch queued in one loop
 * turn are sent as one transaction (at most 64), ordered by `conversation`
 * (their lock) and otherwise as queued; each callback gets its own result,
 * only once the transaction has committed, in the order queued. When one of
 * them fails, the transaction is rolled back and they go again: that one
 * alone (its failure then is its own), the others together. pgc_op()
 * queues batchable operations after every conversation's. */
int pgc_write(struct pgc *c, enum msg_op op, int conversation, const char *const *params, pgc_result_cb cb, void *arg);

struct pgc_stats {
    unsigned long long transactions; /* syncs sent */
    unsigned long long batches;      /* transactions of more than one write */
    unsigned long long batched;      /* writes in those */
    unsigned long long rollbacks;    /* batches rolled back and sent again */
};

int pgc_is_ready(const struct pgc *c);
size_t pgc_pending(const struct pgc *c);
size_t pgc_pending_bytes(const struct pgc *c);
unsigned long pgc_reconnects(const struct pgc *c);
const struct pgc_stats *pgc_stats(const struct pgc *c);

/* A pool of connections for operations. Owned by its user; pgpool_free
 * frees the connections. */
struct pgpool {
    struct pgc **c;
    int n;
    unsigned rr;
};

int pgpool_init(struct pgpool *p, int n);
void pgpool_free(struct pgpool *p);
/* A connection that is up (round robin), or NULL. */
struct pgc *pgpool_any(struct pgpool *p);
/* Always the same connection for `key` while it is up (a socket's writes
 * then commit in the order it sent them), else any. */
struct pgc *pgpool_for(struct pgpool *p, uint64_t key);
/* Sums over the pool. */
size_t pgpool_pending(const struct pgpool *p);
unsigned long pgpool_reconnects(const struct pgpool *p);
void pgpool_stats(const struct pgpool *p, struct pgc_stats *sum);

#endif
