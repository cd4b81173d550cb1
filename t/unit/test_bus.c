/* The NOTIFY payloads of shared/bus.c: the presence payload (sql/043), and
 * hostile ones refused (its lastSeenAt is spliced into JSON by the gateway). */
#include "bus.h"
#include "check.h"

int main(void)
{
    struct msg_bus_msg m;
    CHECK(msg_bus_parse("{\"t\":\"presence\",\"userId\":7,\"online\":true,\"lastSeenAt\":null,\"conversations\":[3,4]}", &m) ==
          MSG_BUS_PRESENCE);
    CHECK(m.user_id == 7 && m.online == 1 && m.last_seen[0] == '\0' && m.nconvs == 2 && m.convs[0] == 3 && m.convs[1] == 4);
    CHECK(msg_bus_parse("{\"t\" : \"presence\", \"userId\" : 7, \"online\" : false, \"lastSeenAt\" : "
                        "\"2026-12-01T23:59:30.123Z\", \"conversations\" : []}", &m) == MSG_BUS_PRESENCE);
    CHECK(m.online == 0 && m.nconvs == 0);
    CHECK_STR(m.last_seen, "2026-12-01T23:59:30.123Z");
    /* Refused: a lastSeenAt that is not a time (it would be spliced), no
     * conversations, a bad user, a bad conversation id. */
    CHECK(msg_bus_parse("{\"t\":\"presence\",\"userId\":7,\"online\":false,\"lastSeenAt\":\"\\\"},{\\\"x\\\":1,\\\"a\\\":\\\"b\",\"conversations\":[1]}", &m) ==
          MSG_BUS_UNKNOWN);
    CHECK(msg_bus_parse("{\"t\":\"presence\",\"userId\":7,\"online\":false,\"lastSeenAt\":\"2026-12-01T23:59:30.123Z\\\"\",\"conversations\":[1]}", &m) ==
          MSG_BUS_UNKNOWN);
    CHECK(msg_bus_parse("{\"t\":\"presence\",\"userId\":7,\"online\":true}", &m) == MSG_BUS_UNKNOWN);
    CHECK(msg_bus_parse("{\"t\":\"presence\",\"userId\":-1,\"online\":true,\"conversations\":[]}", &m) == MSG_BUS_UNKNOWN);
    CHECK(msg_bus_parse("{\"t\":\"presence\",\"userId\":7,\"online\":\"yes\",\"conversations\":[]}", &m) == MSG_BUS_UNKNOWN);
    CHECK(msg_bus_parse("{\"t\":\"presence\",\"userId\":7,\"online\":true,\"conversations\":[0]}", &m) == MSG_BUS_UNKNOWN);
    CHECK(m.nconvs == 0);
    /* The others still parse. */
    CHECK(msg_bus_parse("{\"t\":\"revoke\",\"userId\":9}", &m) == MSG_BUS_REVOKE && m.user_id == 9);
    return check_report("bus");
}
