/* test_hash.c: common/hash.h against the published FNV-1a vectors, and the MurmurHash3
 * finalizer's spread of neighbouring keys; common/siphash.h against SipHash-2-4's reference
 * vectors, and the process key. */
#include <stdint.h>
#include <string.h>

#include "check.h"
#include "hash.h"
#include "siphash.h"

int main(void)
{
    CHECK(hash_fnv1a32_str("") == 0x811c9dc5u, "FNV-1a 32 offset basis");
    CHECK(hash_fnv1a32_str("a") == 0xe40c292cu, "FNV-1a 32 of \"a\": %08x",
          (unsigned)hash_fnv1a32_str("a"));
    CHECK(hash_fnv1a32_str("foobar") == 0xbf9cf968u, "FNV-1a 32 of \"foobar\"");
    CHECK(hash_fnv1a64("", 0) == 0xcbf29ce484222325ull, "FNV-1a 64 offset basis");
    CHECK(hash_fnv1a64("a", 1) == 0xaf63dc4c8601ec8cull, "FNV-1a 64 of \"a\"");
    CHECK(hash_fnv1a64("foobar", 6) == 0x85944171f73967e8ull, "FNV-1a 64 of \"foobar\"");
    CHECK(hash_fnv1a64("foobarX", 6) == hash_fnv1a64("foobar", 6), "only n bytes count");

    CHECK(hash_mix64(0) == 0, "the finalizer maps 0 to 0");
    /* Neighbouring keys (consecutive /24 prefixes) land far apart: about half the bits differ. */
    int worst = 64;
    for (uint64_t k = 1; k < 4096; k++) {
        int bits = __builtin_popcountll(hash_mix64(k << 8) ^ hash_mix64((k + 1) << 8));
        worst = bits < worst ? bits : worst;
    }
    CHECK(worst >= 12, "neighbouring keys differ in at least 12 bits (worst %d)", worst);

    /* The reference implementation's vectors: key 00..0f, message 00..(len-1). */
    uint8_t key[16], msg[64];
    for (int i = 0; i < 16; i++)
        key[i] = (uint8_t)i;
    for (int i = 0; i < 64; i++)
        msg[i] = (uint8_t)i;
    CHECK(siphash24(key, msg, 0) == 0x726fdb47dd0e0e31ull, "SipHash-2-4, empty message");
    CHECK(siphash24(key, msg, 7) == 0xab0200f58b01d137ull, "SipHash-2-4, 7 bytes");
    CHECK(siphash24(key, msg, 8) == 0x93f5f5799a932462ull, "SipHash-2-4, 8 bytes");
    CHECK(siphash24(key, msg, 15) == 0xa129ca6149be45e5ull, "SipHash-2-4, 15 bytes (the paper's)");
    CHECK(siphash24(key, msg, 63) == 0x958a324ceb064572ull, "SipHash-2-4, 63 bytes");

    const uint8_t *pk = siphash_process_key();
    static const uint8_t zero[16];
    CHECK(pk == siphash_process_key() && memcmp(pk, zero, 16) != 0,
          "the process key is drawn once, and not left zero");
    return check_report();
}
