/* log.c: line-oriented logging to stderr (one write per line) and optional syslog. */
#include "log.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

static _Atomic int log_min_level = LOG_LEVEL_INFO;
static _Atomic bool log_syslog_on = false;
static const char *log_ident = "geodns";

static const char *const level_names[] = {"error", "warn", "info", "debug"};

void log_setup(log_level_t level, bool use_syslog, const char *ident)
{
    if (ident)
        log_ident = ident;
    atomic_store(&log_min_level, (int)level);
    if (use_syslog && !atomic_load(&log_syslog_on))
        openlog(log_ident, LOG_PID | LOG_NDELAY, LOG_DAEMON);
    atomic_store(&log_syslog_on, use_syslog);
}

int log_level_parse(const char *s, log_level_t *out)
{
    if (!strcmp(s, "error"))
        *out = LOG_LEVEL_ERROR;
    else if (!strcmp(s, "warn") || !strcmp(s, "warning"))
        *out = LOG_LEVEL_WARN;
    else if (!strcmp(s, "info"))
        *out = LOG_LEVEL_INFO;
    else if (!strcmp(s, "debug"))
        *out = LOG_LEVEL_DEBUG;
    else
        return -1;
    return 0;
}

void log_msg(log_level_t level, const char *fmt, ...)
{
    if ((int)level > atomic_load(&log_min_level))
        return;
    char msg[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);

    char line[2200];
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    int n = snprintf(line, sizeof(line), "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %s[%d] %s: %s\n",
                     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                     ts.tv_nsec / 1000000, log_ident, (int)getpid(), level_names[level], msg);
    if (n > (int)sizeof(line) - 1)
        n = (int)sizeof(line) - 1;
    ssize_t w = write(STDERR_FILENO, line, (size_t)n);
    (void)w;
    if (atomic_load(&log_syslog_on)) {
        static const int prio[] = {LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG};
        syslog(prio[level], "%s", msg);
    }
}
