/* Configuration: defaults, file, environment, and one clear error per key. */
#include <stdlib.h>
#include <unistd.h>

#include "check.h"
#include "config.h"

static const char SECRET[] = "0123456789abcdef0123456789abcdef";

static char *write_conf(const char *text)
{
    static char path[64];
    snprintf(path, sizeof path, "/tmp/msg-conf-XXXXXX");
    int fd = mkstemp(path);
    FILE *f = fdopen(fd, "w");
    fputs(text, f);
    fclose(f);
    return path;
}

static int load(const char *text, struct msg_config *cfg, char *err, size_t n);

/* A key file of n bytes: fill repeated, then tail at its very end. */
static void write_key(const char *path, size_t n, char fill, const char *tail)
{
    FILE *f = fopen(path, "wb");
    size_t tl = tail ? strlen(tail) : 0;
    for (size_t i = 0; i + tl < n; i++)
        fputc(fill, f);
    if (tail)
        fputs(tail, f);
    fclose(f);
}

/* jwt_public_key_file: read with a bound, searched as bytes (the buffer of
 * its largest size is not a C string until terminated). */
static void test_key_file(void)
{
    struct msg_config cfg;
    char err[512], text[512], key[64];
    snprintf(key, sizeof key, "/tmp/msg-key-XXXXXX");
    int fd = mkstemp(key);
    close(fd);
    snprintf(text, sizeof text, "jwt_algorithm = RS256\njwt_public_key_file = %s\n", key);

    /* Exactly the largest size, no PEM marker: refused, nothing read past it. */
    write_key(key, MSG_KEY_FILE_MAX, 'A', NULL);
    CHECK(load(text, &cfg, err, sizeof err) == -1 && strstr(err, "not a PEM public key"));
    msg_config_free(&cfg);
    /* The marker in its last bytes: found. */
    write_key(key, MSG_KEY_FILE_MAX, 'A', "\n-----BEGIN");
    CHECK(load(text, &cfg, err, sizeof err) == 0 && cfg.jwt_public_key_len == MSG_KEY_FILE_MAX &&
          cfg.jwt_public_key[MSG_KEY_FILE_MAX] == '\0');
    msg_config_free(&cfg);
    /* One byte more: too long. */
    write_key(key, MSG_KEY_FILE_MAX + 1, 'A', "\n-----BEGIN");
    CHECK(load(text, &cfg, err, sizeof err) == -1 && strstr(err, "not a PEM public key"));
    msg_config_free(&cfg);
    /* A NUL inside: not a PEM text. */
    write_key(key, 100, '\0', "-----BEGIN PUBLIC KEY-----\n");
    CHECK(load(text, &cfg, err, sizeof err) == -1);
    msg_config_free(&cfg);
    /* A short file after a long one: only its own bytes count, not what
     * an earlier read left in the buffer. */
    write_key(key, 200, 'X', "\n-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n");
    CHECK(load(text, &cfg, err, sizeof err) == 0);
    msg_config_free(&cfg);
    write_key(key, 4, 'A', NULL);
    CHECK(load(text, &cfg, err, sizeof err) == -1 && strstr(err, "not a PEM public key"));
    msg_config_free(&cfg);
    /* Empty. */
    write_key(key, 0, 'A', NULL);
    CHECK(load(text, &cfg, err, sizeof err) == -1);
    msg_config_free(&cfg);
    /* A small PEM: its text, terminated. */
    const char pem[] = "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n";
    write_key(key, strlen(pem), 'A', pem);
    CHECK(load(text, &cfg, err, sizeof err) == 0 && cfg.jwt_public_key_len == strlen(pem));
    CHECK_STR(cfg.jwt_public_key, pem);
    msg_config_free(&cfg);
    unlink(key);
}

static int load(const char *text, struct msg_config *cfg, char *err, size_t n)
{
    char *p = write_conf(text);
    int rc = msg_config_load(cfg, p, 0, err, n);
    unlink(p);
    return rc;
}

/* api_socket_mode: octal, 0 to 0777, nothing else. */
static void test_socket_mode(void)
{
    unsigned m = 12345;
    CHECK(msg_config_socket_mode("0660", &m) == 0 && m == 0660);
    CHECK(msg_config_socket_mode("0", &m) == 0 && m == 0);
    CHECK(msg_config_socket_mode("777", &m) == 0 && m == 0777);
    static const char *const bad[] = {"",  "1000", "0o660", "0668", "-1", " 660", "660 ", "8", "99999999999999999999",
                                      NULL};
    int accepted = 0;
    for (int i = 0; bad[i]; i++)
        accepted += msg_config_socket_mode(bad[i], &m) == 0;
    CHECK_INT(accepted, 0);
    CHECK_INT(msg_config_socket_mode(NULL, &m), -1);
}

/* --check-config's dump: every secret hidden, a password in the database
 * URL masked in either form, other values as they are. */
static void dump_is(const char *url, const char *want_line)
{
    struct msg_config cfg;
    char err[512], *text = NULL;
    size_t len = 0;
    setenv("MESSAGING_DATABASE_URL", url, 1);
    CHECK(load("jwt_secret_previous = fedcba9876543210fedcba9876543210\n", &cfg, err, sizeof err) == 0);
    FILE *f = open_memstream(&text, &len);
    msg_config_dump(&cfg, f);
    fclose(f);
    CHECK(strstr(text, want_line) != NULL);
    CHECK(strstr(text, SECRET) == NULL && strstr(text, "fedcba98") == NULL && strstr(text, "s3cret") == NULL);
    CHECK(strstr(text, "jwt_secret = (set, hidden)\n") != NULL);
    CHECK(strstr(text, "jwt_secret_previous = (set, hidden)\n") != NULL);
    if (!strstr(text, want_line))
        fprintf(stderr, "  dump:\n%s", text);
    free(text);
    msg_config_free(&cfg);
}

static void test_dump(void)
{
    setenv("MESSAGING_JWT_SECRET", SECRET, 1);
    dump_is("postgresql://app:s3cret@db.example/messaging",
            "database_url = postgresql://app:***@db.example/messaging\n");
    dump_is("host=db user=app password=s3cret dbname=m", "database_url = host=db user=app password=*** dbname=m\n");
    dump_is("postgresql:///m?host=/tmp&password=s3cret&user=x",
            "database_url = postgresql:///m?host=/tmp&password=***&user=x\n");
    dump_is("postgresql:///messaging", "database_url = postgresql:///messaging\n");
    unsetenv("MESSAGING_DATABASE_URL");
    unsetenv("MESSAGING_JWT_SECRET");
}

int main(void)
{
    struct msg_config cfg;
    char err[512];
    unsetenv("MESSAGING_DATABASE_URL");
    unsetenv("MESSAGING_JWT_SECRET");
    unsetenv("MESSAGING_HTTP_PORT");
    unsetenv("MESSAGING_WS_PORT");
    unsetenv("MESSAGING_CONFIG");

    /* Nothing set: the database is the first thing missing. */
    CHECK(msg_config_load(&cfg, NULL, 0, err, sizeof err) == -1 && strstr(err, "database_url"));
    msg_config_free(&cfg);

    CHECK(load("database_url = postgresql:///x\n", &cfg, err, sizeof err) == -1 && strstr(err, "jwt_secret"));
    msg_config_free(&cfg);
    CHECK(load("database_url = postgresql:///x\njwt_secret = short\n", &cfg, err, sizeof err) == -1 &&
          strstr(err, "jwt_secret") && !strstr(err, "short"));
    msg_config_free(&cfg);

    char text[512];
    snprintf(text, sizeof text,
             "# comment\n\ndatabase_url = \"postgresql:///x\"\n  jwt_secret = %s  \napi_workers = 7\n", SECRET);
    CHECK(load(text, &cfg, err, sizeof err) == 0);
    CHECK_STR(cfg.database_url, "postgresql:///x");
    CHECK_STR(cfg.jwt_secret, SECRET);
    CHECK(cfg.api_workers == 7 && cfg.http_port == 8080 && cfg.ws_port == 5001);
    CHECK(cfg.max_message_length == 10000 && cfg.jwt_alg == MSG_JWT_HS256);
    msg_config_free(&cfg);

    /* The environment wins over the file. */
    setenv("MESSAGING_HTTP_PORT", "9191", 1);
    setenv("MESSAGING_DATABASE_URL", "postgresql:///y", 1);
    CHECK(load(text, &cfg, err, sizeof err) == 0 && cfg.http_port == 9191);
    CHECK_STR(cfg.database_url, "postgresql:///y");
    msg_config_free(&cfg);
    setenv("MESSAGING_WS_PORT", "99999", 1);
    CHECK(load(text, &cfg, err, sizeof err) == -1 && strstr(err, "ws_port") && strstr(err, "MESSAGING_WS_PORT"));
    msg_config_free(&cfg);
    unsetenv("MESSAGING_WS_PORT");

    /* Wrong values name their key and line. */
    snprintf(text, sizeof text, "jwt_secret = %s\napi_workers = many\n", SECRET);
    CHECK(load(text, &cfg, err, sizeof err) == -1 && strstr(err, "api_workers") && strstr(err, ":2"));
    msg_config_free(&cfg);
    CHECK(load("colour = blue\n", &cfg, err, sizeof err) == -1 && strstr(err, "unknown key colour"));
    msg_config_free(&cfg);
    CHECK(load("just words\n", &cfg, err, sizeof err) == -1 && strstr(err, "key = value"));
    msg_config_free(&cfg);
    CHECK(load("jwt_algorithm = HS512\n", &cfg, err, sizeof err) == -1 && strstr(err, "jwt_algorithm"));
    msg_config_free(&cfg);
    CHECK(load("jwt_algorithm = RS256\n", &cfg, err, sizeof err) == -1 && strstr(err, "jwt_public_key_file"));
    msg_config_free(&cfg);
    CHECK(load("jwt_algorithm = RS256\njwt_public_key_file = /nonexistent.pem\n", &cfg, err, sizeof err) == -1 &&
          strstr(err, "jwt_public_key_file"));
    msg_config_free(&cfg);
    /* The section 9 switches: on or off, defaults on. */
    snprintf(text, sizeof text, "database_url = postgresql:///x\njwt_secret = %s\n", SECRET);
    CHECK(load(text, &cfg, err, sizeof err) == 0);
    CHECK_STR(cfg.presence, "on");
    CHECK_STR(cfg.delivery_receipts, "on");
    CHECK_STR(cfg.audit_log, "on");
    msg_config_free(&cfg);
    snprintf(text, sizeof text, "database_url = postgresql:///x\njwt_secret = %s\npresence = off\n", SECRET);
    CHECK(load(text, &cfg, err, sizeof err) == 0);
    CHECK_STR(cfg.presence, "off");
    msg_config_free(&cfg);
    snprintf(text, sizeof text, "database_url = postgresql:///x\njwt_secret = %s\ndelivery_receipts = no\n", SECRET);
    CHECK(load(text, &cfg, err, sizeof err) == -1 && strstr(err, "delivery_receipts must be on or off"));
    msg_config_free(&cfg);
    snprintf(text, sizeof text, "database_url = postgresql:///x\njwt_secret = %s\npresence = maybe\n", SECRET);
    CHECK(load(text, &cfg, err, sizeof err) == -1 && strstr(err, "presence must be on or off"));
    msg_config_free(&cfg);
    snprintf(text, sizeof text, "jwt_secret = %s\nlog_level = loud\n", SECRET);
    CHECK(load(text, &cfg, err, sizeof err) == -1 && strstr(err, "log_level"));
    msg_config_free(&cfg);

    /* A missing file is an error, not silently the defaults. */
    CHECK(msg_config_load(&cfg, "/nonexistent/messaging.conf", 0, err, sizeof err) == -1 && strstr(err, "cannot read"));
    msg_config_free(&cfg);

    /* Security keys: their defaults and bounds. */
    snprintf(text, sizeof text, "jwt_secret = %s\n", SECRET);
    setenv("MESSAGING_DATABASE_URL", "postgresql:///y", 1);
    CHECK(load(text, &cfg, err, sizeof err) == 0 && cfg.jwt_max_ttl == 86400 && cfg.db_connect_timeout_s == 5 &&
          cfg.db_statement_timeout_ms == 10000);
    CHECK_STR(cfg.api_socket_mode, "0660");
    CHECK_STR(cfg.api_socket_group, "");
    msg_config_free(&cfg);
    const char *bad_keys[] = {
        "jwt_max_ttl = 59",       "jwt_max_ttl = 31536001", "db_connect_timeout_s = 1", "db_statement_timeout_ms = -1",
        "api_socket_mode = 0666", "api_socket_mode = 0662", "api_socket_mode = 660x",   "api_socket_mode = 01660",
        "api_socket_mode = rw"};
    for (size_t i = 0; i < sizeof bad_keys / sizeof bad_keys[0]; i++) {
        char name[64];
        snprintf(name, sizeof name, "%.*s", (int)strcspn(bad_keys[i], " "), bad_keys[i]);
        snprintf(text, sizeof text, "jwt_secret = %s\n%s\n", SECRET, bad_keys[i]);
        int rc = load(text, &cfg, err, sizeof err);
        CHECK(rc == -1 && strstr(err, name));
        if (rc == 0)
            fprintf(stderr, "accepted: %s\n", bad_keys[i]);
        msg_config_free(&cfg);
    }
    snprintf(text, sizeof text,
             "jwt_secret = %s\napi_socket_mode = 0600\napi_socket_group = www-data\n"
             "db_statement_timeout_ms = 0\njwt_max_ttl = 900\n",
             SECRET);
    CHECK(load(text, &cfg, err, sizeof err) == 0 && cfg.db_statement_timeout_ms == 0 && cfg.jwt_max_ttl == 900);
    CHECK_STR(cfg.api_socket_group, "www-data");
    unsigned mode = 0;
    CHECK(msg_config_socket_mode(cfg.api_socket_mode, &mode) == 0 && mode == 0600);
    msg_config_free(&cfg);
    test_key_file();
    test_socket_mode();
    test_dump();
    unsetenv("MESSAGING_DATABASE_URL");

    /* The tools that never connect do not need a database. */
    unsetenv("MESSAGING_DATABASE_URL");
    setenv("MESSAGING_JWT_SECRET", SECRET, 1);
    CHECK(msg_config_load(&cfg, NULL, MSG_CONFIG_NO_DATABASE, err, sizeof err) == 0);
    msg_config_free(&cfg);
    return check_report("config");
}
