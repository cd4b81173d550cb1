#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "error.h"
#include "sbuf.h"

static const struct {
    int status;
    const char *name;
} table[] = {
    [MSG_OK] = {200, "ok"},
    [MSG_INVALID_REQUEST] = {400, "invalid_request"},
    [MSG_UNAUTHORIZED] = {401, "unauthorized"},
    [MSG_FORBIDDEN] = {403, "forbidden"},
    [MSG_NOT_FOUND] = {404, "not_found"},
    [MSG_METHOD_NOT_ALLOWED] = {405, "method_not_allowed"},
    [MSG_CONFLICT] = {409, "conflict"},
    [MSG_PAYLOAD_TOO_LARGE] = {413, "payload_too_large"},
    [MSG_UNSUPPORTED_MEDIA] = {415, "unsupported_media_type"},
    [MSG_RATE_LIMITED] = {429, "rate_limited"},
    [MSG_INTERNAL] = {500, "internal"},
    [MSG_UNAVAILABLE] = {503, "unavailable"},
};

int msg_code_status(enum msg_code code) { return table[code].status; }
const char *msg_code_name(enum msg_code code) { return table[code].name; }

enum msg_code msg_code_from_status(int status)
{
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++)
        if (table[i].status == status)
            return (enum msg_code)i;
    return MSG_INTERNAL;
}

enum msg_code msg_code_from_name(const char *name)
{
    for (size_t i = 1; name && i < sizeof table / sizeof table[0]; i++)
        if (strcmp(table[i].name, name) == 0)
            return (enum msg_code)i;
    return MSG_INTERNAL;
}

const char *msg_status_reason(int status)
{
    switch (status) {
    case 200:
        return "OK";
    case 201:
        return "Created";
    case 204:
        return "No Content";
    case 400:
        return "Bad Request";
    case 401:
        return "Unauthorized";
    case 403:
        return "Forbidden";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 409:
        return "Conflict";
    case 413:
        return "Payload Too Large";
    case 415:
        return "Unsupported Media Type";
    case 429:
        return "Too Many Requests";
    case 503:
        return "Service Unavailable";
    default:
        return status >= 500 ? "Internal Server Error" : "Error";
    }
}

int msg_error_json(const struct msg_error *e, char *buf, size_t cap)
{
    const char *code = msg_code_name(e->code), *message = e->message ? e->message : code;
    struct sbuf b;
    sbuf_init_fixed(&b, buf, cap);
    sbuf_puts(&b, "{\"error\":{\"code\":");
    sbuf_json_string(&b, code, strlen(code));
    sbuf_puts(&b, ",\"message\":");
    sbuf_json_string(&b, message, strlen(message));
    sbuf_puts(&b, "}}");
    return sbuf_ok(&b) ? (int)b.len : -1;
}
