#include "auth.h"

#include <ctype.h>
#include <jwt.h>
#include <json-c/json.h>
#include <limits.h>
#include <math.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "validate.h"

static const char *const alg_names[] = {"HS256", "RS256", "ES256"};
static const jwt_alg_t alg_values[] = {JWT_ALG_HS256, JWT_ALG_RS256, JWT_ALG_ES256};

const char *msg_auth_bearer(const char *header, char *buf, size_t cap)
{
    if (!header)
        return NULL;
    if (strncasecmp(header, "Bearer", 6) != 0 || (header[6] != ' ' && header[6] != '\t'))
        return NULL;
    const char *p = header + 6;
    while (*p == ' ' || *p == '\t')
        p++;
    size_t n = 0;
    while (p[n] && !isspace((unsigned char)p[n]))
        n++;
    const char *rest = p + n;
    while (*rest == ' ' || *rest == '\t')
        rest++;
    if (n == 0 || *rest || n >= cap)
        return NULL;
    memcpy(buf, p, n);
    buf[n] = '\0';
    return buf;
}

/* Decodes base64url of length n into out (cap bytes, NUL-terminated);
 * -1 on error. Strict: no padding, no other characters, and only the
 * canonical encoding (the unused low bits of the last character are zero),
 * so that one value has one spelling. */
static long b64url_decode(const char *in, size_t n, char *out, size_t cap)
{
    if (n % 4 == 1)
        return -1;
    size_t o = 0;
    unsigned acc = 0;
    int bits = 0;
    for (size_t i = 0; i < n; i++) {
        int v = msg_b64_digit((unsigned char)in[i], true);
        if (v < 0)
            return -1;
        acc = ((acc << 6) | (unsigned)v) & 0xfff;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            if (o + 1 >= cap)
                return -1;
            out[o++] = (char)((acc >> bits) & 0xff);
        }
    }
    if (acc & ((1u << bits) - 1))
        return -1;
    if (o >= cap)
        return -1;
    out[o] = '\0';
    return (long)o;
}

static int deny(struct msg_error *err, const char *why)
{
    *err = msg_error_make(MSG_UNAUTHORIZED, why);
    return -1;
}

/* The header must name exactly the pinned algorithm: this is what stops
 * `alg: none` and the HS256-with-a-public-key confusion before libjwt. */
static bool header_alg_ok(const char *token, size_t hlen, enum msg_jwt_alg alg)
{
    char hdr[1024];
    if (hlen == 0 || hlen > 1300 || b64url_decode(token, hlen, hdr, sizeof hdr) < 0)
        return false;
    json_object *h = json_tokener_parse(hdr);
    bool ok = false;
    json_object *a;
    if (h && json_object_is_type(h, json_type_object) && json_object_object_get_ex(h, "alg", &a) &&
        json_object_is_type(a, json_type_string))
        ok = strcmp(json_object_get_string(a), alg_names[alg]) == 0;
    json_object_put(h);
    return ok;
}

static bool claim_number(json_object *v, double *out)
{
    if (json_object_is_type(v, json_type_int)) {
        *out = (double)json_object_get_int64(v);
        return true;
    }
    if (json_object_is_type(v, json_type_double)) {
        *out = json_object_get_double(v);
        return isfinite(*out);
    }
    return false;
}

static bool claim_user_id(json_object *v, int *out)
{
    if (json_object_is_type(v, json_type_string))
        return msg_parse_id32(json_object_get_string(v), out);
    double d;
    if (!claim_number(v, &d) || d < 1 || d > INT_MAX || d != floor(d))
        return false;
    *out = (int)d;
    return true;
}

/* Seconds since the epoch: a claim within what a 64-bit count holds. */
static bool claim_time(json_object *v, double *out) { return claim_number(v, out) && *out > -9e15 && *out < 9e15; }

static int check_claims(json_object *c, long now, const struct msg_config *cfg, struct msg_identity *id,
                        struct msg_error *err)
{
    json_object *v;
    double t, exp;
    long leeway = cfg->jwt_leeway;
    if (!json_object_object_get_ex(c, "exp", &v))
        return deny(err, "Token has no expiry");
    if (!claim_time(v, &exp))
        return deny(err, "Invalid token expiry");
    if (exp <= (double)(now - leeway))
        return deny(err, "Token expired");
    id->exp = (long long)floor(exp);
    id->has_iat = false;
    id->iat = 0;
    if (json_object_object_get_ex(c, "iat", &v)) {
        if (!claim_time(v, &t))
            return deny(err, "Invalid token");
        id->has_iat = true;
        id->iat = (long long)floor(t);
    }
    /* The lifetime bound: exp - iat, or what is left without an iat; and
     * what is left anyway, so that an iat in the future buys nothing. */
    if (cfg->jwt_max_ttl > 0) {
        double max = (double)cfg->jwt_max_ttl;
        if ((id->has_iat && exp - (double)id->iat > max) || exp - (double)now > max + (double)leeway)
            return deny(err, "Token lifetime exceeds the allowed maximum");
    }
    if (json_object_object_get_ex(c, "nbf", &v)) {
        if (!claim_number(v, &t))
            return deny(err, "Invalid token");
        if (t > (double)(now + leeway))
            return deny(err, "Token not yet valid");
    }
    static const char *const subject_claims[] = {"sub", "userId", "id"};
    json_object *subj = NULL;
    for (int i = 0; i < 3 && !subj; i++)
        if (json_object_object_get_ex(c, subject_claims[i], &v) && v)
            subj = v;
    if (!subj || !claim_user_id(subj, &id->user_id))
        return deny(err, "Invalid token subject");
    id->has_role = false;
    if (json_object_object_get_ex(c, "role", &v)) {
        if (!json_object_is_type(v, json_type_string) || json_object_get_string_len(v) >= (int)sizeof id->role)
            return deny(err, "Token role does not match the user");
        id->has_role = true;
        snprintf(id->role, sizeof id->role, "%s", json_object_get_string(v));
    }
    return 0;
}

/* HS256 (RFC 7515 appendix A.1): HMAC-SHA256 of "header.payload" with key,
 * against the signature, which must be exactly the 43 characters of 32
 * bytes; compared in constant time. */
static bool hs256_ok(const char *token, size_t signed_len, const char *sig, const char *key)
{
    char want[33];
    unsigned char got[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    size_t sig_len = strlen(sig);
    if (sig_len != 43 || b64url_decode(sig, sig_len, want, sizeof want) != 32)
        return false;
    if (!HMAC(EVP_sha256(), key, (int)strlen(key), (const unsigned char *)token, signed_len, got, &n) || n != 32)
        return false;
    bool ok = CRYPTO_memcmp(want, got, 32) == 0;
    OPENSSL_cleanse(got, sizeof got);
    return ok;
}

/* The claims of a token whose signature was checked here: its payload,
 * decoded and parsed (a JSON object), or NULL. */
static json_object *payload_claims(const char *payload, size_t n)
{
    char buf[MSG_TOKEN_MAX];
    long len = b64url_decode(payload, n, buf, sizeof buf);
    if (len <= 0)
        return NULL;
    struct msg_error e;
    return msg_json_parse(buf, (size_t)len, &e);
}

static jwt_t *decode_with(const char *token, const char *key, size_t keylen)
{
    jwt_t *jwt = NULL;
    if (jwt_decode(&jwt, token, (const unsigned char *)key, (int)keylen) != 0) {
        jwt_free(jwt);
        return NULL;
    }
    return jwt;
}

int msg_auth_verify(const struct msg_config *cfg, const char *token, long now, struct msg_identity *id,
                    struct msg_error *err)
{
    if (!token || !*token)
        return deny(err, "Authentication required");
    size_t len = strnlen(token, MSG_TOKEN_MAX + 1);
    if (len > MSG_TOKEN_MAX)
        return deny(err, "Invalid token");
    const char *dot1 = strchr(token, '.');
    const char *dot2 = dot1 ? strchr(dot1 + 1, '.') : NULL;
    if (!dot1 || !dot2 || strchr(dot2 + 1, '.') || dot2[1] == '\0')
        return deny(err, "Invalid token");
    if (!header_alg_ok(token, (size_t)(dot1 - token), cfg->jwt_alg))
        return deny(err, "Invalid token");

    json_object *claims = NULL;
    if (cfg->jwt_alg == MSG_JWT_HS256) {
        /* The signature first, by this code only: nothing of the payload
         * is read before it is known to be the issuer's. */
        size_t signed_len = (size_t)(dot2 - token);
        bool ok = hs256_ok(token, signed_len, dot2 + 1, cfg->jwt_secret);
        if (!ok && cfg->jwt_secret_previous && cfg->jwt_secret_previous[0])
            ok = hs256_ok(token, signed_len, dot2 + 1, cfg->jwt_secret_previous);
        if (!ok)
            return deny(err, "Invalid token");
        claims = payload_claims(dot1 + 1, (size_t)(dot2 - dot1 - 1));
    } else {
        jwt_t *jwt = decode_with(token, cfg->jwt_public_key, cfg->jwt_public_key_len);
        if (!jwt)
            return deny(err, "Invalid token");
        if (jwt_get_alg(jwt) != alg_values[cfg->jwt_alg]) {
            jwt_free(jwt);
            return deny(err, "Invalid token");
        }
        char *claims_json = jwt_get_grants_json(jwt, NULL);
        jwt_free(jwt);
        claims = claims_json ? json_tokener_parse(claims_json) : NULL;
        free(claims_json);
    }
    int rc;
    if (!claims || !json_object_is_type(claims, json_type_object))
        rc = deny(err, "Invalid token");
    else
        rc = check_claims(claims, now, cfg, id, err);
    json_object_put(claims);
    return rc;
}
