#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "msg_limits.h"

enum kind { K_STR, K_LONG, K_ALG };

struct key {
    const char *name;
    enum kind kind;
    size_t offset;
    const char *def;
    long min, max;
    bool secret;
};

#define S(f, d)                                                   \
    {                                                             \
#f, K_STR, offsetof(struct msg_config, f), d, 0, 0, false \
    }
#define L(f, d, lo, hi)                                              \
    {                                                                \
#f, K_LONG, offsetof(struct msg_config, f), d, lo, hi, false \
    }

static const struct key keys[] = {
    S(database_url, ""),
    {"jwt_algorithm", K_ALG, offsetof(struct msg_config, jwt_alg), "HS256", 0, 0, false},
    {"jwt_secret", K_STR, offsetof(struct msg_config, jwt_secret), "", 0, 0, true},
    {"jwt_secret_previous", K_STR, offsetof(struct msg_config, jwt_secret_previous), "", 0, 0, true},
    S(jwt_public_key_file, ""),
    L(jwt_leeway, "0", 0, 300),
    L(jwt_max_ttl, "86400", 60, 31536000),
    L(db_connect_timeout_s, "5", 2, 300),
    L(db_statement_timeout_ms, "10000", 0, 3600000),
    S(api_socket, "127.0.0.1:9000"),
    S(api_socket_mode, "0660"),
    S(api_socket_group, ""),
    L(api_workers, "16", 1, MSG_API_WORKERS_MAX),
    L(api_max_connections, "64", 1, 1024),
    L(http_port, "8080", 1, 65535),
    L(ws_port, "5001", 1, 65535),
    L(max_message_length, MSG_STR(MSG_MESSAGE_CHARS_DEFAULT), 1, MSG_MESSAGE_CHARS_MAX),
    L(max_body_bytes, MSG_STR(MSG_BODY_MAX_DEFAULT), MSG_BODY_MAX_MIN, MSG_BODY_MAX_MAX),
    L(events_retention_hours, "168", 1, 87600),
    S(notify_mode, "doorbell"),
    S(log_level, "info"),
    S(ws_cors_origins, ""),
    L(ws_ping_interval_ms, "25000", 50, 3600000),
    L(ws_ping_timeout_ms, "20000", 50, 3600000),
    L(ws_max_payload, MSG_STR(MSG_WS_MAX_PAYLOAD_DEFAULT), MSG_WS_MAX_PAYLOAD_MIN, MSG_WS_MAX_PAYLOAD_MAX),
    L(ws_connect_timeout_ms, "45000", 100, 3600000),
    L(ws_send_queue_bytes, MSG_STR(MSG_WS_SEND_QUEUE_DEFAULT), MSG_WS_SEND_QUEUE_MIN, MSG_WS_SEND_QUEUE_MAX),
    L(ws_max_connections, "20000", 1, 1000000),
    L(ws_token_warning_s, "60", 0, 86400),
    L(ws_max_sockets_per_user, "100", 1, 1000000),
    L(ws_rate_messages, "20", 1, 1000000),
    L(ws_burst_messages, "60", 1, 1000000),
    L(ws_rate_typing, "5", 1, 1000000),
    L(ws_burst_typing, "10", 1, 1000000),
    L(ws_rate_rooms, "100", 1, 1000000),
    L(ws_burst_rooms, "1000", 1, 1000000),
    L(ws_rate_refresh, "1", 1, 1000000),
    L(ws_burst_refresh, "3", 1, 1000000),
    L(ws_db_connections, "4", 1, 64),
    S(ws_event_loop, "uv"),
    L(recovery_max_disconnection_ms, "120000", 0, 86400000),
    {"admin_token", K_STR, offsetof(struct msg_config, admin_token), "", 0, 0, true},
    S(audit_log, "on"),
    S(presence, "on"),
    S(delivery_receipts, "on"),
    L(audit_retention_days, "2190", 1, 36500),
    L(presence_grace_s, "5", 0, 3600),
};
#define NKEYS (sizeof keys / sizeof keys[0])

static void fail(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

static const struct key *find_key(const char *name)
{
    for (size_t i = 0; i < NKEYS; i++)
        if (strcmp(keys[i].name, name) == 0)
            return &keys[i];
    return NULL;
}

static int set_value(struct msg_config *cfg, const struct key *k, const char *value, const char *where, char *err,
                     size_t errlen)
{
    void *field = (char *)cfg + k->offset;
    switch (k->kind) {
    case K_STR: {
        char **p = field;
        char *dup = strdup(value);
        if (!dup) {
            fail(err, errlen, "config: out of memory");
            return -1;
        }
        free(*p);
        *p = dup;
        return 0;
    }
    case K_LONG: {
        char *end;
        errno = 0;
        long v = strtol(value, &end, 10);
        if (errno || end == value || *end || v < k->min || v > k->max) {
            fail(err, errlen, "config: %s: %s must be an integer between %ld and %ld", where, k->name, k->min, k->max);
            return -1;
        }
        *(long *)field = v;
        return 0;
    }
    case K_ALG: {
        enum msg_jwt_alg *a = field;
        if (strcmp(value, "HS256") == 0)
            *a = MSG_JWT_HS256;
        else if (strcmp(value, "RS256") == 0)
            *a = MSG_JWT_RS256;
        else if (strcmp(value, "ES256") == 0)
            *a = MSG_JWT_ES256;
        else {
            fail(err, errlen, "config: %s: jwt_algorithm must be HS256, RS256 or ES256", where);
            return -1;
        }
        return 0;
    }
    }
    return -1;
}

static char *trim(char *s)
{
    while (isspace((unsigned char)*s))
        s++;
    char *e = s + strlen(s);
    while (e > s && isspace((unsigned char)e[-1]))
        *--e = '\0';
    return s;
}

static int read_file(struct msg_config *cfg, const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        fail(err, errlen, "config: cannot read %s: %s", path, strerror(errno));
        return -1;
    }
    char line[4096];
    int lineno = 0, rc = 0;
    while (rc == 0 && fgets(line, sizeof line, f)) {
        lineno++;
        if (!strchr(line, '\n') && !feof(f)) {
            fail(err, errlen, "config: %s:%d: line too long", path, lineno);
            rc = -1;
            break;
        }
        char *s = trim(line);
        if (*s == '\0' || *s == '#')
            continue;
        char *eq = strchr(s, '=');
        if (!eq) {
            fail(err, errlen, "config: %s:%d: expected key = value", path, lineno);
            rc = -1;
            break;
        }
        *eq = '\0';
        char *name = trim(s), *value = trim(eq + 1);
        size_t vl = strlen(value);
        if (vl >= 2 && value[0] == '"' && value[vl - 1] == '"') {
            value[vl - 1] = '\0';
            value++;
        }
        const struct key *k = find_key(name);
        if (!k) {
            fail(err, errlen, "config: %s:%d: unknown key %s", path, lineno, name);
            rc = -1;
            break;
        }
        char where[PATH_MAX + 32];
        snprintf(where, sizeof where, "%s:%d", path, lineno);
        rc = set_value(cfg, k, value, where, err, errlen);
    }
    fclose(f);
    return rc;
}

static int load_key_file(struct msg_config *cfg, char *err, size_t errlen)
{
    FILE *f = fopen(cfg->jwt_public_key_file, "rb");
    if (!f) {
        fail(err, errlen, "config: jwt_public_key_file: cannot read %s: %s", cfg->jwt_public_key_file, strerror(errno));
        return -1;
    }
    /* At most MSG_KEY_FILE_MAX bytes, then one NUL: the text is a string. */
    char buf[MSG_KEY_FILE_MAX + 1];
    size_t n = fread(buf, 1, MSG_KEY_FILE_MAX, f);
    int toolong = n == MSG_KEY_FILE_MAX && fgetc(f) != EOF;
    int failed = ferror(f);
    fclose(f);
    buf[n] = '\0';
    static const char begin[] = "-----BEGIN";
    if (toolong || failed || n == 0 || !memmem(buf, n, begin, sizeof begin - 1) || memchr(buf, '\0', n)) {
        fail(err, errlen, "config: jwt_public_key_file: %s is not a PEM public key", cfg->jwt_public_key_file);
        return -1;
    }
    cfg->jwt_public_key = malloc(n + 1);
    if (!cfg->jwt_public_key) {
        fail(err, errlen, "config: out of memory");
        return -1;
    }
    memcpy(cfg->jwt_public_key, buf, n + 1);
    cfg->jwt_public_key_len = n;
    return 0;
}

int msg_config_socket_mode(const char *s, unsigned *mode)
{
    char *end;
    if (!s || *s < '0' || *s > '7')
        return -1;
    errno = 0;
    unsigned long v = strtoul(s, &end, 8);
    if (errno || *end || v > 0777)
        return -1;
    *mode = (unsigned)v;
    return 0;
}

static int validate(struct msg_config *cfg, int flags, char *err, size_t errlen)
{
    if (msg_log_level_parse(cfg->log_level) < 0) {
        fail(err, errlen, "config: log_level must be debug, info, warn or error");
        return -1;
    }
    if (cfg->database_url[0] == '\0' && !(flags & MSG_CONFIG_NO_DATABASE)) {
        fail(err, errlen, "config: database_url is required (or MESSAGING_DATABASE_URL)");
        return -1;
    }
    if (cfg->jwt_alg == MSG_JWT_HS256) {
        if (strlen(cfg->jwt_secret) < 32) {
            fail(err, errlen,
                 "config: jwt_secret must be at least 32 bytes for HS256 "
                 "(or MESSAGING_JWT_SECRET)");
            return -1;
        }
        if (cfg->jwt_secret_previous[0] && strlen(cfg->jwt_secret_previous) < 32) {
            fail(err, errlen, "config: jwt_secret_previous must be at least 32 bytes");
            return -1;
        }
    } else {
        if (cfg->jwt_public_key_file[0] == '\0') {
            fail(err, errlen, "config: jwt_public_key_file is required for RS256 and ES256");
            return -1;
        }
        if (load_key_file(cfg, err, errlen) < 0)
            return -1;
    }
    if (strcmp(cfg->notify_mode, "doorbell") != 0 && strcmp(cfg->notify_mode, "inline") != 0) {
        fail(err, errlen, "config: notify_mode must be doorbell or inline");
        return -1;
    }
    const struct {
        const char *name, *value;
    } switches[] = {
        {"audit_log", cfg->audit_log}, {"presence", cfg->presence}, {"delivery_receipts", cfg->delivery_receipts}};
    for (size_t i = 0; i < sizeof switches / sizeof switches[0]; i++)
        if (strcmp(switches[i].value, "on") != 0 && strcmp(switches[i].value, "off") != 0) {
            fail(err, errlen, "config: %s must be on or off", switches[i].name);
            return -1;
        }
    if (strcmp(cfg->ws_event_loop, "uv") != 0 && strcmp(cfg->ws_event_loop, "poll") != 0) {
        fail(err, errlen, "config: ws_event_loop must be uv or poll");
        return -1;
    }
    if (cfg->api_socket[0] == '\0') {
        fail(err, errlen, "config: api_socket must not be empty");
        return -1;
    }
    unsigned mode;
    if (msg_config_socket_mode(cfg->api_socket_mode, &mode) < 0 || (mode & 0007)) {
        fail(err, errlen,
             "config: api_socket_mode must be an octal mode without rights for others "
             "(e.g. 0660)");
        return -1;
    }
    return 0;
}

static const struct {
    const char *env, *key;
} env_overrides[] = {
    {"MESSAGING_DATABASE_URL", "database_url"},
    {"MESSAGING_JWT_SECRET", "jwt_secret"},
    {"MESSAGING_HTTP_PORT", "http_port"},
    {"MESSAGING_WS_PORT", "ws_port"},
};

int msg_config_load(struct msg_config *cfg, const char *path, int flags, char *err, size_t errlen)
{
    memset(cfg, 0, sizeof *cfg);
    for (size_t i = 0; i < NKEYS; i++)
        if (set_value(cfg, &keys[i], keys[i].def, "default", err, errlen) < 0)
            return -1;
    if (!path || !*path)
        path = getenv("MESSAGING_CONFIG");
    if (path && *path) {
        cfg->path = strdup(path);
        if (!cfg->path || read_file(cfg, path, err, errlen) < 0)
            return -1;
    }
    for (size_t i = 0; i < sizeof env_overrides / sizeof env_overrides[0]; i++) {
        const char *v = getenv(env_overrides[i].env);
        if (v && *v && set_value(cfg, find_key(env_overrides[i].key), v, env_overrides[i].env, err, errlen) < 0)
            return -1;
    }
    return validate(cfg, flags, err, errlen);
}

void msg_config_free(struct msg_config *cfg)
{
    for (size_t i = 0; i < NKEYS; i++)
        if (keys[i].kind == K_STR) {
            char **p = (char **)((char *)cfg + keys[i].offset);
            free(*p);
            *p = NULL;
        }
    free(cfg->path);
    free(cfg->jwt_public_key);
    cfg->path = cfg->jwt_public_key = NULL;
}

/* A connection string with its password hidden: "user:***@" in a URI,
 * "password=***" in key=value form. */
static void print_url_masked(FILE *f, const char *name, const char *v)
{
    fprintf(f, "%s = ", name);
    const char *scheme = strstr(v, "://");
    const char *at = scheme ? strchr(scheme + 3, '@') : NULL;
    const char *colon = scheme && at ? memchr(scheme + 3, ':', (size_t)(at - scheme - 3)) : NULL;
    const char *pw = strstr(v, "password=");
    if (colon) {
        fprintf(f, "%.*s:***%s\n", (int)(colon - v), v, at);
    } else if (pw) {
        const char *end = pw + 9 + strcspn(pw + 9, " &");
        fprintf(f, "%.*spassword=***%s\n", (int)(pw - v), v, end);
    } else {
        fprintf(f, "%s\n", v);
    }
}

int msg_config_start(struct msg_config *cfg, const char *prog, const char *path, int check)
{
    char err[512];
    msg_log_set_program(prog);
    if (msg_config_load(cfg, path, 0, err, sizeof err) < 0) {
        fprintf(stderr, "%s: %s\n", prog, err);
        return -1;
    }
    msg_log_set_level((enum msg_log_level)msg_log_level_parse(cfg->log_level));
    if (check) {
        msg_config_dump(cfg, stdout);
        return 1;
    }
    return 0;
}

void msg_config_dump(const struct msg_config *cfg, void *file)
{
    FILE *f = file;
    static const char *const algs[] = {"HS256", "RS256", "ES256"};
    for (size_t i = 0; i < NKEYS; i++) {
        const void *field = (const char *)cfg + keys[i].offset;
        switch (keys[i].kind) {
        case K_STR: {
            const char *v = *(char *const *)field;
            if (keys[i].offset == offsetof(struct msg_config, database_url) && v) {
                print_url_masked(f, keys[i].name, v);
                break;
            }
            fprintf(f, "%s = %s\n", keys[i].name, keys[i].secret && v && *v ? "(set, hidden)" : (v ? v : ""));
            break;
        }
        case K_LONG:
            fprintf(f, "%s = %ld\n", keys[i].name, *(const long *)field);
            break;
        case K_ALG:
            fprintf(f, "%s = %s\n", keys[i].name, algs[*(const enum msg_jwt_alg *)field]);
            break;
        }
    }
}
