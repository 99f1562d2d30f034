/* path.h: paths written in a config file, relative to the directory of that file. */
#ifndef COMMON_PATH_H
#define COMMON_PATH_H

#include <stddef.h>

/* path_join: P when it is absolute (starts with '/'), else DIR "/" P, into BUF (SIZE bytes,
 * NUL-terminated, cut to fit; BUF may be NULL when SIZE is 0). Returns the length of the whole
 * result without the NUL, as snprintf does: allocate that plus one, or see that it was cut
 * when it is >= SIZE. */
size_t path_join(char *buf, size_t size, const char *dir, const char *p);

#endif
