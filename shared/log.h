/* One line per event on stderr: "ts level=L event=E key=value ...".
 * Never pass secrets or message contents here. */
#ifndef MSG_LOG_H
#define MSG_LOG_H

enum msg_log_level { MSG_LOG_DEBUG, MSG_LOG_INFO, MSG_LOG_WARN, MSG_LOG_ERROR };

/* Parses "debug|info|warn|error"; returns -1 when unknown. */
int msg_log_level_parse(const char *s);
void msg_log_set_level(enum msg_log_level level);
/* Sets a program name printed as prog=NAME on every line (not copied). */
void msg_log_set_program(const char *name);

/* fmt gives the key=value fields after "event=EVENT". */
void msg_log(enum msg_log_level level, const char *event, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#define msg_debug(ev, ...) msg_log(MSG_LOG_DEBUG, ev, __VA_ARGS__)
#define msg_info(ev, ...) msg_log(MSG_LOG_INFO, ev, __VA_ARGS__)
#define msg_warn(ev, ...) msg_log(MSG_LOG_WARN, ev, __VA_ARGS__)
#define msg_err(ev, ...) msg_log(MSG_LOG_ERROR, ev, __VA_ARGS__)

#endif
