/* The messaging gateway's state, shared by its parts: connection auth
 * (auth.c), client events (events.c), rooms and their cursors (rooms.c),
 * the doorbell and LISTEN (bus.c), recovery (recovery.c), periodic work
 * (timers.c), counters (stats.c) and monitoring (monitor.c). One event
 * loop, no threads. */
#ifndef GW_GATEWAY_H
#define GW_GATEWAY_H

#include <json-c/json.h>
#include <libwebsockets.h>
#include <stdint.h>
#include <stdio.h>

#include "config.h"
#include "error.h"
#include "engineio/eio.h"
#include "engineio/eio_wheel.h"
#include "imap.h"
#include "pgconn.h"
#include "sbuf.h"
#include "socketio/sio.h"

#define GW_MAX_TYPING 8 /* conversations one socket types in at once */
#define GW_MAX_INFLIGHT \
    64 /* database operations one socket may have pending (>= the
                                * send_message burst, API.md section 8) */
#define GW_NS "/"
#define GW_PRESENCE_MAX 192           /* {userId, online, lastSeenAt} as JSON text, bytes */
#define GW_DB_QUEUE_BYTES (32u << 20) /* parameters queued on one database connection, at most */

/* Per-socket token buckets, one per client event (limits.c). */
enum gw_limit_event {
    LIM_JOIN,
    LIM_LEAVE,
    LIM_SEND,
    LIM_READ,
    LIM_TYPING_START,
    LIM_TYPING_STOP,
    LIM_REFRESH,
    LIM_OTHER,
    LIM_COUNT
};
struct gw_limits {
    double tokens[LIM_COUNT];
    long long at_ms[LIM_COUNT]; /* last refill (0: never: a full bucket) */
    long long win_ms;           /* the current one-second window */
    unsigned win_n[LIM_COUNT];  /* events in it */
    int over;                   /* consecutive windows at more than 10x a rate */
};
#define GW_FLOOD_FACTOR 10
#define GW_FLOOD_SECONDS 5
#define GW_INFLIGHT_BYTES (1u << 20) /* parameter bytes one socket may have in the database queues */
#define GW_INFLIGHT_RETRY_MS 50      /* retryAfterMs of an event refused for a full share */

/* One socket's session (sio_socket_user). Owned by the gateway; freed in
 * on_disconnect. */
struct gw_client {
    struct gateway *g;
    uint64_t socket_id; /* sio_socket_id (a number; sio_socket_sid is the Socket.IO sid) */
    int user_id;
    char role[16];
    int authenticated;
    int present;           /* counted in gateway.present (gw_presence) */
    int inflight;          /* operations awaiting the database */
    size_t inflight_bytes; /* their parameters' bytes */
    struct gw_limits lim;
    int typing[GW_MAX_TYPING]; /* conversations with typing_start pending */
    int ntyping;
    char pid[40];                 /* recovery session id ("" when recovery is off) */
    int *rooms;                   /* conversations joined (owned) */
    unsigned long long *room_seq; /* the delivery sequence when each was joined */
    int nrooms, caprooms;
    char *restore_pid;                      /* a reconnecting client's {pid, offset}, owned */
    long long restore_offset;               /* -1: none */
    long long exp;                          /* the token's exp (seconds since the epoch) */
    long long iat;                          /* its iat, -1 when it has none (revocation) */
    int warn_now;                           /* token_expiring due at connection_established */
    struct eio_wheel_ent warn_ent, exp_ent; /* its token_expiring and its end */
};

enum gw_conv_state { CONV_PENDING, CONV_READY };

/* A conversation this gateway holds a room for, with the id of the last
 * event delivered to it (events are per-conversation ordered). */
#define GW_RING 64 /* deliveries remembered per room, for recovery */

struct gw_conv {
    int id;
    long long cursor;
    /* The room's last deliveries (when, which event), slot k % GW_RING;
     * grown on demand up to GW_RING, so that a room with few deliveries
     * (most of them, with one socket per conversation) stays small. */
    struct gw_ring_ent {
        unsigned long long seq;
        long long id;
    } * ring;
    unsigned ring_cap;
    unsigned long long ring_n; /* deliveries recorded so far */
    enum gw_conv_state state;
    int missed; /* an event came while pending: catch up */
    int cursor_inflight;
    /* Restores in flight whose socket will enter this room: it is not
     * released while they wait, or their replay would find no room. */
    int restores;
    long long receipt_ms; /* when receipts.c last marked a delivery here */
    /* Sockets whose join waits for the cursor: they enter the room, and
     * are told room_joined, only once it is known (gw_join_now). */
    /* Joins waiting for the cursor; presence: the other participant's, sent
     * right after room_joined ("" none). */
    struct gw_joiner {
        uint64_t socket_id;
        int64_t ack_id;
        char presence[GW_PRESENCE_MAX];
    } * joiners;
    int njoiners, capjoiners;
};

#define GW_LAG_BUCKETS 8

struct gw_stats {
    unsigned long long events_in[24], events_out[24]; /* by gw_event_names */
    unsigned long long errors[16];
    unsigned long long deliveries, catchups, catchup_rooms, doorbells_sent, notifications;
    unsigned long long bad_notifications, net_catches;
    double lag_sum, lag_max; /* seconds, commit (sentAt) to send */
    unsigned long long lag_count;
    unsigned long long lag_buckets[GW_LAG_BUCKETS];
    unsigned long long refused_connects, accepted_connects, recovered, revoked;
};

/* The doorbell and the reads it causes (bus.c). */
struct gw_bus {
    int catchup_inflight, catchup_again;
    int catchup_full;          /* the next read covers every room */
    struct imap catchup_convs; /* else these conversations */
    int bell_inflight, bell_again;
    struct imap bell_convs; /* conversations written since the last bell */
    long long net_after;    /* the safety net reads ids after this (-1: not yet) */
    long long net_top;      /* the newest id its last read saw */
    int net_inflight;
    long long listen_lost_at; /* seconds since the epoch; 0: never lost */
};

struct gw_timers {
    struct gateway *g;
    lws_sorted_usec_list_t sul;
    unsigned long long ticks; /* seconds since start */
};

/* Delivery receipts waiting for their flush (receipts.c). */
struct gw_receipts {
    struct gateway *g;
    lws_sorted_usec_list_t sul;
    int scheduled;
    struct imap pending; /* conversation -> struct pending * (owned) */
};

struct gateway {
    const struct msg_config *cfg;
    struct lws_context *ctx;
    struct lws_vhost *vh;
    eio_host *host;
    sio_server *srv;
    struct pgc *listen; /* LISTEN and the delivery reads */
    struct pgpool pool; /* operations */
    struct imap convs;  /* conversation id -> struct gw_conv * */
    /* A new_message was written to a room's sockets (receipts.c observes
     * it: the delivery layer knows nothing of receipts). NULL: nobody. */
    void (*on_room_written)(struct gateway *g, int conv, const char *data);
    struct imap users; /* user id -> open connections */
    /* user id -> connected sockets (CONNECT accepted): presence is written
     * when it leaves 0 and when it comes back to it, not per socket. */
    struct imap present;
    struct gw_bus bus;
    struct gw_timers timers;
    char instance[24];              /* tells this process's own bells apart */
    unsigned long long deliver_seq; /* room deliveries so far (recovery's send order) */
    struct gw_stats stats;
    struct eio_wheel *lifetimes; /* the sockets' token deadlines (lifetime.c) */
    int lifetimes_running;
    long nclients; /* sockets past on_connect, pending or connected */
    struct gw_receipts receipts;
};

/* Names of the client events and the server's, for counters. */
int gw_event_index(const char *name);
extern const char *const gw_event_names[];
extern const int gw_event_count;

/* A pool connection that is up (round robin), or NULL. */
static inline struct pgc *gw_db(struct gateway *g) { return pgpool_any(&g->pool); }
/* The connection of one socket's operations: always the same one while it
 * is up, so that a client's writes commit in the order it sent them. */
static inline struct pgc *gw_db_for(struct gateway *g, uint64_t socket_id) { return pgpool_for(&g->pool, socket_id); }

/* auth.c */
int gw_on_connect(sio_socket *s, json_object *auth, const char **refusal, void *user);
void gw_on_connected(sio_socket *s, void *user);
void gw_on_disconnect(sio_socket *s, const char *reason, void *user);

/* revoke.c: disconnects every socket of the user here whose token was
 * issued before `before` (seconds since the epoch; a token without iat
 * always), as messaging.token_revoked rules. */
void gw_revoke_user(struct gateway *g, int user_id, long long before);
/* After the LISTEN connection came back: the revocations recorded since it
 * was lost (their NOTIFYs were missed). */
void gw_revocations_since(struct gateway *g, long long since);

/* lifetime.c: a socket lives as long as its token (API.md section 7). */
int gw_lifetime_init(struct gateway *g);
void gw_lifetime_free(struct gateway *g);
/* Schedules c's token_expiring and its end from c->exp. */
void gw_lifetime_arm(struct gateway *g, struct gw_client *c);
void gw_lifetime_drop(struct gateway *g, struct gw_client *c);
/* Ends every socket whose token expired, now: called before anything is
 * sent to a room, so that no room event reaches a socket after its exp. */
void gw_lifetime_gate(struct gateway *g);
/* After connection_established: the token_expiring owed at once. */
void gw_lifetime_connected(struct gateway *g, sio_socket *s, struct gw_client *c);
void gw_on_refresh(struct gateway *g, sio_socket *s, struct gw_client *c, json_object *data, int64_t ack_id);

/* limits.c: API.md section 8. */
enum gw_limit_verdict { GW_LIMIT_OK, GW_LIMIT_REFUSED, GW_LIMIT_FLOOD };
/* Counts one `event` of c: OK, or REFUSED with *retry_ms, or FLOOD (the
 * socket is to be disconnected). */
enum gw_limit_verdict gw_limit_take(struct gateway *g, struct gw_client *c, const char *event, long long *retry_ms);
/* A socket's share of the database queues: at most GW_MAX_INFLIGHT
 * operations and GW_INFLIGHT_BYTES of parameters in flight. */
size_t gw_params_bytes(enum msg_op op, const char *const *params);
int gw_share_fits(const struct gw_client *c, size_t bytes);
void gw_share_take(struct gw_client *c, size_t bytes);
void gw_share_put(struct gw_client *c, size_t bytes);
/* An operation of the socket whose answer nothing waits for (a typing
 * NOTIFY, a session write), counted in its share while in flight. With
 * `optional`, refused (-1) when the share is used up. */
int gw_op_counted(struct gateway *g, struct gw_client *c, struct pgc *db, enum msg_op op, const char *const *params,
                  int optional);

/* events.c */
void gw_on_event(sio_socket *s, const char *event, json_object *args, int64_t ack_id, const sio_bin *bins, size_t nbins,
                 void *user);
/* The typing_stop a disconnecting socket owes its rooms. */
void gw_typing_cleanup(struct gateway *g, sio_socket *s, struct gw_client *c);

/* reply.c */
/* Sends `error` and the failed ack for an event. */
void gw_fail(struct gateway *g, sio_socket *s, const char *event, int64_t ack_id, enum msg_code code,
             const char *message);
/* The same with the ack's retryAfterMs (>= 0; < 0: none). */
void gw_fail_retry(struct gateway *g, sio_socket *s, const char *event, int64_t ack_id, enum msg_code code,
                   const char *message, long long retry_ms);
/* Emits to one socket, counting it. */
void gw_emit(struct gateway *g, sio_socket *s, const char *event, json_object *data);
void gw_ack(sio_socket *s, int64_t ack_id, json_object *data);
/* {conversationId}, and the ack {ok: true, conversationId}. */
json_object *gw_conv_object(int conv);
void gw_ack_conv(sio_socket *s, int64_t ack_id, int conv);

/* A participant's join: into the room and told room_joined at once when
 * its cursor is known, else when it is (API.md section 5, without a gap:
 * from room_joined on, every event after the cursor reaches the socket). */
void gw_join(struct gateway *g, sio_socket *s, int conv, int64_t ack_id, const char *presence);
/* bus.c: the join itself. */
void gw_join_now(struct gateway *g, sio_socket *s, int conv, int64_t ack_id, const char *presence);

/* rooms.c: the rooms held and their cursors, and sending to them. */
struct gw_conv *gw_conv_get(struct gateway *g, int id);
/* Drops rooms that emptied. */
void gw_release_empty(struct gateway *g);
void gw_rooms_free(struct gateway *g);
static inline void gw_room_name(int conv, char *buf, size_t cap) { snprintf(buf, cap, "conversation_%d", conv); }
/* Appends ["kind",data,"id"]: an event's packet array, data spliced. */
int gw_event_array(struct sbuf *b, const char *kind, const char *data, long long id);
/* Sends one stored event (data: its JSON text) to its room if it is the
 * next one there. */
void gw_deliver(struct gateway *g, long long id, int conv, const char *kind, const char *data);

/* bus.c: the doorbell and LISTEN, and the reads they cause. */
/* A socket joined conversation_<id>: hold the room (cursor from the db). */
void gw_hold(struct gateway *g, int conv);
void gw_ask_cursor(struct gateway *g, struct gw_conv *cv);
/* The room's cursor is known: ready, its waiting joins in, and whatever
 * rang meanwhile read. */
void gw_conv_ready(struct gateway *g, struct gw_conv *cv, long long cursor);
void gw_ask_pending_cursors(struct gateway *g);
/* An event we just stored, `prev` the one before it in its conversation:
 * sent at once when the room had exactly `prev`, else read in order. */
void gw_deliver_next(struct gateway *g, long long id, long long prev, int conv, const char *kind, const char *data);
void gw_bus_init(struct gw_bus *b);
void gw_bus_free(struct gw_bus *b);
/* Reads what is new for every held room now (coalesced). */
void gw_catch_up(struct gateway *g);
/* The same for one conversation only. */
void gw_catch_up_conv(struct gateway *g, int conv);
/* The timer's read for a writer that never rang. */
void gw_safety_net(struct gateway *g);
/* After a write of ours committed in conv: wake the other gateways, naming
 * the conversations (coalesced). */
void gw_ring(struct gateway *g, int conv);
/* typing_start / typing_stop for the other gateways. */
void gw_notify_typing(struct gateway *g, uint64_t socket_id, int conv, int user, int start);
void gw_on_notify(struct pgc *c, const char *channel, const char *payload, void *arg);
void gw_on_listen_ready(struct pgc *c, void *arg);
void gw_on_listen_down(struct pgc *c, void *arg);

/* receipts.c: a new_message written to the room's sockets; when one of
 * them is the recipient's, its delivery marker moves (coalesced). */
void gw_receipts_init(struct gateway *g);
void gw_receipts_free(struct gateway *g);
void gw_receipt_written(struct gateway *g, int conv, const char *data);

/* bus.c: presence (sql/043_presence.sql). A socket of the user connected
 * (1) or closed (0) here: the database is told when the user's first
 * socket here connected and when the last one closed. */
void gw_presence(struct gateway *g, struct gw_client *c, int connected);

/* timers.c */
void gw_timers_start(struct gateway *g);
void gw_timers_stop(struct gateway *g);

/* stats.c */
extern const double gw_lag_bounds[GW_LAG_BUCKETS]; /* seconds; the last is +Inf */
void gw_stats_lag(struct gw_stats *st, double seconds);

/* recovery.c: Socket.IO connection state recovery from the database. */
/* The client is authenticated: restore its session or open a fresh one,
 * then accept it. */
void gw_session_start(struct gateway *g, sio_socket *s, struct gw_client *c);
/* The socket is going: record its rooms and their cursors. */
void gw_session_closed(struct gateway *g, struct gw_client *c);
void gw_heartbeat(struct gateway *g);

/* client.c: a socket's rooms and its session record. */
void gw_client_free(struct gw_client *c);
void gw_client_room_add(struct gateway *g, struct gw_client *c, int conv);
void gw_session_joined(struct gateway *g, struct gw_client *c, int conv);
void gw_session_left(struct gateway *g, struct gw_client *c, int conv);
/* The connection a session's writes go through: chosen by its pid. */
uint64_t gw_session_key(const char *pid);
void gw_session_write(struct gateway *g, struct gw_client *c, enum msg_op op, const char *const *params);

/* monitor.c */
extern const struct lws_protocols gw_http_protocol;
extern const struct lws_http_mount gw_mounts[];
void gw_user_add(struct gateway *g, int user_id, int delta);

#endif
