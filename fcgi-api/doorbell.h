/* The doorbell: workers store events without NOTIFY (a notifying commit
 * takes a cluster-wide lock); after commit they ring this pipe, and the
 * master sends one NOTIFY messaging_events '{"upTo":N}' for however many
 * rings came meanwhile. Gateways then read the events table. */
#ifndef API_DOORBELL_H
#define API_DOORBELL_H

#include <libpq-fe.h>

struct doorbell {
    int rd, wr;          /* the pipe; workers inherit wr */
    PGconn *conn;        /* the master's own connection, NULL when down */
    char *url;           /* owned */
    long long next_try;  /* ms, reconnect backoff */
    unsigned long rings, notifies;
};

int doorbell_open(struct doorbell *d, const char *database_url);
void doorbell_close(struct doorbell *d);

/* In a worker: one byte, never blocking (a full pipe already rings). */
void doorbell_ring(int wr);

/* In the master, when rd is readable: drains it and notifies once. */
void doorbell_serve(struct doorbell *d);

#endif
