/* The one source of randomness of both programs and the protocol layers:
 * the kernel's (getrandom). There is no fallback: when it fails, the caller
 * refuses what needed it (a session id, a recovery id) instead of using
 * something guessable. */
#ifndef MSG_RANDOM_H
#define MSG_RANDOM_H

#include <stddef.h>

/* Fills buf with n random bytes. Returns 0, or a negative errno value
 * (buf is then zeroed, so that nothing half-random is used by mistake). */
int msg_random_bytes(void *buf, size_t n);

/* n random bytes as 2n lowercase hex digits and a NUL in out (cap >= 2n+1).
 * Returns 0, or a negative errno value (-EINVAL when cap is too small); out
 * is then the empty string. */
int msg_random_hex(char *out, size_t cap, size_t n);

#endif
