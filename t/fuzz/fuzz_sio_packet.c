/* libFuzzer target: Socket.IO packet decoder (its data parsed by
 * shared/validate.c's msg_json_parse), and a re-encode / re-decode round
 * trip of whatever it accepts, which must be UTF-8 text. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "socketio/sio_codec.h"
#include "validate.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *copy = malloc(size ? size : 1), *nsp, *enc;
    sio_packet p, q;
    size_t len;

    if (!copy)
        return 0;
    memcpy(copy, data, size);
    if (sio_packet_decode(copy, size, NULL, &p) != SIO_OK) {
        free(copy);
        return 0;
    }
    if (p.type < 0 || p.type > 6 || p.nsp_len < 1 || p.nsp[0] != '/')
        abort();
    nsp = strndup(p.nsp, p.nsp_len);
    enc = sio_packet_encode(p.type, nsp, p.id, p.attachments, p.data, &len);
    if (!enc || !msg_utf8_valid(enc, len))
        abort();
    /* a name with a comma or NUL inside cannot round-trip; skip those */
    if (!memchr(p.nsp, ',', p.nsp_len) && !memchr(p.nsp, '\0', p.nsp_len)) {
        if (sio_packet_decode(enc, len, NULL, &q) != SIO_OK)
            abort();
        if (q.type != p.type || q.id != p.id || q.attachments != p.attachments || q.nsp_len != p.nsp_len ||
            memcmp(q.nsp, nsp, p.nsp_len))
            abort();
        sio_packet_clear(&q);
    }
    free(enc);
    free(nsp);
    sio_packet_clear(&p);
    free(copy);
    return 0;
}
