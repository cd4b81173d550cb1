/*
 * A small intrusive hash table keyed by byte strings, with a per-table random
 * seed (keys may come from clients). The table never owns the nodes or the
 * keys: a node is embedded in its owner, and node->key must stay valid while
 * the node is in the table.
 */
#ifndef EIO_HASH_H
#define EIO_HASH_H

#include <stddef.h>
#include <stdint.h>

typedef struct eio_hnode {
    struct eio_hnode *next;
    uint64_t hash;
    const void *key;
    size_t klen;
} eio_hnode;

typedef struct eio_htab {
    eio_hnode **b;
    size_t nb; /* power of two */
    size_t n;
    uint64_t seed;
} eio_htab;

/* Returns 0, or -1 when out of memory or without randomness for the seed
 * (shared/random.h). */
int eio_htab_init(eio_htab *t);
/* Frees the bucket array (not the nodes). */
void eio_htab_free(eio_htab *t);
/* node->key and node->klen must be set. Duplicates are the caller's
 * business (find first). Returns 0; on a failed grow the table keeps
 * working at its current size. */
int eio_htab_insert(eio_htab *t, eio_hnode *node);
eio_hnode *eio_htab_find(const eio_htab *t, const void *key, size_t klen);
void eio_htab_remove(eio_htab *t, eio_hnode *node);

#endif
