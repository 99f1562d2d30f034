/* log.h: one-line-per-event logging to stderr and optionally syslog, shared by the daemons. */
#ifndef COMMON_LOG_H
#define COMMON_LOG_H

#include <stdbool.h>

typedef enum log_level {
    LOG_LEVEL_ERROR = 0,
    LOG_LEVEL_WARN = 1,
    LOG_LEVEL_INFO = 2,
    LOG_LEVEL_DEBUG = 3,
} log_level_t;

/* Configure logging: minimum level, whether to copy lines to syslog, program name.
 * ident is borrowed and must outlive logging. Safe to call again (reload). */
void log_setup(log_level_t level, bool use_syslog, const char *ident);

/* Parse "error", "warn"/"warning", "info", "debug". Returns 0 or -1 if unknown. */
int log_level_parse(const char *s, log_level_t *out);

/* Write one line (a newline is added). Thread-safe: each line is one write(2). */
void log_msg(log_level_t level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_error(...) log_msg(LOG_LEVEL_ERROR, __VA_ARGS__)
#define log_warn(...)  log_msg(LOG_LEVEL_WARN, __VA_ARGS__)
#define log_info(...)  log_msg(LOG_LEVEL_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_LEVEL_DEBUG, __VA_ARGS__)

#endif
