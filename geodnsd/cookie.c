/* cookie.c: RFC 9018 server cookies (SipHash-2-4 from common/siphash.c). */
#include "cookie.h"

#include <netinet/in.h>
#include <string.h>

#include "siphash.h"

static uint64_t hash_for(const uint8_t secret[16], const uint8_t client[8], const uint8_t *hdr,
                         const struct sockaddr *src)
{
    /* Client cookie | version | reserved | timestamp | client IP (RFC 9018 4.4). */
    uint8_t msg[8 + 8 + 16];
    memcpy(msg, client, 8);
    memcpy(msg + 8, hdr, 8);
    size_t n = 16;
    if (src && src->sa_family == AF_INET) {
        memcpy(msg + n, &((const struct sockaddr_in *)src)->sin_addr, 4);
        n += 4;
    } else if (src && src->sa_family == AF_INET6) {
        memcpy(msg + n, &((const struct sockaddr_in6 *)src)->sin6_addr, 16);
        n += 16;
    }
    return siphash24(secret, msg, n);
}

void cookie_make(const uint8_t secret[COOKIE_SECRET_LEN], const uint8_t client[8],
                 const struct sockaddr *src, uint32_t now, uint8_t out[COOKIE_SERVER_LEN])
{
    out[0] = 1; /* version */
    out[1] = out[2] = out[3] = 0;
    out[4] = (uint8_t)(now >> 24);
    out[5] = (uint8_t)(now >> 16);
    out[6] = (uint8_t)(now >> 8);
    out[7] = (uint8_t)now;
    uint64_t h = hash_for(secret, client, out, src);
    /* The hash goes out in SipHash's own (little-endian) byte order, as RFC 9018's examples. */
    for (int i = 0; i < 8; i++)
        out[8 + i] = (uint8_t)(h >> (8 * i));
}

bool cookie_check(const uint8_t secret[COOKIE_SECRET_LEN], const uint8_t client[8],
                  const uint8_t *server, size_t server_len, const struct sockaddr *src,
                  uint32_t now, bool *refresh)
{
    *refresh = false;
    if (server_len != COOKIE_SERVER_LEN || server[0] != 1)
        return false;
    uint32_t ts = ((uint32_t)server[4] << 24) | ((uint32_t)server[5] << 16) |
                  ((uint32_t)server[6] << 8) | server[7];
    int64_t age = (int64_t)now - (int64_t)ts;
    if (age > 3600 || age < -300)
        return false;
    uint64_t h = hash_for(secret, client, server, src);
    for (int i = 0; i < 8; i++)
        if (server[8 + i] != (uint8_t)(h >> (8 * i)))
            return false;
    *refresh = age > 1800;
    return true;
}
