/* check.h: the unit tests' assertions: count, report failures with file:line, print a total.
 *
 * CHECK(cond) or CHECK(cond, "format", args...): one check. A failed one prints
 * "file:line: FAIL: cond" and, when given, ": " and the message (the format must be a string
 * literal) on stderr. main() ends with `return check_report();`. */
#ifndef TESTS_CHECK_H
#define TESTS_CHECK_H

#include <stdarg.h>
#include <stdio.h>

static int check_passed, check_failed;

/* The message of a failed check: fmt is " " followed by the caller's format (" " alone when
 * the check has no message). */
static inline void check_message(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static inline void check_message(const char *fmt, ...)
{
    if (fmt[1] != '\0') {
        va_list ap;
        va_start(ap, fmt);
        fputc(':', stderr);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
    }
    fputc('\n', stderr);
}

#define CHECK(cond, ...)                                                   \
    do {                                                                   \
        if (cond) {                                                        \
            check_passed++;                                                \
        } else {                                                           \
            check_failed++;                                                \
            fprintf(stderr, "%s:%d: FAIL: %s", __FILE__, __LINE__, #cond); \
            check_message(" " __VA_ARGS__);                                \
        }                                                                  \
    } while (0)

/* Print the plain closing line and give main()'s exit status. */
static inline int check_report(void)
{
    printf("%d passed, %d failed\n", check_passed, check_failed);
    return check_failed ? 1 : 0;
}

#endif
