#include "imap.h"

#include <stdlib.h>

void imap_init(struct imap *m)
{
    m->keys = NULL;
    m->vals = NULL;
    m->cap = m->len = m->used = 0;
}

void imap_free(struct imap *m)
{
    free(m->keys);
    free(m->vals);
    imap_init(m);
}

static size_t slot(int key, size_t cap)
{
    uint32_t h = (uint32_t)key * 2654435761u;
    return h & (cap - 1);
}

static size_t find(const struct imap *m, int key)
{
    size_t i = slot(key, m->cap);
    while (m->keys[i] != 0) {
        if (m->keys[i] == key)
            return i;
        i = (i + 1) & (m->cap - 1);
    }
    return (size_t)-1;
}

intptr_t imap_get(const struct imap *m, int key)
{
    if (!m->cap)
        return 0;
    size_t i = find(m, key);
    return i == (size_t)-1 ? 0 : m->vals[i];
}

int imap_has(const struct imap *m, int key) { return m->cap && find(m, key) != (size_t)-1; }

static int grow(struct imap *m)
{
    size_t ncap = m->cap ? m->cap * 2 : 16;
    if (m->len * 4 < m->cap)
        ncap = m->cap; /* mostly tombstones: rehash in place size */
    int *ok = calloc(ncap, sizeof *ok);
    intptr_t *ov = calloc(ncap, sizeof *ov);
    if (!ok || !ov) {
        free(ok);
        free(ov);
        return -1;
    }
    for (size_t i = 0; i < m->cap; i++)
        if (m->keys[i] > 0) {
            size_t j = slot(m->keys[i], ncap);
            while (ok[j])
                j = (j + 1) & (ncap - 1);
            ok[j] = m->keys[i];
            ov[j] = m->vals[i];
        }
    free(m->keys);
    free(m->vals);
    m->keys = ok;
    m->vals = ov;
    m->cap = ncap;
    m->used = m->len;
    return 0;
}

int imap_put(struct imap *m, int key, intptr_t val)
{
    if (m->cap) {
        size_t i = find(m, key);
        if (i != (size_t)-1) {
            m->vals[i] = val;
            return 0;
        }
    }
    if ((m->used + 1) * 2 > m->cap && grow(m) < 0)
        return -1;
    size_t i = slot(key, m->cap);
    while (m->keys[i] > 0)
        i = (i + 1) & (m->cap - 1);
    if (m->keys[i] == 0)
        m->used++;
    m->keys[i] = key;
    m->vals[i] = val;
    m->len++;
    return 0;
}

void imap_del(struct imap *m, int key)
{
    if (!m->cap)
        return;
    size_t i = find(m, key);
    if (i == (size_t)-1)
        return;
    m->keys[i] = -1;
    m->vals[i] = 0;
    m->len--;
}

int imap_next(const struct imap *m, size_t *i, int *key, intptr_t *val)
{
    while (*i < m->cap) {
        size_t k = (*i)++;
        if (m->keys[k] > 0) {
            *key = m->keys[k];
            *val = m->vals[k];
            return 1;
        }
    }
    return 0;
}
