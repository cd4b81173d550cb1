/* Preloaded into one gateway by gw-hardening.test.mjs: getrandom() fails
 * for requests of exactly 16 bytes (a recovery pid, shared/random.c's
 * msg_random_hex(..., 16)), as a kernel without randomness would; every
 * other request goes to the kernel. */
#define _GNU_SOURCE
#include <errno.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <unistd.h>

ssize_t getrandom(void *buf, size_t n, unsigned flags);

ssize_t getrandom(void *buf, size_t n, unsigned flags)
{
    if (n == 16) {
        errno = ENOSYS;
        return -1;
    }
    return syscall(SYS_getrandom, buf, n, flags);
}
