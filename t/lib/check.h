/* The one harness of the C tests (t/unit, t/protocol): CHECK counts, a
 * failure prints where, check_report prints the line the runners parse,
 * "unit NAME: N passed, M failed", and gives the exit status. */
#ifndef T_CHECK_H
#define T_CHECK_H

#include <stdio.h>
#include <string.h>
#include <unistd.h>

static int check_passed, check_failed;

/* Returns ok, so a test can add what it knows about a failure. */
static inline int check_(int ok, const char *file, int line, const char *what)
{
    if (ok) {
        check_passed++;
    } else {
        check_failed++;
        fprintf(stderr, "FAIL %s:%d: %s\n", file, line, what);
    }
    return ok;
}

#define CHECK(cond) ((void)check_((cond) ? 1 : 0, __FILE__, __LINE__, #cond))

/* Both values are printed on failure: a bare CHECK would only say "false". */
static inline void check_str_(const char *a, const char *b, const char *file, int line, const char *what)
{
    if (!check_(a != NULL && strcmp(a, b) == 0, file, line, what))
        fprintf(stderr, "  got \"%s\", want \"%s\"\n", a ? a : "(null)", b);
}
#define CHECK_STR(a, b) check_str_((a), (b), __FILE__, __LINE__, #a " == " #b)

static inline void check_int_(long long a, long long b, const char *file, int line, const char *what)
{
    if (!check_(a == b, file, line, what))
        fprintf(stderr, "  got %lld, want %lld\n", a, b);
}
#define CHECK_INT(a, b) check_int_((long long)(a), (long long)(b), __FILE__, __LINE__, #a " == " #b)

/* What fn(arg) wrote to fd (STDOUT_FILENO, STDERR_FILENO), NUL-terminated
 * in buf; returns its length. For code that writes where a caller cannot
 * pass a stream (logs, CGI answers). */
static inline size_t check_capture(int fd, void (*fn)(void *), void *arg, char *buf, size_t cap)
{
    fflush(NULL);
    FILE *f = tmpfile();
    int saved = dup(fd);
    if (!f || saved < 0)
        return 0;
    dup2(fileno(f), fd);
    fn(arg);
    fflush(NULL);
    dup2(saved, fd);
    close(saved);
    rewind(f);
    size_t n = fread(buf, 1, cap - 1, f);
    buf[n] = '\0';
    fclose(f);
    return n;
}

static inline int check_report(const char *name)
{
    printf("unit %s: %d passed, %d failed\n", name, check_passed, check_failed);
    return check_failed ? 1 : 0;
}

#endif
