/* The arithmetic of connection state recovery (recovery.c), pure so that
 * it can be tested alone: which events a reconnecting client missed, from
 * its offset (the last event id it received), the send log kept at its
 * disconnection (the ids last sent to its socket, in sending order) and,
 * per room, the event id the room had when joined and the last one sent to
 * the room. Event ids are positive; -1 stands for "none". */
#ifndef GW_REPLAY_H
#define GW_REPLAY_H

#include <stdbool.h>

/* Parses a PostgreSQL array text "{1,2,NULL}" into at most max values
 * (NULL -> -1). Returns how many, or -1 when it is not an array. */
int gw_replay_parse_array(const char *s, long long *out, int max);

/* Where offset stands in the send log (its last place), or -1: no offset,
 * or not in the log. What follows it in the log was not received. */
int gw_replay_log_index(const long long *log, int nlog, long long offset);

/* The event id after which a room's events are replayed:
 * - no offset: everything since the room was joined;
 * - the offset in the log: the log names what was lost, and the events the
 *   room was not sent before the disconnection (after `sent`) follow;
 * - the offset fell out of the log: the earlier of it and `sent`;
 * - no record of the disconnection (sent -1, a crash): the offset;
 * never before `joined`. */
long long gw_replay_after(long long offset, bool offset_in_log, long long joined, long long sent);

#endif
