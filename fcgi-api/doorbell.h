/* The doorbell: workers store events without NOTIFY (a notifying commit
 * takes a cluster-wide lock); after commit they ring this pipe with the
 * conversation they wrote to, and the master sends one bell naming every
 * conversation rung meanwhile (messaging.ring, docs/events.md). Gateways
 * then read those conversations from the events table. */
#ifndef API_DOORBELL_H
#define API_DOORBELL_H

#include "db.h"

struct doorbell {
    int rd, wr; /* the pipe; workers inherit wr */
    unsigned long rings, notifies;
    int convs[600]; /* rung since the last bell (600: what a bell names) */
    int nconvs, overflow;
};

int doorbell_open(struct doorbell *d);
void doorbell_close(struct doorbell *d);

/* In a worker: the conversation, never blocking (the write is atomic; a
 * full pipe loses it, which the gateways' safety net covers). */
void doorbell_ring(int wr, int conversation);

/* In the master, when rd is readable: drains it and notifies once, on the
 * master's connection db. */
void doorbell_serve(struct doorbell *d, struct msg_db *db);

#endif
