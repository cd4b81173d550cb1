/* A worker: serves requests one at a time from the shared listening socket
 * and from the FastCGI connections nginx keeps alive to it. */
#ifndef API_WORKER_H
#define API_WORKER_H

#include "config.h"

/* Runs until SIGTERM (the current request is finished first). Returns the
 * process exit status. */
int worker_run(int listen_fd, int bell_fd, const struct msg_config *cfg);

/* Answers one plain CGI request from the environment and stdio. */
int cgi_run(const struct msg_config *cfg);

#endif
