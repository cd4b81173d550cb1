/* The string builder of the project: a byte buffer, always NUL-terminated,
 * growing on the heap (owned by the struct; free with sbuf_free), or filling
 * a caller's fixed buffer (sbuf_init_fixed: small answers that need no heap).
 * Running out of memory or room is sticky: sbuf_ok() tells, and the text is
 * then unusable. JSON is written with it too: sbuf_json_string for strings,
 * sbuf_puts/sbuf_printf for the rest. */
#ifndef MSG_SBUF_H
#define MSG_SBUF_H

#include <stdbool.h>
#include <stddef.h>

struct sbuf {
    char *p;
    size_t len, cap;
    bool failed;
    bool fixed; /* p is the caller's: never grown, never freed */
};

void sbuf_init(struct sbuf *b);
/* Writes into buf (cap bytes, the NUL included); buf must outlive b. */
void sbuf_init_fixed(struct sbuf *b, char *buf, size_t cap);
void sbuf_free(struct sbuf *b);
void sbuf_put(struct sbuf *b, const char *s, size_t n);
void sbuf_puts(struct sbuf *b, const char *s);
void sbuf_printf(struct sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* s as a JSON string literal, escaped as JSON.stringify does. */
void sbuf_json_string(struct sbuf *b, const char *s, size_t n);
static inline bool sbuf_ok(const struct sbuf *b) { return !b->failed; }

#endif
