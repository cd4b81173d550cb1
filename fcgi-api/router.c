#include "router.h"

#include <string.h>

#include "handlers.h"

#define CONV "/api/messaging/conversations"

static const struct route routes[] = {
    {"GET", "/api/health", h_health, ROUTE_PUBLIC, "GET, HEAD"},
    {"HEAD", "/api/health", h_health, ROUTE_PUBLIC, "GET, HEAD"},
    {"POST", CONV, h_create_conversation, ROUTE_TOKEN, "GET, POST"},
    {"GET", CONV, h_list_conversations, ROUTE_TOKEN, "GET, POST"},
    {"GET", CONV "/:id", h_get_conversation, ROUTE_TOKEN, "GET"},
    {"POST", CONV "/:id/messages", h_send_message, ROUTE_TOKEN, "GET, POST"},
    {"GET", CONV "/:id/messages", h_list_messages, ROUTE_TOKEN, "GET, POST"},
    {"POST", CONV "/:id/read", h_mark_read, ROUTE_TOKEN, "POST"},
    {"GET", "/api/messaging/unread-count", h_unread_count, ROUTE_TOKEN, "GET"},
    {"GET", "/api/messaging/search-users", h_search_users, ROUTE_TOKEN, "GET"},
    {"GET", "/api/messaging/available-users", h_available_users, ROUTE_TOKEN, "GET"},
    {"GET", "/api/messaging/me", h_me, ROUTE_TOKEN, "GET"},
};

/* Matches path against pattern, capturing ":id" segments. */
static int match_path(const char *pattern, const char *path, struct route_match *m)
{
    m->ncaptures = 0;
    m->capture_too_long = 0;
    const char *p = pattern, *s = path;
    while (*p) {
        if (*p != '/' || *s != '/')
            return 0;
        p++;
        s++;
        size_t pl = strcspn(p, "/"), sl = strcspn(s, "/");
        if (pl > 0 && p[0] == ':') {
            if (sl == 0 || m->ncaptures >= ROUTE_MAX_CAPTURES)
                return 0;
            if (sl >= sizeof m->captures[0]) {
                m->capture_too_long = 1;
                sl = sizeof m->captures[0] - 1;
                memcpy(m->captures[m->ncaptures++], s, sl);
                m->captures[m->ncaptures - 1][sl] = '\0';
                s += strcspn(s, "/");
                p += pl;
                continue;
            }
            memcpy(m->captures[m->ncaptures], s, sl);
            m->captures[m->ncaptures++][sl] = '\0';
        } else if (pl != sl || strncmp(p, s, pl) != 0) {
            return 0;
        }
        p += pl;
        s += sl;
    }
    return *s == '\0';
}

void router_match(const char *method, const char *path, struct route_match *m)
{
    memset(m, 0, sizeof *m);
    for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++) {
        if (!match_path(routes[i].pattern, path, m))
            continue;
        if (strcmp(routes[i].method, method) == 0) {
            m->route = &routes[i];
            m->allow = NULL;
            return;
        }
        m->allow = routes[i].allow;
    }
}
