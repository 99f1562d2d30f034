/* file.c: opening an input file (see file.h). */
#include "file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int file_open_regular(const char *path, uint64_t max, uint64_t *size, const char **why,
                      char why_buf[64])
{
    /* O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer. */
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) {
        int e = errno;
        *why = strerror(e);
        return -e;
    }
    struct stat st;
    int rc = 0;
    if (fstat(fd, &st) != 0) {
        rc = -errno;
        *why = strerror(-rc);
    } else if (!S_ISREG(st.st_mode)) {
        rc = -EINVAL;
        *why = S_ISDIR(st.st_mode)    ? "not a regular file (a directory)"
               : S_ISFIFO(st.st_mode) ? "not a regular file (a FIFO)"
                                      : "not a regular file";
    } else if ((uint64_t)st.st_size > max) {
        rc = -EFBIG;
        snprintf(why_buf, 64, "larger than the %llu-byte limit", (unsigned long long)max);
        *why = why_buf;
    } else {
        int fl = fcntl(fd, F_GETFL);
        if (fl < 0 || fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) < 0) {
            rc = -errno;
            *why = strerror(-rc);
        }
    }
    if (rc) {
        close(fd);
        return rc;
    }
    if (size)
        *size = (uint64_t)st.st_size;
    return fd;
}

FILE *file_fopen_regular(const char *path, const char *mode, uint64_t max, uint64_t *size, int *err,
                         const char **why, char why_buf[64])
{
    int fd = file_open_regular(path, max, size, why, why_buf);
    if (fd < 0) {
        *err = fd;
        return NULL;
    }
    FILE *f = fdopen(fd, mode);
    if (!f) {
        *err = -errno;
        *why = strerror(errno);
        close(fd);
    }
    return f;
}
