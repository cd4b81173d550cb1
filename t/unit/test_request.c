/* One request as FastCGI or CGI hands it over (fcgi-api/request.c): its
 * parameters from either source, the path bound, the body bound and
 * drained, the answer's header. CGI mode is driven through the process's
 * environment, stdin and stdout. */
#include <stdlib.h>
#include <unistd.h>

#include "check.h"
#include "request.h"

static void cgi_env(const char *method, const char *uri, const char *cl)
{
    static const char *const names[] = {"REQUEST_METHOD", "QUERY_STRING", "CONTENT_TYPE", "HTTP_AUTHORIZATION",
                                        "CONTENT_LENGTH", "REQUEST_URI",  "SCRIPT_NAME",  "PATH_INFO"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        unsetenv(names[i]);
    if (method)
        setenv("REQUEST_METHOD", method, 1);
    if (uri)
        setenv("REQUEST_URI", uri, 1);
    if (cl)
        setenv("CONTENT_LENGTH", cl, 1);
}

/* stdin now holds n bytes of s (freopen: stdin's buffer starts anew). */
static void cgi_stdin(const char *s, size_t n)
{
    char path[] = "/tmp/test_request.XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0 && write(fd, s, n) == (ssize_t)n);
    close(fd);
    CHECK(freopen(path, "r", stdin) != NULL);
    unlink(path);
}

struct sender {
    void (*send)(struct http_req *);
};

static void send_with(void *arg)
{
    struct http_req req;
    cgi_env("GET", "/api/health", NULL);
    http_req_init(&req, NULL);
    ((const struct sender *)arg)->send(&req);
    CHECK(req.answered);
}

/* What one answer wrote to stdout. */
static void answer(void (*send)(struct http_req *), char *out, size_t cap)
{
    struct sender s = {send};
    check_capture(STDOUT_FILENO, send_with, &s, out, cap);
}

static void send_ok(struct http_req *req) { http_send_json(req, 201, "X-A: b\r\n", "{\"id\":1}", 8); }
static void send_err(struct http_req *req)
{
    struct msg_error e = msg_error_make(MSG_NOT_FOUND, "No \"such\" thing");
    http_send_error(req, &e, NULL);
}
static void send_err_long(struct http_req *req)
{
    static char msg[600];
    memset(msg, 'm', sizeof msg - 1);
    struct msg_error e = msg_error_make(MSG_INVALID_REQUEST, msg);
    http_send_error(req, &e, NULL);
}

/* Reads a CGI body of `sent` bytes declared as content_length, up to max. */
static int read_body(const char *cl, const char *sent, size_t max, struct http_req *req, struct msg_error *e)
{
    cgi_env("POST", "/x", cl);
    cgi_stdin(sent, strlen(sent));
    http_req_init(req, NULL);
    *e = MSG_NO_ERROR;
    return http_read_body(req, max, e);
}

int main(void)
{
    struct http_req req;
    /* CGI: the environment; the path without its query or fragment. */
    cgi_env("POST", "/api/messaging/conversations/3/messages?x=1#f", "12");
    setenv("QUERY_STRING", "x=1", 1);
    setenv("CONTENT_TYPE", "application/json", 1);
    setenv("HTTP_AUTHORIZATION", "Bearer t", 1);
    CHECK_INT(http_req_init(&req, NULL), 0);
    CHECK(req.fcgi == NULL && !req.answered && req.body == NULL);
    CHECK_STR(req.method, "POST");
    CHECK_STR(req.path, "/api/messaging/conversations/3/messages");
    CHECK_STR(req.query, "x=1");
    CHECK_STR(req.content_type, "application/json");
    CHECK_STR(req.authorization, "Bearer t");
    CHECK_INT(req.content_length, 12);
    http_req_free(&req);

    /* Defaults: GET, an empty query, no length. */
    cgi_env(NULL, "/a", NULL);
    CHECK_INT(http_req_init(&req, NULL), 0);
    CHECK_STR(req.method, "GET");
    CHECK_STR(req.query, "");
    CHECK(req.content_type == NULL && req.authorization == NULL && req.content_length == -1);
    /* A length that is not a plain non-negative number is no length. */
    static const char *const bad_cl[] = {"", "-1", "12a", "abc", "1 2"};
    for (size_t i = 0; i < sizeof bad_cl / sizeof bad_cl[0]; i++) {
        cgi_env("POST", "/a", bad_cl[i]);
        http_req_init(&req, NULL);
        CHECK_INT(req.content_length, -1);
    }
    cgi_env("POST", "/a", "0");
    http_req_init(&req, NULL);
    CHECK_INT(req.content_length, 0);

    /* No REQUEST_URI: SCRIPT_NAME + PATH_INFO (plain CGI servers). */
    cgi_env("GET", NULL, NULL);
    setenv("SCRIPT_NAME", "/api", 1);
    setenv("PATH_INFO", "/health", 1);
    CHECK_INT(http_req_init(&req, NULL), 0);
    CHECK_STR(req.path, "/api/health");
    cgi_env("GET", NULL, NULL);
    CHECK_INT(http_req_init(&req, NULL), 0);
    CHECK_STR(req.path, "");

    /* The path bound: 511 bytes route, 512 do not (the query is not counted). */
    char uri[700];
    memset(uri, 'a', sizeof uri);
    uri[0] = '/';
    uri[511] = '\0';
    cgi_env("GET", uri, NULL);
    CHECK_INT(http_req_init(&req, NULL), 0);
    CHECK_INT(strlen(req.path), 511);
    uri[511] = '?';
    uri[600] = '\0';
    cgi_env("GET", uri, NULL);
    CHECK_INT(http_req_init(&req, NULL), 0);
    uri[511] = 'a';
    uri[512] = '\0';
    cgi_env("GET", uri, NULL);
    CHECK_INT(http_req_init(&req, NULL), -1);

    /* FastCGI: the same parameters from the request's own environment. */
    char *envp[] = {"REQUEST_METHOD=DELETE", "REQUEST_URI=/api/x?y",        "QUERY_STRING=y",
                    "CONTENT_LENGTH=5",      "HTTP_AUTHORIZATION=Bearer f", NULL};
    FCGX_Request fr;
    memset(&fr, 0, sizeof fr);
    fr.envp = envp;
    cgi_env("GET", "/from-the-environment", NULL); /* not looked at */
    CHECK_INT(http_req_init(&req, &fr), 0);
    CHECK(req.fcgi == &fr);
    CHECK_STR(req.method, "DELETE");
    CHECK_STR(req.path, "/api/x");
    CHECK_STR(req.query, "y");
    CHECK_STR(req.authorization, "Bearer f");
    CHECK(req.content_type == NULL && req.content_length == 5);

    /* CGI bodies: exactly CONTENT_LENGTH bytes are read, NUL-terminated. */
    struct msg_error e;
    CHECK_INT(read_body("5", "hello, and what follows", 100, &req, &e), 0);
    CHECK_INT(req.body_len, 5);
    CHECK_STR(req.body, "hello");
    http_req_free(&req);
    CHECK(req.body == NULL);
    CHECK_INT(read_body("4", "abcd", 4, &req, &e), 0); /* at the limit */
    CHECK_STR(req.body, "abcd");
    http_req_free(&req);
    CHECK_INT(read_body("0", "ignored", 10, &req, &e), 0);
    CHECK(req.body_len == 0 && req.body && req.body[0] == '\0');
    http_req_free(&req);
    /* Declared beyond the limit: refused with payload_too_large, what was
     * sent drained; the part kept is bounded. */
    CHECK_INT(read_body("9", "123456789", 4, &req, &e), -1);
    CHECK_INT(e.code, MSG_PAYLOAD_TOO_LARGE);
    CHECK(req.body_len <= 4 && strlen(req.body) == req.body_len);
    CHECK(fgetc(stdin) == EOF);
    http_req_free(&req);
    /* No length: nothing is read in CGI mode (stdin may stay open). */
    CHECK_INT(read_body(NULL, "abc", 10, &req, &e), 0);
    CHECK_INT(req.body_len, 0);
    http_req_free(&req);
    /* Fewer bytes than declared: what came. */
    CHECK_INT(read_body("10", "abc", 100, &req, &e), 0);
    CHECK_STR(req.body, "abc");
    http_req_free(&req);

    /* Answers: the CGI status line and headers, then the body. */
    char out[2048];
    answer(send_ok, out, sizeof out);
    CHECK_STR(out, "Status: 201 Created\r\nContent-Type: application/json; charset=utf-8\r\n"
                   "Content-Length: 8\r\nCache-Control: no-store\r\nX-A: b\r\n\r\n{\"id\":1}");
    answer(send_err, out, sizeof out);
    CHECK_STR(out, "Status: 404 Not Found\r\nContent-Type: application/json; charset=utf-8\r\n"
                   "Content-Length: 60\r\nCache-Control: no-store\r\n\r\n"
                   "{\"error\":{\"code\":\"not_found\",\"message\":\"No \\\"such\\\" thing\"}}");
    /* A message too long for the error body: the code's name stands in. */
    answer(send_err_long, out, sizeof out);
    CHECK(strstr(out, "Status: 400 Bad Request\r\n") == out);
    CHECK(strstr(out, "\r\n\r\n{\"error\":{\"code\":\"invalid_request\",\"message\":\"invalid_request\"}}") != NULL);
    return check_report("request");
}
