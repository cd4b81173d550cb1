#include "bus.h"

#include <json-c/json.h>
#include <stdio.h>
#include <string.h>

void msg_bus_bell(struct sbuf *b, const char *origin, const int *convs, size_t n)
{
    sbuf_puts(b, "{\"t\":\"bell\",\"origin\":");
    sbuf_json_string(b, origin, strlen(origin));
    if (n > 0 && n <= MSG_BUS_MAX_NAMED) {
        sbuf_puts(b, ",\"conversations\":[");
        for (size_t i = 0; i < n; i++)
            sbuf_printf(b, "%s%d", i ? "," : "", convs[i]);
        sbuf_puts(b, "]");
    }
    sbuf_puts(b, "}");
}

void msg_bus_typing(struct sbuf *b, const char *origin, int conversation, int user, int typing)
{
    sbuf_puts(b, "{\"t\":\"typing\",\"origin\":");
    sbuf_json_string(b, origin, strlen(origin));
    sbuf_printf(b, ",\"conversationId\":%d,\"userId\":%d,\"typing\":%s}", conversation, user,
                typing ? "true" : "false");
}

static int get_int(json_object *o, const char *key, int *out)
{
    json_object *v;
    if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_int))
        return 0;
    int64_t x = json_object_get_int64(v);
    if (x <= 0 || x > 2147483647)
        return 0;
    *out = (int)x;
    return 1;
}

/* The conversation ids of an array of at most MSG_BUS_MAX_NAMED positive
 * integers, appended to out->convs; 0 for anything else. */
static int get_convs(json_object *a, struct msg_bus_msg *out)
{
    if (!json_object_is_type(a, json_type_array) || json_object_array_length(a) > MSG_BUS_MAX_NAMED)
        return 0;
    size_t n = json_object_array_length(a);
    for (size_t i = 0; i < n; i++) {
        json_object *e = json_object_array_get_idx(a, i);
        int64_t x = json_object_is_type(e, json_type_int) ? json_object_get_int64(e) : 0;
        if (x <= 0 || x > 2147483647)
            return 0;
        out->convs[out->nconvs++] = (int)x;
    }
    return 1;
}

static enum msg_bus_kind parse_object(json_object *o, struct msg_bus_msg *out)
{
    json_object *t, *v;
    if (!json_object_object_get_ex(o, "t", &t) || !json_object_is_type(t, json_type_string))
        return MSG_BUS_UNKNOWN;
    const char *tag = json_object_get_string(t);
    if (json_object_object_get_ex(o, "origin", &v) && json_object_is_type(v, json_type_string))
        snprintf(out->origin, sizeof out->origin, "%s", json_object_get_string(v));
    if (strcmp(tag, "bell") == 0) {
        if (!json_object_object_get_ex(o, "conversations", &v)) {
            out->all = 1;
            return MSG_BUS_BELL;
        }
        if (!get_convs(v, out))
            return MSG_BUS_UNKNOWN;
        out->all = out->nconvs == 0;
        return MSG_BUS_BELL;
    }
    if (strcmp(tag, "typing") == 0) {
        if (!get_int(o, "conversationId", &out->conversation_id) || !get_int(o, "userId", &out->user_id) ||
            !json_object_object_get_ex(o, "typing", &v) || !json_object_is_type(v, json_type_boolean))
            return MSG_BUS_UNKNOWN;
        out->typing = json_object_get_boolean(v);
        return MSG_BUS_TYPING;
    }
    if (strcmp(tag, "presence") == 0) {
        json_object *a, *ls;
        if (!get_int(o, "userId", &out->user_id) || !json_object_object_get_ex(o, "online", &v) ||
            !json_object_is_type(v, json_type_boolean) || !json_object_object_get_ex(o, "conversations", &a))
            return MSG_BUS_UNKNOWN;
        out->online = json_object_get_boolean(v);
        if (json_object_object_get_ex(o, "lastSeenAt", &ls) && ls) {
            /* An ISO time of API.md section 3, spliced into JSON: checked. */
            const char *ts = json_object_is_type(ls, json_type_string) ? json_object_get_string(ls) : "";
            size_t n = strlen(ts);
            if (n != 24 || strspn(ts, "0123456789-:.TZ") != n)
                return MSG_BUS_UNKNOWN;
            memcpy(out->last_seen, ts, n + 1);
        }
        if (!get_convs(a, out))
            return MSG_BUS_UNKNOWN;
        return MSG_BUS_PRESENCE;
    }
    if (strcmp(tag, "revoke") == 0)
        return get_int(o, "userId", &out->user_id) ? MSG_BUS_REVOKE : MSG_BUS_UNKNOWN;
    return MSG_BUS_UNKNOWN;
}

enum msg_bus_kind msg_bus_parse(const char *payload, struct msg_bus_msg *out)
{
    memset(out, 0, sizeof *out);
    size_t n = payload ? strnlen(payload, MSG_BUS_MAX_PAYLOAD + 1) : 0;
    if (n == 0 || n > MSG_BUS_MAX_PAYLOAD)
        return out->kind = MSG_BUS_UNKNOWN;
    json_tokener *tok = json_tokener_new_ex(4);
    if (!tok)
        return out->kind = MSG_BUS_UNKNOWN;
    json_object *o = json_tokener_parse_ex(tok, payload, (int)n);
    if (o && json_tokener_get_error(tok) == json_tokener_success && json_object_is_type(o, json_type_object))
        out->kind = parse_object(o, out);
    else
        out->kind = MSG_BUS_UNKNOWN;
    if (out->kind == MSG_BUS_UNKNOWN)
        out->nconvs = 0;
    json_object_put(o);
    json_tokener_free(tok);
    return out->kind;
}
