/* Engine.IO v4 packet and payload codecs: see eio_codec.h. */
#include "eio_codec.h"

#include <stdlib.h>
#include <string.h>

#include "validate.h" /* msg_utf8_valid: the one UTF-8 validator */

static const char b64_alpha[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

size_t eio_base64_encoded_len(size_t n) { return (n + 2) / 3 * 4; }

size_t eio_base64_encode(const uint8_t *in, size_t n, char *out)
{
    size_t i = 0, o = 0;

    for (; i + 2 < n; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];

        out[o++] = b64_alpha[v >> 18];
        out[o++] = b64_alpha[(v >> 12) & 63];
        out[o++] = b64_alpha[(v >> 6) & 63];
        out[o++] = b64_alpha[v & 63];
    }
    if (n - i == 1) {
        uint32_t v = (uint32_t)in[i] << 16;

        out[o++] = b64_alpha[v >> 18];
        out[o++] = b64_alpha[(v >> 12) & 63];
        out[o++] = '=';
        out[o++] = '=';
    } else if (n - i == 2) {
        uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8;

        out[o++] = b64_alpha[v >> 18];
        out[o++] = b64_alpha[(v >> 12) & 63];
        out[o++] = b64_alpha[(v >> 6) & 63];
        out[o++] = '=';
    }
    return o;
}

long eio_base64_decode(const char *in, size_t n, uint8_t *out)
{
    size_t o = 0;

    if (n % 4)
        return -1;
    for (size_t i = 0; i < n; i += 4) {
        int v[4], pad = 0;

        for (int k = 0; k < 4; k++) {
            char c = in[i + k];

            if (c == '=' && i + 4 == n && k >= 2) {
                v[k] = 0;
                pad++;
                continue;
            }
            if (pad) /* data after '=' */
                return -1;
            v[k] = msg_b64_digit(c, false);
            if (v[k] < 0)
                return -1;
        }
        /* canonical: bits dropped by the padding must be zero */
        if ((pad == 2 && (v[1] & 15)) || (pad == 1 && (v[2] & 3)))
            return -1;
        /* read all four before writing: out may alias in */
        uint32_t w = (uint32_t)v[0] << 18 | (uint32_t)v[1] << 12 | (uint32_t)v[2] << 6 | (uint32_t)v[3];

        out[o++] = (uint8_t)(w >> 16);
        if (pad < 2)
            out[o++] = (uint8_t)(w >> 8);
        if (pad < 1)
            out[o++] = (uint8_t)w;
    }
    return (long)o;
}

int eio_packet_decode(const uint8_t *buf, size_t len, int binary, size_t max_len, eio_packet *out)
{
    if (len > max_len)
        return EIO_ETOOBIG;
    if (binary) {
        out->type = EIO_MESSAGE;
        out->binary = 1;
        out->data = buf;
        out->len = len;
        return EIO_OK;
    }
    if (len < 1 || buf[0] < '0' || buf[0] > '6')
        return EIO_EBADPACKET;
    if (!msg_utf8_valid((const char *)buf + 1, len - 1))
        return EIO_EBADPACKET;
    out->type = buf[0] - '0';
    out->binary = 0;
    out->data = buf + 1;
    out->len = len - 1;
    return EIO_OK;
}

/* Decodes one record of a payload (no separator inside) in place. */
static int payload_record(uint8_t *p, size_t n, eio_packet *out)
{
    if (n < 1)
        return EIO_EBADPACKET;
    if (p[0] == 'b') {
        long m = eio_base64_decode((const char *)p + 1, n - 1, p + 1);

        if (m < 0)
            return EIO_EBADPACKET;
        out->type = EIO_MESSAGE;
        out->binary = 1;
        out->data = p + 1;
        out->len = (size_t)m;
        return EIO_OK;
    }
    if (p[0] < '0' || p[0] > '6')
        return EIO_EBADPACKET;
    out->type = p[0] - '0';
    out->binary = 0;
    out->data = p + 1;
    out->len = n - 1;
    return EIO_OK;
}

int eio_payload_decode(uint8_t *body, size_t len, size_t max_len, size_t max_packets, eio_packet **pkts, size_t *npkts)
{
    size_t count = 1, n = 0, start = 0;
    eio_packet *arr;

    *pkts = NULL;
    *npkts = 0;
    if (len > max_len)
        return EIO_ETOOBIG;
    if (len == 0)
        return EIO_EBADPACKET;
    /* the body is text: base64 and type digits are ASCII, messages UTF-8 */
    if (!msg_utf8_valid((const char *)body, len))
        return EIO_EBADPACKET;
    for (size_t i = 0; i < len; i++)
        if (body[i] == EIO_RECORD_SEP)
            count++;
    if (count > max_packets)
        return EIO_ETOOBIG;
    arr = malloc(count * sizeof(*arr));
    if (!arr)
        return EIO_ENOMEM;
    for (size_t i = 0; i <= len; i++) {
        if (i < len && body[i] != EIO_RECORD_SEP)
            continue;
        if (payload_record(body + start, i - start, &arr[n]) != EIO_OK) {
            free(arr);
            return EIO_EBADPACKET;
        }
        n++;
        start = i + 1;
    }
    *pkts = arr;
    *npkts = n;
    return EIO_OK;
}

size_t eio_payload_size(const eio_packet *pkts, size_t n)
{
    size_t total = n ? n - 1 : 0; /* separators */

    for (size_t i = 0; i < n; i++)
        total += 1 + (pkts[i].binary ? eio_base64_encoded_len(pkts[i].len) : pkts[i].len);
    return total;
}

size_t eio_payload_write(const eio_packet *pkts, size_t n, uint8_t *out)
{
    size_t o = 0;

    for (size_t i = 0; i < n; i++) {
        if (i)
            out[o++] = EIO_RECORD_SEP;
        if (pkts[i].binary) {
            out[o++] = 'b';
            o += eio_base64_encode(pkts[i].data, pkts[i].len, (char *)out + o);
        } else {
            out[o++] = (uint8_t)('0' + pkts[i].type);
            if (pkts[i].len)
                memcpy(out + o, pkts[i].data, pkts[i].len);
            o += pkts[i].len;
        }
    }
    return o;
}
