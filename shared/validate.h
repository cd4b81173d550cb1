/* Parsers of outside input shared by both programs: UTF-8, JSON bodies and
 * Socket.IO payloads (bounded depth), ids, query strings. Each takes a size
 * limit and fails with an `invalid_request` error. */
#ifndef MSG_VALIDATE_H
#define MSG_VALIDATE_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>

#include "error.h"
#include "msg_limits.h"

/* Strict UTF-8: no overlong forms, no surrogates, nothing above U+10FFFF. */
bool msg_utf8_valid(const char *s, size_t n);

/* The value of one hexadecimal digit (either case), or -1: the only hex
 * decoder of the project (JSON \u escapes, percent-encoding). */
int msg_hex_digit(int c);

/* The value of one base64 digit, or -1: url-safe ('-', '_': JWT) or
 * standard ('+', '/': Engine.IO binary packets). Padding is the caller's. */
int msg_b64_digit(int c, bool url);

/* Parses a whole JSON text of n bytes: valid UTF-8, strict JSON (json-c's
 * extensions refused), nested at most MSG_JSON_MAX_DEPTH, no escaped lone
 * surrogate (a \ud800 that no UTF-8 text can hold: refused, never replaced),
 * no bare `null`, nothing after it but white space. The one JSON parser of
 * outside input, for REST bodies and Socket.IO packets alike. Returns a new
 * reference the caller puts, or NULL with *err (invalid_request; internal
 * when out of memory). */
json_object *msg_json_parse(const char *s, size_t n, struct msg_error *err);

/* Parses a positive 32-bit decimal string ("0", signs, spaces: refused). */
bool msg_parse_id32(const char *s, int *out);

/* A positive 32-bit id given as a JSON integer or a decimal string. */
bool msg_json_id(json_object *v, int *out);

/* A JSON string without NUL: returns it (owned by v) or NULL. */
const char *msg_json_text(json_object *v);

/* Finds `name` in a query string and percent-decodes its value into buf.
 * Returns 1 when found, 0 when absent, -1 when undecodable or too long. */
int msg_query_get(const char *qs, const char *name, char *buf, size_t cap);

/* An integer query parameter within [min, max]; def when absent. On a bad
 * value returns -1 with a message naming the parameter in *err. */
int msg_query_long(const char *qs, const char *name, long def, long min, long max, long *out, struct msg_error *err);

/* Trims Unicode-agnostic ASCII white space in place; returns the start. */
char *msg_trim_ascii(char *s);

#endif
