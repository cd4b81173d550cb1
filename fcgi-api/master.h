/* The prefork master: binds (or inherits) the FastCGI socket, keeps N
 * workers alive, replaces one that dies, drains on SIGTERM and replaces all
 * of them with a re-read configuration on SIGHUP. */
#ifndef API_MASTER_H
#define API_MASTER_H

#include "config.h"

/* *cfg stays the caller's to free: a reload (SIGHUP) frees what it holds
 * and puts the re-read configuration in its place. Returns the exit status. */
int master_run(int listen_fd, struct msg_config *cfg, const char *config_path);

#endif
