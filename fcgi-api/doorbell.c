#include "doorbell.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
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
    if (connect_db(d) < 0)
        return;
    char list[600 * 12 + 3];
    size_t len = 0;
    list[len++] = '{';
    for (int i = 0; i < d->nconvs; i++)
        len += (size_t)snprintf(list + len, sizeof list - len, "%s%d", i ? "," : "", d->convs[i]);
    snprintf(list + len, sizeof list - len, "}");
    const char *params[] = {d->overflow ? NULL : list};
    PGresult *r = PQexecParams(d->conn, "SELECT messaging.ring($1::int[])", 1, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(r) == PGRES_TUPLES_OK) {
        d->notifies++;
        d->nconvs = 0;
        d->overflow = 0;
    } else {
        msg_warn("doorbell_failed", "rings=%ld", (long)total);
        if (PQstatus(d->conn) != CONNECTION_OK) {
            PQfinish(d->conn);
            d->conn = NULL;
        }
    }
    PQclear(r);
}
