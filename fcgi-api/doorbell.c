#include "doorbell.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"

int doorbell_open(struct doorbell *d)
{
    memset(d, 0, sizeof *d);
    int fds[2];
    if (pipe2(fds, O_NONBLOCK) < 0)
        return -1;
    d->rd = fds[0];
    d->wr = fds[1];
    return 0;
}

void doorbell_close(struct doorbell *d)
{
    if (d->rd > 0)
        close(d->rd);
    if (d->wr > 0)
        close(d->wr);
    memset(d, 0, sizeof *d);
}

void doorbell_ring(int wr, int conversation)
{
    if (wr < 0)
        return;
    ssize_t n = write(wr, &conversation, sizeof conversation);
    (void)n; /* EAGAIN: the pipe is full, a ring is pending anyway */
}

static void remember(struct doorbell *d, int conv)
{
    for (int i = 0; i < d->nconvs; i++)
        if (d->convs[i] == conv)
            return;
    if (d->nconvs < (int)(sizeof d->convs / sizeof d->convs[0]))
        d->convs[d->nconvs++] = conv;
    else
        d->overflow = 1; /* too many to name: a bell for all */
}

void doorbell_serve(struct doorbell *d, struct msg_db *db)
{
    int buf[128];
    ssize_t n, total = 0;
    /* Writes of one int are atomic (< PIPE_BUF): reads get whole ones. */
    while ((n = read(d->rd, buf, sizeof buf)) > 0) {
        for (ssize_t i = 0; i < n / (ssize_t)sizeof buf[0]; i++)
            remember(d, buf[i]);
        total += n / (ssize_t)sizeof buf[0];
    }
    if (total == 0 && d->nconvs == 0)
        return;
    d->rings += (unsigned long)total;
    /* While the database is away the ring is lost: gateways also read the
     * events table on a timer and after reconnecting. */
    PGconn *c = msg_db_conn(db);
    if (!c)
        return;
    char list[600 * 12 + 3];
    size_t len = 0;
    list[len++] = '{';
    for (int i = 0; i < d->nconvs; i++)
        len += (size_t)snprintf(list + len, sizeof list - len, "%s%d", i ? "," : "", d->convs[i]);
    snprintf(list + len, sizeof list - len, "}");
    const char *params[] = {d->overflow ? NULL : list};
    /* A lost connection is re-made by the next msg_db_conn(). */
    PGresult *r = PQexecParams(c, "SELECT messaging.ring($1::int[])", 1, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(r) == PGRES_TUPLES_OK) {
        d->notifies++;
        d->nconvs = 0;
        d->overflow = 0;
    } else {
        msg_warn("doorbell_failed", "rings=%ld", (long)total);
    }
    PQclear(r);
}
