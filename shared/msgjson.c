#include "msgjson.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

void msg_iso_time(long long us, char *buf)
{
    long long secs = us >= 0 ? us / 1000000 : -((-us + 999999) / 1000000);
    int ms = (int)((us - secs * 1000000) / 1000);
    time_t t = (time_t)secs;
    struct tm tm;
    gmtime_r(&t, &tm);
    snprintf(buf, 80, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
             tm.tm_min, tm.tm_sec, ms);
}

enum { F_STATUS, F_BODY, F_ID, F_CONV, F_SENDER, F_CONTENT, F_SENT, F_READ, F_CLIENT, F_DELIVERED, F_COUNT };

int msg_page_json(const PGresult *res, int *status, struct sbuf *out)
{
    int rows = PQntuples(res);
    if (PQresultStatus(res) != PGRES_TUPLES_OK || PQnfields(res) != F_COUNT || rows < 1 ||
        PQgetisnull(res, 0, F_STATUS))
        return -1;
    *status = atoi(PQgetvalue(res, 0, F_STATUS));
    const char *head = PQgetvalue(res, 0, F_BODY);
    if (*status != 200) {
        /* 401 with the reason the rule gave, or 404. */
        sbuf_printf(out, "{\"error\":{\"code\":\"%s\",\"message\":", *status == 401 ? "unauthorized" : "not_found");
        const char *why = *status == 401 && !PQgetisnull(res, 0, F_BODY) ? head : "Conversation not found";
        sbuf_json_string(out, why, strlen(why));
        sbuf_puts(out, "}}");
        return sbuf_ok(out) ? 0 : -1;
    }
    sbuf_puts(out, "{\"messages\":[");
    for (int r = 1; r < rows; r++) {
        char when[80];
        msg_iso_time(atoll(PQgetvalue(res, r, F_SENT)), when);
        sbuf_printf(out, "%s{\"id\":%s,\"conversationId\":%s,\"senderId\":%s,\"content\":", r > 1 ? "," : "",
                    PQgetvalue(res, r, F_ID), PQgetvalue(res, r, F_CONV), PQgetvalue(res, r, F_SENDER));
        sbuf_json_string(out, PQgetvalue(res, r, F_CONTENT), (size_t)PQgetlength(res, r, F_CONTENT));
        sbuf_printf(out, ",\"sentAt\":\"%s\",\"isRead\":%s,\"clientId\":", when,
                    PQgetvalue(res, r, F_READ)[0] == 't' ? "true" : "false");
        if (PQgetisnull(res, r, F_CLIENT))
            sbuf_puts(out, "null");
        else
            sbuf_json_string(out, PQgetvalue(res, r, F_CLIENT), (size_t)PQgetlength(res, r, F_CLIENT));
        if (PQgetisnull(res, r, F_DELIVERED)) {
            sbuf_puts(out, ",\"deliveredAt\":null}");
        } else {
            msg_iso_time(atoll(PQgetvalue(res, r, F_DELIVERED)), when);
            sbuf_printf(out, ",\"deliveredAt\":\"%s\"}", when);
        }
    }
    sbuf_printf(out, "],\"hasMore\":%s}", strcmp(head, "true") == 0 ? "true" : "false");
    return sbuf_ok(out) ? 0 : -1;
}
