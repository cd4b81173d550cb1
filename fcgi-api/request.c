#include "request.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *param(struct http_req *req, const char *name)
{
    return req->fcgi ? FCGX_GetParam(name, req->fcgi->envp) : getenv(name);
}

int http_req_init(struct http_req *req, FCGX_Request *fcgi)
{
    memset(req, 0, sizeof *req);
    req->fcgi = fcgi;
    const char *m = param(req, "REQUEST_METHOD");
    req->method = m ? m : "GET";
    const char *q = param(req, "QUERY_STRING");
    req->query = q ? q : "";
    req->content_type = param(req, "CONTENT_TYPE");
    req->authorization = param(req, "HTTP_AUTHORIZATION");
    const char *cl = param(req, "CONTENT_LENGTH");
    req->content_length = -1;
    if (cl && *cl) {
        char *end;
        long v = strtol(cl, &end, 10);
        if (*end == '\0' && v >= 0)
            req->content_length = v;
    }
    /* The raw request URI is routed: ids must be plain digits, so an
     * encoded path is simply not found or not valid. */
    const char *uri = param(req, "REQUEST_URI");
    size_t n;
    if (uri && *uri) {
        n = strcspn(uri, "?#");
    } else {
        const char *sn = param(req, "SCRIPT_NAME"), *pi = param(req, "PATH_INFO");
        snprintf(req->path, sizeof req->path, "%s%s", sn ? sn : "", pi ? pi : "");
        uri = req->path;
        n = strlen(req->path);
    }
    if (n >= sizeof req->path)
        return -1;
    memmove(req->path, uri, n);
    req->path[n] = '\0';
    return 0;
}

void http_req_free(struct http_req *req)
{
    free(req->body);
    req->body = NULL;
}

static int read_some(struct http_req *req, char *buf, int n, long *remaining)
{
    if (req->fcgi)
        return FCGX_GetStr(buf, n, req->fcgi->in);
    /* CGI: stdin may stay open past the body; read CONTENT_LENGTH only. */
    if (*remaining < n)
        n = (int)*remaining;
    if (n <= 0)
        return 0;
    int got = (int)fread(buf, 1, (size_t)n, stdin);
    if (got > 0)
        *remaining -= got;
    return got;
}

int http_read_body(struct http_req *req, size_t max, struct msg_error *err)
{
    size_t cap = req->content_length >= 0 && (size_t)req->content_length <= max ? (size_t)req->content_length : max;
    req->body = malloc(cap + 2);
    if (!req->body) {
        *err = msg_error_make(MSG_INTERNAL, "Out of memory");
        return -1;
    }
    size_t len = 0;
    bool too_large = req->content_length >= 0 && (size_t)req->content_length > max;
    /* Read everything that was sent, keeping at most max (+1 to detect more). */
    char sink[4096];
    long remaining = req->content_length < 0 ? 0 : req->content_length;
    for (;;) {
        int got;
        if (!too_large && len <= cap) {
            got = read_some(req, req->body + len, (int)(cap + 1 - len), &remaining);
            if (got > 0)
                len += (size_t)got;
            if (len > max)
                too_large = true;
        } else {
            got = read_some(req, sink, sizeof sink, &remaining);
        }
        if (got <= 0)
            break;
    }
    req->body[len > cap ? cap : len] = '\0';
    req->body_len = len > cap ? cap : len;
    if (too_large) {
        *err = msg_error_make(MSG_PAYLOAD_TOO_LARGE, "Body larger than the limit");
        return -1;
    }
    return 0;
}

void http_send_json(struct http_req *req, int status, const char *extra_headers, const char *body, size_t len)
{
    char head[512];
    int hn = snprintf(head, sizeof head,
                      "Status: %d %s\r\nContent-Type: application/json; charset=utf-8\r\n"
                      "Content-Length: %zu\r\nCache-Control: no-store\r\n%s\r\n",
                      status, msg_status_reason(status), len, extra_headers ? extra_headers : "");
    if (hn < 0 || hn >= (int)sizeof head)
        return;
    if (req->fcgi) {
        FCGX_PutStr(head, hn, req->fcgi->out);
        FCGX_PutStr(body, (int)len, req->fcgi->out);
    } else {
        fwrite(head, 1, (size_t)hn, stdout);
        fwrite(body, 1, len, stdout);
        fflush(stdout);
    }
    req->answered = true;
}

void http_send_error(struct http_req *req, const struct msg_error *e, const char *extra_headers)
{
    char body[512];
    int n = msg_error_json(e, body, sizeof body);
    if (n < 0) {
        struct msg_error fallback = msg_error_make(e->code, NULL);
        n = msg_error_json(&fallback, body, sizeof body);
    }
    http_send_json(req, msg_code_status(e->code), extra_headers, body, (size_t)n);
}
