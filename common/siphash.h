/* siphash.h: SipHash-2-4, a keyed hash for tables whose keys a remote peer chooses (an edge's
 * cache keys, the keys of a probed PoP's status JSON) and for DNS server cookies. Unlike FNV-1a
 * (hash.h), colliding keys cannot be built without the key. */
#ifndef COMMON_SIPHASH_H
#define COMMON_SIPHASH_H

#include <stddef.h>
#include <stdint.h>

/* SipHash-2-4 of len bytes at msg under the 16-byte key (the reference's byte order). */
uint64_t siphash24(const uint8_t key[16], const void *msg, size_t len);

/* This process's table key: 16 random bytes, drawn once (getrandom) on the first call from any
 * thread. Every later call returns the same key. */
const uint8_t *siphash_process_key(void);

#endif
