/* path.c: paths relative to a config file's directory. */
#include "path.h"

#include <stdio.h>
#include <string.h>

size_t path_join(char *buf, size_t size, const char *dir, const char *p)
{
    int abs = p[0] == '/';
    if (size)
        snprintf(buf, size, "%s%s%s", abs ? "" : dir, abs ? "" : "/", p);
    return abs ? strlen(p) : strlen(dir) + 1 + strlen(p);
}
