/* msg-token: mints an HS256 token for a user from the configured secret,
 * for demos, scripts and tests (make token USER=ID). */
#include <jwt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "auth.h"
#include "config.h"
#include "validate.h"

int main(int argc, char **argv)
{
    if (argc < 2 || argc > 4 || strcmp(argv[1], "--help") == 0) {
        fprintf(stderr, "usage: msg-token USER_ID [ROLE] [TTL_SECONDS]\n"
                        "Prints a token signed with jwt_secret (HS256 only), with iat now and\n"
                        "exp TTL_SECONDS later (default 86400, or jwt_max_ttl when shorter;\n"
                        "at most jwt_max_ttl).\n");
        return 2;
    }
    int uid;
    if (!msg_parse_id32(argv[1], &uid)) {
        fprintf(stderr, "msg-token: USER_ID must be a positive integer\n");
        return 2;
    }
    long ttl = -1;
    if (argc > 3) {
        char *end;
        ttl = strtol(argv[3], &end, 10);
        if (*end || end == argv[3] || ttl <= 0) {
            fprintf(stderr, "msg-token: TTL_SECONDS must be a positive integer\n");
            return 2;
        }
    }
    struct msg_config cfg;
    char err[512];
    if (msg_config_load(&cfg, NULL, MSG_CONFIG_NO_DATABASE, err, sizeof err) < 0) {
        fprintf(stderr, "msg-token: %s\n", err);
        msg_config_free(&cfg);
        return 1;
    }
    /* The programs refuse a token that lives longer than jwt_max_ttl. */
    if (ttl < 0)
        ttl = cfg.jwt_max_ttl < 86400 ? cfg.jwt_max_ttl : 86400;
    if (ttl > cfg.jwt_max_ttl) {
        fprintf(stderr, "msg-token: TTL_SECONDS %ld is longer than jwt_max_ttl (%ld s): the programs would refuse it\n",
                ttl, cfg.jwt_max_ttl);
        msg_config_free(&cfg);
        return 2;
    }
    if (cfg.jwt_alg != MSG_JWT_HS256) {
        fprintf(stderr, "msg-token: only HS256 tokens can be minted (jwt_algorithm)\n");
        msg_config_free(&cfg);
        return 1;
    }
    jwt_t *jwt = NULL;
    char sub[16];
    snprintf(sub, sizeof sub, "%d", uid);
    long now = (long)time(NULL);
    int rc = jwt_new(&jwt) || jwt_add_grant(jwt, "sub", sub) || jwt_add_grant_int(jwt, "iat", now) ||
             jwt_add_grant_int(jwt, "exp", now + ttl) || (argc > 2 && jwt_add_grant(jwt, "role", argv[2])) ||
             jwt_set_alg(jwt, JWT_ALG_HS256, (const unsigned char *)cfg.jwt_secret, (int)strlen(cfg.jwt_secret));
    char *tok = rc ? NULL : jwt_encode_str(jwt);
    if (tok)
        printf("%s\n", tok);
    else
        fprintf(stderr, "msg-token: could not sign the token\n");
    free(tok);
    jwt_free(jwt);
    msg_config_free(&cfg);
    return tok ? 0 : 1;
}
