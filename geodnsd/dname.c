/* dname.c: domain names from presentation text to wire form (ldns parses them). */
#include "dname.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include <ldns/ldns.h>

#include "wire.h"

int dns_name_from_text(const char *s, uint8_t *out, size_t *len)
{
    ldns_rdf *d = NULL;
    if (!s || !*s || ldns_str2rdf_dname(&d, s) != LDNS_STATUS_OK || !d) {
        if (d)
            ldns_rdf_deep_free(d);
        return -EINVAL;
    }
    size_t n = ldns_rdf_size(d);
    if (n == 0 || n > DNS_MAX_NAME) {
        ldns_rdf_deep_free(d);
        return -EINVAL;
    }
    memcpy(out, ldns_rdf_data(d), n);
    *len = n;
    ldns_rdf_deep_free(d);
    return 0;
}
