#include "jsonw.h"

#include <stdio.h>
#include <string.h>

void jsonw_init(struct jsonw *w, char *buf, size_t cap)
{
    w->buf = buf;
    w->cap = cap;
    w->len = 0;
    w->overflow = cap == 0;
}

static void put(struct jsonw *w, const char *s, size_t n)
{
    if (w->overflow || w->len + n + 1 > w->cap) {
        w->overflow = true;
        return;
    }
    memcpy(w->buf + w->len, s, n);
    w->len += n;
}

void jsonw_raw(struct jsonw *w, const char *s) { put(w, s, strlen(s)); }

void jsonw_string(struct jsonw *w, const char *s)
{
    put(w, "\"", 1);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        char esc[8];
        switch (*p) {
        case '"': put(w, "\\\"", 2); break;
        case '\\': put(w, "\\\\", 2); break;
        case '\n': put(w, "\\n", 2); break;
        case '\r': put(w, "\\r", 2); break;
        case '\t': put(w, "\\t", 2); break;
        default:
            if (*p < 0x20) {
                snprintf(esc, sizeof esc, "\\u%04x", *p);
                put(w, esc, 6);
            } else {
                put(w, (const char *)p, 1);
            }
        }
    }
    put(w, "\"", 1);
}

void jsonw_long(struct jsonw *w, long v)
{
    char num[24];
    int n = snprintf(num, sizeof num, "%ld", v);
    put(w, num, (size_t)n);
}

int jsonw_finish(struct jsonw *w)
{
    if (w->overflow)
        return -1;
    w->buf[w->len] = '\0';
    return (int)w->len;
}
