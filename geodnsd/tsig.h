/* tsig.h: TSIG (RFC 8945) keys, request verification and message signing with HMAC-SHA256,
 * HMAC-SHA512 and HMAC-SHA1, for zone transfers and NOTIFY (never on the UDP query path). */
#ifndef GEODNSD_TSIG_H
#define GEODNSD_TSIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "wire.h"

#define TSIG_SECRET_MAX 128
#define TSIG_MAC_MAX    64
/* Other Data of a BADTIME error: our time, 48 bits (RFC 8945 5.2.3). */
#define TSIG_OTHER_MAX 6
/* Room a TSIG RR may take at the end of a message: owner and algorithm names, fixed fields, MAC,
 * Other Data. */
#define TSIG_RR_MAX (2 * DNS_MAX_NAME + 26 + TSIG_MAC_MAX + TSIG_OTHER_MAX)
#define TSIG_FUDGE  300

enum tsig_error { TSIG_NOERROR = 0, TSIG_BADSIG = 16, TSIG_BADKEY = 17, TSIG_BADTIME = 18 };

typedef enum tsig_alg { TSIG_HMAC_SHA256, TSIG_HMAC_SHA512, TSIG_HMAC_SHA1 } tsig_alg_t;

typedef struct tsig_key {
    const char *name_str;       /* as configured */
    uint8_t name[DNS_MAX_NAME]; /* lower-case wire */
    uint8_t namelen;
    tsig_alg_t alg;
    uint8_t secret[TSIG_SECRET_MAX];
    size_t secretlen;
} tsig_key_t;

/* Fill a key from its name, algorithm name ("hmac-sha256", "hmac-sha512", "hmac-sha1") and
 * base64 secret. Returns 0, or -1 with a reason in err. */
int tsig_key_init(tsig_key_t *k, const char *name, const char *alg, const char *secret_b64,
                  char *err, size_t errlen);

/* What verification found in a request. */
typedef struct tsig_check {
    bool present;          /* the message ends with a TSIG RR */
    const tsig_key_t *key; /* the key that verified it (error == TSIG_NOERROR), or NULL */
    uint16_t error;        /* TSIG_NOERROR or a TSIG error */
    size_t len_unsigned;   /* message length without the TSIG RR */
    uint8_t mac[TSIG_MAC_MAX];
    size_t maclen;
    uint8_t keyname[DNS_MAX_NAME]; /* the TSIG owner, for error responses */
    uint8_t keynamelen;
    uint8_t algname[DNS_MAX_NAME];
    uint8_t algnamelen;
    /* BADTIME: the key whose MAC verified (the error reply is signed with it) and the request's
     * Time Signed (echoed in that reply); NULL and 0 otherwise. */
    const tsig_key_t *time_key;
    uint64_t time_signed;
} tsig_check_t;

/* The key named name[0..len) (wire form, as the message spells it) among ctx's, or NULL. */
typedef const tsig_key_t *tsig_key_find_fn(const void *ctx, const uint8_t *name, size_t len);

/* Look for a TSIG RR as the last additional record of msg and verify it against the key find
 * (NULL: no keys) gives for its name, at time now (seconds). Returns 0 (see out), or -1 when the
 * message is malformed: a record that cannot be read, a TSIG RR whose fields do not fill its
 * RDATA, or a TSIG RR in the additional section before the last record (RFC 8945 5.1 asks
 * FORMERR for each). */
int tsig_verify(tsig_key_find_fn *find, const void *ctx, const uint8_t *msg, size_t len,
                uint64_t now, tsig_check_t *out);

/* Sign the message msg[0..*len) in place: appends a TSIG RR and bumps ARCOUNT. prior is the
 * request's MAC (first response message) or the previous message's MAC (later messages of a
 * multi-message response, timers_only set), or NULL for a request. The new MAC goes to mac
 * (TSIG_MAC_MAX bytes) and *maclen. Returns 0, or -1 when it does not fit in cap. */
int tsig_sign(const tsig_key_t *k, uint8_t *msg, size_t *len, size_t cap, const uint8_t *prior,
              size_t priorlen, bool timers_only, uint64_t now, uint8_t *mac, size_t *maclen);

/* Append a TSIG RR carrying the error of a failed request (RFC 8945 5.3.2): unsigned (an empty
 * MAC) for BADKEY and BADSIG; for BADTIME signed with the request's key, its Time Signed echoed
 * and our time now in Other Data (5.2.3), so that the client can verify it and see the clock
 * difference. Returns 0, or -1 when it does not fit. */
int tsig_append_error(const tsig_check_t *c, uint16_t id, uint8_t *msg, size_t *len, size_t cap,
                      uint64_t now);

#endif
