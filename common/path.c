/* path.c: paths relative to a config file's directory. */
#include "path.h"

#include <stdio.h>

size_t path_join(char *buf, size_t size, const char *dir, const char *p)
{
    int abs = p[0] == '/';
    int n = snprintf(buf, size, "%s%s%s", abs ? "" : dir, abs ? "" : "/", p);
    return n < 0 ? 0 : (size_t)n;
}
