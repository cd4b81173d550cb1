/* The C side of the messages page (shared/msgjson.c, shared/sbuf.c): times
 * as PostgreSQL writes them, strings escaped as JSON.stringify does. */
#include <stdlib.h>

#include "check.h"
#include "msgjson.h"
#include "sbuf.h"

int main(void)
{
    char t[80];
    msg_iso_time(0, t);
    CHECK_STR(t, "1970-01-01T00:00:00.000Z");
    msg_iso_time(1795691593670958LL, t); /* truncated, not rounded: .670 */
    CHECK_STR(t, "2026-11-26T11:13:13.670Z");
    msg_iso_time(1795691593999999LL, t);
    CHECK_STR(t, "2026-11-26T11:13:13.999Z");

    struct sbuf b;
    sbuf_init(&b);
    const char in[] = "a\"b\\c\n\t\x01 é 😀 </script>";
    sbuf_json_string(&b, in, sizeof in - 1);
    CHECK(sbuf_ok(&b));
    CHECK_STR(b.p, "\"a\\\"b\\\\c\\n\\t\\u0001 é 😀 </script>\"");
    sbuf_free(&b);

    /* Growth well past the first allocation. */
    sbuf_init(&b);
    for (int i = 0; i < 10000; i++)
        sbuf_printf(&b, "%d,", i);
    CHECK(sbuf_ok(&b) && b.len == 48890 && b.p[b.len] == '\0');
    sbuf_free(&b);

    /* Every control character is escaped; the output is NUL-terminated. */
    sbuf_init(&b);
    char ctl[32];
    for (int i = 0; i < 32; i++)
        ctl[i] = (char)(i ? i : 0x1f);
    sbuf_json_string(&b, ctl, sizeof ctl);
    int raw = 0;
    for (size_t i = 0; i < b.len; i++)
        raw += (unsigned char)b.p[i] < 0x20;
    CHECK(raw == 0 && b.len > 32 * 2);
    sbuf_free(&b);
    return check_report("msgjson");
}
