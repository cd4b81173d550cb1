/* The pool of operation connections (pgconn.h). */
#include <stdlib.h>

#include "pgconn.h"

int pgpool_init(struct pgpool *p, int n)
{
    p->rr = 0;
    p->n = n > 0 ? n : 0;
    p->c = calloc((size_t)(p->n ? p->n : 1), sizeof *p->c);
    return p->c ? 0 : -1;
}

void pgpool_free(struct pgpool *p)
{
    for (int k = 0; k < p->n; k++)
        pgc_free(p->c[k]);
    free(p->c);
    p->c = NULL;
    p->n = 0;
}

struct pgc *pgpool_any(struct pgpool *p)
{
    for (int k = 0; k < p->n; k++) {
        struct pgc *c = p->c[(p->rr++) % (unsigned)p->n];
        if (c && pgc_is_ready(c))
            return c;
    }
    return NULL;
}

struct pgc *pgpool_for(struct pgpool *p, uint64_t key)
{
    if (p->n <= 0)
        return NULL;
    struct pgc *c = p->c[key % (uint64_t)p->n];
    return c && pgc_is_ready(c) ? c : pgpool_any(p);
}

size_t pgpool_pending(const struct pgpool *p)
{
    size_t n = 0;
    for (int k = 0; k < p->n; k++)
        if (p->c[k] && pgc_is_ready(p->c[k]))
            n += pgc_pending(p->c[k]);
    return n;
}

unsigned long pgpool_reconnects(const struct pgpool *p)
{
    unsigned long n = 0;
    for (int k = 0; k < p->n; k++)
        if (p->c[k])
            n += pgc_reconnects(p->c[k]);
    return n;
}

void pgpool_stats(const struct pgpool *p, struct pgc_stats *sum)
{
    *sum = (struct pgc_stats){0};
    for (int k = 0; k < p->n; k++) {
        if (!p->c[k])
            continue;
        const struct pgc_stats *s = pgc_stats(p->c[k]);
        sum->transactions += s->transactions;
        sum->batches += s->batches;
        sum->batched += s->batched;
        sum->rollbacks += s->rollbacks;
    }
}
