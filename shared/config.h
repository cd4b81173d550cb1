/* The configuration of both programs: conf/messaging.conf ("key = value",
 * '#' comments), then the MESSAGING_* environment overrides of API.md
 * section 6. A missing or wrong value is an error naming its key. */
#ifndef MSG_CONFIG_H
#define MSG_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

enum msg_jwt_alg { MSG_JWT_HS256, MSG_JWT_RS256, MSG_JWT_ES256 };

struct msg_config {
    char *path; /* file read, or NULL */
    char *database_url;
    enum msg_jwt_alg jwt_alg;
    char *jwt_secret;          /* HS256; never logged */
    char *jwt_secret_previous; /* accepted too, during a rotation */
    char *jwt_public_key_file; /* RS256 / ES256 */
    char *jwt_public_key;      /* its PEM contents, loaded at validation */
    size_t jwt_public_key_len;
    long jwt_leeway;              /* seconds of clock skew tolerated */
    long jwt_max_ttl;             /* longest token lifetime accepted, seconds */
    long db_connect_timeout_s;    /* libpq connect_timeout of every connection */
    long db_statement_timeout_ms; /* statement_timeout of every session (0: none) */
    char *api_socket;
    char *api_socket_mode;  /* octal mode of a unix socket bound here */
    char *api_socket_group; /* its group (name or number), or "" */
    long api_workers;
    long api_max_connections; /* kept-alive FastCGI connections per worker */
    long http_port;
    long ws_port;
    long max_message_length;
    long max_body_bytes;
    long events_retention_hours;
    char *notify_mode; /* "doorbell" (coalesced, after commit) or "inline" */
    char *log_level;
    char *ws_cors_origins; /* comma-separated; "*" for any */
    long ws_ping_interval_ms;
    long ws_ping_timeout_ms;
    long ws_max_payload;
    long ws_connect_timeout_ms;
    long ws_send_queue_bytes;
    long ws_max_connections;
    long ws_token_warning_s;      /* token_expiring this long before exp */
    long ws_max_sockets_per_user; /* per instance */
    /* Per-socket token buckets (API.md section 8): events per second and
     * burst, for each class of client events. */
    long ws_rate_messages, ws_burst_messages; /* send_message, mark_as_read */
    long ws_rate_typing, ws_burst_typing;     /* typing_start, typing_stop */
    long ws_rate_rooms, ws_burst_rooms;       /* join_room, leave_room */
    long ws_rate_refresh, ws_burst_refresh;   /* refresh_token */
    long ws_db_connections;                   /* the gateway's connections for operations */
    char *ws_event_loop;                      /* "uv" (epoll, lws's libuv event library) or "poll" */
    long recovery_max_disconnection_ms;
    char *admin_token;
    char *audit_log;           /* "on" (default) or "off": the access log (API.md section 9) */
    long audit_retention_days; /* the gateway's daily messaging.audit_purge() */
    long presence_grace_s;     /* a user without sockets stays online this long */
    /* "on" (default) or "off": presence and delivery receipts (API.md
     * section 9); off exists to measure what they cost. */
    char *presence, *delivery_receipts;
};

/* Fills *cfg with defaults, reads `path` (NULL: $MESSAGING_CONFIG, else no
 * file), applies the environment and validates. On error returns -1 and
 * writes one line naming the key into err. The caller frees with
 * msg_config_free() in both cases. */
#define MSG_CONFIG_NO_DATABASE 1 /* for tools that never connect (msg-token) */
int msg_config_load(struct msg_config *cfg, const char *path, int flags, char *err, size_t errlen);
void msg_config_free(struct msg_config *cfg);

/* A program's start: names its log lines, loads the configuration (a
 * failure is one line on stderr, prefixed with prog), sets the log level,
 * and with `check` prints the configuration. Returns -1 to exit 1 (error),
 * 1 to exit 0 (checked), 0 to go on; the caller frees cfg in every case. */
int msg_config_start(struct msg_config *cfg, const char *prog, const char *path, int check);

/* The longest jwt_public_key_file read (a PEM public key is far smaller). */
#define MSG_KEY_FILE_MAX 16384

/* Parses api_socket_mode (octal, 0 to 0777) into *mode; -1 when invalid. */
int msg_config_socket_mode(const char *s, unsigned *mode);

/* Prints every key with its current value, the secrets masked. */
void msg_config_dump(const struct msg_config *cfg, void *file);

#endif
