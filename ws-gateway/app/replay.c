#include "replay.h"

#include <stdlib.h>
#include <string.h>

int gw_replay_parse_array(const char *s, long long *out, int max)
{
    int n = 0;
    if (!s || *s++ != '{')
        return -1;
    while (*s && *s != '}' && n < max) {
        if (!strncmp(s, "NULL", 4)) {
            out[n++] = -1;
            s += 4;
        } else {
            char *end;
            out[n++] = strtoll(s, &end, 10);
            if (end == s)
                return -1;
            s = end;
        }
        if (*s == ',')
            s++;
    }
    return n;
}

int gw_replay_log_index(const long long *log, int nlog, long long offset)
{
    int at = -1;
    for (int i = 0; offset >= 0 && i < nlog; i++)
        if (log[i] == offset)
            at = i;
    return at;
}

long long gw_replay_after(long long offset, bool offset_in_log, long long joined, long long sent)
{
    long long after;
    if (offset < 0)
        after = joined;
    else if (offset_in_log && sent >= 0)
        after = sent;
    else if (sent >= 0)
        after = offset < sent ? offset : sent;
    else
        after = offset;
    return after < joined ? joined : after;
}
