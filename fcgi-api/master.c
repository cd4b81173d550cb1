#include "master.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "db.h"
#include "doorbell.h"
#include "log.h"
#include "msg_limits.h"
#include "worker.h"

static volatile sig_atomic_t got_term, got_hup, got_chld;

static void on_signal(int sig)
{
    if (sig == SIGTERM || sig == SIGINT)
        got_term = 1;
    else if (sig == SIGHUP)
        got_hup = 1;
    else if (sig == SIGCHLD)
        got_chld = 1;
}

static pid_t spawn(int listen_fd, int bell_fd, const struct msg_config *cfg)
{
    pid_t pid = fork();
    if (pid == 0) {
        struct sigaction dfl = {.sa_handler = SIG_DFL};
        sigaction(SIGCHLD, &dfl, NULL);
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        exit(worker_run(listen_fd, bell_fd, cfg)); /* exit, not _exit: LeakSanitizer checks at exit */
    }
    if (pid < 0)
        msg_err("worker_fork_failed", "errno=%d", errno);
    return pid;
}

/* Deletes events older than the retention; a short connection of its own,
 * so that a slow database never holds a worker. */
static void prune_events(const struct msg_config *cfg)
{
    /* No statement_timeout: the purge of a long backlog may take longer
     * than any request should, and it holds no worker. */
    struct msg_db_params dp;
    if (msg_db_params_init(&dp, cfg->database_url, "messaging-api-master", cfg->db_connect_timeout_s, 0) < 0) {
        msg_db_params_free(&dp);
        return;
    }
    PGconn *c = PQconnectdbParams(dp.keys, dp.vals, 1);
    msg_db_params_free(&dp);
    if (PQstatus(c) == CONNECTION_OK) {
        char hours[32];
        snprintf(hours, sizeof hours, "%ld hours", cfg->events_retention_hours);
        const char *p[] = {hours};
        PGresult *r = PQexecParams(c, "SELECT messaging.prune_events($1::interval)", 1, NULL, p,
                                   NULL, NULL, 0);
        if (PQresultStatus(r) == PGRES_TUPLES_OK)
            msg_info("events_pruned", "deleted=%s retention_hours=%ld", PQgetvalue(r, 0, 0),
                     cfg->events_retention_hours);
        PQclear(r);
    }
    PQfinish(c);
}

int master_run(int listen_fd, struct msg_config *cfg, const char *config_path)
{
    struct sigaction sa = {.sa_handler = on_signal};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    sigaction(SIGCHLD, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    struct doorbell bell;
    if (doorbell_open(&bell, cfg->database_url) < 0)
        return 1;
    size_t n = (size_t)cfg->api_workers;
    pid_t *pids = calloc(MSG_API_WORKERS_MAX, sizeof *pids);
    if (!pids)
        return 1;
    for (size_t i = 0; i < n; i++)
        pids[i] = spawn(listen_fd, bell.wr, cfg);
    msg_info("api_started", "workers=%zu", n);
    time_t next_prune = time(NULL) + 5;

    while (!got_term) {
        if (got_hup) {
            got_hup = 0;
            struct msg_config fresh;
            char err[512];
            if (msg_config_load(&fresh, config_path, 0, err, sizeof err) < 0) {
                msg_err("reload_refused", "reason=\"%s\"", err);
                msg_config_free(&fresh);
            } else {
                /* Old workers finish their request and exit; the loop below
                 * replaces each with one on the new configuration. */
                for (size_t i = 0; i < n; i++)
                    if (pids[i] > 0)
                        kill(pids[i], SIGTERM);
                msg_config_free(cfg);
                *cfg = fresh;
                msg_log_set_level((enum msg_log_level)msg_log_level_parse(cfg->log_level));
                for (size_t i = n; i < (size_t)cfg->api_workers; i++)
                    pids[i] = 0;
                n = (size_t)cfg->api_workers;
                msg_info("reloaded", "workers=%zu", n);
            }
        }
        got_chld = 0;
        int status;
        pid_t dead;
        while ((dead = waitpid(-1, &status, WNOHANG)) > 0) {
            for (size_t i = 0; i < MSG_API_WORKERS_MAX; i++)
                if (pids[i] == dead) {
                    pids[i] = 0;
                    if (!(WIFEXITED(status) && WEXITSTATUS(status) == 0))
                        msg_warn("worker_died", "pid=%d status=%d", (int)dead, status);
                }
        }
        for (size_t i = 0; i < n && !got_term; i++)
            if (pids[i] == 0) {
                pids[i] = spawn(listen_fd, bell.wr, cfg);
                if (pids[i] < 0) {
                    pids[i] = 0;
                    break;
                }
            }
        if (time(NULL) >= next_prune) {
            prune_events(cfg);
            next_prune = time(NULL) + 600;
        }
        /* Woken by a doorbell or any signal; a dead worker that keeps dying
         * is retried at most every 100 ms. */
        if (!got_term && !got_hup && !got_chld) {
            struct pollfd p = {.fd = bell.rd, .events = POLLIN};
            if (poll(&p, 1, 100) > 0)
                doorbell_serve(&bell);
        }
    }

    msg_info("api_stopping", "workers=%zu", n);
    for (size_t i = 0; i < MSG_API_WORKERS_MAX; i++)
        if (pids[i] > 0)
            kill(pids[i], SIGTERM);
    /* Drain: workers finish the request in hand; after 10 s they are killed. */
    for (int t = 0; t < 100; t++) {
        int left = 0;
        for (size_t i = 0; i < MSG_API_WORKERS_MAX; i++) {
            if (pids[i] > 0 && waitpid(pids[i], NULL, WNOHANG) == pids[i])
                pids[i] = 0;
            left += pids[i] > 0;
        }
        if (!left)
            break;
        usleep(100000);
    }
    for (size_t i = 0; i < MSG_API_WORKERS_MAX; i++)
        if (pids[i] > 0) {
            kill(pids[i], SIGKILL);
            waitpid(pids[i], NULL, 0);
        }
    free(pids);
    doorbell_serve(&bell); /* rings of the last requests */
    msg_info("api_stopped", "doorbell_rings=%lu doorbell_notifies=%lu", bell.rings, bell.notifies);
    doorbell_close(&bell);
    return 0;
}
