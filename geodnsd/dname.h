/* dname.h: domain names from presentation text to wire form, with ldns. Load time, the
 * explain command and tools only: the query path never calls it (it allocates). */
#ifndef GEODNSD_DNAME_H
#define GEODNSD_DNAME_H

#include <stddef.h>
#include <stdint.h>

/* dns_name_from_text: S ("www.example.test." or "www.example.test": a name is absolute with
 * or without the final dot; "\." and "\DDD" escapes as in zone files) into OUT, which holds
 * DNS_MAX_NAME bytes, as uncompressed wire form, letter case kept. *LEN gets its length.
 * Returns 0, or -EINVAL when S is empty, has an empty label, a label over 63 bytes or makes a
 * name over 255 bytes (OUT is then untouched). */
int dns_name_from_text(const char *s, uint8_t *out, size_t *len);

#endif
