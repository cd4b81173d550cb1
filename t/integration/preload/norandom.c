/* Preloaded into a gateway by gw-hardening.test.mjs: getrandom() fails,
 * as a kernel without randomness would, for requests of exactly
 * $NORANDOM_SIZE bytes (16: a recovery pid; 15: an Engine.IO sid; 20: a
 * Socket.IO socket id; 8: a hash table's seed); every other request goes to
 * the kernel. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <unistd.h>

ssize_t getrandom(void *buf, size_t n, unsigned flags);

ssize_t getrandom(void *buf, size_t n, unsigned flags)
{
    const char *size = getenv("NORANDOM_SIZE");

    if (size && n == (size_t)atoi(size)) {
        errno = ENOSYS;
        return -1;
    }
    return syscall(SYS_getrandom, buf, n, flags);
}
