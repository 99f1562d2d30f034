/* test_path.c: path_join: relative and absolute paths, the length contract, cutting to fit. */
#include <string.h>

#include "check.h"
#include "path.h"

int main(void)
{
    char buf[64];
    CHECK(path_join(buf, sizeof(buf), "/etc/geodns", "pops.yaml") == 21);
    CHECK(!strcmp(buf, "/etc/geodns/pops.yaml"), "got '%s'", buf);
    CHECK(path_join(buf, sizeof(buf), "/etc/geodns", "zones/a.yaml") == 24);
    CHECK(!strcmp(buf, "/etc/geodns/zones/a.yaml"), "got '%s'", buf);
    CHECK(path_join(buf, sizeof(buf), "/etc/geodns", "/var/lib/x.mmdb") == 15);
    CHECK(!strcmp(buf, "/var/lib/x.mmdb"), "absolute kept: got '%s'", buf);
    CHECK(path_join(buf, sizeof(buf), ".", "a") == 3 && !strcmp(buf, "./a"), "got '%s'", buf);

    /* The length is the whole result's, whatever the buffer: size it, then write. */
    CHECK(path_join(NULL, 0, "/etc/geodns", "pops.yaml") == 21);
    char small[8];
    CHECK(path_join(small, sizeof(small), "/etc/geodns", "pops.yaml") == 21);
    CHECK(!strcmp(small, "/etc/ge"), "cut and NUL-terminated: got '%s'", small);
    return check_report();
}
