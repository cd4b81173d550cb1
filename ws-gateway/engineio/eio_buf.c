/* Reference-counted message buffers, shared by every session a message is
 * sent to (a room broadcast encodes once). */
#include "eio_internal.h"

#include <stdlib.h>
#include <string.h>

static eio_buf *buf_alloc(size_t len)
{
    eio_buf *b;

    if (len > SIZE_MAX - sizeof(*b) - 1)
        return NULL;
    b = malloc(sizeof(*b) + len + 1);
    if (!b)
        return NULL;
    b->refs = 1;
    b->len = len;
    b->binary = 0;
    return b;
}

eio_buf *eio_buf_new(size_t len, int binary, uint8_t **payload)
{
    eio_buf *b = buf_alloc(binary ? len : len + 1);

    if (!b)
        return NULL;
    b->binary = binary ? 1 : 0;
    if (binary) {
        *payload = b->data;
    } else {
        b->data[0] = '0' + EIO_MESSAGE;
        *payload = b->data + 1;
    }
    return b;
}

eio_buf *eio_buf_packet(int type, const void *payload, size_t len)
{
    eio_buf *b = buf_alloc(len + 1);

    if (!b)
        return NULL;
    b->data[0] = (unsigned char)('0' + type);
    if (len)
        memcpy(b->data + 1, payload, len);
    return b;
}

eio_buf *eio_buf_ref(eio_buf *b)
{
    b->refs++;
    return b;
}

void eio_buf_unref(eio_buf *b)
{
    if (b && --b->refs == 0)
        free(b);
}

int eio_grow(uint8_t **buf, size_t *cap, size_t need, size_t first, size_t max)
{
    size_t c = *cap ? *cap : first;
    uint8_t *nb;

    if (need <= *cap)
        return 0;
    while (c < need)
        c *= 2;
    if (c > max)
        c = max;
    nb = realloc(*buf, c);
    if (!nb)
        return -1;
    *buf = nb;
    *cap = c;
    return 0;
}
