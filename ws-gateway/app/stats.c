/* The gateway's counters and their names (what /metrics prints, monitor.c). */
#include <string.h>

#include "gateway.h"

const char *const gw_event_names[] = {"join_room",    "leave_room",  "send_message",           "mark_as_read",
                                      "typing_start", "typing_stop", "connection_established", "room_joined",
                                      "room_left",    "new_message", "messages_read",          "messages_delivered",
                                      "presence",     "error",       "refresh_token",          "token_expiring",
                                      "other"};
const int gw_event_count = (int)(sizeof gw_event_names / sizeof gw_event_names[0]);
_Static_assert(sizeof gw_event_names / sizeof gw_event_names[0] <= 24, "gw_stats.events_in holds 24 names");

int gw_event_index(const char *name)
{
    for (int i = 0; i < gw_event_count - 1; i++)
        if (strcmp(gw_event_names[i], name) == 0)
            return i;
    return gw_event_count - 1;
}

const double gw_lag_bounds[GW_LAG_BUCKETS] = {0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 1, 1e300};

void gw_stats_lag(struct gw_stats *st, double lag)
{
    st->lag_sum += lag;
    st->lag_count++;
    if (lag > st->lag_max)
        st->lag_max = lag;
    for (int b = 0; b < GW_LAG_BUCKETS; b++)
        if (lag <= gw_lag_bounds[b]) {
            st->lag_buckets[b]++;
            break;
        }
}
