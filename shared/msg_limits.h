/* Every size and count cap of the project, in one place, with the relations
 * between them checked by the compiler. A cap that a configuration key can
 * change has its default here (and its bounds when they matter); the key's
 * documentation is docs/operations.md. Plain decimal literals, so that
 * shared/config.c can turn a default into its string with MSG_STR().
 *
 * Not named limits.h: with -Ishared, GCC's own <limits.h> (its
 * syslimits.h's #include_next) would pick this file instead of the C
 * library's.
 *
 * Included by both programs and by the protocol layers (ws-gateway/engineio,
 * ws-gateway/socketio), which need nothing else of shared/ but the input
 * checks (validate.c) and the randomness (random.c). */
#ifndef MSG_LIMITS_H
#define MSG_LIMITS_H

#define MSG_STR_(x) #x
#define MSG_STR(x) MSG_STR_(x)

/* ---------------------------------------------------------------- text, JSON */

/* Nesting of any JSON text that comes from outside: a REST body, a Socket.IO
 * packet's data (its argument array counts as one level). Counted as json-c
 * counts (its tokener's depth, its own default): every value is a level, so
 * at most 31 arrays or objects around a number or string. The placeholder
 * walk of the Socket.IO codec recurses this deep. */
#define MSG_JSON_MAX_DEPTH 32

/* ---------------------------------------------------------------- REST (messaging-api) */

#define MSG_API_WORKERS_MAX 256    /* api_workers, --workers: 1 to this */
#define MSG_BODY_MAX_DEFAULT 65536 /* max_body_bytes (API.md section 4) */
#define MSG_BODY_MAX_MIN 1024
#define MSG_BODY_MAX_MAX 16777216
#define MSG_MESSAGE_CHARS_DEFAULT 10000 /* max_message_length, in code points */
#define MSG_MESSAGE_CHARS_MAX 1000000

/* ---------------------------------------------------------------- gateway: Engine.IO */

/* maxPayload: one WebSocket message, one polling body. */
#define MSG_WS_MAX_PAYLOAD_DEFAULT 1000000
#define MSG_WS_MAX_PAYLOAD_MIN 1024
#define MSG_WS_MAX_PAYLOAD_MAX 100000000
/* Bytes queued for one connection before it is cut off as too slow
 * (ws_send_queue_bytes; eio_config.send_queue_max when 0): 1 MiB. */
#define MSG_WS_SEND_QUEUE_DEFAULT 1048576
#define MSG_WS_SEND_QUEUE_MIN 4096
#define MSG_WS_SEND_QUEUE_MAX 1073741824
/* All request headers of one HTTP request (lws max_http_header_data). */
#define MSG_HTTP_HEADERS_DEFAULT 4096
#define MSG_HTTP_HEADERS_MAX 8192
/* Handshake data a session keeps (peer, query, captured headers). */
#define MSG_EIO_HANDSHAKE_MAX 4096
#define MSG_EIO_HANDSHAKE_VALUE_MAX 1024 /* one captured query or header value */
#define MSG_EIO_QUERY_ARGS_MAX 32        /* query parameters looked at */
#define MSG_EIO_ORIGIN_MAX 256           /* an Origin or Host value compared */
/* Write unit: polling responses and WebSocket fragments. */
#define MSG_EIO_WRITE_CHUNK 65536
/* WebSocket receive buffer, allocated by lws for every connection. */
#define MSG_EIO_WS_RX_BUFFER 512
/* Frames one WebSocket writes per writeable callback (then it yields to the
 * others on the loop). */
#define MSG_EIO_WS_FRAMES_PER_WRITEABLE 16

/* ---------------------------------------------------------------- gateway: Socket.IO */

#define MSG_SIO_ATTACHMENTS_DEFAULT 10 /* binary attachments of one packet */
#define MSG_SIO_NSP_MAX 256            /* a namespace name, in bytes */
#define MSG_SIO_ROOM_NAME_MAX 256      /* a room name, in bytes */
/* Ack ids: at most this many digits from a client, and the server's own
 * wrap below 10^digits, so that every id stays exact as a JavaScript number. */
#define MSG_SIO_ACK_ID_DIGITS 15
#define MSG_SIO_ACK_ID_LIMIT 1000000000000000

/* ---------------------------------------------------------------- gateway: recovery */

/* Missed events replayed to a recovering client; more gets a fresh session
 * (the client catches up through REST). */
#define MSG_RECOVERY_REPLAY_MAX 5000

/* ---------------------------------------------------------------- relations */

_Static_assert(MSG_JSON_MAX_DEPTH >= 4 && MSG_JSON_MAX_DEPTH <= 64,
               "a Socket.IO event's object argument needs 3 levels; the codec recurses this deep");
_Static_assert(MSG_BODY_MAX_MIN <= MSG_BODY_MAX_DEFAULT && MSG_BODY_MAX_DEFAULT <= MSG_BODY_MAX_MAX,
               "max_body_bytes default within its bounds");
_Static_assert(MSG_MESSAGE_CHARS_DEFAULT * 4 + 1024 <= MSG_BODY_MAX_DEFAULT,
               "a message of the default maximal length (4 bytes per code point) fits in a default body");
_Static_assert(MSG_BODY_MAX_DEFAULT <= MSG_WS_MAX_PAYLOAD_DEFAULT,
               "what one REST body may carry fits in one Socket.IO packet");
_Static_assert(MSG_WS_MAX_PAYLOAD_MIN <= MSG_WS_MAX_PAYLOAD_DEFAULT &&
                   MSG_WS_MAX_PAYLOAD_DEFAULT <= MSG_WS_MAX_PAYLOAD_MAX,
               "ws_max_payload default within its bounds");
_Static_assert(MSG_WS_SEND_QUEUE_MIN <= MSG_WS_SEND_QUEUE_DEFAULT && MSG_WS_SEND_QUEUE_DEFAULT <= MSG_WS_SEND_QUEUE_MAX,
               "ws_send_queue_bytes default within its bounds");
_Static_assert(MSG_WS_SEND_QUEUE_DEFAULT > MSG_WS_MAX_PAYLOAD_DEFAULT + 64,
               "a default send queue holds one message of the largest payload with its packet header");
_Static_assert(MSG_HTTP_HEADERS_DEFAULT <= MSG_HTTP_HEADERS_MAX && MSG_HTTP_HEADERS_MAX <= 65535,
               "lws keeps the header limit in an unsigned short");
_Static_assert(MSG_EIO_HANDSHAKE_VALUE_MAX * 2 + 2 <= MSG_EIO_HANDSHAKE_MAX,
               "the handshake data holds at least one name/value pair");
_Static_assert(MSG_EIO_ORIGIN_MAX <= MSG_EIO_HANDSHAKE_VALUE_MAX, "an Origin is one header value");
_Static_assert(MSG_EIO_WS_RX_BUFFER <= MSG_EIO_WRITE_CHUNK,
               "the write unit (lws tx_packet_size) is not smaller than the receive buffer");
_Static_assert(MSG_SIO_ROOM_NAME_MAX >= 24, "the gateway's room names (conversation_<32-bit id>) fit");
_Static_assert(MSG_SIO_NSP_MAX < MSG_WS_MAX_PAYLOAD_MIN, "a namespace fits in the smallest packet allowed");
_Static_assert(MSG_SIO_ACK_ID_LIMIT == 1000000000000000 && MSG_SIO_ACK_ID_DIGITS == 15 &&
                   MSG_SIO_ACK_ID_LIMIT <= 9007199254740992,
               "ack ids: 10^digits, below 2^53 (exact in JavaScript)");
_Static_assert(MSG_API_WORKERS_MAX >= 1 && MSG_API_WORKERS_MAX <= 4096, "worker table of the API master");

#endif
