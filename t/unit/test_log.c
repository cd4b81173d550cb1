/* The log line (shared/log.c): one line per event whatever its fields hold,
 * levels filtered, bounded in length; read back from stderr redirected. */
#include <stdlib.h>
#include <unistd.h>

#include "check.h"
#include "clock.h"
#include "log.h"

/* What the log wrote to stderr while fn ran. */
static size_t captured(void (*fn)(void *), char *buf, size_t cap)
{
    return check_capture(STDERR_FILENO, fn, NULL, buf, cap);
}

static void info_line(void *unused) { msg_info("unit_event", "user=%d conv=%s", 7, "x"); }
static void filtered(void *unused)
{
    msg_debug("hidden", "a=1");
    msg_info("hidden", "a=2");
    msg_warn("shown", "a=3");
}
static void newlines(void *unused) { msg_err("nl", "reason=%s", "a\nb\rc"); }
static void no_fields(void *unused) { msg_warn("bare", NULL); }
static void too_long(void *unused)
{
    char big[3000];
    memset(big, 'v', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    msg_err("long", "k=%s", big);
}

static int count(const char *s, char c)
{
    int n = 0;
    for (; *s; s++)
        n += *s == c;
    return n;
}

int main(void)
{
    CHECK_INT(msg_log_level_parse("debug"), MSG_LOG_DEBUG);
    CHECK_INT(msg_log_level_parse("info"), MSG_LOG_INFO);
    CHECK_INT(msg_log_level_parse("warn"), MSG_LOG_WARN);
    CHECK_INT(msg_log_level_parse("error"), MSG_LOG_ERROR);
    CHECK_INT(msg_log_level_parse("warning"), -1);
    CHECK_INT(msg_log_level_parse("INFO"), -1);
    CHECK_INT(msg_log_level_parse(""), -1);

    char buf[8192], want[128];
    msg_log_set_program("unit-log");
    size_t n = captured(info_line, buf, sizeof buf);
    /* "YYYY-MM-DDTHH:MM:SS.mmmZ level=info prog=... pid=N event=E fields\n" */
    CHECK(n > 25 && buf[4] == '-' && buf[10] == 'T' && buf[19] == '.' && buf[23] == 'Z' && buf[24] == ' ');
    snprintf(want, sizeof want, "level=info prog=unit-log pid=%d event=unit_event user=7 conv=x\n", (int)getpid());
    CHECK_STR(buf + 25, want);

    /* Below the level: nothing at all. */
    msg_log_set_level(MSG_LOG_WARN);
    captured(filtered, buf, sizeof buf);
    CHECK_INT(count(buf, '\n'), 1);
    CHECK(strstr(buf, "event=shown a=3\n") != NULL && strstr(buf, "hidden") == NULL);
    msg_log_set_level(MSG_LOG_DEBUG);
    captured(filtered, buf, sizeof buf);
    CHECK_INT(count(buf, '\n'), 3);
    msg_log_set_level(MSG_LOG_INFO);

    /* A field's newlines cannot forge a second line. */
    captured(newlines, buf, sizeof buf);
    CHECK_INT(count(buf, '\n'), 1);
    CHECK(strstr(buf, "level=error") != NULL && strstr(buf, "reason=a b c\n") != NULL);

    /* No fields: the line ends at the event, no trailing blank. */
    captured(no_fields, buf, sizeof buf);
    CHECK_INT(count(buf, '\n'), 1);
    CHECK(strstr(buf, "event=bare\n") != NULL && strstr(buf, "event=bare \n") == NULL);

    /* A huge field is cut: the line is at most 1023 bytes, newline included. */
    n = captured(too_long, buf, sizeof buf);
    CHECK_INT(n, 1023);
    CHECK_INT(count(buf, '\n'), 1);
    CHECK(buf[n - 1] == '\n' && buf[n - 2] == 'v');

    /* Monotonic milliseconds. */
    long long a = msg_now_ms();
    usleep(20000);
    long long b = msg_now_ms();
    CHECK(a > 0 && b - a >= 19 && b - a < 5000);
    return check_report("log");
}
