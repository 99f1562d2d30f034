/* errmsg.h: error messages built in a caller's buffer as "<where>: <what>". */
#ifndef COMMON_ERRMSG_H
#define COMMON_ERRMSG_H

#include <stdarg.h>
#include <stddef.h>

/* errmsg_vappend: format fmt with ap behind the text already in err (NUL-terminated, errlen
 * bytes), cut to fit. Does nothing when err is NULL or errlen is 0. The callers write their
 * prefix (file:line:col, a path) with snprintf first and pass their own format on. Returns
 * -EINVAL, so that a parser can `return` it as its failure. */
int errmsg_vappend(char *err, size_t errlen, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));

#endif
