/* Intrusive byte-string hash table: see eio_hash.h. */
#include "eio_hash.h"

#include <stdlib.h>
#include <string.h>

#include "random.h"

/* FNV-1a over the seed then the key; enough with a secret seed for keys a
 * client can choose only partly. */
static uint64_t hash_bytes(uint64_t seed, const void *key, size_t n)
{
    const uint8_t *p = key;
    uint64_t h = 0xcbf29ce484222325ull ^ seed;

    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= 0x100000001b3ull;
    }
    h ^= h >> 29;
    h *= 0xbf58476d1ce4e5b9ull;
    h ^= h >> 32;
    return h;
}

int eio_htab_init(eio_htab *t)
{
    t->nb = 64;
    t->n = 0;
    t->b = NULL;
    /* the seed is what keeps clients from choosing colliding keys: no
	 * randomness, no table */
    if (msg_random_bytes(&t->seed, sizeof(t->seed)) < 0)
        return -1;
    t->b = calloc(t->nb, sizeof(*t->b));
    if (!t->b)
        return -1;
    return 0;
}

void eio_htab_free(eio_htab *t)
{
    free(t->b);
    t->b = NULL;
    t->nb = t->n = 0;
}

static void grow(eio_htab *t)
{
    size_t nb = t->nb * 2;
    eio_hnode **b = calloc(nb, sizeof(*b));

    if (!b)
        return;
    for (size_t i = 0; i < t->nb; i++) {
        eio_hnode *n = t->b[i];

        while (n) {
            eio_hnode *next = n->next;
            size_t j = n->hash & (nb - 1);

            n->next = b[j];
            b[j] = n;
            n = next;
        }
    }
    free(t->b);
    t->b = b;
    t->nb = nb;
}

int eio_htab_insert(eio_htab *t, eio_hnode *node)
{
    size_t i;

    if (t->n + 1 > t->nb)
        grow(t);
    node->hash = hash_bytes(t->seed, node->key, node->klen);
    i = node->hash & (t->nb - 1);
    node->next = t->b[i];
    t->b[i] = node;
    t->n++;
    return 0;
}

eio_hnode *eio_htab_find(const eio_htab *t, const void *key, size_t klen)
{
    uint64_t h;

    if (!t->b)
        return NULL;
    h = hash_bytes(t->seed, key, klen);
    for (eio_hnode *n = t->b[h & (t->nb - 1)]; n; n = n->next)
        if (n->hash == h && n->klen == klen && !memcmp(n->key, key, klen))
            return n;
    return NULL;
}

void eio_htab_remove(eio_htab *t, eio_hnode *node)
{
    eio_hnode **pp = &t->b[node->hash & (t->nb - 1)];

    for (; *pp; pp = &(*pp)->next)
        if (*pp == node) {
            *pp = node->next;
            node->next = NULL;
            t->n--;
            return;
        }
}
