/* The C side of the messages page (shared/msgjson.c, shared/sbuf.c): times
 * as PostgreSQL writes them, strings escaped as JSON.stringify does. */
#include <stdlib.h>

#include "check.h"
#include "msgjson.h"
#include "sbuf.h"

/* A result shaped as messaging.list_message_rows answers, built without a
 * database: row 0 the header (status, body), then one row per message;
 * NULL cells are NULL pointers. */
#define NF 10
static PGresult *rows(int n, const char *const cells[][NF])
{
    PGresult *r = PQmakeEmptyPGresult(NULL, PGRES_TUPLES_OK);
    PGresAttDesc att[NF];
    memset(att, 0, sizeof att);
    char names[NF][16];
    for (int f = 0; f < NF; f++) {
        snprintf(names[f], sizeof names[f], "c%d", f);
        att[f].name = names[f];
        att[f].format = 0;
    }
    PQsetResultAttrs(r, NF, att);
    for (int t = 0; t < n; t++)
        for (int f = 0; f < NF; f++)
            PQsetvalue(r, t, f, (char *)cells[t][f], cells[t][f] ? (int)strlen(cells[t][f]) : -1);
    return r;
}

static int page(int n, const char *const cells[][NF], int *status, struct sbuf *b)
{
    PGresult *r = rows(n, cells);
    sbuf_init(b);
    int rc = msg_page_json(r, status, b);
    PQclear(r);
    return rc;
}

static void pages(void)
{
    struct sbuf b;
    int st = 0;
    const char *const two[][NF] = {
        {"200", "true", NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL},
        {NULL, NULL, "11", "3", "7", "hi \"you\"", "0", "t", "c-1", "1000"},
        {NULL, NULL, "12", "3", "8", "", "1795691593670958", "f", NULL, NULL},
    };
    CHECK_INT(page(3, two, &st, &b), 0);
    CHECK_INT(st, 200);
    CHECK_STR(b.p, "{\"messages\":[{\"id\":11,\"conversationId\":3,\"senderId\":7,\"content\":\"hi \\\"you\\\"\","
                   "\"sentAt\":\"1970-01-01T00:00:00.000Z\",\"isRead\":true,\"clientId\":\"c-1\","
                   "\"deliveredAt\":\"1970-01-01T00:00:00.001Z\"},"
                   "{\"id\":12,\"conversationId\":3,\"senderId\":8,\"content\":\"\","
                   "\"sentAt\":\"2026-11-26T11:13:13.670Z\",\"isRead\":false,\"clientId\":null,"
                   "\"deliveredAt\":null}],\"hasMore\":true}");
    sbuf_free(&b);
    /* An empty page; hasMore is true only for "true". */
    const char *const none[][NF] = {{"200", "false", NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL}};
    CHECK_INT(page(1, none, &st, &b), 0);
    CHECK_STR(b.p, "{\"messages\":[],\"hasMore\":false}");
    sbuf_free(&b);
    /* Refusals: 401 with the rule's reason (escaped), 404 with its own. */
    const char *const denied[][NF] = {{"401", "Token \"revoked\"", NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL}};
    CHECK_INT(page(1, denied, &st, &b), 0);
    CHECK_INT(st, 401);
    CHECK_STR(b.p, "{\"error\":{\"code\":\"unauthorized\",\"message\":\"Token \\\"revoked\\\"\"}}");
    sbuf_free(&b);
    const char *const missing[][NF] = {{"404", NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL}};
    CHECK_INT(page(1, missing, &st, &b), 0);
    CHECK_INT(st, 404);
    CHECK_STR(b.p, "{\"error\":{\"code\":\"not_found\",\"message\":\"Conversation not found\"}}");
    sbuf_free(&b);
    /* Malformed: no header row, a NULL status, the wrong width, an error. */
    CHECK_INT(page(0, none, &st, &b), -1);
    sbuf_free(&b);
    const char *const nostatus[][NF] = {{NULL, "true", NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL}};
    CHECK_INT(page(1, nostatus, &st, &b), -1);
    sbuf_free(&b);
    PGresult *narrow = PQmakeEmptyPGresult(NULL, PGRES_TUPLES_OK);
    PGresAttDesc one = {.name = "status"};
    PQsetResultAttrs(narrow, 1, &one);
    PQsetvalue(narrow, 0, 0, "200", 3);
    sbuf_init(&b);
    CHECK_INT(msg_page_json(narrow, &st, &b), -1);
    PQclear(narrow);
    PGresult *err = PQmakeEmptyPGresult(NULL, PGRES_FATAL_ERROR);
    CHECK_INT(msg_page_json(err, &st, &b), -1);
    PQclear(err);
    sbuf_free(&b);
}

int main(void)
{
    pages();
    /* Before the epoch, the milliseconds still count forward. */
    char neg[80];
    msg_iso_time(-1000, neg);
    CHECK_STR(neg, "1969-12-31T23:59:59.999Z");
    msg_iso_time(-1000000, neg);
    CHECK_STR(neg, "1969-12-31T23:59:59.000Z");
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
