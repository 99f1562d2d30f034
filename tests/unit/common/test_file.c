/* test_file.c: common/file.h: a regular file opens (its size given); a FIFO (no writer: the open
 * must not wait for one), a directory, a device and a missing file are refused with their reason;
 * a file over the limit is refused; the YAML reader refuses the same at once. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "file.h"
#include "yamltree.h"

int main(void)
{
    char dir[] = "/tmp/test_file.XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    char reg[64], fifo[64], missing[64];
    snprintf(reg, sizeof(reg), "%s/a.yaml", dir);
    snprintf(fifo, sizeof(fifo), "%s/fifo.yaml", dir);
    snprintf(missing, sizeof(missing), "%s/none.yaml", dir);
    FILE *f = fopen(reg, "w");
    CHECK(f && fputs("a: 1\n", f) >= 0 && fclose(f) == 0);
    CHECK(mkfifo(fifo, 0600) == 0);

    const char *why = NULL;
    char buf[64];
    uint64_t size = 0;
    int fd = file_open_regular(reg, 100, &size, &why, buf);
    CHECK(fd >= 0 && size == 5, "a regular file opens: %d", fd);
    CHECK(fd < 0 || !(fcntl(fd, F_GETFL) & O_NONBLOCK), "in blocking mode");
    if (fd >= 0)
        close(fd);
    CHECK(file_open_regular(reg, 4, NULL, &why, buf) == -EFBIG &&
              strcmp(why, "larger than the 4-byte limit") == 0,
          "over the limit: %s", why);
    CHECK(file_open_regular(fifo, 100, NULL, &why, buf) == -EINVAL &&
              strcmp(why, "not a regular file (a FIFO)") == 0,
          "a FIFO is refused, not waited on: %s", why);
    CHECK(file_open_regular(dir, 100, NULL, &why, buf) == -EINVAL &&
              strcmp(why, "not a regular file (a directory)") == 0,
          "a directory: %s", why);
    CHECK(file_open_regular("/dev/zero", UINT64_MAX, NULL, &why, buf) == -EINVAL &&
              strcmp(why, "not a regular file") == 0,
          "a device that never ends: %s", why);
    CHECK(file_open_regular(missing, 100, NULL, &why, buf) == -ENOENT &&
              strcmp(why, strerror(ENOENT)) == 0,
          "missing: %s", why);

    yt_doc_t *doc = NULL;
    char err[256];
    CHECK(yt_doc_load_file(fifo, &doc, err, sizeof(err)) == -EINVAL && !doc &&
              strstr(err, "fifo.yaml: not a regular file (a FIFO)"),
          "the YAML reader: %s", err);
    CHECK(yt_doc_load_file("/dev/zero", &doc, err, sizeof(err)) == -EINVAL &&
              strcmp(err, "/dev/zero: not a regular file") == 0,
          "the YAML reader: %s", err);
    CHECK(yt_doc_load_file(reg, &doc, err, sizeof(err)) == 0 && doc, "%s", err);
    yt_doc_free(doc);

    unlink(reg);
    unlink(fifo);
    rmdir(dir);
    return check_report();
}
