/* JWT verification (API.md sections 1 and 7), shared by the API and the
 * gateway. HS256 signatures are checked here (HMAC-SHA256 with OpenSSL,
 * compared in constant time: libjwt 1.10 compares them with strcmp,
 * CVE-2024-25189); RS256 and ES256 signatures by libjwt. Everything libjwt
 * does not check (the pinned algorithm, exp, nbf, iat, the lifetime bound,
 * the subject's shape) is checked here. The role against the users table and
 * revocation are checked by the SQL operations (p_role, p_iat). */
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
    char role[33]; /* the token's role claim, when has_role */
    long long exp; /* the token's exp, seconds since the epoch (rounded down) */
    bool has_iat;
    long long iat; /* its iat (rounded down), when has_iat: the operations'
                     * revocation check (sql/020_revocation.sql) */
};

/* Verifies `token` against cfg at time `now` (seconds since the epoch).
 * A token living longer than cfg->jwt_max_ttl (exp - iat, or exp - now
 * without iat; <= 0: no bound) is refused. Returns 0 and fills *id, or -1
 * with *err an `unauthorized` error. */
int msg_auth_verify(const struct msg_config *cfg, const char *token, long now, struct msg_identity *id,
                    struct msg_error *err);

/* The token of an "Authorization: Bearer <token>" value, copied into buf;
 * returns NULL when the header is absent or not a bearer token. */
const char *msg_auth_bearer(const char *header, char *buf, size_t cap);

#endif
