/* shared/random.c: the one source of randomness, failing hard. The test
 * links its own getrandom() (the executable's definition wins over the C
 * library's), to make the kernel fail, come back short or be interrupted. */
#include <errno.h>
#include <stdlib.h>
#include <sys/random.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "check.h"
#include "random.h"

static enum { REAL, FAIL, SHORT, EINTR_ONCE, ZERO } mode = REAL;
static int calls;

ssize_t getrandom(void *buf, size_t n, unsigned flags)
{
    calls++;
    switch (mode) {
    case FAIL:
        errno = ENOSYS;
        return -1;
    case ZERO:
        return 0;
    case EINTR_ONCE:
        if (calls == 1) {
            errno = EINTR;
            return -1;
        }
        break;
    case SHORT:
        if (n > 3)
            n = 3;
        break;
    case REAL:
        break;
    }
    return syscall(SYS_getrandom, buf, n, flags);
}

static int all_zero(const unsigned char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i])
            return 0;
    return 1;
}

int main(void)
{
    unsigned char a[32], b[32];
    char hex[65];

    mode = REAL;
    CHECK(msg_random_bytes(a, sizeof a) == 0 && msg_random_bytes(b, sizeof b) == 0);
    CHECK(memcmp(a, b, sizeof a) != 0);
    CHECK(msg_random_bytes(a, 0) == 0);

    /* short reads are completed, interruptions retried */
    mode = SHORT;
    calls = 0;
    memset(a, 0, sizeof a);
    CHECK(msg_random_bytes(a, sizeof a) == 0 && calls == 11 && !all_zero(a + 28, 4));
    mode = EINTR_ONCE;
    calls = 0;
    CHECK(msg_random_bytes(a, sizeof a) == 0 && calls == 2);

    /* failure: an error value, and nothing half-random left behind */
    mode = FAIL;
    memset(a, 0xaa, sizeof a);
    CHECK(msg_random_bytes(a, sizeof a) == -ENOSYS && all_zero(a, sizeof a));
    mode = ZERO; /* a kernel that gives nothing must not loop forever */
    CHECK(msg_random_bytes(a, sizeof a) == -EIO && all_zero(a, sizeof a));

    /* hex */
    mode = REAL;
    CHECK(msg_random_hex(hex, sizeof hex, 16) == 0 && strlen(hex) == 32);
    CHECK(strspn(hex, "0123456789abcdef") == 32);
    CHECK(msg_random_hex(hex, 32, 16) == -EINVAL && hex[0] == '\0'); /* no room for the NUL */
    CHECK(msg_random_hex(hex, sizeof hex, 65) == -EINVAL);
    CHECK(msg_random_hex(hex, 0, 1) == -EINVAL);
    mode = FAIL;
    strcpy(hex, "stale");
    CHECK(msg_random_hex(hex, sizeof hex, 16) == -ENOSYS && hex[0] == '\0');
    return check_report("random");
}
