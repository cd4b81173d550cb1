/* Errors as values: one code that maps to an HTTP status and to the
 * Socket.IO `error` event's code (API.md section 3). */
#ifndef MSG_ERROR_H
#define MSG_ERROR_H

enum msg_code {
    MSG_OK = 0,
    MSG_INVALID_REQUEST,    /* 400 */
    MSG_UNAUTHORIZED,       /* 401 */
    MSG_FORBIDDEN,          /* 403 */
    MSG_NOT_FOUND,          /* 404 */
    MSG_METHOD_NOT_ALLOWED, /* 405 */
    MSG_CONFLICT,           /* 409 */
    MSG_PAYLOAD_TOO_LARGE,  /* 413 */
    MSG_UNSUPPORTED_MEDIA,  /* 415 */
    MSG_RATE_LIMITED,       /* 429 */
    MSG_INTERNAL,           /* 500 */
    MSG_UNAVAILABLE,        /* 503 */
};

/* A static message: errors never own memory, so they can be returned freely. */
struct msg_error {
    enum msg_code code;
    const char *message;
};

static inline struct msg_error msg_error_make(enum msg_code code, const char *message)
{
    struct msg_error e = {code, message};
    return e;
}
#define MSG_NO_ERROR msg_error_make(MSG_OK, NULL)

int msg_code_status(enum msg_code code);
const char *msg_code_name(enum msg_code code);
const char *msg_status_reason(int status);
/* The code whose HTTP status is `status` (500 when none). */
enum msg_code msg_code_from_status(int status);
/* The code named `name` ("not_found"...), MSG_INTERNAL when unknown. */
enum msg_code msg_code_from_name(const char *name);

/* Writes {"error":{"code":"...","message":"..."}} into buf (JSON-escaped);
 * returns the length, or -1 if it does not fit. */
int msg_error_json(const struct msg_error *e, char *buf, size_t cap);

#endif
