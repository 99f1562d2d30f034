/* tsig.c: TSIG (RFC 8945): key set-up, verification of a signed request and signing of each
 * message of a response; HMAC over OpenSSL's SHA-256/512/1 without allocating. */
#include "tsig.h"

#include <ctype.h>
/* The SHA-2/SHA-1 low-level interface is deprecated in OpenSSL 3 but is the one whose state
 * lives on the caller's stack (see hmac_parts). */
#define OPENSSL_SUPPRESS_DEPRECATED
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ldns/ldns.h>

#define TYPE_TSIG 250
#define CLASS_ANY 255

static const struct {
    const char *name;
    tsig_alg_t alg;
} algs[] = {
    {"hmac-sha256", TSIG_HMAC_SHA256},
    {"hmac-sha512", TSIG_HMAC_SHA512},
    {"hmac-sha1", TSIG_HMAC_SHA1},
};

/* The algorithm's name in wire form ("\x0bhmac-sha256\0"); returns its length. */
static size_t alg_wire(tsig_alg_t a, uint8_t *out)
{
    const char *s = algs[0].name;
    for (size_t i = 0; i < sizeof(algs) / sizeof(algs[0]); i++)
        if (algs[i].alg == a)
            s = algs[i].name;
    size_t l = strlen(s);
    out[0] = (uint8_t)l;
    memcpy(out + 1, s, l);
    out[l + 1] = 0;
    return l + 2;
}

int tsig_key_init(tsig_key_t *k, const char *name, const char *alg, const char *secret_b64,
                  char *err, size_t errlen)
{
    memset(k, 0, sizeof(*k));
    k->name_str = name;
    size_t i;
    for (i = 0; i < sizeof(algs) / sizeof(algs[0]); i++)
        if (!strcasecmp(alg, algs[i].name))
            break;
    if (i == sizeof(algs) / sizeof(algs[0])) {
        snprintf(err, errlen, "algorithm '%s' is not hmac-sha256, hmac-sha512 or hmac-sha1", alg);
        return -1;
    }
    k->alg = algs[i].alg;
    ldns_rdf *d = ldns_dname_new_frm_str(name);
    if (!d || ldns_rdf_size(d) > DNS_MAX_NAME) {
        ldns_rdf_deep_free(d);
        snprintf(err, errlen, "key name '%s' is not a domain name", name);
        return -1;
    }
    k->namelen = (uint8_t)ldns_rdf_size(d);
    memcpy(k->name, ldns_rdf_data(d), k->namelen);
    ldns_rdf_deep_free(d);
    dns_name_lower(k->name, k->namelen);
    size_t slen = strlen(secret_b64);
    uint8_t buf[TSIG_SECRET_MAX * 2];
    int n = -1;
    if (slen > 0 && slen % 4 == 0 && slen <= sizeof(buf) / 3 * 4) {
        n = EVP_DecodeBlock(buf, (const unsigned char *)secret_b64, (int)slen);
        for (size_t e = slen; n > 0 && e > 0 && secret_b64[e - 1] == '='; e--)
            n--; /* EVP_DecodeBlock counts the padding as zero bytes */
    }
    if (n <= 0 || n > TSIG_SECRET_MAX) {
        snprintf(err, errlen, "secret of key '%s' is not base64 of 1 to %d bytes", name,
                 TSIG_SECRET_MAX);
        return -1;
    }
    memcpy(k->secret, buf, (size_t)n);
    k->secretlen = (size_t)n;
    return 0;
}

static void put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static uint16_t get16(const uint8_t *p)
{
    return (uint16_t)((p[0] << 8) | p[1]);
}

static void put48(uint8_t *p, uint64_t v)
{
    for (int i = 5; i >= 0; i--, v >>= 8)
        p[i] = (uint8_t)v;
}

/* Skip one RR at *off, its type to *type; returns 0 or -1. */
static int skip_rr(const uint8_t *msg, size_t len, size_t *off, uint16_t *type)
{
    uint8_t name[DNS_MAX_NAME];
    if (dns_name_read(msg, len, off, name) < 0 || *off + 10 > len)
        return -1;
    *type = get16(msg + *off);
    size_t rdlen = get16(msg + *off + 8);
    if (*off + 10 + rdlen > len)
        return -1;
    *off += 10 + rdlen;
    return 0;
}

/* HMAC (RFC 2104) over the concatenation of parts, with the digest state on the stack: signed
 * queries are answered on the query path, which does not allocate (EVP_MAC and HMAC_CTX do). */
typedef union md_ctx {
    SHA256_CTX s256;
    SHA512_CTX s512;
    SHA_CTX s1;
} md_ctx_t;

static void md_init(tsig_alg_t a, md_ctx_t *c)
{
    if (a == TSIG_HMAC_SHA512)
        SHA512_Init(&c->s512);
    else if (a == TSIG_HMAC_SHA1)
        SHA1_Init(&c->s1);
    else
        SHA256_Init(&c->s256);
}

static void md_update(tsig_alg_t a, md_ctx_t *c, const void *p, size_t n)
{
    if (a == TSIG_HMAC_SHA512)
        SHA512_Update(&c->s512, p, n);
    else if (a == TSIG_HMAC_SHA1)
        SHA1_Update(&c->s1, p, n);
    else
        SHA256_Update(&c->s256, p, n);
}

static size_t md_final(tsig_alg_t a, md_ctx_t *c, uint8_t *out)
{
    if (a == TSIG_HMAC_SHA512) {
        SHA512_Final(out, &c->s512);
        return SHA512_DIGEST_LENGTH;
    }
    if (a == TSIG_HMAC_SHA1) {
        SHA1_Final(out, &c->s1);
        return SHA_DIGEST_LENGTH;
    }
    SHA256_Final(out, &c->s256);
    return SHA256_DIGEST_LENGTH;
}

static void hmac_parts(const tsig_key_t *k, const uint8_t *const *p, const size_t *n, size_t np,
                       uint8_t *mac, size_t *maclen)
{
    size_t block = k->alg == TSIG_HMAC_SHA512 ? 128 : 64;
    uint8_t key[128] = {0}, pad[128], inner[TSIG_MAC_MAX];
    md_ctx_t c;
    if (k->secretlen > block) {
        md_init(k->alg, &c);
        md_update(k->alg, &c, k->secret, k->secretlen);
        md_final(k->alg, &c, key);
    } else {
        memcpy(key, k->secret, k->secretlen);
    }
    for (size_t i = 0; i < block; i++)
        pad[i] = key[i] ^ 0x36;
    md_init(k->alg, &c);
    md_update(k->alg, &c, pad, block);
    for (size_t i = 0; i < np; i++)
        if (n[i])
            md_update(k->alg, &c, p[i], n[i]);
    size_t il = md_final(k->alg, &c, inner);
    for (size_t i = 0; i < block; i++)
        pad[i] = key[i] ^ 0x5c;
    md_init(k->alg, &c);
    md_update(k->alg, &c, pad, block);
    md_update(k->alg, &c, inner, il);
    *maclen = md_final(k->alg, &c, mac);
}

/* The TSIG variables of RFC 8945 4.3.3 (or only the timers), into v; returns their length.
 * other: Other Data (otherlen bytes, at most TSIG_OTHER_MAX). */
static size_t tsig_vars(const uint8_t *keyname, size_t keylen, const uint8_t *alg, size_t alglen,
                        uint64_t t, uint16_t error, const uint8_t *other, size_t otherlen,
                        bool timers_only, uint8_t *v)
{
    size_t o = 0;
    if (!timers_only) {
        memcpy(v, keyname, keylen);
        o = keylen;
        put16(v + o, CLASS_ANY);
        memset(v + o + 2, 0, 4);
        o += 6;
        memcpy(v + o, alg, alglen);
        o += alglen;
    }
    put48(v + o, t);
    put16(v + o + 6, TSIG_FUDGE);
    o += 8;
    if (!timers_only) {
        put16(v + o, error);
        put16(v + o + 2, (uint16_t)otherlen);
        o += 4;
        if (otherlen)
            memcpy(v + o, other, otherlen);
        o += otherlen;
    }
    return o;
}

int tsig_verify(tsig_key_find_fn *find, const void *ctx, const uint8_t *msg, size_t len,
                uint64_t now, tsig_check_t *out)
{
    memset(out, 0, sizeof(*out));
    out->len_unsigned = len;
    if (len < DNS_HDR_LEN)
        return -1;
    size_t counts[4];
    for (int i = 0; i < 4; i++)
        counts[i] = get16(msg + 4 + 2 * i);
    if (counts[3] == 0)
        return 0;
    size_t off = DNS_HDR_LEN;
    uint8_t name[DNS_MAX_NAME];
    for (size_t i = 0; i < counts[0]; i++) {
        if (dns_name_read(msg, len, &off, name) < 0 || off + 4 > len)
            return -1;
        off += 4;
    }
    size_t nrr = counts[1] + counts[2] + counts[3];
    for (size_t i = 0; i + 1 < nrr; i++) {
        uint16_t type;
        if (skip_rr(msg, len, &off, &type))
            return -1;
        if (type == TYPE_TSIG && i >= counts[1] + counts[2])
            return -1; /* a TSIG RR that is not the last one (RFC 8945 5.1: FORMERR) */
    }
    size_t start = off;
    int kl = dns_name_read(msg, len, &off, name);
    if (kl < 0 || off + 10 > len || get16(msg + off) != TYPE_TSIG)
        return 0;
    out->present = true;
    out->error = TSIG_BADKEY;
    out->len_unsigned = start;
    memcpy(out->keyname, name, (size_t)kl);
    out->keynamelen = (uint8_t)kl;
    size_t rdlen = get16(msg + off + 8);
    size_t rd = off + 10, end = rd + rdlen;
    if (end != len)
        return -1;
    size_t p = rd;
    int al = dns_name_read(msg, end, &p, out->algname);
    /* The algorithm name is never compressed (RFC 8945 4.2, RFC 3597 4): the fields after it
     * start at rd + al, as the digest below reads them. */
    if (al < 0 || p != rd + (size_t)al || p + 10 > end)
        return -1;
    out->algnamelen = (uint8_t)al;
    uint64_t t = 0;
    for (int i = 0; i < 6; i++)
        t = (t << 8) | msg[p + (size_t)i];
    uint16_t fudge = get16(msg + p + 6);
    size_t maclen = get16(msg + p + 8);
    p += 10;
    if (p + maclen + 6 > end || maclen > TSIG_MAC_MAX)
        return -1;
    const uint8_t *mac = msg + p;
    p += maclen;
    uint16_t orig_id = get16(msg + p);
    size_t otherlen = get16(msg + p + 4);
    if (p + 6 + otherlen != end)
        return -1;
    /* Found by name (one lookup, whatever the number of keys), then held to its algorithm. */
    const tsig_key_t *k = find ? find(ctx, name, (size_t)kl) : NULL;
    if (k) {
        uint8_t aw[DNS_MAX_NAME];
        size_t awl = alg_wire(k->alg, aw);
        if (awl != (size_t)al || memcmp(aw, out->algname, awl))
            k = NULL;
    }
    if (!k)
        return 0; /* BADKEY */
    /* The digest covers the message without the TSIG RR, its original ID and ARCOUNT - 1, then
     * the TSIG variables as they came (RFC 8945 4.3.3). */
    uint8_t hdr[DNS_HDR_LEN];
    memcpy(hdr, msg, DNS_HDR_LEN);
    put16(hdr, orig_id);
    put16(hdr + 10, (uint16_t)(counts[3] - 1));
    uint8_t vars[2 * DNS_MAX_NAME + 32];
    size_t vl = 0;
    memcpy(vars, name, (size_t)kl);
    vl = (size_t)kl;
    put16(vars + vl, CLASS_ANY);
    memset(vars + vl + 2, 0, 4);
    vl += 6;
    memcpy(vars + vl, out->algname, (size_t)al);
    vl += (size_t)al;
    memcpy(vars + vl, msg + rd + al, 8); /* time signed and fudge */
    vl += 8;
    memcpy(vars + vl, msg + p + 2, 4); /* error, other len */
    vl += 4;
    const uint8_t *parts[4] = {hdr, msg + DNS_HDR_LEN, vars, msg + p + 6};
    size_t lens[4] = {DNS_HDR_LEN, start - DNS_HDR_LEN, vl, otherlen};
    uint8_t calc[TSIG_MAC_MAX];
    size_t cl;
    hmac_parts(k, parts, lens, 4, calc, &cl);
    if (cl != maclen || CRYPTO_memcmp(calc, mac, cl)) {
        out->error = TSIG_BADSIG;
        return 0;
    }
    memcpy(out->mac, mac, maclen);
    out->maclen = maclen;
    if ((now > t ? now - t : t - now) > fudge) {
        out->error = TSIG_BADTIME;
        out->time_key = k;
        out->time_signed = t;
        return 0;
    }
    out->error = TSIG_NOERROR;
    out->key = k;
    return 0;
}

/* Append the TSIG RR itself. */
/* The offset of the question name's suffix spelled like name (any case) in msg, whose question
 * is written uncompressed after the header, for a compression pointer; 0 when there is none. */
static size_t question_suffix(const uint8_t *msg, size_t len, const uint8_t *name, size_t namelen)
{
    if (len <= DNS_HDR_LEN || get16(msg + 4) == 0)
        return 0;
    size_t end = DNS_HDR_LEN;
    while (end < len && msg[end] != 0) {
        if (msg[end] & 0xC0)
            return 0;
        end += 1 + (size_t)msg[end];
    }
    if (end >= len)
        return 0;
    for (size_t o = DNS_HDR_LEN; o <= end; o += 1 + (size_t)msg[o]) {
        if (end + 1 - o != namelen)
            continue;
        size_t i = 0;
        while (i < namelen && tolower(msg[o + i]) == tolower(name[i]))
            i++;
        if (i == namelen)
            return o;
    }
    return 0;
}

/* owner_ptr: where the key name already stands in msg (written as a pointer), or 0. */
static int put_tsig_rr(uint8_t *msg, size_t *len, size_t cap, const uint8_t *keyname, size_t keylen,
                       size_t owner_ptr, const uint8_t *alg, size_t alglen, uint64_t t,
                       const uint8_t *mac, size_t maclen, uint16_t orig_id, uint16_t error,
                       const uint8_t *other, size_t otherlen)
{
    size_t rdlen = alglen + 10 + maclen + 6 + otherlen;
    size_t ownlen = owner_ptr ? 2 : keylen;
    size_t need = ownlen + 10 + rdlen;
    if (*len + need > cap)
        return -1;
    uint8_t *p = msg + *len;
    if (owner_ptr)
        put16(p, (uint16_t)(0xC000 | owner_ptr));
    else
        memcpy(p, keyname, keylen);
    p += ownlen;
    put16(p, TYPE_TSIG);
    put16(p + 2, CLASS_ANY);
    memset(p + 4, 0, 4);
    put16(p + 8, (uint16_t)rdlen);
    p += 10;
    memcpy(p, alg, alglen);
    p += alglen;
    put48(p, t);
    put16(p + 6, TSIG_FUDGE);
    put16(p + 8, (uint16_t)maclen);
    p += 10;
    if (maclen)
        memcpy(p, mac, maclen);
    p += maclen;
    put16(p, orig_id);
    put16(p + 2, error);
    put16(p + 4, (uint16_t)otherlen);
    if (otherlen)
        memcpy(p + 6, other, otherlen);
    *len += need;
    put16(msg + 10, (uint16_t)(get16(msg + 10) + 1));
    return 0;
}

int tsig_sign(const tsig_key_t *k, uint8_t *msg, size_t *len, size_t cap, const uint8_t *prior,
              size_t priorlen, bool timers_only, uint64_t now, uint8_t *mac, size_t *maclen)
{
    uint8_t alg[DNS_MAX_NAME];
    size_t alglen = alg_wire(k->alg, alg);
    uint8_t plen[2];
    put16(plen, (uint16_t)priorlen);
    uint8_t vars[2 * DNS_MAX_NAME + 32 + TSIG_OTHER_MAX];
    size_t vl = tsig_vars(k->name, k->namelen, alg, alglen, now, 0, NULL, 0, timers_only, vars);
    const uint8_t *parts[4] = {plen, prior, msg, vars};
    size_t lens[4] = {2, priorlen, *len, vl};
    if (prior)
        hmac_parts(k, parts, lens, 4, mac, maclen);
    else
        hmac_parts(k, parts + 2, lens + 2, 2, mac, maclen);
    return put_tsig_rr(msg, len, cap, k->name, k->namelen, 0, alg, alglen, now, mac, *maclen,
                       get16(msg), 0, NULL, 0);
}

/* A BADTIME reply, signed like a response to the request (its MAC first) with the request's Time
 * Signed and our time in Other Data (RFC 8945 5.2.3). */
static int sign_badtime(const tsig_check_t *c, uint16_t id, uint8_t *msg, size_t *len, size_t cap,
                        uint64_t now)
{
    const tsig_key_t *k = c->time_key;
    uint8_t alg[DNS_MAX_NAME];
    size_t alglen = alg_wire(k->alg, alg);
    uint8_t other[TSIG_OTHER_MAX];
    put48(other, now);
    uint8_t plen[2];
    put16(plen, (uint16_t)c->maclen);
    uint8_t vars[2 * DNS_MAX_NAME + 32 + TSIG_OTHER_MAX];
    size_t vl = tsig_vars(k->name, k->namelen, alg, alglen, c->time_signed, TSIG_BADTIME, other,
                          sizeof(other), false, vars);
    const uint8_t *parts[4] = {plen, c->mac, msg, vars};
    size_t lens[4] = {2, c->maclen, *len, vl};
    uint8_t mac[TSIG_MAC_MAX];
    size_t maclen;
    hmac_parts(k, parts, lens, 4, mac, &maclen);
    return put_tsig_rr(msg, len, cap, k->name, k->namelen, 0, alg, alglen, c->time_signed, mac,
                       maclen, id, TSIG_BADTIME, other, sizeof(other));
}

int tsig_append_error(const tsig_check_t *c, uint16_t id, uint8_t *msg, size_t *len, size_t cap,
                      uint64_t now)
{
    /* The key name is the client's choice, and a query may give it as a pointer into its
     * question: where it ends the question's name, the reply points there too, so that an
     * unknown key does not come back as a name spelled out in full (up to 255 bytes more). */
    if (c->error == TSIG_BADTIME && c->time_key)
        return sign_badtime(c, id, msg, len, cap, now);
    size_t ptr = question_suffix(msg, *len, c->keyname, c->keynamelen);
    return put_tsig_rr(msg, len, cap, c->keyname, c->keynamelen, ptr, c->algname, c->algnamelen,
                       now, NULL, 0, id, c->error, NULL, 0);
}
