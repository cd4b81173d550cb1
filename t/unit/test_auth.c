/* JWT rules of API.md section 1 (shared/auth.c), with tokens made here by
 * libjwt and OpenSSL: good ones, and every attack libjwt alone lets through. */
#include <jwt.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>
#include <stdlib.h>
#include <time.h>

#include "auth.h"
#include "check.h"

static const char SECRET[] = "0123456789abcdef0123456789abcdef-unit";
static long now;

static char *sign(jwt_alg_t alg, const char *key, size_t keylen, const char *claims_json)
{
    jwt_t *jwt = NULL;
    jwt_new(&jwt);
    if (jwt_add_grants_json(jwt, claims_json) != 0) {
        jwt_free(jwt);
        return NULL;
    }
    jwt_set_alg(jwt, alg, (const unsigned char *)key, (int)keylen);
    char *t = jwt_encode_str(jwt);
    jwt_free(jwt);
    return t;
}

static char *hs(const char *claims_fmt, long a, long b)
{
    char claims[512];
    snprintf(claims, sizeof claims, claims_fmt, a, b);
    return sign(JWT_ALG_HS256, SECRET, strlen(SECRET), claims);
}

static void b64url_n(const char *in, size_t n, char *out)
{
    static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    size_t o = 0;
    unsigned acc = 0;
    int bits = 0;
    for (size_t i = 0; i < n; i++) {
        acc = (acc << 8) | (unsigned char)in[i];
        bits += 8;
        while (bits >= 6) {
            bits -= 6;
            out[o++] = tab[(acc >> bits) & 63];
        }
    }
    if (bits)
        out[o++] = tab[(acc << (6 - bits)) & 63];
    out[o] = '\0';
}

static void b64url(const char *in, char *out) { b64url_n(in, strlen(in), out); }

/* header.payload (JSON texts) signed here with HMAC-SHA256: any content. */
static void hs_raw(const char *header, const char *payload, char *out, size_t cap)
{
    char h[512], p[1024], sig[64];
    unsigned char mac[32];
    unsigned int len = 0;
    b64url(header, h);
    b64url(payload, p);
    /* The caller's buffer holds any token these tests build; the check keeps the
       release build's -Wformat-truncation quiet. */
    if (snprintf(out, cap, "%s.%s", h, p) >= (int)cap)
        out[0] = '\0';
    HMAC(EVP_sha256(), SECRET, (int)strlen(SECRET), (const unsigned char *)out, strlen(out), mac, &len);
    b64url_n((const char *)mac, len, sig);
    size_t n = strlen(out);
    snprintf(out + n, cap - n, ".%s", sig);
}

static int verify(const struct msg_config *cfg, const char *tok, struct msg_identity *id)
{
    struct msg_error e;
    int rc = msg_auth_verify(cfg, tok, now, id, &e);
    if (rc < 0)
        CHECK(e.code == MSG_UNAUTHORIZED && e.message != NULL);
    return rc;
}

static void test_hs256(void)
{
    struct msg_config cfg = {0};
    cfg.jwt_alg = MSG_JWT_HS256;
    cfg.jwt_secret = (char *)SECRET;
    struct msg_identity id;
    char *t;

    t = hs("{\"sub\":\"42\",\"role\":\"patient\",\"exp\":%ld,\"iat\":%ld}", now + 60, now);
    CHECK(verify(&cfg, t, &id) == 0 && id.user_id == 42 && id.has_role && strcmp(id.role, "patient") == 0);
    free(t);
    t = hs("{\"sub\":42,\"exp\":%ld,\"nbf\":%ld}", now + 60, now - 1);
    CHECK(verify(&cfg, t, &id) == 0 && id.user_id == 42 && !id.has_role);
    free(t);
    t = hs("{\"userId\":7,\"exp\":%ld,\"x\":%ld}", now + 60, 0);
    CHECK(verify(&cfg, t, &id) == 0 && id.user_id == 7);
    free(t);
    t = hs("{\"id\":\"8\",\"exp\":%ld,\"x\":%ld}", now + 60, 0);
    CHECK(verify(&cfg, t, &id) == 0 && id.user_id == 8);
    free(t);
    /* Refused: expired, not yet valid, no exp, bad subjects, role not a string. */
    const char *bad[] = {
        "{\"sub\":\"1\",\"exp\":%ld,\"x\":%ld}",   /* exp = now - 1 below */
        "{\"sub\":\"1\",\"exp\":%ld,\"nbf\":%ld}", /* nbf in the future */
        "{\"sub\":\"1\",\"x\":%ld,\"y\":%ld}",     /* no exp */
        "{\"sub\":\"0\",\"exp\":%ld,\"x\":%ld}",
        "{\"sub\":\"abc\",\"exp\":%ld,\"x\":%ld}",
        "{\"sub\":-5,\"exp\":%ld,\"x\":%ld}",
        "{\"sub\":1.5,\"exp\":%ld,\"x\":%ld}",
        "{\"sub\":\"2147483648\",\"exp\":%ld,\"x\":%ld}",
        "{\"exp\":%ld,\"x\":%ld}",                   /* no subject */
        "{\"sub\":\"1\",\"exp\":%ld,\"role\":%ld}",  /* role a number */
        "{\"sub\":\"1\",\"exp\":\"%ld\",\"x\":%ld}", /* exp a string */
    };
    long a[] = {now - 1, now + 60, 0, now + 60, now + 60, now + 60, now + 60, now + 60, now + 60, now + 60, now + 60};
    long b[] = {0, now + 3600, 0, 0, 0, 0, 0, 0, 0, 1, 0};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        t = hs(bad[i], a[i], b[i]);
        CHECK(t != NULL);
        int rc = verify(&cfg, t, &id);
        if (rc == 0)
            fprintf(stderr, "accepted bad token %zu\n", i);
        CHECK(rc == -1);
        free(t);
    }
    /* Leeway admits a token that expired a moment ago. */
    cfg.jwt_leeway = 30;
    t = hs("{\"sub\":\"1\",\"exp\":%ld,\"x\":%ld}", now - 10, 0);
    CHECK(verify(&cfg, t, &id) == 0);
    free(t);
    cfg.jwt_leeway = 0;

    /* Wrong secret, then accepted once it is the previous secret. */
    const char other[] = "another-secret-of-at-least-32-bytes!!";
    char claims[128];
    snprintf(claims, sizeof claims, "{\"sub\":\"3\",\"exp\":%ld}", now + 60);
    t = sign(JWT_ALG_HS256, other, strlen(other), claims);
    CHECK(verify(&cfg, t, &id) == -1);
    cfg.jwt_secret_previous = (char *)other;
    CHECK(verify(&cfg, t, &id) == 0 && id.user_id == 3);
    cfg.jwt_secret_previous = NULL;
    free(t);

    /* Other HMAC algorithms with the right secret: refused (pinned). */
    t = sign(JWT_ALG_HS512, SECRET, strlen(SECRET), claims);
    CHECK(verify(&cfg, t, &id) == -1);
    free(t);
    t = sign(JWT_ALG_HS384, SECRET, strlen(SECRET), claims);
    CHECK(verify(&cfg, t, &id) == -1);
    free(t);

    /* alg none, with and without a trailing signature. */
    char h[64], p[256], tok[400];
    b64url("{\"alg\":\"none\",\"typ\":\"JWT\"}", h);
    b64url(claims, p);
    snprintf(tok, sizeof tok, "%s.%s.", h, p);
    CHECK(verify(&cfg, tok, &id) == -1);
    snprintf(tok, sizeof tok, "%s.%s", h, p);
    CHECK(verify(&cfg, tok, &id) == -1);
    /* A header claiming HS256 with a forged payload and a made-up signature. */
    b64url("{\"alg\":\"HS256\"}", h);
    snprintf(tok, sizeof tok, "%s.%s.AAAA", h, p);
    CHECK(verify(&cfg, tok, &id) == -1);
    /* Malformed shapes. */
    const char *shapes[] = {"", "abc", "a.b", "a.b.c.d", "..", "!!.??.##", "eyJ.eyJ.x"};
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++)
        CHECK(verify(&cfg, shapes[i], &id) == -1);
    char *huge = malloc(MSG_TOKEN_MAX + 10);
    memset(huge, 'a', MSG_TOKEN_MAX + 9);
    huge[MSG_TOKEN_MAX + 9] = '\0';
    CHECK(verify(&cfg, huge, &id) == -1);
    free(huge);
}

/* HS256 signatures are checked by shared/auth.c itself (HMAC-SHA256,
 * constant-time comparison), not by libjwt's strcmp: forged, truncated,
 * padded and re-spelled signatures. */
static void test_hs256_signatures(void)
{
    struct msg_config cfg = {0};
    cfg.jwt_alg = MSG_JWT_HS256;
    cfg.jwt_secret = (char *)SECRET;
    struct msg_identity id;
    char *good = hs("{\"sub\":\"5\",\"exp\":%ld,\"iat\":%ld}", now + 60, now);
    CHECK(good && verify(&cfg, good, &id) == 0 && id.user_id == 5);
    char *sig = strrchr(good, '.') + 1;
    CHECK(strlen(sig) == 43);
    size_t n = strlen(good);
    char *t = malloc(n + 64);

    /* Every single character of the signature changed: refused. */
    int all_refused = 1;
    for (size_t i = 0; i < 43; i++) {
        strcpy(t, good);
        char *s = t + (sig - good);
        s[i] = s[i] == 'A' ? 'B' : 'A';
        if (verify(&cfg, t, &id) == 0)
            all_refused = 0;
    }
    CHECK(all_refused);
    /* The last character spelled otherwise: the same 32 bytes once its two
     * unused bits are dropped, but not the canonical encoding. */
    {
        static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        strcpy(t, good);
        char *last = t + n - 1;
        int v = (int)(strchr(tab, *last) - tab);
        *last = tab[v ^ 1];
        CHECK(verify(&cfg, t, &id) == -1);
    }
    /* Truncated: one character less, half, a single character. */
    size_t cut[] = {42, 21, 1};
    for (size_t i = 0; i < sizeof cut / sizeof cut[0]; i++) {
        strcpy(t, good);
        t[(size_t)(sig - good) + cut[i]] = '\0';
        CHECK(verify(&cfg, t, &id) == -1);
    }
    /* Padded, with trailing bytes, in standard base64 alphabet. */
    const char *tails[] = {"=", "==", "A", "AAAA", " ", "\n", "."};
    for (size_t i = 0; i < sizeof tails / sizeof tails[0]; i++) {
        snprintf(t, n + 64, "%s%s", good, tails[i]);
        CHECK(verify(&cfg, t, &id) == -1);
    }
    /* Characters of the standard alphabet, not of base64url. */
    const char std[] = "+/";
    for (size_t i = 0; i < 2; i++) {
        strcpy(t, good);
        t[(size_t)(sig - good) + 5] = std[i];
        CHECK(verify(&cfg, t, &id) == -1);
    }
    /* Another token's valid signature on this header and payload. */
    char *other = hs("{\"sub\":\"6\",\"exp\":%ld,\"iat\":%ld}", now + 60, now);
    snprintf(t, n + 64, "%.*s%s", (int)(sig - good), good, strrchr(other, '.') + 1);
    CHECK(verify(&cfg, t, &id) == -1);
    /* This signature on a forged payload (sub 1 instead of 5). */
    char h[64], p[256], forged[512];
    b64url("{\"alg\":\"HS256\",\"typ\":\"JWT\"}", h);
    char claims[128];
    snprintf(claims, sizeof claims, "{\"sub\":\"1\",\"exp\":%ld,\"iat\":%ld}", now + 60, now);
    b64url(claims, p);
    snprintf(forged, sizeof forged, "%s.%s.%s", h, p, sig);
    CHECK(verify(&cfg, forged, &id) == -1);
    /* An HS512-sized signature (86 characters) and an empty one. */
    snprintf(forged, sizeof forged, "%.*s%s%s", (int)(sig - good), good, sig, sig);
    CHECK(verify(&cfg, forged, &id) == -1);
    snprintf(forged, sizeof forged, "%.*s", (int)(sig - good), good);
    CHECK(verify(&cfg, forged, &id) == -1);
    /* Signed here, for shapes libjwt would not produce: accepted as a
     * check of the HMAC itself, then payloads that are not JSON objects. */
    snprintf(claims, sizeof claims, "{\"sub\":\"2\",\"exp\":%ld}", now + 60);
    hs_raw("{\"alg\":\"HS256\"}", claims, forged, sizeof forged);
    CHECK(verify(&cfg, forged, &id) == 0 && id.user_id == 2);
    const char *payloads[] = {"[1,2]", "\"x\"", "{\"sub\":\"2\",", "", "{\"sub\":\"2\",\"exp\":99999999999}\x01"};
    for (size_t i = 0; i < sizeof payloads / sizeof payloads[0]; i++) {
        hs_raw("{\"alg\":\"HS256\"}", payloads[i], forged, sizeof forged);
        CHECK(verify(&cfg, forged, &id) == -1);
    }
    /* Signed with the right secret but a lying header: refused (pinned). */
    hs_raw("{\"alg\":\"HS512\"}", claims, forged, sizeof forged);
    CHECK(verify(&cfg, forged, &id) == -1);
    hs_raw("{\"alg\":\"none\"}", claims, forged, sizeof forged);
    CHECK(verify(&cfg, forged, &id) == -1);
    free(other);
    free(good);
    free(t);
}

/* iat, and the lifetime bound jwt_max_ttl. */
static void test_lifetime(void)
{
    struct msg_config cfg = {0};
    cfg.jwt_alg = MSG_JWT_HS256;
    cfg.jwt_secret = (char *)SECRET;
    cfg.jwt_max_ttl = 3600;
    struct msg_identity id;
    char *t;
    t = hs("{\"sub\":\"4\",\"exp\":%ld,\"iat\":%ld}", now + 3600, now);
    CHECK(verify(&cfg, t, &id) == 0 && id.has_iat && id.iat == now && id.exp == now + 3600);
    free(t);
    t = hs("{\"sub\":\"4\",\"exp\":%ld,\"iat\":%ld}", now + 3601, now);
    CHECK(verify(&cfg, t, &id) == -1);
    free(t);
    /* Issued long ago, expiring soon: its lifetime is what counts. */
    t = hs("{\"sub\":\"4\",\"exp\":%ld,\"iat\":%ld}", now + 100, now - 7000);
    CHECK(verify(&cfg, t, &id) == -1);
    free(t);
    /* An iat in the future buys nothing. */
    t = hs("{\"sub\":\"4\",\"exp\":%ld,\"iat\":%ld}", now + 100060, now + 100000);
    CHECK(verify(&cfg, t, &id) == -1);
    free(t);
    /* Without iat: what is left. */
    t = hs("{\"sub\":\"4\",\"exp\":%ld,\"x\":%ld}", now + 3600, 0);
    CHECK(verify(&cfg, t, &id) == 0 && !id.has_iat);
    free(t);
    t = hs("{\"sub\":\"4\",\"exp\":%ld,\"x\":%ld}", now + 3601, 0);
    CHECK(verify(&cfg, t, &id) == -1);
    free(t);
    /* iat must be a number; a fraction is rounded down. */
    t = hs("{\"sub\":\"4\",\"exp\":%ld,\"iat\":\"%ld\"}", now + 60, now);
    CHECK(verify(&cfg, t, &id) == -1);
    free(t);
    char claims[128];
    snprintf(claims, sizeof claims, "{\"sub\":\"4\",\"exp\":%ld,\"iat\":%ld.75}", now + 60, now - 1);
    t = sign(JWT_ALG_HS256, SECRET, strlen(SECRET), claims);
    CHECK(t && verify(&cfg, t, &id) == 0 && id.has_iat && id.iat == now - 1);
    free(t);
    /* No bound configured (0): any lifetime. */
    cfg.jwt_max_ttl = 0;
    t = hs("{\"sub\":\"4\",\"exp\":%ld,\"iat\":%ld}", now + 10L * 365 * 86400, now);
    CHECK(verify(&cfg, t, &id) == 0);
    free(t);
}

static void pem_pair(EVP_PKEY *k, char **priv, char **pub)
{
    BIO *b = BIO_new(BIO_s_mem());
    PEM_write_bio_PrivateKey(b, k, NULL, NULL, 0, NULL, NULL);
    char *d;
    long n = BIO_get_mem_data(b, &d);
    *priv = strndup(d, (size_t)n);
    BIO_free(b);
    b = BIO_new(BIO_s_mem());
    PEM_write_bio_PUBKEY(b, k);
    n = BIO_get_mem_data(b, &d);
    *pub = strndup(d, (size_t)n);
    BIO_free(b);
}

static void test_public_key(enum msg_jwt_alg alg, jwt_alg_t jalg, EVP_PKEY *k)
{
    char *priv, *pub;
    pem_pair(k, &priv, &pub);
    struct msg_config cfg = {0};
    cfg.jwt_alg = alg;
    cfg.jwt_public_key = pub;
    cfg.jwt_public_key_len = strlen(pub);
    struct msg_identity id;
    char claims[128];
    snprintf(claims, sizeof claims, "{\"sub\":\"9\",\"exp\":%ld}", now + 60);
    char *t = sign(jalg, priv, strlen(priv), claims);
    CHECK(t && verify(&cfg, t, &id) == 0 && id.user_id == 9);
    free(t);
    /* The confusion attack: HS256 "signed" with the public key as secret. */
    t = sign(JWT_ALG_HS256, pub, strlen(pub), claims);
    CHECK(verify(&cfg, t, &id) == -1);
    free(t);
    /* An HS256 server never accepts a public-key token. */
    struct msg_config hcfg = {0};
    hcfg.jwt_alg = MSG_JWT_HS256;
    hcfg.jwt_secret = (char *)SECRET;
    t = sign(jalg, priv, strlen(priv), claims);
    CHECK(verify(&hcfg, t, &id) == -1);
    /* A tampered payload fails the signature. */
    char *dot = strchr(t, '.');
    dot[2] = dot[2] == 'A' ? 'B' : 'A';
    CHECK(verify(&cfg, t, &id) == -1);
    free(t);
    free(priv);
    free(pub);
}

int main(void)
{
    now = (long)time(NULL);
    test_hs256();
    test_hs256_signatures();
    test_lifetime();
    EVP_PKEY *rsa = EVP_RSA_gen(2048);
    test_public_key(MSG_JWT_RS256, JWT_ALG_RS256, rsa);
    EVP_PKEY_free(rsa);
    EVP_PKEY *ec = EVP_EC_gen("P-256");
    test_public_key(MSG_JWT_ES256, JWT_ALG_ES256, ec);
    EVP_PKEY_free(ec);
    return check_report("auth");
}
