/* The routes of API.md section 4: one table mapping method + path to a
 * handler. Matching a path under any method first gives 404 vs 405. */
#ifndef API_ROUTER_H
#define API_ROUTER_H

#include "request.h"

struct api_ctx;

typedef void (*api_handler)(struct api_ctx *ctx);

enum route_auth { ROUTE_PUBLIC, ROUTE_TOKEN };

struct route {
    const char *method;
    const char *pattern; /* segments; ":id" captures one */
    api_handler handler;
    enum route_auth auth;
    const char *allow; /* the Allow header for this path */
};

#define ROUTE_MAX_CAPTURES 2

struct route_match {
    const struct route *route; /* NULL: no route */
    const char *allow;         /* set when the path exists but not the method */
    char captures[ROUTE_MAX_CAPTURES][16];
    int ncaptures;
    int capture_too_long; /* a captured segment did not fit */
};

void router_match(const char *method, const char *path, struct route_match *m);

#endif
