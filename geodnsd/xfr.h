/* xfr.h: zone transfer out: AXFR (RFC 5936), IXFR answered as a full transfer (RFC 1995 4) or,
 * to a client already up to date, with the SOA alone (RFC 1995 2), the
 * `transfer:` access rules and NOTIFY targets, and the `tsig_keys:` key ring. */
#ifndef GEODNSD_XFR_H
#define GEODNSD_XFR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "arena.h"
#include "query.h"
#include "tsig.h"
#include "yamltree.h"

typedef struct xfr_keyring {
    tsig_key_t *keys;
    size_t n;
    /* Hash of the keys' wire names (slot = key index + 1, 0 = empty; index_mask + 1 slots),
     * built by xfr_keys_parse so that the duplicate check and each allow entry's key lookup stay
     * O(1) however many keys. */
    uint32_t *index;
    size_t index_mask;
} xfr_keyring_t;

/* One `allow:` entry: every part it names (net, key) must match. */
typedef struct xfr_allow {
    bool has_net;
    int family;
    uint8_t addr[16];
    uint8_t prefix;
    const char *keyname;   /* NULL: no key required */
    const tsig_key_t *key; /* resolved from keyname against the key ring */
    const char *where;     /* file:line:col of the entry */
} xfr_allow_t;

typedef struct xfr_target {
    struct sockaddr_storage ss;
    socklen_t len;
    char text[80];
} xfr_target_t;

typedef struct xfr_policy {
    xfr_allow_t *allow;
    size_t nallow;
    xfr_target_t *notify;
    size_t nnotify;
} xfr_policy_t;

/* Parse `tsig_keys: {name: {algorithm: hmac-sha256, secret: BASE64}}` into arena memory.
 * Returns 0, or a negative code with "file:line:col: reason" in err. */
int xfr_keys_parse(const yt_node_t *n, arena_t *a, xfr_keyring_t *out, char *err, size_t errlen);

/* Parse `transfer: {allow: [{net: PREFIX, key: NAME}], notify: ["ADDR:PORT"]}`. Key names are
 * resolved later by xfr_policy_resolve(). Returns 0 or a negative code with err set. */
int xfr_policy_parse(const yt_node_t *n, arena_t *a, xfr_policy_t **out, char *err, size_t errlen);

/* The key of ring whose lower-case wire name is name[0..len), or NULL. */
const tsig_key_t *xfr_key_find(const xfr_keyring_t *ring, const uint8_t *name, size_t len);
/* The same as a tsig_key_find_fn, ctx being the ring (or NULL: no keys), for tsig_verify. */
tsig_key_find_fn xfr_tsig_key;

/* Point each allow entry at its key in ring: the key whose configured name is the entry's,
 * ignoring letter case. Returns 0, or -1 naming an unknown key in err. */
int xfr_policy_resolve(xfr_policy_t *p, const xfr_keyring_t *ring, char *err, size_t errlen);

/* The key to sign NOTIFY to target with: that of the first allow entry whose net holds the
 * target's address and that names a key, or NULL. */
const tsig_key_t *xfr_notify_key(const xfr_policy_t *p, const struct sockaddr *target);

/* What a transfer request came to, for the log line and the counters. */
typedef struct xfr_result {
    bool allowed;
    uint8_t rcode;
    uint16_t tsig_error;
    uint16_t qtype;
    char zone[DNS_MAX_NAME * 4 + 1];
    uint32_t serial;
    bool has_client_serial; /* an IXFR that carried the client's SOA */
    uint32_t client_serial;
    bool current;    /* that serial is ours or newer: the reply is our SOA alone */
    bool busy;       /* allowed, but tcp.max_transfers are being sent: one SERVFAIL */
    const char *key; /* the verifying key's name, or NULL */
    size_t messages;
    size_t records;
} xfr_result_t;

/* A zone transfer being written, one piece at a time (xfr_start, xfr_next, xfr_free). */
typedef struct xfr_stream xfr_stream_t;

/* Start answering an AXFR or IXFR query received over TCP (pkt, len) from src at time now. The
 * answer is the whole zone (an IXFR from a client already at our serial or newer: our SOA alone)
 * as TCP frames (2-byte length, message), messages of 16 KiB (a record that needs more gets a
 * message of up to 64 KiB), each signed when the request was; xfr_next() writes it a piece at a
 * time. Geo names go out as the static records a client at the policy's default location gets.
 * Refusals (no matching allow entry, no zone) are one REFUSED message; a TSIG failure is NOTAUTH
 * with the TSIG error (RFC 8945 5.3.2); a malformed TSIG RR, or one that is not the last record,
 * FORMERR (5.1). busy: as many transfers as allowed are being sent
 * already; an allowed request that needs the whole zone then gets one SERVFAIL message (try again
 * later) and res->busy.
 *
 * The stream reads env's zones, geo data and health view until xfr_free(): the caller keeps what
 * they belong to alive (a reference to the snapshots env came from), so a reload during the
 * transfer changes nothing in it. It does not use env's counters, memo or cache. Returns 0 with
 * *st to free with xfr_free(), or -1 when out of memory or the query is malformed (no reply). */
int xfr_start(const query_env_t *env, const uint8_t *pkt, size_t len, const struct sockaddr *src,
              uint64_t now, bool busy, xfr_stream_t **st, xfr_result_t *res);

/* The next piece: whole frames, at least one full message unless it is the last, at *piece (*len
 * bytes, owned by st and valid until the next call); or nothing yet (*len 0, more follows): each
 * call writes at most a few hundred records, so that the caller can answer others between
 * two calls. Memory stays at a few messages whatever the zone's size (more only for a name whose
 * records alone take more). Returns 1 when more follows, 0 for the last piece, -1 when out of
 * memory (the transfer cannot go on). */
int xfr_next(xfr_stream_t *st, const uint8_t **piece, size_t *len);

/* Messages and records written so far. */
void xfr_counts(const xfr_stream_t *st, size_t *messages, size_t *records);

void xfr_free(xfr_stream_t *st);

/* The whole answer of xfr_start() at once, in a malloc'd *out of *outlen bytes that the caller
 * frees, with res->messages and res->records set: for tests and tools. Returns 0 or -1 as
 * xfr_start() and xfr_next(). */
int xfr_process(const query_env_t *env, const uint8_t *pkt, size_t len, const struct sockaddr *src,
                uint64_t now, bool busy, uint8_t **out, size_t *outlen, xfr_result_t *res);

#endif
