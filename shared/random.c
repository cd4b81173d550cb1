#include "random.h"

#include <errno.h>
#include <string.h>
#include <sys/random.h>

int msg_random_bytes(void *buf, size_t n)
{
    unsigned char *p = buf;
    size_t left = n;
    while (left) {
        /* Blocks until the kernel's pool is initialised, never after;
         * a request may come back short or be interrupted: go on. */
        ssize_t r = getrandom(p, left, 0);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            int e = r < 0 && errno ? errno : EIO;
            memset(buf, 0, n);
            return -e;
        }
        p += r;
        left -= (size_t)r;
    }
    return 0;
}

int msg_random_hex(char *out, size_t cap, size_t n)
{
    static const char digits[] = "0123456789abcdef";
    unsigned char raw[64];
    if (cap == 0)
        return -EINVAL;
    out[0] = '\0';
    if (n > sizeof raw || cap < 2 * n + 1)
        return -EINVAL;
    int r = msg_random_bytes(raw, n);
    if (r < 0)
        return r;
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[raw[i] >> 4];
        out[2 * i + 1] = digits[raw[i] & 15];
    }
    out[2 * n] = '\0';
    memset(raw, 0, n);
    return 0;
}
