/* A tiny JSON writer into a caller-owned fixed buffer, for small answers
 * (errors, health) that do not deserve a json-c object tree. */
#ifndef MSG_JSONW_H
#define MSG_JSONW_H

#include <stdbool.h>
#include <stddef.h>

struct jsonw {
    char *buf;
    size_t cap, len;
    bool overflow;
};

void jsonw_init(struct jsonw *w, char *buf, size_t cap);
void jsonw_raw(struct jsonw *w, const char *s);
/* Writes s as a JSON string literal (escaping quotes, backslash, controls). */
void jsonw_string(struct jsonw *w, const char *s);
void jsonw_long(struct jsonw *w, long v);
/* NUL-terminates; returns the length or -1 on overflow. */
int jsonw_finish(struct jsonw *w);

#endif
