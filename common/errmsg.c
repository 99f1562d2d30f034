/* errmsg.c: error messages built in a caller's buffer. */
#include "errmsg.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

int errmsg_vappend(char *err, size_t errlen, const char *fmt, va_list ap)
{
    if (err && errlen) {
        size_t n = strnlen(err, errlen);
        if (n + 1 < errlen)
            vsnprintf(err + n, errlen - n, fmt, ap);
    }
    return -EINVAL;
}
