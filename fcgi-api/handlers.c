#include "handlers.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "log.h"
#include "msgjson.h"
#include "validate.h"

static void fail(struct api_ctx *ctx, enum msg_code code, const char *message)
{
    struct msg_error e = msg_error_make(code, message);
    http_send_error(ctx->req, &e, NULL);
}

/* Runs an operation and relays its answer. */
static void relay(struct api_ctx *ctx, enum msg_op op, const char *const *params)
{
    struct msg_reply r;
    struct msg_error e;
    if (msg_db_call(ctx->db, op, params, &r, &e) < 0) {
        http_send_error(ctx->req, &e, NULL);
        return;
    }
    /* The operation says what it emitted: the doorbell names its conversation. */
    if (r.event_id > 0 && msg_ops[op].emits)
        ctx->bell_conversation = atoi(params[2]);
    /* Success or error, the SQL side wrote the whole body. */
    http_send_json(ctx->req, r.status, NULL, r.body, (size_t)r.len);
    msg_reply_clear(&r);
}

/* The operations' p_notify: NOTIFY inside the transaction, or leave it to
 * the doorbell rung after commit. */
static const char *inline_notify(const struct api_ctx *ctx)
{
    return strcmp(ctx->cfg->notify_mode, "inline") == 0 ? "true" : "false";
}

static int path_id(struct api_ctx *ctx, int i, char *buf, size_t cap)
{
    int id;
    if (ctx->match->capture_too_long || !msg_parse_id32(ctx->match->captures[i], &id)) {
        fail(ctx, MSG_INVALID_REQUEST, "conversation id must be a positive 32-bit integer");
        return -1;
    }
    snprintf(buf, cap, "%d", id);
    return 0;
}

static int is_json_type(const char *ct)
{
    if (!ct)
        return 0;
    while (*ct == ' ')
        ct++;
    size_t n = strlen("application/json");
    if (strncasecmp(ct, "application/json", n) != 0)
        return 0;
    ct += n;
    while (*ct == ' ')
        ct++;
    return *ct == '\0' || *ct == ';';
}

/* The request's JSON object body (new reference), or NULL after answering
 * with an error. With `optional`, an absent body gives an empty object. */
static json_object *read_object(struct api_ctx *ctx, int optional)
{
    struct http_req *req = ctx->req;
    int has_body = req->content_length > 0 || (req->content_length < 0 && req->fcgi && req->content_type);
    if (!has_body && optional)
        return json_object_new_object();
    if (!is_json_type(req->content_type)) {
        fail(ctx, MSG_UNSUPPORTED_MEDIA, "Content-Type must be application/json");
        return NULL;
    }
    struct msg_error e;
    if (http_read_body(req, (size_t)ctx->cfg->max_body_bytes, &e) < 0) {
        http_send_error(req, &e, NULL);
        return NULL;
    }
    if (req->body_len == 0 && optional)
        return json_object_new_object();
    json_object *o = msg_json_parse(req->body, req->body_len, &e);
    if (!o) {
        http_send_error(req, &e, NULL);
        return NULL;
    }
    if (!json_object_is_type(o, json_type_object)) {
        json_object_put(o);
        fail(ctx, MSG_INVALID_REQUEST, "Body must be a JSON object");
        return NULL;
    }
    return o;
}

void h_health(struct api_ctx *ctx)
{
    struct msg_reply r;
    struct msg_error e;
    if (msg_db_call(ctx->db, MSG_OP_HEALTH, NULL, &r, &e) < 0) {
        static const char body[] = "{\"status\":\"unavailable\",\"error\":{\"code\":\"unavailable\","
                                   "\"message\":\"The database is unavailable\"}}";
        http_send_json(ctx->req, 503, NULL, body, sizeof body - 1);
        return;
    }
    msg_reply_clear(&r);
    static const char ok[] = "{\"status\":\"ok\"}";
    http_send_json(ctx->req, 200, NULL, ok, sizeof ok - 1);
}

void h_create_conversation(struct api_ctx *ctx)
{
    json_object *body = read_object(ctx, 0), *v;
    if (!body)
        return;
    int pid;
    if (!json_object_object_get_ex(body, "participantId", &v) || !msg_json_id(v, &pid)) {
        json_object_put(body);
        fail(ctx, MSG_INVALID_REQUEST, "participantId must be a positive 32-bit integer");
        return;
    }
    json_object_put(body);
    char p[16];
    snprintf(p, sizeof p, "%d", pid);
    const char *params[] = {ctx->user, ctx->role, p};
    relay(ctx, MSG_OP_CREATE_CONVERSATION, params);
}

void h_list_conversations(struct api_ctx *ctx)
{
    long limit, offset;
    struct msg_error e;
    if (msg_query_long(ctx->req->query, "limit", 50, 1, 100, &limit, &e) < 0 ||
        msg_query_long(ctx->req->query, "offset", 0, 0, 2147483647L, &offset, &e) < 0) {
        http_send_error(ctx->req, &e, NULL);
        return;
    }
    char l[24], o[24];
    snprintf(l, sizeof l, "%ld", limit);
    snprintf(o, sizeof o, "%ld", offset);
    const char *params[] = {ctx->user, ctx->role, l, o};
    relay(ctx, MSG_OP_LIST_CONVERSATIONS, params);
}

void h_get_conversation(struct api_ctx *ctx)
{
    char c[16];
    if (path_id(ctx, 0, c, sizeof c) < 0)
        return;
    const char *params[] = {ctx->user, ctx->role, c};
    relay(ctx, MSG_OP_GET_CONVERSATION, params);
}

void h_send_message(struct api_ctx *ctx)
{
    char c[16];
    if (path_id(ctx, 0, c, sizeof c) < 0)
        return;
    json_object *body = read_object(ctx, 0), *v;
    if (!body)
        return;
    const char *content = NULL, *client_id = NULL;
    if (!json_object_object_get_ex(body, "content", &v) || !json_object_is_type(v, json_type_string)) {
        json_object_put(body);
        fail(ctx, MSG_INVALID_REQUEST, "content must be a string");
        return;
    }
    if (!(content = msg_json_text(v))) {
        json_object_put(body);
        fail(ctx, MSG_INVALID_REQUEST, "content must be valid UTF-8 text without NUL characters");
        return;
    }
    if (json_object_object_get_ex(body, "clientId", &v) && v) {
        if (!(client_id = msg_json_text(v))) {
            json_object_put(body);
            fail(ctx, MSG_INVALID_REQUEST, "clientId must be a string of 1 to 64 characters");
            return;
        }
    }
    char maxlen[24];
    snprintf(maxlen, sizeof maxlen, "%ld", ctx->cfg->max_message_length);
    const char *params[] = {ctx->user, ctx->role, c, content, client_id, maxlen, inline_notify(ctx)};
    relay(ctx, MSG_OP_SEND_MESSAGE, params);
    json_object_put(body);
}

void h_list_messages(struct api_ctx *ctx)
{
    char c[16];
    if (path_id(ctx, 0, c, sizeof c) < 0)
        return;
    long limit, before, after;
    struct msg_error e;
    const long cursor_max = 9007199254740991L;
    if (msg_query_long(ctx->req->query, "limit", 50, 1, 100, &limit, &e) < 0 ||
        msg_query_long(ctx->req->query, "before", -1, 0, cursor_max, &before, &e) < 0 ||
        msg_query_long(ctx->req->query, "after", -1, 0, cursor_max, &after, &e) < 0) {
        http_send_error(ctx->req, &e, NULL);
        return;
    }
    if (before >= 0 && after >= 0) {
        fail(ctx, MSG_INVALID_REQUEST, "Use before or after, not both");
        return;
    }
    char l[24], b[24], a[24];
    snprintf(l, sizeof l, "%ld", limit);
    snprintf(b, sizeof b, "%ld", before);
    snprintf(a, sizeof a, "%ld", after);
    const char *params[] = {ctx->user,         ctx->role, c, l, before >= 0 ? b : NULL, after >= 0 ? a : NULL,
                            inline_notify(ctx)};
    /* The page's JSON is written here, not by the database (the hot path). */
    PGresult *res;
    if (msg_db_exec(ctx->db, MSG_OP_LIST_MESSAGE_ROWS, params, &res, &e) < 0) {
        http_send_error(ctx->req, &e, NULL);
        return;
    }
    /* The page delivered messages (a messages_delivered event): the doorbell. */
    if (PQntuples(res) > 0 && PQnfields(res) > 2 && !PQgetisnull(res, 0, 2))
        ctx->bell_conversation = atoi(c);
    struct sbuf out;
    sbuf_init(&out);
    int status;
    if (msg_page_json(res, &status, &out) < 0) {
        fail(ctx, MSG_INTERNAL, "Internal error");
    } else {
        http_send_json(ctx->req, status, NULL, out.p, out.len);
    }
    sbuf_free(&out);
    PQclear(res);
}

void h_mark_read(struct api_ctx *ctx)
{
    char c[16];
    if (path_id(ctx, 0, c, sizeof c) < 0)
        return;
    json_object *body = read_object(ctx, 1);
    if (!body)
        return;
    json_object_put(body);
    const char *params[] = {ctx->user, ctx->role, c, inline_notify(ctx)};
    relay(ctx, MSG_OP_MARK_READ, params);
}

void h_unread_count(struct api_ctx *ctx)
{
    const char *params[] = {ctx->user, ctx->role};
    relay(ctx, MSG_OP_UNREAD_COUNT, params);
}

void h_search_users(struct api_ctx *ctx)
{
    char qbuf[1024];
    int r = msg_query_get(ctx->req->query, "q", qbuf, sizeof qbuf);
    char *q = r > 0 ? msg_trim_ascii(qbuf) : NULL;
    if (!q || !*q) {
        fail(ctx, MSG_INVALID_REQUEST, "q is required (1 to 100 characters)");
        return;
    }
    long limit;
    struct msg_error e;
    if (msg_query_long(ctx->req->query, "limit", 20, 1, 50, &limit, &e) < 0) {
        http_send_error(ctx->req, &e, NULL);
        return;
    }
    char l[24];
    snprintf(l, sizeof l, "%ld", limit);
    const char *params[] = {ctx->user, ctx->role, q, l};
    relay(ctx, MSG_OP_SEARCH_USERS, params);
}

void h_available_users(struct api_ctx *ctx)
{
    const char *params[] = {ctx->user, ctx->role};
    relay(ctx, MSG_OP_AVAILABLE_USERS, params);
}

/* GET /me: {user: User}, the caller as the users table has it. The
 * authentication operation already checks the user and builds its User. */
void h_me(struct api_ctx *ctx)
{
    const char *params[] = {ctx->user, ctx->role};
    struct msg_reply r;
    struct msg_error e;
    if (msg_db_call(ctx->db, MSG_OP_AUTHENTICATE, params, &r, &e) < 0) {
        http_send_error(ctx->req, &e, NULL);
        return;
    }
    if (r.status != 200) { /* the error body, as every operation writes it */
        http_send_json(ctx->req, r.status, NULL, r.body, (size_t)r.len);
        msg_reply_clear(&r);
        return;
    }
    static const char pre[] = "{\"user\":", post[] = "}";
    size_t n = sizeof pre - 1 + (size_t)r.len + sizeof post - 1;
    char *body = malloc(n);
    if (!body) {
        msg_reply_clear(&r);
        fail(ctx, MSG_INTERNAL, "Internal error");
        return;
    }
    memcpy(body, pre, sizeof pre - 1);
    memcpy(body + sizeof pre - 1, r.body, (size_t)r.len);
    memcpy(body + sizeof pre - 1 + (size_t)r.len, post, sizeof post - 1);
    http_send_json(ctx->req, 200, NULL, body, n);
    free(body);
    msg_reply_clear(&r);
}

void api_dispatch(struct api_ctx *ctx)
{
    struct route_match m;
    struct http_req *req = ctx->req;
    router_match(req->method, req->path, &m);
    ctx->match = &m;
    if (!m.route) {
        if (m.allow) {
            char allow[96];
            snprintf(allow, sizeof allow, "Allow: %s\r\n", m.allow);
            struct msg_error e = msg_error_make(MSG_METHOD_NOT_ALLOWED, "Method not allowed");
            http_send_error(req, &e, allow);
        } else {
            fail(ctx, MSG_NOT_FOUND, "Not found");
        }
        return;
    }
    if (m.route->auth == ROUTE_TOKEN) {
        char tok[MSG_TOKEN_MAX + 1];
        struct msg_error e;
        const char *t = msg_auth_bearer(req->authorization, tok, sizeof tok);
        if (!t) {
            fail(ctx, MSG_UNAUTHORIZED, "Authentication required");
            return;
        }
        if (msg_auth_verify(ctx->cfg, t, (long)time(NULL), &ctx->id, &e) < 0) {
            http_send_error(req, &e, "WWW-Authenticate: Bearer\r\n");
            return;
        }
        snprintf(ctx->user, sizeof ctx->user, "%d", ctx->id.user_id);
        ctx->role = ctx->id.has_role ? ctx->id.role : NULL;
        /* Revocation (API.md section 7): checked by the database with each
         * operation of this request, in the same round trip. */
        msg_db_set_token(ctx->db, ctx->id.user_id, ctx->id.has_iat ? &ctx->id.iat : NULL);
    }
    m.route->handler(ctx);
    msg_db_clear_token(ctx->db);
    if (!req->answered)
        fail(ctx, MSG_INTERNAL, "Internal error");
}
