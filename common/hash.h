/* hash.h: the non-cryptographic hashes the tables use (FNV-1a, MurmurHash3's 64-bit finalizer).
 * None resists chosen keys: a table indexed with one bounds its probe length itself. */
#ifndef COMMON_HASH_H
#define COMMON_HASH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HASH_FNV32_OFFSET 2166136261u
#define HASH_FNV32_PRIME  16777619u
#define HASH_FNV64_OFFSET 14695981039346656037ull
#define HASH_FNV64_PRIME  1099511628211ull

/* MurmurHash3's 64-bit finalizer: every input bit moves every output bit (spreads neighbouring
 * keys, such as prefixes, over a table). */
static inline uint64_t hash_mix64(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ull;
    x ^= x >> 33;
    return x;
}

/* MurmurHash3's 32-bit finalizer of x with a salt mixed in first (a PoP index, a step): a
 * well-mixed 32-bit value from a client hash. */
static inline uint32_t hash_mix32(uint32_t x, uint32_t salt)
{
    x ^= salt * 0x9e3779b9u;
    x ^= x >> 16;
    x *= 0x85ebca6bu;
    x ^= x >> 13;
    x *= 0xc2b2ae35u;
    x ^= x >> 16;
    return x;
}

/* 64-bit FNV-1a of n bytes at p. */
static inline uint64_t hash_fnv1a64(const void *p, size_t n)
{
    const uint8_t *b = p;
    uint64_t h = HASH_FNV64_OFFSET;
    for (size_t i = 0; i < n; i++)
        h = (h ^ b[i]) * HASH_FNV64_PRIME;
    return h;
}

/* 32-bit FNV-1a of the NUL-terminated string s (a name index). */
static inline uint32_t hash_fnv1a32_str(const char *s)
{
    uint32_t h = HASH_FNV32_OFFSET;
    for (; *s; s++)
        h = (h ^ (uint8_t)*s) * HASH_FNV32_PRIME;
    return h;
}

/* ---- an index by key: open addressing over a power-of-two array of slots, each 0 (empty) or an
 * item's index + 1. Built at load time by a table's owner, who keeps the items and the slots. */

/* Slots for n items: a power of two, at least 16 and twice n, so that probes stay short. */
static inline size_t hash_index_slots(size_t n)
{
    size_t slots = 16;
    while (slots < 2 * n)
        slots *= 2;
    return slots;
}

/* Is item (an index) the one whose key is key[0..len)? */
typedef bool hash_index_eq_fn(const void *ctx, size_t item, const void *key, size_t len);

/* The slot (of mask + 1, at least one empty) holding the item eq matches, probing from hash, or
 * the empty slot where that item would go. */
static inline size_t hash_index_slot(const uint32_t *slots, size_t mask, uint64_t hash,
                                     hash_index_eq_fn *eq, const void *ctx, const void *key,
                                     size_t len)
{
    size_t s = (size_t)hash & mask;
    while (slots[s] && !eq(ctx, slots[s] - 1, key, len))
        s = (s + 1) & mask;
    return s;
}

#endif
