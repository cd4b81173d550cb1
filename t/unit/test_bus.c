/* The NOTIFY payloads of shared/bus.c: the presence payload (sql/043), and
 * hostile ones refused (its lastSeenAt is spliced into JSON by the gateway). */
#include <stdlib.h>

#include "bus.h"
#include "check.h"

/* What the encoders write decodes to what they were given. */
static void round_trips(void)
{
    struct sbuf b;
    struct msg_bus_msg m;
    int convs[3] = {4, 9, 2147483647};
    sbuf_init(&b);
    msg_bus_bell(&b, "gw-1", convs, 3);
    CHECK_STR(b.p, "{\"t\":\"bell\",\"origin\":\"gw-1\",\"conversations\":[4,9,2147483647]}");
    CHECK(msg_bus_parse(b.p, &m) == MSG_BUS_BELL && !m.all && m.nconvs == 3 && m.convs[2] == 2147483647);
    CHECK_STR(m.origin, "gw-1");
    sbuf_free(&b);
    /* None named, or more than a bell may name: a bell for all. */
    msg_bus_bell(&b, "o", convs, 0);
    CHECK_STR(b.p, "{\"t\":\"bell\",\"origin\":\"o\"}");
    CHECK(msg_bus_parse(b.p, &m) == MSG_BUS_BELL && m.all && m.nconvs == 0);
    sbuf_free(&b);
    int *many = calloc(MSG_BUS_MAX_NAMED + 1, sizeof *many);
    for (int i = 0; i <= MSG_BUS_MAX_NAMED; i++)
        many[i] = i + 1;
    msg_bus_bell(&b, "o", many, MSG_BUS_MAX_NAMED);
    CHECK(b.len <= MSG_BUS_MAX_PAYLOAD); /* the most it names fits NOTIFY */
    CHECK(msg_bus_parse(b.p, &m) == MSG_BUS_BELL && m.nconvs == MSG_BUS_MAX_NAMED && !m.all);
    sbuf_free(&b);
    msg_bus_bell(&b, "o", many, MSG_BUS_MAX_NAMED + 1);
    CHECK(msg_bus_parse(b.p, &m) == MSG_BUS_BELL && m.all);
    sbuf_free(&b);
    free(many);
    /* An empty list decodes as all, too. */
    CHECK(msg_bus_parse("{\"t\":\"bell\",\"conversations\":[]}", &m) == MSG_BUS_BELL && m.all);
    /* The origin is escaped on the way out and bounded on the way in. */
    msg_bus_typing(&b, "g\"w", 5, 6, 1);
    CHECK_STR(b.p, "{\"t\":\"typing\",\"origin\":\"g\\\"w\",\"conversationId\":5,\"userId\":6,\"typing\":true}");
    CHECK(msg_bus_parse(b.p, &m) == MSG_BUS_TYPING && m.conversation_id == 5 && m.user_id == 6 && m.typing == 1);
    CHECK_STR(m.origin, "g\"w");
    sbuf_free(&b);
    msg_bus_typing(&b, "", 5, 6, 0);
    CHECK(msg_bus_parse(b.p, &m) == MSG_BUS_TYPING && m.typing == 0 && m.origin[0] == '\0');
    sbuf_free(&b);
    char longo[100];
    memset(longo, 'o', sizeof longo - 1);
    longo[sizeof longo - 1] = '\0';
    msg_bus_bell(&b, longo, convs, 1);
    CHECK(msg_bus_parse(b.p, &m) == MSG_BUS_BELL && strlen(m.origin) == sizeof m.origin - 1);
    sbuf_free(&b);
}

/* Hostile or broken payloads are all MSG_BUS_UNKNOWN (a bell for all). */
static void refused(void)
{
    static const char *const bad[] = {
        "",
        "not json",
        "[1,2]",
        "\"bell\"",
        "{}",
        "{\"t\":1}",
        "{\"t\":\"ring\"}",
        "{\"t\":\"bell\",\"conversations\":\"1\"}",
        "{\"t\":\"bell\",\"conversations\":[1,-2]}",
        "{\"t\":\"bell\",\"conversations\":[1.5]}",
        "{\"t\":\"bell\",\"conversations\":[2147483648]}",
        "{\"t\":\"bell\",\"conversations\":[[1]]}",
        "{\"t\":\"bell\"",
        "{\"t\":\"typing\",\"conversationId\":1,\"userId\":2}",
        "{\"t\":\"typing\",\"conversationId\":\"1\",\"userId\":2,\"typing\":true}",
        "{\"t\":\"typing\",\"conversationId\":1,\"userId\":0,\"typing\":true}",
        "{\"t\":\"revoke\"}",
        "{\"t\":\"revoke\",\"userId\":\"9\"}",
        "{\"t\":\"bell\",\"x\":[[[[[1]]]]]}", /* deeper than the parser goes */
    };
    struct msg_bus_msg m;
    int wrong = 0;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (msg_bus_parse(bad[i], &m) != MSG_BUS_UNKNOWN || m.kind != MSG_BUS_UNKNOWN || m.nconvs != 0) {
            wrong++;
            fprintf(stderr, "  accepted: %s\n", bad[i]);
        }
    CHECK_INT(wrong, 0);
    CHECK(msg_bus_parse(NULL, &m) == MSG_BUS_UNKNOWN);
    /* More than NOTIFY carries: refused unread, even if it is valid JSON. */
    char *big = malloc(MSG_BUS_MAX_PAYLOAD + 64);
    int n = snprintf(big, 64, "{\"t\":\"revoke\",\"userId\":9,\"pad\":\"");
    memset(big + n, 'p', MSG_BUS_MAX_PAYLOAD - (size_t)n - 2);
    strcpy(big + MSG_BUS_MAX_PAYLOAD - 2, "\"}");
    CHECK_INT(strlen(big), MSG_BUS_MAX_PAYLOAD);
    CHECK(msg_bus_parse(big, &m) == MSG_BUS_REVOKE); /* at the limit */
    big[MSG_BUS_MAX_PAYLOAD - 1] = '"';
    strcpy(big + MSG_BUS_MAX_PAYLOAD - 1, "\"}");
    CHECK(msg_bus_parse(big, &m) == MSG_BUS_UNKNOWN); /* one byte more */
    free(big);
}

int main(void)
{
    round_trips();
    refused();
    struct msg_bus_msg m;
    CHECK(msg_bus_parse("{\"t\":\"presence\",\"userId\":7,\"online\":true,\"lastSeenAt\":null,\"conversations\":[3,4]}",
                        &m) == MSG_BUS_PRESENCE);
    CHECK(m.user_id == 7 && m.online == 1 && m.last_seen[0] == '\0' && m.nconvs == 2 && m.convs[0] == 3 &&
          m.convs[1] == 4);
    CHECK(msg_bus_parse("{\"t\" : \"presence\", \"userId\" : 7, \"online\" : false, \"lastSeenAt\" : "
                        "\"2026-12-01T23:59:30.123Z\", \"conversations\" : []}",
                        &m) == MSG_BUS_PRESENCE);
    CHECK(m.online == 0 && m.nconvs == 0);
    CHECK_STR(m.last_seen, "2026-12-01T23:59:30.123Z");
    /* Refused: a lastSeenAt that is not a time (it would be spliced), no
     * conversations, a bad user, a bad conversation id. */
    CHECK(msg_bus_parse("{\"t\":\"presence\",\"userId\":7,\"online\":false,\"lastSeenAt\":\"\\\"},{\\\"x\\\":1,"
                        "\\\"a\\\":\\\"b\",\"conversations\":[1]}",
                        &m) == MSG_BUS_UNKNOWN);
    CHECK(msg_bus_parse("{\"t\":\"presence\",\"userId\":7,\"online\":false,\"lastSeenAt\":\"2026-12-01T23:59:30."
                        "123Z\\\"\",\"conversations\":[1]}",
                        &m) == MSG_BUS_UNKNOWN);
    CHECK(msg_bus_parse("{\"t\":\"presence\",\"userId\":7,\"online\":true}", &m) == MSG_BUS_UNKNOWN);
    CHECK(msg_bus_parse("{\"t\":\"presence\",\"userId\":-1,\"online\":true,\"conversations\":[]}", &m) ==
          MSG_BUS_UNKNOWN);
    CHECK(msg_bus_parse("{\"t\":\"presence\",\"userId\":7,\"online\":\"yes\",\"conversations\":[]}", &m) ==
          MSG_BUS_UNKNOWN);
    CHECK(msg_bus_parse("{\"t\":\"presence\",\"userId\":7,\"online\":true,\"conversations\":[0]}", &m) ==
          MSG_BUS_UNKNOWN);
    CHECK(m.nconvs == 0);
    /* The others still parse. */
    CHECK(msg_bus_parse("{\"t\":\"revoke\",\"userId\":9}", &m) == MSG_BUS_REVOKE && m.user_id == 9);
    return check_report("bus");
}
