/* libFuzzer target: Engine.IO polling payload decoder, plus a re-encode /
 * re-decode round trip of whatever it accepts. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "engineio/eio_codec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t *body = malloc(size ? size : 1), *enc;
    eio_packet *pk = NULL, *pk2 = NULL;
    size_t n = 0, n2 = 0, esz;

    if (!body)
        return 0;
    memcpy(body, data, size);
    if (eio_payload_decode(body, size, 1u << 20, 4096, &pk, &n) != EIO_OK) {
        free(body);
        return 0;
    }
    if (!n)
        abort();
    esz = eio_payload_size(pk, n);
    enc = malloc(esz ? esz : 1);
    if (!enc)
        abort();
    if (eio_payload_write(pk, n, enc) != esz)
        abort();
    /* what we encode we must decode to the same packets */
    if (eio_payload_decode(enc, esz, 1u << 22, 4096, &pk2, &n2) != EIO_OK || n2 != n)
        abort();
    for (size_t i = 0; i < n; i++)
        if (pk[i].type != pk2[i].type || pk[i].binary != pk2[i].binary || pk[i].len != pk2[i].len ||
            memcmp(pk[i].data, pk2[i].data, pk[i].len))
            abort();
    free(pk2);
    free(enc);
    free(pk);
    free(body);
    return 0;
}
