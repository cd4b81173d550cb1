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

static int load(const char *text, struct msg_config *cfg, char *err, size_t n)
{
    char *p = write_conf(text);
    int rc = msg_config_load(cfg, p, 0, err, n);
    unlink(p);
    return rc;
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
    snprintf(text, sizeof text, "jwt_secret = %s\nlog_level = loud\n", SECRET);
    CHECK(load(text, &cfg, err, sizeof err) == -1 && strstr(err, "log_level"));
    msg_config_free(&cfg);

    /* A missing file is an error, not silently the defaults. */
    CHECK(msg_config_load(&cfg, "/nonexistent/messaging.conf", 0, err, sizeof err) == -1 && strstr(err, "cannot read"));
    msg_config_free(&cfg);

    /* The tools that never connect do not need a database. */
    unsetenv("MESSAGING_DATABASE_URL");
    setenv("MESSAGING_JWT_SECRET", SECRET, 1);
    CHECK(msg_config_load(&cfg, NULL, MSG_CONFIG_NO_DATABASE, err, sizeof err) == 0);
    msg_config_free(&cfg);
    return check_report("config");
}
