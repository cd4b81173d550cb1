#include "doorbell.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

int doorbell_open(struct doorbell *d, const char *database_url)
{
    memset(d, 0, sizeof *d);
    int fds[2];
    if (pipe2(fds, O_NONBLOCK) < 0)
        return -1;
    d->rd = fds[0];
    d->wr = fds[1];
    d->url = strdup(database_url);
    return d->url ? 0 : -1;
}

void doorbell_close(struct doorbell *d)
{
    if (d->conn)
        PQfinish(d->conn);
    if (d->rd > 0)
        close(d->rd);
    if (d->wr > 0)
        close(d->wr);
    free(d->url);
    memset(d, 0, sizeof *d);
}

void doorbell_ring(int wr)
{
    if (wr < 0)
        return;
    ssize_t n = write(wr, "!", 1);
    (void)n; /* EAGAIN: the pipe is full, a ring is pending anyway */
}

static int connect_db(struct doorbell *d)
{
    if (d->conn && PQstatus(d->conn) == CONNECTION_OK)
        return 0;
    if (d->conn)
        PQfinish(d->conn);
    d->conn = NULL;
    long long t = msg_now_ms();
    if (t < d->next_try)
        return -1;
    const char *keys[] = {"dbname", "connect_timeout", "application_name", NULL};
    const char *vals[] = {d->url, "3", "messaging-api-doorbell", NULL};
    d->conn = PQconnectdbParams(keys, vals, 1);
    if (PQstatus(d->conn) != CONNECTION_OK) {
        PQfinish(d->conn);
        d->conn = NULL;
        d->next_try = t + 500;
        return -1;
    }
    return 0;
}

void doorbell_serve(struct doorbell *d)
{
    char buf[512];
    ssize_t n, total = 0;
    while ((n = read(d->rd, buf, sizeof buf)) > 0)
        total += n;
    if (total == 0)
        return;
    d->rings += (unsigned long)total;
    /* While the database is away the ring is lost: gateways also read the
     * events table on a timer and after reconnecting. */
    if (connect_db(d) < 0)
        return;
    PGresult *r = PQexec(d->conn, "SELECT messaging.doorbell()");
    if (PQresultStatus(r) == PGRES_TUPLES_OK) {
        d->notifies++;
    } else {
        msg_warn("doorbell_failed", "rings=%ld", (long)total);
        if (PQstatus(d->conn) != CONNECTION_OK) {
            PQfinish(d->conn);
            d->conn = NULL;
        }
    }
    PQclear(r);
}
