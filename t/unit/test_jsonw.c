/* The fixed-buffer JSON writer (shared/jsonw.c): escapes, numbers, and an
 * overflow that is sticky and reported, never a cut or unterminated text. */
#include <limits.h>

#include "check.h"
#include "jsonw.h"

int main(void)
{
    char buf[64];
    struct jsonw w;
    jsonw_init(&w, buf, sizeof buf);
    jsonw_raw(&w, "{\"a\":");
    jsonw_long(&w, -42);
    jsonw_raw(&w, ",\"s\":");
    jsonw_string(&w, "x\"y\\z\r\n\t\x1f\x7f");
    jsonw_raw(&w, "}");
    CHECK_INT(jsonw_finish(&w), 36);
    CHECK_STR(buf, "{\"a\":-42,\"s\":\"x\\\"y\\\\z\\r\\n\\t\\u001f\x7f\"}");

    /* Bytes >= 0x20 (UTF-8 included) pass as they are. */
    jsonw_init(&w, buf, sizeof buf);
    jsonw_string(&w, "é😀/");
    CHECK(jsonw_finish(&w) > 0);
    CHECK_STR(buf, "\"é😀/\"");

    jsonw_init(&w, buf, sizeof buf);
    jsonw_long(&w, LONG_MIN);
    jsonw_raw(&w, " ");
    jsonw_long(&w, LONG_MAX);
    CHECK(jsonw_finish(&w) > 0);
    CHECK_STR(buf, "-9223372036854775808 9223372036854775807");

    /* The NUL needs its byte: a text of cap - 1 bytes fits, of cap does not. */
    char small[4];
    jsonw_init(&w, small, sizeof small);
    jsonw_raw(&w, "abc");
    CHECK_INT(jsonw_finish(&w), 3);
    CHECK_STR(small, "abc");
    jsonw_init(&w, small, sizeof small);
    jsonw_raw(&w, "abcd");
    CHECK_INT(jsonw_finish(&w), -1);
    CHECK(w.overflow);
    /* Sticky: a shorter write after an overflow does not sneak in. */
    jsonw_init(&w, small, sizeof small);
    jsonw_raw(&w, "abcd");
    jsonw_raw(&w, "a");
    CHECK_INT(jsonw_finish(&w), -1);
    CHECK_INT(w.len, 0);
    /* An escape that would straddle the end overflows whole. */
    jsonw_init(&w, small, sizeof small);
    jsonw_string(&w, "\n");
    CHECK_INT(jsonw_finish(&w), -1);
    /* A zero-sized buffer is overflowed from the start (nothing written). */
    jsonw_init(&w, NULL, 0);
    CHECK(w.overflow);
    jsonw_raw(&w, "");
    CHECK_INT(jsonw_finish(&w), -1);
    /* An empty text fits in one byte. */
    jsonw_init(&w, small, 1);
    CHECK_INT(jsonw_finish(&w), 0);
    CHECK_STR(small, "");
    return check_report("jsonw");
}
