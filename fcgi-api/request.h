/* One HTTP request as FastCGI or plain CGI hands it over, and its answer.
 * Handlers see only this interface, so the same code serves both. */
#ifndef API_REQUEST_H
#define API_REQUEST_H

#include <fcgiapp.h>
#include <stdbool.h>
#include <stddef.h>

#include "error.h"

struct http_req {
    FCGX_Request *fcgi; /* NULL in CGI mode (environment and stdio) */
    const char *method;
    char path[512];    /* raw path, without the query string */
    const char *query; /* never NULL */
    const char *content_type;
    const char *authorization;
    long content_length; /* -1 when absent */
    char *body;          /* owned, NUL-terminated, after http_read_body() */
    size_t body_len;
    bool answered;
};

/* Fills req from the request's parameters; returns -1 when the path is too
 * long to route. */
int http_req_init(struct http_req *req, FCGX_Request *fcgi);
void http_req_free(struct http_req *req);

/* Reads the body up to max bytes: -1 with `payload_too_large` beyond that
 * (the rest is drained so the connection stays usable). */
int http_read_body(struct http_req *req, size_t max, struct msg_error *err);

/* Sends status, JSON body and optional extra header lines ("Name: v\r\n"). */
void http_send_json(struct http_req *req, int status, const char *extra_headers, const char *body, size_t len);
void http_send_error(struct http_req *req, const struct msg_error *e, const char *extra_headers);

#endif
