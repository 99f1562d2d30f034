/* cookie.c: SipHash-2-4 and RFC 9018 server cookies. */
#include "cookie.h"

#include <netinet/in.h>
#include <string.h>

#define ROTL(x, b) (uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))

static uint64_t le64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

#define SIPROUND           \
    do {                   \
        v0 += v1;          \
        v1 = ROTL(v1, 13); \
        v1 ^= v0;          \
        v0 = ROTL(v0, 32); \
        v2 += v3;          \
        v3 = ROTL(v3, 16); \
        v3 ^= v2;          \
        v0 += v3;          \
        v3 = ROTL(v3, 21); \
        v3 ^= v0;          \
        v2 += v1;          \
        v1 = ROTL(v1, 17); \
        v1 ^= v2;          \
        v2 = ROTL(v2, 32); \
    } while (0)

uint64_t cookie_siphash24(const uint8_t key[16], const uint8_t *msg, size_t len)
{
    uint64_t k0 = le64(key), k1 = le64(key + 8);
    uint64_t v0 = 0x736f6d6570736575ULL ^ k0, v1 = 0x646f72616e646f6dULL ^ k1;
    uint64_t v2 = 0x6c7967656e657261ULL ^ k0, v3 = 0x7465646279746573ULL ^ k1;
    size_t full = len & ~(size_t)7;
    for (size_t i = 0; i < full; i += 8) {
        uint64_t m = le64(msg + i);
        v3 ^= m;
        SIPROUND;
        SIPROUND;
        v0 ^= m;
    }
    uint64_t b = (uint64_t)len << 56;
    for (size_t i = 0; i < (len & 7); i++)
        b |= (uint64_t)msg[full + i] << (8 * i);
    v3 ^= b;
    SIPROUND;
    SIPROUND;
    v0 ^= b;
    v2 ^= 0xff;
    SIPROUND;
    SIPROUND;
    SIPROUND;
    SIPROUND;
    return v0 ^ v1 ^ v2 ^ v3;
}

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
    return cookie_siphash24(secret, msg, n);
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
