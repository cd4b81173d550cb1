/* JWT verification (API.md section 1), shared by the API and the gateway.
 * libjwt verifies signatures; everything libjwt 1.10 does not check (the
 * pinned algorithm, exp, nbf, the subject's shape) is checked here. The role
 * against the users table is checked by the SQL operations (p_role). */
#ifndef MSG_AUTH_H
#define MSG_AUTH_H

#include <stdbool.h>
#include <stddef.h>

#include "config.h"
#include "error.h"

#define MSG_TOKEN_MAX 8192

struct msg_identity {
    int user_id;
    bool has_role;
    char role[33];  /* the token's role claim, when has_role */
    long long exp;  /* the token's exp, seconds since the epoch (rounded down) */
};

/* Verifies `token` against cfg at time `now` (seconds since the epoch).
 * Returns 0 and fills *id, or -1 with *err an `unauthorized` error. */
int msg_auth_verify(const struct msg_config *cfg, const char *token, long now,
                    struct msg_identity *id, struct msg_error *err);

/* The token of an "Authorization: Bearer <token>" value, copied into buf;
 * returns NULL when the header is absent or not a bearer token. */
const char *msg_auth_bearer(const char *header, char *buf, size_t cap);

/* Parses a positive 32-bit decimal string ("0", signs, spaces: refused). */
bool msg_parse_id32(const char *s, int *out);

#endif
