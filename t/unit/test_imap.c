/* The gateway's int map (ws-gateway/app/imap.c): put, get, overwrite,
 * delete with tombstones, growth, iteration, against a plain array as the
 * model over many random steps. */
#include <stdlib.h>

#include "check.h"
#include "imap.h"

#define KEYS 5000

int main(void)
{
    struct imap m;
    imap_init(&m);
    /* Empty: nothing there, nothing allocated, deleting is harmless. */
    CHECK(imap_get(&m, 1) == 0 && !imap_has(&m, 1) && m.cap == 0);
    imap_del(&m, 1);
    size_t it = 0;
    int k;
    intptr_t v;
    CHECK(!imap_next(&m, &it, &k, &v));

    CHECK_INT(imap_put(&m, 7, 70), 0);
    CHECK(imap_has(&m, 7) && imap_get(&m, 7) == 70 && m.len == 1 && m.cap == 16);
    /* A value of 0 is there, though get cannot tell: has can. */
    CHECK_INT(imap_put(&m, 8, 0), 0);
    CHECK(imap_has(&m, 8) && imap_get(&m, 8) == 0 && m.len == 2);
    /* Overwrite keeps one entry. */
    CHECK_INT(imap_put(&m, 7, 71), 0);
    CHECK(imap_get(&m, 7) == 71 && m.len == 2);
    imap_del(&m, 7);
    CHECK(!imap_has(&m, 7) && imap_get(&m, 7) == 0 && m.len == 1 && imap_has(&m, 8));
    imap_del(&m, 7); /* twice: no change */
    CHECK_INT(m.len, 1);
    /* Large keys and pointer-sized values. */
    CHECK_INT(imap_put(&m, 2147483647, (intptr_t)&m), 0);
    CHECK(imap_get(&m, 2147483647) == (intptr_t)&m);
    imap_free(&m);
    CHECK(m.cap == 0 && m.keys == NULL && !imap_has(&m, 8));

    /* Growth keeps the load under half; every key survives it. */
    int failed = 0;
    for (int i = 1; i <= 1000; i++)
        failed += imap_put(&m, i * 16, i) != 0; /* keys that share low bits */
    CHECK_INT(failed, 0);
    CHECK(m.len == 1000 && m.cap >= 2000 && (m.cap & (m.cap - 1)) == 0);
    int missing = 0;
    for (int i = 1; i <= 1000; i++)
        missing += imap_get(&m, i * 16) != i;
    CHECK_INT(missing, 0);
    /* Iteration sees each key once. */
    long long sum = 0;
    int seen = 0;
    int mismatched = 0;
    for (it = 0; imap_next(&m, &it, &k, &v);) {
        seen++;
        sum += v;
        mismatched += k != v * 16;
    }
    CHECK(seen == 1000 && sum == 500500 && mismatched == 0);
    /* Churn: deletes and puts of new keys reuse tombstones; the table does
     * not grow without bound while the live count stays small. */
    imap_free(&m);
    for (int i = 1; i <= 100000; i++) {
        imap_put(&m, i, i);
        if (i > 10)
            imap_del(&m, i - 10);
    }
    CHECK(m.len == 10 && m.cap <= 64);
    CHECK(imap_get(&m, 100000) == 100000 && !imap_has(&m, 89990) && imap_has(&m, 99991));
    imap_free(&m);

    /* Random steps against a model. */
    static intptr_t model[KEYS + 1];
    static char present[KEYS + 1];
    srand(1);
    int wrong = 0;
    size_t live = 0;
    for (int step = 0; step < 200000; step++) {
        int key = 1 + rand() % KEYS;
        if (rand() % 3) {
            intptr_t val = rand();
            if (imap_put(&m, key, val) < 0)
                wrong++;
            live += !present[key];
            present[key] = 1;
            model[key] = val;
        } else {
            imap_del(&m, key);
            live -= present[key];
            present[key] = 0;
        }
        if (step % 1000 == 0)
            for (int q = 1; q <= KEYS; q++)
                wrong += imap_has(&m, q) != present[q] || (present[q] && imap_get(&m, q) != model[q]);
    }
    CHECK_INT(wrong, 0);
    CHECK_INT(m.len, live);
    imap_free(&m);
    return check_report("imap");
}
