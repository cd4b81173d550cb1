/*
 * Engine.IO v4 packet and payload codecs.
 *
 * Pure functions: no I/O, no global state, no allocation except where a
 * function says so. Text is checked with shared/validate.h's
 * msg_utf8_valid(), the project's one UTF-8 validator. Every decoder takes
 * the length of its input and a limit; nothing here reads past `len` or
 * trusts a length found inside the input.
 *
 * Wire format (https://github.com/socketio/engine.io-protocol, v4):
 *   packet     = type-digit [data]           (text)
 *              | raw bytes                   (binary message, WebSocket only)
 *   payload    = packet *( %x1E packet )     (HTTP long-polling body)
 *   binary in a payload = "b" base64(data)
 */
#ifndef EIO_CODEC_H
#define EIO_CODEC_H

#include <stddef.h>
#include <stdint.h>

enum eio_packet_type {
    EIO_OPEN = 0,
    EIO_CLOSE = 1,
    EIO_PING = 2,
    EIO_PONG = 3,
    EIO_MESSAGE = 4,
    EIO_UPGRADE = 5,
    EIO_NOOP = 6,
};

#define EIO_RECORD_SEP 0x1e

/* Error values (negative, as libuv does). */
#define EIO_OK 0
#define EIO_EBADPACKET (-1) /* undecodable packet or payload */
#define EIO_ETOOBIG (-2)    /* input over the limit given */
#define EIO_ENOMEM (-3)

/*
 * One decoded packet. `data` points into the buffer given to the decoder
 * (never a copy): it lives as long as that buffer does.
 */
typedef struct eio_packet {
    int type;            /* enum eio_packet_type */
    int binary;          /* 1 when data is binary (only for EIO_MESSAGE) */
    const uint8_t *data; /* payload after the type digit */
    size_t len;
} eio_packet;

/*
 * Decodes one packet as received in a WebSocket frame.
 * binary != 0: a binary frame, always a message with raw bytes.
 * Otherwise the first byte is the type digit '0'..'6' and the rest is UTF-8
 * text (validated here; lws also validates text frames).
 * Returns EIO_OK, EIO_EBADPACKET, or EIO_ETOOBIG when len > max_len.
 */
int eio_packet_decode(const uint8_t *buf, size_t len, int binary, size_t max_len, eio_packet *out);

/*
 * Decodes an HTTP long-polling body in place (base64 parts are decoded over
 * themselves, so `body` is modified). On success *pkts is a malloc'd array
 * of *npkts packets pointing into `body`; the caller frees *pkts (not the
 * data). The whole body is validated before anything is returned: an
 * error leaves *pkts NULL.
 * Limits: len <= max_len (else EIO_ETOOBIG), at most max_packets packets.
 */
int eio_payload_decode(uint8_t *body, size_t len, size_t max_len, size_t max_packets, eio_packet **pkts, size_t *npkts);

/* Number of bytes eio_payload_write() will produce for these packets. */
size_t eio_payload_size(const eio_packet *pkts, size_t n);

/*
 * Writes packets as one polling payload into out (which has room for
 * eio_payload_size() bytes): text packets as type digit + data, binary
 * messages as 'b' + base64. Returns bytes written.
 */
size_t eio_payload_write(const eio_packet *pkts, size_t n, uint8_t *out);

/* Base64 (RFC 4648, standard alphabet, padded). */
size_t eio_base64_encoded_len(size_t n);
size_t eio_base64_encode(const uint8_t *in, size_t n, char *out);
/* Strict decode: length multiple of 4, canonical padding. Returns the
 * decoded length, or -1. out may alias in (decoding only shrinks). */
long eio_base64_decode(const char *in, size_t n, uint8_t *out);

#endif
