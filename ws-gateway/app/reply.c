/* Replies to one socket: events, acks, and the `error` + failed ack of a
 * refused event (API.md section 5). Below every handler: anything may reply. */
#include <libwebsockets.h>

#include "gateway.h"

void gw_emit(struct gateway *g, sio_socket *s, const char *event, json_object *data)
{
    json_object *args = json_object_new_array();
    json_object_array_add(args, json_object_get(data));
    if (sio_emit(s, event, args, NULL, 0) == 0)
        g->stats.events_out[gw_event_index(event)]++;
    json_object_put(args);
}

void gw_ack(sio_socket *s, int64_t ack_id, json_object *data)
{
    if (ack_id == SIO_NO_ACK)
        return;
    json_object *args = json_object_new_array();
    json_object_array_add(args, json_object_get(data));
    sio_ack(s, ack_id, args, NULL, 0);
    json_object_put(args);
}

void gw_fail(struct gateway *g, sio_socket *s, const char *event, int64_t ack_id, enum msg_code code,
             const char *message)
{
    gw_fail_retry(g, s, event, ack_id, code, message, -1);
}

void gw_fail_retry(struct gateway *g, sio_socket *s, const char *event, int64_t ack_id, enum msg_code code,
                   const char *message, long long retry_ms)
{
    g->stats.errors[code]++;
    json_object *e = json_object_new_object();
    json_object_object_add(e, "message", json_object_new_string(message));
    json_object_object_add(e, "code", json_object_new_string(msg_code_name(code)));
    json_object_object_add(e, "event", json_object_new_string(event));
    gw_emit(g, s, "error", e);
    json_object_put(e);
    if (ack_id != SIO_NO_ACK) {
        json_object *a = json_object_new_object(), *err = json_object_new_object();
        json_object_object_add(err, "code", json_object_new_string(msg_code_name(code)));
        json_object_object_add(err, "message", json_object_new_string(message));
        if (retry_ms >= 0)
            json_object_object_add(err, "retryAfterMs", json_object_new_int64(retry_ms));
        json_object_object_add(a, "ok", json_object_new_boolean(0));
        json_object_object_add(a, "error", err);
        gw_ack(s, ack_id, a);
        json_object_put(a);
    }
}

json_object *gw_conv_object(int conv)
{
    json_object *d = json_object_new_object();
    json_object_object_add(d, "conversationId", json_object_new_int(conv));
    return d;
}

/* {ok: true, conversationId}: the ack of the room and typing events. */
void gw_ack_conv(sio_socket *s, int64_t ack_id, int conv)
{
    json_object *a = gw_conv_object(conv);
    json_object_object_add(a, "ok", json_object_new_boolean(1));
    gw_ack(s, ack_id, a);
    json_object_put(a);
}
