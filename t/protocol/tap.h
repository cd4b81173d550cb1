/* Minimal assertions for the protocol unit tests: every CHECK counts, a
 * failure prints where, and the program's exit status says if any failed. */
#ifndef PROTO_TAP_H
#define PROTO_TAP_H

#include <stdio.h>

static int tap_pass, tap_fail;

#define CHECK(cond)                                                           \
	do {                                                                  \
		if (cond) {                                                   \
			tap_pass++;                                           \
		} else {                                                      \
			tap_fail++;                                           \
			fprintf(stderr, "FAIL %s:%d: %s\n", __FILE__, __LINE__, #cond); \
		}                                                             \
	} while (0)

static inline int tap_done(const char *name)
{
	printf("%s: %d passed, %d failed\n", name, tap_pass, tap_fail);
	return tap_fail ? 1 : 0;
}

#endif
