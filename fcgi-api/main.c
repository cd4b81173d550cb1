/* messaging-api: the REST side of API.md section 4 as a FastCGI program
 * (prefork master and workers), or a plain CGI program when a CGI server
 * runs it with a request in its environment. */
#include <errno.h>
#include <fcgiapp.h>
#include <fcntl.h>
#include <getopt.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "log.h"
#include "master.h"
#include "msg_limits.h"
#include "worker.h"

static void usage(FILE *f)
{
    fprintf(f, "usage: messaging-api [options]\n"
               "  --config FILE     configuration file (default: $MESSAGING_CONFIG)\n"
               "  --socket ADDR     FastCGI socket to bind: a path, or HOST:PORT\n"
               "                    (default: api_socket of the configuration; with no\n"
               "                    --socket and a listening socket on fd 0, that one)\n"
               "  --workers N       worker processes (default: api_workers)\n"
               "  --check-config    validate the configuration, print it (secrets\n"
               "                    hidden) and exit\n"
               "  --help            this text\n"
               "Run by a CGI server (REQUEST_METHOD set), it answers that one request.\n"
               "Environment: MESSAGING_CONFIG, MESSAGING_DATABASE_URL, MESSAGING_JWT_SECRET.\n"
               "Signals: SIGTERM drains and exits; SIGHUP re-reads the configuration and\n"
               "replaces the workers.\n");
}

/* The group of a unix socket: a name, a number, or "" (the process's). */
static int socket_group(const char *name, gid_t *gid)
{
    if (!name[0])
        return 0;
    struct group *gr = getgrnam(name);
    if (gr) {
        *gid = gr->gr_gid;
        return 1;
    }
    char *end;
    errno = 0;
    unsigned long v = strtoul(name, &end, 10);
    if (errno || *end || name[0] < '0' || name[0] > '9' || v > (gid_t)-2)
        return -1;
    *gid = (gid_t)v;
    return 1;
}

/* Binds addr. A unix socket gets api_socket_mode (0660 by default: never
 * world-writable) and api_socket_group: the web server's user must be in
 * that group. */
static int bind_socket(const char *addr, const struct msg_config *cfg)
{
    int is_path = addr[0] == '/' || addr[0] == '.';
    unsigned mode = 0660;
    gid_t gid = 0;
    int has_group = 0;
    if (is_path) {
        if (msg_config_socket_mode(cfg->api_socket_mode, &mode) < 0) {
            errno = EINVAL; /* validated with the configuration already */
            return -1;
        }
        if ((has_group = socket_group(cfg->api_socket_group, &gid)) < 0) {
            fprintf(stderr, "messaging-api: api_socket_group: no group %s\n", cfg->api_socket_group);
            errno = EINVAL;
            return -1;
        }
        /* A stale unix socket from a previous run would make bind fail. */
        struct stat st;
        if (stat(addr, &st) == 0 && S_ISSOCK(st.st_mode))
            unlink(addr);
    }
    /* Created with no rights for others from the start (bind honours the
     * umask), then given exactly its mode and group. */
    mode_t old = umask(0177);
    int fd = FCGX_OpenSocket(addr, 1024);
    umask(old);
    if (fd < 0)
        return -1;
    if (is_path) {
        if ((has_group && chown(addr, (uid_t)-1, gid) < 0) || chmod(addr, (mode_t)mode) < 0) {
            int e = errno;
            fprintf(stderr, "messaging-api: %s: cannot set its group or mode: %s\n", addr, strerror(e));
            close(fd);
            unlink(addr);
            errno = e;
            return -1;
        }
    }
    return fd;
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"config", required_argument, NULL, 'c'},  {"socket", required_argument, NULL, 's'},
        {"workers", required_argument, NULL, 'w'}, {"check-config", no_argument, NULL, 'k'},
        {"help", no_argument, NULL, 'h'},          {NULL, 0, NULL, 0}};
    const char *config_path = NULL, *socket_arg = NULL;
    long workers = 0;
    int check = 0, o;
    while ((o = getopt_long(argc, argv, "c:s:w:kh", opts, NULL)) != -1) {
        switch (o) {
        case 'c':
            config_path = optarg;
            break;
        case 's':
            socket_arg = optarg;
            break;
        case 'w': {
            char *end;
            workers = strtol(optarg, &end, 10);
            if (*end || workers < 1 || workers > MSG_API_WORKERS_MAX) {
                fprintf(stderr, "messaging-api: --workers must be between 1 and %d\n", MSG_API_WORKERS_MAX);
                return 2;
            }
            break;
        }
        case 'k':
            check = 1;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    struct msg_config cfg;
    int started = msg_config_start(&cfg, "messaging-api", config_path, check);
    if (started != 0) {
        msg_config_free(&cfg);
        return started < 0 ? 1 : 0;
    }
    if (workers)
        cfg.api_workers = workers;
    if (FCGX_Init() != 0) {
        fprintf(stderr, "messaging-api: FastCGI library failed to start\n");
        return 1;
    }

    int listen_fd = -1;
    if (!socket_arg && getenv("REQUEST_METHOD")) {
        int rc = cgi_run(&cfg);
        msg_config_free(&cfg);
        return rc;
    }
    if (!socket_arg && !FCGX_IsCGI()) {
        listen_fd = 0; /* spawn-fcgi or systemd socket activation */
    } else {
        const char *addr = socket_arg ? socket_arg : cfg.api_socket;
        listen_fd = bind_socket(addr, &cfg);
        if (listen_fd < 0) {
            fprintf(stderr, "messaging-api: cannot bind %s: %s\n", addr, strerror(errno));
            msg_config_free(&cfg);
            return 1;
        }
        msg_info("api_listening", "socket=%s", addr);
    }
    /* Workers poll the shared socket and accept without blocking, so that a
     * connection taken by another worker never blocks this one. */
    fcntl(listen_fd, F_SETFL, fcntl(listen_fd, F_GETFL) | O_NONBLOCK);
    int rc = master_run(listen_fd, &cfg, config_path);
    msg_config_free(&cfg);
    return rc;
}
