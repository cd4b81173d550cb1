/* Errors as values (shared/error.c): every code has one HTTP status and one
 * name, both ways round, and its JSON body is escaped and bounded. */
#include "check.h"
#include "error.h"

int main(void)
{
    /* The table of API.md section 3, both ways round. */
    static const struct {
        enum msg_code code;
        int status;
        const char *name;
    } want[] = {
        {MSG_INVALID_REQUEST, 400, "invalid_request"},
        {MSG_UNAUTHORIZED, 401, "unauthorized"},
        {MSG_FORBIDDEN, 403, "forbidden"},
        {MSG_NOT_FOUND, 404, "not_found"},
        {MSG_METHOD_NOT_ALLOWED, 405, "method_not_allowed"},
        {MSG_CONFLICT, 409, "conflict"},
        {MSG_PAYLOAD_TOO_LARGE, 413, "payload_too_large"},
        {MSG_UNSUPPORTED_MEDIA, 415, "unsupported_media_type"},
        {MSG_RATE_LIMITED, 429, "rate_limited"},
        {MSG_INTERNAL, 500, "internal"},
        {MSG_UNAVAILABLE, 503, "unavailable"},
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        CHECK_INT(msg_code_status(want[i].code), want[i].status);
        CHECK_STR(msg_code_name(want[i].code), want[i].name);
        CHECK_INT(msg_code_from_status(want[i].status), want[i].code);
        CHECK_INT(msg_code_from_name(want[i].name), want[i].code);
    }
    CHECK_INT(msg_code_status(MSG_OK), 200);
    CHECK_INT(msg_code_from_status(200), MSG_OK);

    /* Unknown statuses and names are internal errors, never "ok". */
    CHECK_INT(msg_code_from_status(418), MSG_INTERNAL);
    CHECK_INT(msg_code_from_status(0), MSG_INTERNAL);
    CHECK_INT(msg_code_from_name("ok"), MSG_INTERNAL);
    CHECK_INT(msg_code_from_name("Not_Found"), MSG_INTERNAL);
    CHECK_INT(msg_code_from_name(""), MSG_INTERNAL);
    CHECK_INT(msg_code_from_name(NULL), MSG_INTERNAL);

    CHECK_STR(msg_status_reason(201), "Created");
    CHECK_STR(msg_status_reason(204), "No Content");
    CHECK_STR(msg_status_reason(413), "Payload Too Large");
    CHECK_STR(msg_status_reason(503), "Service Unavailable");
    CHECK_STR(msg_status_reason(502), "Internal Server Error");
    CHECK_STR(msg_status_reason(418), "Error");

    char buf[256];
    struct msg_error e = msg_error_make(MSG_NOT_FOUND, "Conversation not found");
    CHECK_INT(msg_error_json(&e, buf, sizeof buf), 65);
    CHECK_STR(buf, "{\"error\":{\"code\":\"not_found\",\"message\":\"Conversation not found\"}}");
    /* No message: the code's name stands in. */
    e = msg_error_make(MSG_UNAVAILABLE, NULL);
    CHECK(msg_error_json(&e, buf, sizeof buf) > 0);
    CHECK_STR(buf, "{\"error\":{\"code\":\"unavailable\",\"message\":\"unavailable\"}}");
    /* A message is escaped, whatever it holds. */
    e = msg_error_make(MSG_INVALID_REQUEST, "bad \"q\"\\\n\x01");
    CHECK(msg_error_json(&e, buf, sizeof buf) > 0);
    CHECK_STR(buf, "{\"error\":{\"code\":\"invalid_request\",\"message\":\"bad \\\"q\\\"\\\\\\n\\u0001\"}}");
    /* Too small a buffer: -1, never a cut body. */
    e = msg_error_make(MSG_NOT_FOUND, "Conversation not found");
    CHECK_INT(msg_error_json(&e, buf, 65), -1);
    CHECK_INT(msg_error_json(&e, buf, 66), 65);
    CHECK_INT(msg_error_json(&e, buf, 0), -1);
    /* MSG_NO_ERROR is the zero value. */
    e = MSG_NO_ERROR;
    CHECK(e.code == MSG_OK && e.message == NULL);
    return check_report("error");
}
