/* libFuzzer target: Engine.IO packet decoder (one WebSocket frame). The
 * first byte picks text or binary; a decoded text packet must be UTF-8. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "engineio/eio_codec.h"
#include "validate.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    eio_packet p;
    uint8_t *copy;

    if (size < 1)
        return 0;
    /* an exact-size copy so that ASan sees any read past the end */
    copy = malloc(size - 1 ? size - 1 : 1);
    if (!copy)
        return 0;
    memcpy(copy, data + 1, size - 1);
    if (eio_packet_decode(copy, size - 1, data[0] & 1, 1u << 20, &p) == EIO_OK) {
        if (p.data + p.len > copy + (size - 1) || p.type < 0 || p.type > 6)
            abort();
        if (!p.binary && !msg_utf8_valid((const char *)p.data, p.len))
            abort();
    }
    free(copy);
    return 0;
}
