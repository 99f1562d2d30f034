/* mmdb_open.c: fuzz harness of the GeoIP database verification. Any bytes given as an mmdb file
 * must either be refused by geoip_db_open or, once accepted, answer every lookup without an
 * error (a database that passes verification never fails a query). */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "geoip.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* libmaxminddb 1.7 leaks part of the metadata when MMDB_open refuses a file (its own bug, not
 * a path of ours; geo_table.c says the same): keep LeakSanitizer to our code. */
const char *__lsan_default_suppressions(void);
const char *__lsan_default_suppressions(void)
{
    return "leak:libmaxminddb.so\n";
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int fd = -1;
    if (fd < 0 && (fd = memfd_create("fuzz.mmdb", 0)) < 0)
        abort();
    if (ftruncate(fd, 0) != 0 || (size && pwrite(fd, data, size, 0) != (ssize_t)size))
        abort();
    char path[64];
    snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
    geoip_schema_t s;
    if (geoip_schema_preset("geoip2-city", &s))
        abort();
    geoip_db_t *db = NULL;
    char err[1024];
    if (geoip_db_open(path, &s, &db, err, sizeof(err)) != 0) {
        if (db || !err[0])
            abort(); /* refused: no handle, and a reason */
        return 0;
    }
    /* Accepted: lookups over the whole IPv4 space (every /8, with bits of the input mixed in)
     * and some IPv6 prefixes must all succeed. */
    for (unsigned i = 0; i < 512; i++) {
        uint8_t a[16] = {0};
        int fam = i < 256 ? AF_INET : AF_INET6;
        a[0] = (uint8_t)i;
        for (unsigned k = 1; k < 16; k++)
            a[k] = size ? data[(i * 16 + k) % size] : 0;
        if (fam == AF_INET6)
            a[0] = (uint8_t)(0x20 + (i & 0x1f));
        geoip_loc_t loc;
        int rc = geoip_db_lookup(db, fam, a, &loc);
        if (rc && rc != -EAFNOSUPPORT) {
            fprintf(stderr, "a verified database failed a lookup: %d\n", rc);
            abort();
        }
    }
    geoip_db_close(db);
    return 0;
}
