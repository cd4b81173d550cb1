/* The Engine.IO session table (ws-gateway/engineio/eio_hash.c): intrusive
 * nodes found by bytes (not by C strings), removed in any order, through
 * growth; two tables hash differently (their seeds). */
#include <stdlib.h>

#include "check.h"
#include "engineio/eio_hash.h"

struct owner {
    eio_hnode node;
    char key[24];
};

#define N 3000

int main(void)
{
    eio_htab t;
    CHECK_INT(eio_htab_init(&t), 0);
    CHECK(t.nb == 64 && t.n == 0 && t.b != NULL);
    CHECK(eio_htab_find(&t, "x", 1) == NULL);

    /* Keys are bytes: a NUL inside counts, a prefix is another key. */
    struct owner a = {.key = "ab\0c"}, b = {.key = "ab"}, c = {.key = ""};
    a.node.key = a.key, a.node.klen = 4;
    b.node.key = b.key, b.node.klen = 2;
    c.node.key = c.key, c.node.klen = 0;
    CHECK_INT(eio_htab_insert(&t, &a.node), 0);
    CHECK_INT(eio_htab_insert(&t, &b.node), 0);
    CHECK_INT(eio_htab_insert(&t, &c.node), 0);
    CHECK_INT(t.n, 3);
    CHECK(eio_htab_find(&t, "ab\0c", 4) == &a.node);
    CHECK(eio_htab_find(&t, "ab", 2) == &b.node);
    CHECK(eio_htab_find(&t, "", 0) == &c.node);
    CHECK(eio_htab_find(&t, "ab\0d", 4) == NULL && eio_htab_find(&t, "a", 1) == NULL);
    eio_htab_remove(&t, &b.node);
    CHECK(eio_htab_find(&t, "ab", 2) == NULL && eio_htab_find(&t, "ab\0c", 4) == &a.node && t.n == 2);
    eio_htab_remove(&t, &b.node); /* not in it: nothing happens */
    CHECK_INT(t.n, 2);
    eio_htab_remove(&t, &a.node);
    eio_htab_remove(&t, &c.node);
    CHECK_INT(t.n, 0);

    /* Many: growth rehashes the nodes it holds, which stay findable. */
    struct owner *o = calloc(N, sizeof *o);
    for (int i = 0; i < N; i++) {
        o[i].node.klen = (size_t)snprintf(o[i].key, sizeof o[i].key, "sid-%d", i);
        o[i].node.key = o[i].key;
        eio_htab_insert(&t, &o[i].node);
    }
    CHECK(t.n == N && t.nb >= N && (t.nb & (t.nb - 1)) == 0);
    int wrong = 0;
    for (int i = 0; i < N; i++)
        wrong += eio_htab_find(&t, o[i].key, o[i].node.klen) != &o[i].node;
    CHECK_INT(wrong, 0);
    /* Remove every other one. */
    for (int i = 0; i < N; i += 2)
        eio_htab_remove(&t, &o[i].node);
    wrong = 0;
    for (int i = 0; i < N; i++)
        wrong += (eio_htab_find(&t, o[i].key, o[i].node.klen) != NULL) != (i % 2 == 1);
    CHECK_INT(wrong, 0);
    CHECK_INT(t.n, N / 2);

    /* Another table has another seed: the same key hashes otherwise. */
    eio_htab u;
    CHECK_INT(eio_htab_init(&u), 0);
    CHECK(u.seed != t.seed);
    struct owner x = {.key = "sid-1"};
    x.node.key = x.key, x.node.klen = 5;
    eio_htab_insert(&u, &x.node);
    CHECK(x.node.hash != o[1].node.hash);
    CHECK(eio_htab_find(&u, "sid-1", 5) == &x.node && eio_htab_find(&t, "sid-1", 5) == &o[1].node);
    eio_htab_free(&u);

    eio_htab_free(&t);
    CHECK(t.b == NULL && t.nb == 0 && t.n == 0);
    /* A freed table finds nothing (and does not crash). */
    CHECK(eio_htab_find(&t, "sid-1", 5) == NULL);
    free(o);
    return check_report("eio_hash");
}
