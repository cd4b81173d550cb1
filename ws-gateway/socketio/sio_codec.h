/*
 * Socket.IO v5 packet codec (https://github.com/socketio/socket.io-protocol).
 *
 *   <type>[<attachments>-][<namespace>,][<ack id>][<JSON data>]
 *
 * Pure functions over json-c objects: no I/O, no global state. Decoding is
 * bounded: input length, JSON nesting depth, attachment count, namespace
 * length and ack id digits all have limits, and the whole input must be
 * consumed. The data is parsed by shared/validate.h's msg_json_parse(), the
 * same parser and rules as the REST bodies: a packet whose JSON it refuses
 * (invalid UTF-8, an escaped lone surrogate, too deep...) is undecodable. Binary attachments stay as placeholders
 * {"_placeholder":true,"num":N} in the data; the attachments themselves
 * travel as separate Engine.IO binary messages.
 */
#ifndef SIO_CODEC_H
#define SIO_CODEC_H

#include <json-c/json.h>
#include <stddef.h>
#include <stdint.h>

#include "msg_limits.h"

enum sio_packet_type {
    SIO_CONNECT = 0,
    SIO_DISCONNECT = 1,
    SIO_EVENT = 2,
    SIO_ACK = 3,
    SIO_CONNECT_ERROR = 4,
    SIO_BINARY_EVENT = 5,
    SIO_BINARY_ACK = 6,
};

#define SIO_OK 0
#define SIO_EBADPACKET (-1)
#define SIO_ETOOBIG (-2)
#define SIO_ENOMEM (-3)

#define SIO_NO_ACK (-1)
#define SIO_ACK_ID_MAX_DIGITS MSG_SIO_ACK_ID_DIGITS /* < 2^53: safe as a JavaScript number */

/* JSON nesting has one limit for every input, MSG_JSON_MAX_DEPTH
 * (shared/msg_limits.h), applied by the parser. */
typedef struct sio_limits {
    size_t max_len;           /* whole packet text */
    unsigned max_attachments; /* binary packets */
    size_t max_nsp_len;
} sio_limits;

/* Limits used when a caller passes NULL. */
extern const sio_limits sio_default_limits;

typedef struct sio_packet {
    int type;
    const char *nsp; /* points into the decoded text, or the static "/" */
    size_t nsp_len;
    int64_t id;           /* SIO_NO_ACK when absent */
    unsigned attachments; /* binary types only */
    json_object *data;    /* owned by the packet; NULL when absent */
} sio_packet;

/*
 * Decodes one packet from s[0..len) (not NUL-terminated necessarily).
 * Validates the payload per type as the reference parser does: CONNECT an
 * object or nothing; DISCONNECT nothing; EVENT a non-empty array whose
 * first element is a non-reserved name (string or number); ACK an array;
 * ACK types need an id; placeholders must name an existing attachment.
 * On success the caller owns out->data (sio_packet_clear()).
 */
int sio_packet_decode(const char *s, size_t len, const sio_limits *lim, sio_packet *out);
void sio_packet_clear(sio_packet *p);

/*
 * Encodes a packet; data may be NULL. nsp NULL or "/" is the main
 * namespace. Returns a malloc'd NUL-terminated string (caller frees) and
 * its length in *len, or NULL when out of memory.
 */
char *sio_packet_encode(int type, const char *nsp, int64_t id, unsigned attachments, json_object *data, size_t *len);
/* The same with data already encoded: js (jl bytes, not NUL-terminated
 * necessarily) is copied as it is. */
char *sio_packet_encode_text(int type, const char *nsp, int64_t id, unsigned attachments, const char *js, size_t jl,
                             size_t *len);

/* A new placeholder object for attachment num (caller owns it). */
json_object *sio_placeholder_new(unsigned num);
/* 1 and *num when v is a placeholder object, else 0. */
int sio_is_placeholder(json_object *v, unsigned *num);

#endif
