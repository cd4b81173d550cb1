/* A growable byte buffer (heap, owned by the struct; free with sbuf_free).
 * Out of memory is sticky: sbuf_ok() tells, and the text is then unusable. */
#ifndef MSG_SBUF_H
#define MSG_SBUF_H

#include <stdbool.h>
#include <stddef.h>

struct sbuf {
    char *p;
    size_t len, cap;
    bool failed;
};

void sbuf_init(struct sbuf *b);
void sbuf_free(struct sbuf *b);
void sbuf_put(struct sbuf *b, const char *s, size_t n);
void sbuf_puts(struct sbuf *b, const char *s);
void sbuf_printf(struct sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* s as a JSON string literal, escaped as JSON.stringify does. */
void sbuf_json_string(struct sbuf *b, const char *s, size_t n);
static inline bool sbuf_ok(const struct sbuf *b) { return !b->failed; }

#endif
