/* The controllers of API.md section 4: each turns a request into one SQL
 * operation (shared/ops.h) and relays its status and JSON. */
#ifndef API_HANDLERS_H
#define API_HANDLERS_H

#include "auth.h"
#include "config.h"
#include "db.h"
#include "request.h"
#include "router.h"

struct api_ctx {
    struct http_req *req;
    const struct msg_config *cfg;
    struct msg_db *db;
    const struct route_match *match;
    struct msg_identity id;
    char user[16];         /* id.user_id as text, the operations' $1 */
    const char *role;      /* the token's role claim or NULL, their $2 */
    int bell_conversation; /* the conversation the request emitted an event in, or 0 */
};

/* Routes, authenticates and answers one request. */
void api_dispatch(struct api_ctx *ctx);

void h_health(struct api_ctx *ctx);
void h_create_conversation(struct api_ctx *ctx);
void h_list_conversations(struct api_ctx *ctx);
void h_get_conversation(struct api_ctx *ctx);
void h_send_message(struct api_ctx *ctx);
void h_list_messages(struct api_ctx *ctx);
void h_mark_read(struct api_ctx *ctx);
void h_unread_count(struct api_ctx *ctx);
void h_search_users(struct api_ctx *ctx);
void h_available_users(struct api_ctx *ctx);
void h_me(struct api_ctx *ctx);

#endif
