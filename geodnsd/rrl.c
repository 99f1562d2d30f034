/* rrl.c: response rate limiting: fixed-size per-thread bucket tables keyed by (prefix, class,
 * name). */
#include "rrl.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "hash.h"
#include "wire.h"
#include "zone.h"

/* Tokens are kept in thousandths of a response so that a rate of a few per second refills
 * smoothly with a millisecond clock. */
#define RRL_MILLI 1000u

typedef struct rrl_bucket {
    uint64_t key[2];  /* the masked source prefix */
    uint32_t name;    /* rrl_response_name */
    uint32_t stamp;   /* ms of the last refill */
    uint32_t tokens;  /* thousandths of a response */
    uint16_t limited; /* limited responses since the last slipped one */
    uint8_t cls;
    uint8_t family; /* 0: empty */
} rrl_bucket_t;

struct rrl_table {
    uint32_t mask;
    rrl_bucket_t b[];
};

void rrl_config_default(rrl_config_t *c)
{
    memset(c, 0, sizeof(*c));
    c->rate = 20;
    c->slip = 2;
    c->ipv4_prefix = 24;
    c->ipv6_prefix = 56;
    c->cookies = true;
    c->table_size = RRL_TABLE_DEFAULT;
}

bool rrl_exempt(const rrl_config_t *c, const struct sockaddr *src)
{
    return addr_net_list_match(c->exempt, c->nexempt, src);
}

rrl_table_t *rrl_table_new(uint32_t size)
{
    if (size < RRL_TABLE_MIN || size > RRL_TABLE_MAX || (size & (size - 1)))
        return NULL;
    rrl_table_t *t = calloc(1, sizeof(*t) + (size_t)size * sizeof(rrl_bucket_t));
    if (t)
        t->mask = size - 1;
    return t;
}

void rrl_table_free(rrl_table_t *t)
{
    free(t);
}

uint32_t rrl_table_size(const rrl_table_t *t)
{
    return t->mask + 1;
}

static uint64_t load64(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, sizeof(v));
    return v;
}

rrl_verdict_t rrl_account(rrl_table_t *t, const rrl_config_t *c, const struct sockaddr *src,
                          rrl_class_t cls, uint32_t name, uint32_t now_ms)
{
    int fam;
    const uint8_t *a = addr_sockaddr_bytes(src, &fam);
    if (!a)
        return RRL_PASS;
    uint8_t masked[16] = {0};
    unsigned bits = fam == AF_INET ? c->ipv4_prefix : c->ipv6_prefix;
    unsigned alen = fam == AF_INET ? 4 : 16;
    if (bits > alen * 8)
        bits = alen * 8;
    memcpy(masked, a, bits / 8);
    if (bits % 8)
        masked[bits / 8] = (uint8_t)(a[bits / 8] & (0xff << (8 - bits % 8)));
    uint64_t k0 = load64(masked), k1 = load64(masked + 8);
    uint64_t h = hash_mix64(
        k0 ^ hash_mix64(k1 ^ ((uint64_t)name << 32 | (uint64_t)fam << 8 | (uint64_t)cls)));

    uint32_t cap = c->rate * RRL_MILLI;
    rrl_bucket_t *hit = NULL, *victim = NULL;
    uint32_t victim_age = 0;
    for (uint32_t i = 0; i < RRL_PROBE; i++) {
        rrl_bucket_t *b = &t->b[(h + i) & t->mask];
        if (b->family == (uint8_t)fam && b->cls == (uint8_t)cls && b->name == name &&
            b->key[0] == k0 && b->key[1] == k1) {
            hit = b;
            break;
        }
        /* Unsigned difference: correct across the wrap of the 32-bit clock. */
        uint32_t age = b->family ? now_ms - b->stamp : UINT32_MAX;
        if (!victim || age > victim_age) {
            victim = b;
            victim_age = age;
        }
    }
    if (!hit) {
        /* New key: an empty bucket, or the least recently used one of the window. */
        hit = victim;
        hit->key[0] = k0;
        hit->key[1] = k1;
        hit->family = (uint8_t)fam;
        hit->cls = (uint8_t)cls;
        hit->name = name;
        hit->stamp = now_ms;
        hit->tokens = cap;
        hit->limited = 0;
    } else {
        uint32_t elapsed = now_ms - hit->stamp;
        /* A clock that went back (it cannot: monotonic) or a full second both mean "full". */
        if (elapsed >= 1000u) {
            hit->tokens = cap;
        } else {
            uint64_t tk = (uint64_t)hit->tokens + (uint64_t)elapsed * c->rate;
            hit->tokens = tk > cap ? cap : (uint32_t)tk;
        }
        hit->stamp = now_ms;
    }
    if (hit->tokens >= RRL_MILLI) {
        hit->tokens -= RRL_MILLI;
        return RRL_PASS;
    }
    /* Every slip-th limited response goes out truncated; the count restarts there. */
    if (c->slip && ++hit->limited >= c->slip) {
        hit->limited = 0;
        return RRL_SLIP;
    }
    return RRL_DROP;
}

uint32_t rrl_response_name(rrl_class_t cls, const uint8_t *buf, size_t qend, const uint8_t *owner,
                           size_t ownerlen)
{
    if (cls == RRL_ERROR || qend < DNS_HDR_LEN + 5)
        return 0;
    /* The class is part of the key already: only answers and NODATA are told apart by type. */
    uint32_t qtype =
        cls == RRL_ANSWER || cls == RRL_NODATA ? (uint32_t)buf[qend - 4] << 8 | buf[qend - 3] : 0;
    if (owner) /* zone names are stored lower-case */
        return zone_name_hash(owner, ownerlen) ^ (qtype * 0x9E3779B1u);
    size_t nl = qend - DNS_HDR_LEN - 4;
    uint8_t low[DNS_MAX_NAME];
    if (nl > sizeof(low))
        return 0;
    memcpy(low, buf + DNS_HDR_LEN, nl);
    dns_name_lower(low, nl);
    return zone_name_hash(low, nl) ^ (qtype * 0x9E3779B1u);
}

size_t rrl_truncate(uint8_t *buf, size_t len, size_t qend, size_t opt_off)
{
    if (qend < 12 || qend > len)
        return len < 12 ? len : 12;
    /* The OPT record alone: a TSIG after it signed the whole reply and goes with the rest. */
    size_t optlen = 0;
    if (opt_off >= qend && opt_off + 11 <= len) {
        optlen = 11 + (((size_t)buf[opt_off + 9] << 8) | buf[opt_off + 10]);
        if (opt_off + optlen > len)
            optlen = 0;
    }
    memmove(buf + qend, buf + opt_off, optlen);
    buf[2] |= 0x02; /* TC */
    memset(buf + 6, 0, 6);
    buf[11] = optlen ? 1 : 0;
    return qend + optlen;
}
