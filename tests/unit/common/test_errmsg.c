/* test_errmsg.c: errmsg_vappend() behind a prefix: the whole message when it fits, cut (and
 * NUL-terminated) when it does not, nothing written past errlen, NULL or empty buffers left
 * alone, -EINVAL always. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "errmsg.h"

static int fail_at(char *err, size_t errlen, const char *where, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int fail_at(char *err, size_t errlen, const char *where, const char *fmt, ...)
{
    if (err && errlen)
        snprintf(err, errlen, "%s: ", where);
    va_list ap;
    va_start(ap, fmt);
    int rc = errmsg_vappend(err, errlen, fmt, ap);
    va_end(ap);
    return rc;
}

int main(void)
{
    char buf[64];
    CHECK(fail_at(buf, sizeof(buf), "a.yaml:3:5", "bad %s %d", "value", 42) == -EINVAL);
    CHECK(strcmp(buf, "a.yaml:3:5: bad value 42") == 0, "got '%s'", buf);

    /* Cut inside the message: errlen - 1 bytes and the NUL, the guard byte untouched. */
    char small[17];
    memset(small, 'Z', sizeof(small));
    CHECK(fail_at(small, 16, "file", "%s", "0123456789abcdef") == -EINVAL);
    CHECK(strcmp(small, "file: 012345678") == 0 && small[16] == 'Z', "got '%.16s' guard %c", small,
          small[16]);

    /* Cut inside the prefix: the message is not appended, the buffer stays terminated. */
    memset(small, 'Z', sizeof(small));
    CHECK(fail_at(small, 8, "/a/long/path.mmdb", "%s", "more") == -EINVAL);
    CHECK(strcmp(small, "/a/long") == 0 && small[8] == 'Z', "got '%.8s'", small);

    /* The prefix fills the buffer exactly: nothing more fits, nothing is written. */
    memset(small, 'Z', sizeof(small));
    CHECK(fail_at(small, 4, "ab", "%s", "x") == -EINVAL);
    CHECK(strcmp(small, "ab:") == 0 && small[4] == 'Z', "got '%.4s'", small);

    /* No buffer: nothing to write, still the failure code. */
    CHECK(fail_at(NULL, 0, "f", "%d", 1) == -EINVAL);
    CHECK(fail_at(buf, 0, "f", "%d", 1) == -EINVAL);
    return check_report();
}
