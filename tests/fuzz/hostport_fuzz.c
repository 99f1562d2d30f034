/* hostport_fuzz.c: fuzz target for hostport_parse (listen addresses of geodnsd and segment-edge,
 * origin authorities): no read past the string, and an accepted input gives a non-empty host
 * that fits and appears in the input, and a port from 1 to 65535. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hostport.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* An exact-size NUL-terminated copy, so ASan sees any read past the end. */
    char *s = malloc(size + 1);
    if (!s)
        return 0;
    memcpy(s, data, size);
    s[size] = 0;
    char host[16];
    uint16_t port = 0;
    if (hostport_parse(s, host, sizeof(host), &port) == 0) {
        size_t hl = strlen(host);
        if (hl == 0 || hl >= sizeof(host) || port == 0 || !strstr(s, host) || strchr(host, ']') ||
            (s[0] != '[' && strchr(host, ':')))
            abort();
    }
    free(s);
    return 0;
}
