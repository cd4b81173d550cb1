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

/* The master's state: its workers, its doorbell and its own connection. */
struct master {
    int listen_fd;
    struct msg_config *cfg; /* the caller's; replaced on reload */
    const char *config_path;
    pid_t *pids; /* MSG_API_WORKERS_MAX slots; 0: free */
    size_t n;    /* workers wanted */
    struct doorbell bell;
    struct msg_db db; /* the doorbell's rings and the purge */
    time_t next_prune;
};

/* The master's connection: no statement_timeout, as the purge of a long
 * backlog may take longer than any request should (it holds no worker). */
static int master_db_open(struct master *m)
{
    struct msg_db_spec spec = {
        .app_name = "messaging-api-master", .connect_timeout_s = m->cfg->db_connect_timeout_s, .retry_ms = 500};
    return msg_db_open(&m->db, m->cfg->database_url, &spec);
}

/* Deletes events older than the retention. */
static void prune_events(struct master *m)
{
    PGconn *c = msg_db_conn(&m->db);
    if (!c)
        return;
    char hours[32];
    snprintf(hours, sizeof hours, "%ld hours", m->cfg->events_retention_hours);
    const char *p[] = {hours};
    PGresult *r = PQexecParams(c, "SELECT messaging.prune_events($1::interval)", 1, NULL, p, NULL, NULL, 0);
    if (PQresultStatus(r) == PGRES_TUPLES_OK)
        msg_info("events_pruned", "deleted=%s retention_hours=%ld", PQgetvalue(r, 0, 0),
                 m->cfg->events_retention_hours);
    PQclear(r);
}

static void catch_signals(void)
{
    struct sigaction sa = {.sa_handler = on_signal};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    sigaction(SIGCHLD, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
}

/* SIGHUP: the configuration re-read; a bad one is refused and the old one
 * kept. Old workers finish their request and exit; respawn() replaces each
 * with one on the new configuration. */
static void reload(struct master *m)
{
    struct msg_config fresh;
    char err[512];
    if (msg_config_load(&fresh, m->config_path, 0, err, sizeof err) < 0) {
        msg_err("reload_refused", "reason=\"%s\"", err);
        msg_config_free(&fresh);
        return;
    }
    for (size_t i = 0; i < m->n; i++)
        if (m->pids[i] > 0)
            kill(m->pids[i], SIGTERM);
    msg_config_free(m->cfg);
    *m->cfg = fresh;
    msg_log_set_level((enum msg_log_level)msg_log_level_parse(m->cfg->log_level));
    for (size_t i = m->n; i < (size_t)m->cfg->api_workers; i++)
        m->pids[i] = 0;
    m->n = (size_t)m->cfg->api_workers;
    /* The master's connection follows the new database settings too. */
    msg_db_close(&m->db);
    if (master_db_open(m) < 0)
        msg_err("reload_db_failed", "reason=memory");
    msg_info("reloaded", "workers=%zu", m->n);
}

/* Frees the slots of the workers that exited. */
static void reap(struct master *m)
{
    int status;
    pid_t dead;
    while ((dead = waitpid(-1, &status, WNOHANG)) > 0) {
        for (size_t i = 0; i < MSG_API_WORKERS_MAX; i++)
            if (m->pids[i] == dead) {
                m->pids[i] = 0;
                if (!(WIFEXITED(status) && WEXITSTATUS(status) == 0))
                    msg_warn("worker_died", "pid=%d status=%d", (int)dead, status);
            }
    }
}

/* Starts a worker in each free slot of the n wanted. */
static void respawn(struct master *m)
{
    for (size_t i = 0; i < m->n && !got_term; i++)
        if (m->pids[i] == 0) {
            m->pids[i] = spawn(m->listen_fd, m->bell.wr, m->cfg);
            if (m->pids[i] < 0) {
                m->pids[i] = 0;
                break;
            }
        }
}

/* Woken by a doorbell or any signal; a dead worker that keeps dying is
 * retried at most every 100 ms. */
static void wait_for_work(struct master *m)
{
    if (got_term || got_hup || got_chld)
        return;
    struct pollfd p = {.fd = m->bell.rd, .events = POLLIN};
    if (poll(&p, 1, 100) > 0)
        doorbell_serve(&m->bell, &m->db);
}

/* Drain: workers finish the request in hand; after 10 s they are killed. */
static void stop_workers(struct master *m)
{
    for (size_t i = 0; i < MSG_API_WORKERS_MAX; i++)
        if (m->pids[i] > 0)
            kill(m->pids[i], SIGTERM);
    for (int t = 0; t < 100; t++) {
        int left = 0;
        for (size_t i = 0; i < MSG_API_WORKERS_MAX; i++) {
            if (m->pids[i] > 0 && waitpid(m->pids[i], NULL, WNOHANG) == m->pids[i])
                m->pids[i] = 0;
            left += m->pids[i] > 0;
        }
        if (!left)
            break;
        usleep(100000);
    }
    for (size_t i = 0; i < MSG_API_WORKERS_MAX; i++)
        if (m->pids[i] > 0) {
            kill(m->pids[i], SIGKILL);
            waitpid(m->pids[i], NULL, 0);
        }
}

int master_run(int listen_fd, struct msg_config *cfg, const char *config_path)
{
    catch_signals();
    struct master m = {.listen_fd = listen_fd, .cfg = cfg, .config_path = config_path, .n = (size_t)cfg->api_workers};
    if (doorbell_open(&m.bell) < 0)
        return 1;
    m.pids = calloc(MSG_API_WORKERS_MAX, sizeof *m.pids);
    if (!m.pids || master_db_open(&m) < 0) {
        free(m.pids);
        doorbell_close(&m.bell);
        return 1;
    }
    respawn(&m);
    msg_info("api_started", "workers=%zu", m.n);
    m.next_prune = time(NULL) + 5;
    while (!got_term) {
        if (got_hup) {
            got_hup = 0;
            reload(&m);
        }
        got_chld = 0;
        reap(&m);
        respawn(&m);
        if (time(NULL) >= m.next_prune) {
            prune_events(&m);
            m.next_prune = time(NULL) + 600;
        }
        wait_for_work(&m);
    }
    msg_info("api_stopping", "workers=%zu", m.n);
    stop_workers(&m);
    free(m.pids);
    doorbell_serve(&m.bell, &m.db); /* rings of the last requests */
    msg_info("api_stopped", "doorbell_rings=%lu doorbell_notifies=%lu", m.bell.rings, m.bell.notifies);
    doorbell_close(&m.bell);
    msg_db_close(&m.db);
    return 0;
}
