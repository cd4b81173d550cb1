/* A small hash map from positive int keys to pointer-sized values (open
 * addressing, linear probing, grows at 50 % load). Owns only its table. */
#ifndef GW_IMAP_H
#define GW_IMAP_H

#include <stddef.h>
#include <stdint.h>

struct imap {
    int *keys; /* 0: empty, -1: deleted */
    intptr_t *vals;
    size_t cap, len, used;
};

void imap_init(struct imap *m);
void imap_free(struct imap *m);
/* 0 when absent. */
intptr_t imap_get(const struct imap *m, int key);
int imap_has(const struct imap *m, int key);
/* Returns -1 when out of memory. */
int imap_put(struct imap *m, int key, intptr_t val);
void imap_del(struct imap *m, int key);
/* Iteration: for (size_t i = 0; imap_next(m, &i, &k, &v);) */
int imap_next(const struct imap *m, size_t *i, int *key, intptr_t *val);

#endif
