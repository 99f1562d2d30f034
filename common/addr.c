/* addr.c: the address and address-prefix parsers the config readers share (PoP addresses,
 * health state and overrides, rrl exempt, xfr allow, edge upload_allow, geodnsd explain). */
#include "addr.h"

#include <arpa/inet.h>
#include <errno.h>

int addr_parse(const char *s, int *family, uint8_t addr[16])
{
    uint8_t a[16] = {0};
    int fam;
    if (inet_pton(AF_INET, s, a) == 1)
        fam = AF_INET;
    else if (inet_pton(AF_INET6, s, a) == 1)
        fam = AF_INET6;
    else
        return -EINVAL;
    *family = fam;
    memcpy(addr, a, 16);
    return 0;
}

int addr_prefix_parse(const char *s, int *family, uint8_t addr[16], unsigned *bits)
{
    /* The longest IPv6 text (with an embedded IPv4 address) is 45 characters, and 4 for "/128". */
    char host[INET6_ADDRSTRLEN];
    const char *slash = strchr(s, '/');
    size_t hl = slash ? (size_t)(slash - s) : strlen(s);
    if (hl == 0 || hl >= sizeof(host))
        return -EINVAL;
    memcpy(host, s, hl);
    host[hl] = '\0';
    uint8_t a[16];
    int fam;
    if (addr_parse(host, &fam, a))
        return -EINVAL;
    unsigned max = fam == AF_INET ? 32 : 128;
    unsigned b = max;
    if (slash) {
        const char *d = slash + 1;
        /* 1 to 3 digits, nothing else: no sign, no blank, no trailing text. */
        size_t nd = 0;
        b = 0;
        while (d[nd] >= '0' && d[nd] <= '9' && nd < 3)
            b = b * 10 + (unsigned)(d[nd++] - '0');
        if (nd == 0 || d[nd] || b > max)
            return -EINVAL;
    }
    *family = fam;
    memcpy(addr, a, 16);
    *bits = b;
    return 0;
}

int addr_net_parse(const char *s, addr_net_t *out)
{
    int fam;
    unsigned bits;
    uint8_t a[16];
    if (addr_prefix_parse(s, &fam, a, &bits))
        return -EINVAL;
    out->family = (uint8_t)fam;
    out->bits = (uint8_t)bits;
    memcpy(out->addr, a, sizeof(out->addr));
    return 0;
}
