/* Codec throughput: Engine.IO payload decode/encode and Socket.IO packet
 * decode/encode, each timed for about half a second. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "engineio/eio_codec.h"
#include "socketio/sio_codec.h"

static double now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

#define BENCH(label, bytes, body)                                                                           \
    do {                                                                                                    \
        long iters = 0;                                                                                     \
        double t0 = now(), t;                                                                               \
        do {                                                                                                \
            for (int k_ = 0; k_ < 1000; k_++) {                                                             \
                body;                                                                                       \
            }                                                                                               \
            iters += 1000;                                                                                  \
            t = now() - t0;                                                                                 \
        } while (t < 0.5);                                                                                  \
        printf("bench %-34s %10.0f ops/s %8.1f MB/s\n", label, iters / t, (double)(bytes)*iters / t / 1e6); \
    } while (0)

int main(void)
{
    const char *payload_src = "4hello world, this is a chat message\x1e"
                              "42[\"new_message\",{\"id\":123,\"content\":\"hi there\"}]\x1e"
                              "bAQIDBAUGBwgJCgsMDQ4PEA==\x1e"
                              "2";
    size_t plen = strlen(payload_src);
    uint8_t *buf = malloc(plen), *out = malloc(4 * plen);
    eio_packet *pk;
    size_t n;
    const char *sio_src = "42[\"send_message\",{\"conversationId\":\"42\",\"content\":"
                          "\"Hello, how are you doing today?\",\"clientId\":\"c-1\"}]";
    size_t slen = strlen(sio_src);
    sio_packet sp;
    volatile size_t sink = 0;

    BENCH("eio payload decode (4 packets)", plen, {
        memcpy(buf, payload_src, plen);
        if (eio_payload_decode(buf, plen, plen, 16, &pk, &n) == EIO_OK) {
            sink += n;
            free(pk);
        }
    });
    memcpy(buf, payload_src, plen);
    eio_payload_decode(buf, plen, plen, 16, &pk, &n);
    size_t esz = eio_payload_size(pk, n);
    BENCH("eio payload encode (4 packets)", esz, { sink += eio_payload_write(pk, n, out); });
    free(pk);
    BENCH("eio packet decode (ws frame)", 37, {
        eio_packet p;
        sink += eio_packet_decode((const uint8_t *)payload_src, 37, 0, 1000, &p);
    });
    BENCH("sio packet decode (event)", slen - 1, {
        if (sio_packet_decode(sio_src + 1, slen - 1, NULL, &sp) == SIO_OK) {
            sink += sp.type;
            sio_packet_clear(&sp);
        }
    });
    sio_packet_decode(sio_src + 1, slen - 1, NULL, &sp);
    BENCH("sio packet encode (event)", slen - 1, {
        size_t l;
        char *e = sio_packet_encode(SIO_EVENT, "/", SIO_NO_ACK, 0, sp.data, &l);
        sink += l;
        free(e);
    });
    sio_packet_clear(&sp);
    free(buf);
    free(out);
    return sink == 0;
}
