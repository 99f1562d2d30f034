/* dns_probe.h: the DNS unit tests' shared helpers: build a question's wire form, run it through
 * query_process() and search the ldns-parsed response (ldns being an independent parser). */
#ifndef TESTS_DNS_PROBE_H
#define TESTS_DNS_PROBE_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <ldns/ldns.h>

#include "query.h"

/* Write the wire form of the dotted name at p, keeping the letter case (so tests can check
 * case preservation); an empty label ends the name. Returns the bytes written. The caller
 * gives room for the name (at most 255 bytes for a valid one). */
static inline size_t probe_put_name(uint8_t *p, const char *name)
{
    size_t o = 0;
    const char *s = name;
    while (*s) {
        const char *dot = strchr(s, '.');
        size_t l = dot ? (size_t)(dot - s) : strlen(s);
        if (l == 0)
            break;
        p[o++] = (uint8_t)l;
        memcpy(p + o, s, l);
        o += l;
        s += l + (dot ? 1 : 0);
    }
    p[o++] = 0;
    return o;
}

/* Answer the message q (qlen bytes) from IPv4 source 0.0.0.0, as over TCP when
 * tcp is set (65535-byte limit) else over UDP (4096). The raw response goes to out (65536 bytes)
 * and its length to *outlen (0: no response). Returns the parsed response, which the caller
 * frees with ldns_pkt_free(), or NULL when there was none or ldns could not parse it. */
static inline ldns_pkt *probe_run(const query_env_t *env, const uint8_t *q, size_t qlen, bool tcp,
                                  uint8_t out[65536], size_t *outlen)
{
    struct sockaddr_in src = {.sin_family = AF_INET};
    *outlen = query_process(env, q, qlen, out, tcp ? 65535 : 4096, tcp ? QUERY_TCP : 0,
                            (struct sockaddr *)&src);
    ldns_pkt *p = NULL;
    if (!*outlen || ldns_wire2pkt(&p, out, *outlen) != LDNS_STATUS_OK)
        return NULL;
    return p;
}

/* Does the section hold an RR whose text form contains a and (when not NULL) b? */
static inline bool probe_has_rr(const ldns_rr_list *l, const char *a, const char *b)
{
    for (size_t i = 0; i < ldns_rr_list_rr_count(l); i++) {
        char *s = ldns_rr2str(ldns_rr_list_rr(l, i));
        bool ok = s && strstr(s, a) && (!b || strstr(s, b));
        free(s);
        if (ok)
            return true;
    }
    return false;
}

/* How many RRs of type t the section holds. */
static inline int probe_count_type(const ldns_rr_list *l, ldns_rr_type t)
{
    int c = 0;
    for (size_t i = 0; i < ldns_rr_list_rr_count(l); i++)
        c += ldns_rr_get_type(ldns_rr_list_rr(l, i)) == t;
    return c;
}

#endif
