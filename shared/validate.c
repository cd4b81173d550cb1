#include "validate.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

bool msg_utf8_valid(const char *str, size_t n)
{
    const unsigned char *s = (const unsigned char *)str;
    size_t i = 0;
    while (i < n) {
        unsigned c = s[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t len;
        unsigned cp;
        if (c >= 0xc2 && c <= 0xdf) {
            len = 2;
            cp = c & 0x1f;
        } else if (c >= 0xe0 && c <= 0xef) {
            len = 3;
            cp = c & 0x0f;
        } else if (c >= 0xf0 && c <= 0xf4) {
            len = 4;
            cp = c & 0x07;
        } else {
            return false;
        }
        if (i + len > n)
            return false;
        for (size_t k = 1; k < len; k++) {
            if ((s[i + k] & 0xc0) != 0x80)
                return false;
            cp = (cp << 6) | (s[i + k] & 0x3f);
        }
        if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10ffff)) || (cp >= 0xd800 && cp <= 0xdfff))
            return false;
        i += len;
    }
    return true;
}

int msg_b64_digit(int c, bool url)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == (url ? '-' : '+'))
        return 62;
    if (c == (url ? '_' : '/'))
        return 63;
    return -1;
}

int msg_hex_digit(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* The four hex digits at s[i], or -1. */
static int hex4(const char *s, size_t n, size_t i)
{
    if (i + 4 > n)
        return -1;
    int v = 0;
    for (size_t k = i; k < i + 4; k++) {
        int d = msg_hex_digit((unsigned char)s[k]);
        if (d < 0)
            return -1;
        v = v * 16 + d;
    }
    return v;
}

/* json-c accepts more than JSON even when strict (single quotes, NaN...):
 * outside strings, only JSON's own characters may appear. */
static bool json_chars_ok(const char *s, size_t n)
{
    bool in_string = false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (in_string) {
            if ((unsigned char)c < 0x20)
                return false; /* raw control characters must be escaped */
            if (c == '\\' && i + 1 < n && s[i + 1] == 'u') {
                /* json-c turns a lone surrogate into U+FFFD: refuse it. */
                int cp = hex4(s, n, i + 2);
                if (cp >= 0xdc00 && cp <= 0xdfff)
                    return false;
                if (cp >= 0xd800 && cp <= 0xdbff) {
                    int lo = i + 7 < n && s[i + 6] == '\\' && s[i + 7] == 'u' ? hex4(s, n, i + 8) : -1;
                    if (lo < 0xdc00 || lo > 0xdfff)
                        return false;
                    i += 6;
                }
                i += 5;
            } else if (c == '\\')
                i++;
            else if (c == '"')
                in_string = false;
            continue;
        }
        if (c == '"')
            in_string = true;
        else if (!strchr(" \t\n\r{}[],:0123456789+-.eEtrufalsn", c) || c == '\0')
            return false;
    }
    return !in_string;
}

json_object *msg_json_parse(const char *s, size_t n, struct msg_error *err)
{
    if (n > INT_MAX) { /* json-c counts in int; no caller's limit comes near */
        *err = msg_error_make(MSG_PAYLOAD_TOO_LARGE, "Body too large");
        return NULL;
    }
    if (!msg_utf8_valid(s, n)) {
        *err = msg_error_make(MSG_INVALID_REQUEST, "Body must be valid UTF-8");
        return NULL;
    }
    if (!json_chars_ok(s, n)) {
        *err = msg_error_make(MSG_INVALID_REQUEST, "Body is not valid JSON");
        return NULL;
    }
    json_tokener *tok = json_tokener_new_ex(MSG_JSON_MAX_DEPTH);
    if (!tok) {
        *err = msg_error_make(MSG_INTERNAL, "Out of memory");
        return NULL;
    }
    json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
    json_object *obj = json_tokener_parse_ex(tok, s, (int)n);
    enum json_tokener_error jerr = json_tokener_get_error(tok);
    size_t used = json_tokener_get_parse_end(tok);
    if (!obj && jerr == json_tokener_continue) {
        /* A top-level number is complete only once something follows it. */
        obj = json_tokener_parse_ex(tok, " ", 1);
        jerr = json_tokener_get_error(tok);
        used = n;
    }
    json_tokener_free(tok);
    bool trailing = false;
    for (size_t i = used; i < n; i++)
        if (!isspace((unsigned char)s[i]))
            trailing = true;
    if (jerr == json_tokener_success && !obj && !trailing) {
        /* A bare `null`: valid JSON, but never a valid body or payload. */
        *err = msg_error_make(MSG_INVALID_REQUEST, "JSON null is not accepted here");
        return NULL;
    }
    if (jerr != json_tokener_success || trailing) {
        json_object_put(obj);
        *err = msg_error_make(MSG_INVALID_REQUEST,
                              jerr == json_tokener_error_depth ? "JSON nested too deeply" : "Body is not valid JSON");
        return NULL;
    }
    return obj;
}

bool msg_parse_id32(const char *s, int *out)
{
    if (!s || *s < '1' || *s > '9')
        return false;
    long v = 0;
    for (const char *p = s; *p; p++) {
        if (*p < '0' || *p > '9' || p - s >= 10)
            return false;
        v = v * 10 + (*p - '0');
    }
    if (v > INT_MAX)
        return false;
    *out = (int)v;
    return true;
}

bool msg_json_id(json_object *v, int *out)
{
    if (!v)
        return false;
    if (json_object_is_type(v, json_type_int)) {
        int64_t x = json_object_get_int64(v);
        if (x < 1 || x > 2147483647)
            return false;
        *out = (int)x;
        return true;
    }
    if (json_object_is_type(v, json_type_string)) {
        const char *s = json_object_get_string(v);
        return (size_t)json_object_get_string_len(v) == strlen(s) && msg_parse_id32(s, out);
    }
    return false;
}

const char *msg_json_text(json_object *v)
{
    if (!v || !json_object_is_type(v, json_type_string))
        return NULL;
    const char *s = json_object_get_string(v);
    /* An escaped \u0000 would make strlen disagree with the length. */
    if (strlen(s) != (size_t)json_object_get_string_len(v))
        return NULL;
    return s;
}

int msg_query_get(const char *qs, const char *name, char *buf, size_t cap)
{
    if (!qs)
        return 0;
    size_t nl = strlen(name);
    const char *p = qs;
    while (*p) {
        const char *end = strchr(p, '&');
        if (!end)
            end = p + strlen(p);
        if ((size_t)(end - p) >= nl && strncmp(p, name, nl) == 0 && (p + nl == end || p[nl] == '=')) {
            const char *v = p + nl + (p + nl < end ? 1 : 0);
            size_t o = 0;
            while (v < end) {
                int c = (unsigned char)*v;
                if (c == '+') {
                    c = ' ';
                    v++;
                } else if (c == '%') {
                    if (end - v < 3 || msg_hex_digit((unsigned char)v[1]) < 0 || msg_hex_digit((unsigned char)v[2]) < 0)
                        return -1;
                    c = msg_hex_digit((unsigned char)v[1]) * 16 + msg_hex_digit((unsigned char)v[2]);
                    v += 3;
                } else {
                    v++;
                }
                if (o + 1 >= cap)
                    return -1;
                buf[o++] = (char)c;
            }
            buf[o] = '\0';
            if (strlen(buf) != o || !msg_utf8_valid(buf, o))
                return -1;
            return 1;
        }
        p = *end ? end + 1 : end;
    }
    return 0;
}

int msg_query_long(const char *qs, const char *name, long def, long min, long max, long *out, struct msg_error *err)
{
    static __thread char msg[128];
    char buf[32];
    int r = msg_query_get(qs, name, buf, sizeof buf);
    if (r == 0) {
        *out = def;
        return 0;
    }
    bool ok = r > 0 && buf[0] >= '0' && buf[0] <= '9';
    for (const char *c = buf; ok && *c; c++)
        ok = *c >= '0' && *c <= '9';
    long v = 0;
    if (ok) {
        char *end;
        errno = 0;
        v = strtol(buf, &end, 10);
        ok = errno == 0 && *end == '\0' && v >= min && v <= max;
    }
    if (!ok) {
        snprintf(msg, sizeof msg, "%s must be an integer between %ld and %ld", name, min, max);
        *err = msg_error_make(MSG_INVALID_REQUEST, msg);
        return -1;
    }
    *out = v;
    return 0;
}

char *msg_trim_ascii(char *s)
{
    while (isspace((unsigned char)*s))
        s++;
    char *e = s + strlen(s);
    while (e > s && isspace((unsigned char)e[-1]))
        *--e = '\0';
    return s;
}
