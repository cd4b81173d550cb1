/* The payloads of the NOTIFY channel messaging_events, one tagged JSON type
 * (docs/events.md, "NOTIFY payloads"). The C side encodes and decodes them
 * here only; the SQL side in messaging.notify_bell and messaging.revoke_user.
 *
 *   {"t":"bell","origin":O,"conversations":[ids]}   events were committed in
 *       those conversations; without "conversations": in any
 *   {"t":"typing","origin":O,"conversationId":N,"userId":U,"typing":true|false}
 *   {"t":"revoke","userId":U}                       the user's tokens were revoked
 *   {"t":"presence","userId":U,"online":B,"lastSeenAt":ISO|null,"conversations":[ids]}
 *       the user went online or offline (sql/043_presence.sql); the rooms of
 *       those conversations get `presence`
 *
 * Anything else, or malformed, decodes as MSG_BUS_UNKNOWN: a listener then
 * treats it as a bell for everything (it may be a writer of a newer version). */
#ifndef MSG_BUS_H
#define MSG_BUS_H

#include <stddef.h>

#include "sbuf.h"

#define MSG_BUS_CHANNEL "messaging_events"
#define MSG_BUS_MAX_PAYLOAD 8000 /* NOTIFY's limit, bytes */
#define MSG_BUS_MAX_NAMED 600    /* conversations one bell names at most */

enum msg_bus_kind { MSG_BUS_UNKNOWN, MSG_BUS_BELL, MSG_BUS_TYPING, MSG_BUS_REVOKE, MSG_BUS_PRESENCE };

struct msg_bus_msg {
    enum msg_bus_kind kind;
    char origin[48];              /* "" when absent */
    int all;                      /* bell: every conversation */
    int convs[MSG_BUS_MAX_NAMED]; /* bell: the conversations named */
    size_t nconvs;
    int conversation_id, user_id, typing;
    int online;         /* presence */
    char last_seen[32]; /* presence: lastSeenAt, "" for null */
};

/* Decodes payload (at most MSG_BUS_MAX_PAYLOAD bytes) into *out. Returns
 * the kind (also in out->kind). */
enum msg_bus_kind msg_bus_parse(const char *payload, struct msg_bus_msg *out);

/* Encoders: append the payload to b. A bell naming more than
 * MSG_BUS_MAX_NAMED conversations (or n == 0) names none: it is for all. */
void msg_bus_bell(struct sbuf *b, const char *origin, const int *convs, size_t n);
void msg_bus_typing(struct sbuf *b, const char *origin, int conversation, int user, int typing);

#endif
