/* ws-gateway/app/replay.c: what a reconnecting client is replayed, from its
 * offset, the send log and each room's marks. */
#include "check.h"
#include "replay.h"

static void test_parse_array(void)
{
    long long v[4];
    CHECK(gw_replay_parse_array("{}", v, 4) == 0);
    CHECK(gw_replay_parse_array("{7,NULL,12}", v, 4) == 3 && v[0] == 7 && v[1] == -1 && v[2] == 12);
    CHECK(gw_replay_parse_array("{1,2,3,4,5}", v, 4) == 4 && v[3] == 4); /* at most max */
    CHECK(gw_replay_parse_array("1,2", v, 4) == -1);
    CHECK(gw_replay_parse_array("{x}", v, 4) == -1);
    CHECK(gw_replay_parse_array(NULL, v, 4) == -1);
}

static void test_log_index(void)
{
    const long long log[] = {10, 11, 15, 11, 20};
    CHECK(gw_replay_log_index(log, 5, 15) == 2);
    CHECK(gw_replay_log_index(log, 5, 11) == 3); /* its last place */
    CHECK(gw_replay_log_index(log, 5, 20) == 4); /* nothing after it */
    CHECK(gw_replay_log_index(log, 5, 9) == -1);
    CHECK(gw_replay_log_index(log, 5, -1) == -1);  /* no offset */
    CHECK(gw_replay_log_index(log, -1, 10) == -1); /* no log */
    CHECK(gw_replay_log_index(log, 0, 10) == -1);
}

static void test_after(void)
{
    /* No offset: all since the room was joined. */
    CHECK(gw_replay_after(-1, false, 30, 50) == 30);
    CHECK(gw_replay_after(-1, false, 30, -1) == 30);
    /* The offset in the log: the log names the lost; the room goes on from
     * what it had been sent. */
    CHECK(gw_replay_after(40, true, 30, 50) == 50);
    CHECK(gw_replay_after(60, true, 30, 50) == 50);
    /* Out of the log: the earlier of offset and sent. */
    CHECK(gw_replay_after(40, false, 30, 50) == 40);
    CHECK(gw_replay_after(60, false, 30, 50) == 50);
    /* No record of the disconnection: the offset. */
    CHECK(gw_replay_after(40, false, 30, -1) == 40);
    CHECK(gw_replay_after(40, true, 30, -1) == 40);
    /* Never before the join. */
    CHECK(gw_replay_after(20, false, 30, -1) == 30);
    CHECK(gw_replay_after(20, false, 30, 25) == 30);
    CHECK(gw_replay_after(40, true, 45, 42) == 45);
}

int main(void)
{
    test_parse_array();
    test_log_index();
    test_after();
    return check_report("replay");
}
