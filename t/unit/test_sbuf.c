/* The growable buffer (shared/sbuf.c): always NUL-terminated, grows by
 * doubling, holds any bytes; JSON strings escaped as JSON.stringify does. */
#include <stdlib.h>

#include "check.h"
#include "sbuf.h"

static void json_is(const char *in, size_t n, const char *want)
{
    struct sbuf b;
    sbuf_init(&b);
    sbuf_json_string(&b, in, n);
    CHECK(sbuf_ok(&b));
    CHECK_STR(b.p, want);
    CHECK_INT(b.len, strlen(want));
    sbuf_free(&b);
}

int main(void)
{
    struct sbuf b;
    sbuf_init(&b);
    CHECK(b.p == NULL && b.len == 0 && b.cap == 0 && sbuf_ok(&b));
    /* An empty put still gives a terminated text. */
    sbuf_put(&b, "", 0);
    CHECK(b.p != NULL && b.len == 0 && b.p[0] == '\0');
    CHECK_INT(b.cap, 1024);
    sbuf_puts(&b, "ab");
    sbuf_put(&b, "c\0d", 3); /* bytes, NUL included */
    CHECK_INT(b.len, 5);
    CHECK(memcmp(b.p, "abc\0d", 6) == 0);
    sbuf_printf(&b, "[%d|%s]", -7, "x");
    CHECK_INT(b.len, 11);
    CHECK(memcmp(b.p + 5, "[-7|x]", 7) == 0);
    /* Exactly at a boundary: len + 1 == cap does not grow, one more does. */
    sbuf_free(&b);
    CHECK(b.p == NULL && b.len == 0 && b.cap == 0);
    char k[1023];
    memset(k, 'k', sizeof k);
    sbuf_put(&b, k, sizeof k);
    CHECK_INT(b.cap, 1024);
    sbuf_put(&b, "z", 1);
    CHECK_INT(b.cap, 2048);
    CHECK(b.len == 1024 && b.p[1023] == 'z' && b.p[1024] == '\0');
    sbuf_free(&b);
    /* One large put grows past several doublings at once. */
    char *big = malloc(100000);
    memset(big, 'x', 100000);
    sbuf_put(&b, big, 100000);
    CHECK(b.cap == 131072 && b.len == 100000 && b.p[100000] == '\0');
    sbuf_free(&b);
    /* A printf longer than the first allocation. */
    sbuf_printf(&b, "%.*s!", 5000, big);
    CHECK(b.len == 5001 && b.p[5000] == '!' && b.p[5001] == '\0');
    sbuf_free(&b);
    free(big);
    /* Sticky failure: nothing more is written once it failed. */
    sbuf_puts(&b, "ok");
    b.failed = true;
    sbuf_puts(&b, "more");
    sbuf_printf(&b, "%d", 1);
    sbuf_json_string(&b, "x", 1);
    CHECK(!sbuf_ok(&b) && b.len == 2);
    sbuf_free(&b);
    CHECK(sbuf_ok(&b)); /* sbuf_free leaves an empty, usable buffer */

    /* JSON.stringify's escapes: the short forms, \u00XX for the rest of the
     * controls, nothing else (DEL, '/', non-ASCII pass). */
    json_is("", 0, "\"\"");
    json_is("\b\f\n\r\t", 5, "\"\\b\\f\\n\\r\\t\"");
    json_is("\x00\x0b\x1f", 3, "\"\\u0000\\u000b\\u001f\"");
    json_is("\"\\/\x7f", 4, "\"\\\"\\\\/\x7f\"");
    json_is("\xe2\x80\xa8", 3, "\"\xe2\x80\xa8\"");
    /* Appends after what is there. */
    sbuf_puts(&b, "{\"k\":");
    sbuf_json_string(&b, "v", 1);
    sbuf_puts(&b, "}");
    CHECK_STR(b.p, "{\"k\":\"v\"}");
    sbuf_free(&b);
    /* The worst case (every byte \u00XX) fits what was reserved. */
    char ctl[3000];
    memset(ctl, 1, sizeof ctl);
    sbuf_json_string(&b, ctl, sizeof ctl);
    CHECK(sbuf_ok(&b) && b.len == 3000 * 6 + 2 && b.p[b.len] == '\0');
    sbuf_free(&b);

    /* Fixed mode (what jsonw was): the caller's buffer, never grown; the NUL
     * needs its byte; running out is sticky and leaves no cut text used. */
    char small[4];
    struct sbuf f;
    sbuf_init_fixed(&f, small, sizeof small);
    sbuf_puts(&f, "abc");
    CHECK(sbuf_ok(&f) && f.len == 3);
    CHECK_STR(small, "abc");
    sbuf_init_fixed(&f, small, sizeof small);
    sbuf_puts(&f, "abcd");
    CHECK(!sbuf_ok(&f));
    sbuf_puts(&f, "a");
    CHECK(!sbuf_ok(&f));
    /* An escape that would straddle the end fails whole. */
    sbuf_init_fixed(&f, small, sizeof small);
    sbuf_json_string(&f, "\n", 1);
    CHECK(!sbuf_ok(&f));
    /* A string that fits exactly is not refused. */
    char four[5];
    sbuf_init_fixed(&f, four, sizeof four);
    sbuf_json_string(&f, "\n", 1);
    CHECK(sbuf_ok(&f));
    CHECK_STR(four, "\"\\n\"");
    sbuf_init_fixed(&f, small, sizeof small);
    sbuf_printf(&f, "%d", 12345);
    CHECK(!sbuf_ok(&f));
    sbuf_free(&f); /* harmless: the buffer is the caller's */
    return check_report("sbuf");
}
