/* The route table (fcgi-api/router.c): method + path to a handler, 404 vs
 * 405 with its Allow header, ":id" captures and their bound. */
#include "check.h"
#include "handlers.h"
#include "router.h"

#define CONV "/api/messaging/conversations"

static struct route_match m;

/* Matches and says whether it reached `h`. */
static int routes_to(const char *method, const char *path, api_handler h)
{
    router_match(method, path, &m);
    return m.route != NULL && m.route->handler == h && m.allow == NULL;
}

/* No route: allow is the path's Allow header (405), or NULL (404). */
static void refused(const char *method, const char *path, const char *allow)
{
    router_match(method, path, &m);
    CHECK(m.route == NULL);
    if (allow)
        CHECK_STR(m.allow, allow);
    else
        CHECK(m.allow == NULL);
}

int main(void)
{
    /* Every route of API.md section 4. */
    CHECK(routes_to("GET", "/api/health", h_health) && m.route->auth == ROUTE_PUBLIC);
    CHECK(routes_to("HEAD", "/api/health", h_health));
    CHECK(routes_to("POST", CONV, h_create_conversation) && m.route->auth == ROUTE_TOKEN);
    CHECK(routes_to("GET", CONV, h_list_conversations) && m.ncaptures == 0);
    CHECK(routes_to("GET", CONV "/12", h_get_conversation) && m.ncaptures == 1);
    CHECK_STR(m.captures[0], "12");
    CHECK(routes_to("POST", CONV "/7/messages", h_send_message));
    CHECK_STR(m.captures[0], "7");
    CHECK(routes_to("GET", CONV "/7/messages", h_list_messages));
    CHECK(routes_to("POST", CONV "/7/read", h_mark_read));
    CHECK(routes_to("GET", "/api/messaging/unread-count", h_unread_count));
    CHECK(routes_to("GET", "/api/messaging/search-users", h_search_users));
    CHECK(routes_to("GET", "/api/messaging/available-users", h_available_users));
    CHECK(routes_to("GET", "/api/messaging/me", h_me));
    /* Every route but health needs a token. */
    CHECK(routes_to("GET", "/api/messaging/me", h_me) && m.route->auth == ROUTE_TOKEN);

    /* The path exists, not the method: 405 with the path's methods. */
    refused("DELETE", CONV, "GET, POST");
    refused("PUT", CONV "/7", "GET");
    refused("DELETE", CONV "/7/messages", "GET, POST");
    refused("GET", CONV "/7/read", "POST");
    refused("POST", "/api/health", "GET, HEAD");
    refused("get", "/api/health", "GET, HEAD"); /* methods are case-sensitive */

    /* No such path: 404. */
    refused("GET", "/", NULL);
    refused("GET", "", NULL);
    refused("GET", "/api", NULL);
    refused("GET", "/api/health/", NULL); /* a trailing slash is another path */
    refused("GET", CONV "/", NULL);       /* an empty capture matches nothing */
    refused("GET", CONV "//messages", NULL);
    refused("GET", CONV "/7/messages/8", NULL);
    refused("GET", "/api/messaging/conversationsx", NULL);
    refused("GET", "/API/health", NULL);
    refused("GET", "api/health", NULL);

    /* A capture is any segment (the handler checks it is an id), cut to
     * fit with capture_too_long set, never overrun. */
    CHECK(routes_to("GET", CONV "/abc", h_get_conversation));
    CHECK_STR(m.captures[0], "abc");
    CHECK(!m.capture_too_long);
    CHECK(routes_to("GET", CONV "/123456789012345", h_get_conversation)); /* 15: fits */
    CHECK(!m.capture_too_long);
    CHECK(routes_to("GET", CONV "/1234567890123456/messages", h_list_messages)); /* 16: does not */
    CHECK(m.capture_too_long);
    CHECK_INT(strlen(m.captures[0]), sizeof m.captures[0] - 1);
    char longpath[600];
    snprintf(longpath, sizeof longpath, CONV "/%0500d/read", 1);
    CHECK(routes_to("POST", longpath, h_mark_read) && m.capture_too_long);
    /* A later match resets what an earlier one found. */
    CHECK(routes_to("GET", CONV "/5", h_get_conversation) && !m.capture_too_long);
    return check_report("router");
}
